"""Vocabulary extension: CJK characters a tokenizer maps to ``[UNK]`` become WordPiece tokens of their own.

English WordPiece vocabularies hold few Chinese characters (all-MiniLM-L6-v2's has 488 of the ~21,000 CJK unified
ideographs; a quarter of the characters of Chinese man pages), so every other character reads as the same
``[UNK]`` and no amount of training can tell them apart. :func:`extend_vocabulary` adds the frequent missing
characters of a corpus to the tokenizer's WordPiece vocabulary (after the existing tokens, so every existing id
keeps its meaning; the size padded to a multiple of 64 with ``[unused…]`` tokens, as BERT pads its own) and gives
each a new embedding row. BERT's normaliser already splits CJK text into single characters, so a character token
changes nothing else, and the saved model stays a plain sentence-transformers folder (``tokenizer.json`` holds the
new vocabulary).

How the new rows start (``init``; measured in the README, "Chinese": ``random`` gave the best Chinese sentence
embeddings after new-row MLM training, ``unk`` the worst, although ``cjk`` and ``unk`` reach a lower MLM loss):

- ``unk``: the ``[UNK]`` row: the model computes exactly what it did before until training moves the rows
  (what cross-lingual distillation uses, :func:`add_characters`);
- ``mean``: the mean of every existing row;
- ``cjk``: the mean of the rows of the CJK characters the vocabulary already has;
- ``random``: normal noise with the per-dimension mean and standard deviation of the existing rows.

Continued masked-LM training (:func:`st_plus.models.continue_mlm`) then teaches the rows what each character means.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch
from sentence_transformers import SentenceTransformer
from tokenizers import models

from st_plus.models.nomic_bert_config import VOCAB_MULTIPLE

logger = logging.getLogger(__name__)

Init = Literal["unk", "mean", "cjk", "random"]
INITS: tuple[str, ...] = ("unk", "mean", "cjk", "random")

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


@dataclass
class VocabularyExtension:
    """What :func:`extend_vocabulary` did.

    Attributes:
        added: The new character tokens, most frequent first.
        old_size: Vocabulary size before.
        new_size: Vocabulary size after (a multiple of 64 when padding was needed).
        init: How the new rows were initialised.
        new_token_ids: The ids of ``added`` (padding tokens excluded).
    """

    added: list[str]
    old_size: int
    new_size: int
    init: str
    new_token_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Plain data for the run record and the model card."""
        return {"added_characters": len(self.added), "old_size": self.old_size, "new_size": self.new_size,
                "init": self.init, "most_frequent": "".join(self.added[:20])}  # fmt: skip


def _new_rows(weight: torch.Tensor, n: int, init: str, *, unk_id: int, cjk_ids: list[int], seed: int) -> torch.Tensor:
    """``n`` initial embedding rows from the existing ``weight`` rows (see the module docstring)."""
    if init == "unk":
        row = weight[unk_id]
    elif init == "mean":
        row = weight.mean(dim=0)
    elif init == "cjk":
        row = weight[cjk_ids].mean(dim=0) if cjk_ids else weight.mean(dim=0)
    else:  # random
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, weight.shape[1], generator=generator, dtype=torch.float32)
        return (weight.mean(dim=0) + noise * weight.std(dim=0)).to(weight.dtype)
    return row.unsqueeze(0).expand(n, -1).clone()


def extend_vocabulary(
    model: SentenceTransformer,
    texts: Iterable[str],
    *,
    min_count: int = 2,
    max_new: int | None = None,
    init: Init = "random",
    seed: int = 0,
) -> VocabularyExtension:
    """Adds the CJK characters of ``texts`` missing from the WordPiece vocabulary to it (in place).

    Args:
        model: A sentence-transformers model whose first module is a transformers encoder with a WordPiece fast
            tokenizer (BERT, MiniLM, ...).
        texts: The corpus the model will read.
        min_count: Add a character seen at least this often.
        max_new: At most this many characters (the most frequent).
        init: How the new embedding rows start: ``random`` (default), ``mean``, ``cjk`` or ``unk`` (module
            docstring).
        seed: Seed of the ``random`` initialisation.

    Returns:
        A :class:`VocabularyExtension` (nothing added when no character is missing).

    Raises:
        ValueError: ``min_count`` < 1, an unknown ``init``, or a tokenizer that is not a WordPiece fast tokenizer
            with an unknown token.
    """
    if min_count < 1:
        raise ValueError(f"`min_count` must be >= 1, got {min_count}.")
    if init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
    tokenizer = model.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not isinstance(backend.model, models.WordPiece) or tokenizer.unk_token_id is None:
        raise ValueError("extend_vocabulary needs a WordPiece fast tokenizer with an unknown token (BERT-style).")
    chars = missing_characters(model, texts, min_count=min_count)[:max_new]
    old_size = len(tokenizer)
    if not chars:
        return VocabularyExtension([], old_size, old_size, init)
    vocab = backend.get_vocab(with_added_tokens=False)
    base = len(vocab)
    for char in chars:
        vocab[char] = len(vocab)
    unused = sum(1 for token in vocab if token.startswith("[unused"))
    while len(vocab) % VOCAB_MULTIPLE:  # pad as BERT pads its own vocabulary
        vocab[f"[unused{unused}]"] = len(vocab)
        unused += 1
    old = backend.model
    backend.model = models.WordPiece(
        vocab, unk_token=old.unk_token, continuing_subword_prefix=old.continuing_subword_prefix,
        max_input_chars_per_word=old.max_input_chars_per_word,
    )  # fmt: skip
    if tokenizer.convert_tokens_to_ids(chars[0]) != vocab[chars[0]]:  # a transformers change; never silent
        raise RuntimeError("the tokenizer did not take the new vocabulary")
    encoder = model[0].auto_model
    with torch.no_grad():
        weight = encoder.get_input_embeddings().weight
        cjk_ids = [i for token, i in vocab.items() if i < base and len(token) == 1 and is_cjk_character(token)]
        rows = _new_rows(weight.detach().float(), len(vocab) - base, init, unk_id=tokenizer.unk_token_id,
                         cjk_ids=cjk_ids, seed=seed)  # fmt: skip
        encoder.resize_token_embeddings(len(vocab), mean_resizing=False)
        encoder.get_input_embeddings().weight[base:] = rows.to(weight.dtype)
    ids = [vocab[char] for char in chars]
    logger.info("Added %d CJK characters to the vocabulary (%d -> %d tokens, init %s)", len(chars), old_size,
                len(vocab), init)  # fmt: skip
    return VocabularyExtension(chars, old_size, len(vocab), init, ids)


def add_characters(model: SentenceTransformer, texts: Iterable[str], *, min_count: int = 2) -> list[str]:
    """Adds the CJK characters of ``texts`` missing from the vocabulary with ``[UNK]``-initialised rows; returns them.

    The model computes exactly what it did before until training moves the new rows (cross-lingual distillation).
    """
    return extend_vocabulary(model, texts, min_count=min_count, init="unk").added
