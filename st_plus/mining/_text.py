"""Text helpers for mining: BM25 tokenisation (Chinese included) and duplicate-detecting normalisation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# CJK Unified Ideographs (+ extension A and compatibility ideographs)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize_text(text: str) -> str:
    """Case-folded, NFKC-normalised text with runs of whitespace collapsed (for duplicate detection)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _cjk_tokens(run: str, segmenter) -> list[str]:
    if segmenter is not None:
        return [token for token in segmenter(run) if token.strip()]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]  # character bigrams


def _jieba_segmenter():
    try:
        import jieba
    except ImportError:  # pragma: no cover - jieba is a dependency; bigrams are the fallback
        return None
    jieba.setLogLevel(60)
    return jieba.lcut


def bm25_tokenize(texts: Iterable[str], *, chinese: str = "jieba") -> list[list[str]]:
    """Tokens for BM25: lower-cased words for alphabetic scripts, words (jieba) or character bigrams for Chinese.

    Args:
        texts: The texts.
        chinese: ``"jieba"`` (word segmentation; falls back to bigrams if jieba is missing) or ``"bigrams"``.
    """
    if chinese not in ("jieba", "bigrams"):
        raise ValueError(f"`chinese` must be 'jieba' or 'bigrams', got {chinese!r}.")
    segmenter = _jieba_segmenter() if chinese == "jieba" else None
    result = []
    for text in texts:
        text = unicodedata.normalize("NFKC", text).casefold()
        tokens: list[str] = []
        position = 0
        for match in _CJK.finditer(text):
            tokens.extend(_WORD.findall(text[position : match.start()]))
            tokens.extend(_cjk_tokens(match.group(), segmenter))
            position = match.end()
        tokens.extend(_WORD.findall(text[position:]))
        result.append(tokens)
    return result
