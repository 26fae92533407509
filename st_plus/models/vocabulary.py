"""Vocabulary extension: CJK characters a tokenizer maps to ``[UNK]`` become tokens of their own.

English WordPiece vocabularies hold few Chinese characters (all-MiniLM-L6-v2's has 488 of the ~21,000 CJK unified
ideographs; a quarter of the characters of Chinese man pages), so every other character reads as the same
``[UNK]`` and no amount of training can tell them apart. :func:`add_characters` adds the frequent missing
characters of some texts as tokens and gives each a new embedding row initialised to the ``[UNK]`` row, so the model
computes exactly what it did before until training (e.g. cross-lingual distillation) moves the new rows. BERT's
pre-tokenizer already splits CJK text into single characters, so a character token changes nothing else.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import torch
from sentence_transformers import SentenceTransformer
from tokenizers import AddedToken

logger = logging.getLogger(__name__)

# CJK Unified Ideographs, Extension A and the compatibility block (BERT's `_is_chinese_char` ranges, BMP part).
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF))


def is_cjk_character(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph that BERT's basic tokenizer splits off as a word of its own."""
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def missing_characters(model: SentenceTransformer, texts: Iterable[str], *, min_count: int = 2) -> list[str]:
    """CJK characters seen at least ``min_count`` times in ``texts`` that the tokenizer maps to ``[UNK]``.

    Ordered by frequency (most frequent first), ties by code point.
    """
    vocab = model.tokenizer.get_vocab()
    counts = Counter(char for text in texts for char in text if is_cjk_character(char))
    missing = [(-n, char) for char, n in counts.items() if n >= min_count and char not in vocab]
    return [char for _, char in sorted(missing)]


def add_characters(model: SentenceTransformer, texts: Iterable[str], *, min_count: int = 2) -> list[str]:
    """Adds the CJK characters of ``texts`` missing from the vocabulary (in place); returns them.

    The tokenizer gains one token per character (saved with the model: a plain ST folder), the embedding matrix one
    row each, initialised to the ``[UNK]`` embedding so that every embedding stays what it was.

    Raises:
        ValueError: ``min_count`` < 1, or a model whose tokenizer has no unknown token.
    """
    if min_count < 1:
        raise ValueError(f"`min_count` must be >= 1, got {min_count}.")
    tokenizer = model.tokenizer
    if tokenizer.unk_token_id is None:
        raise ValueError("the tokenizer has no unknown token: nothing maps to [UNK], so nothing to add.")
    chars = missing_characters(model, texts, min_count=min_count)
    if not chars:
        return []
    encoder = model.transformers_model
    unk = encoder.get_input_embeddings().weight[tokenizer.unk_token_id].detach().clone()
    tokenizer.add_tokens([AddedToken(char, normalized=False) for char in chars])
    encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        weight = encoder.get_input_embeddings().weight
        for char in chars:
            weight[tokenizer.convert_tokens_to_ids(char)] = unk
    logger.info("Added %d CJK characters to the vocabulary (now %d tokens)", len(chars), len(tokenizer))
    return chars
