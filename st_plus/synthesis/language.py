"""The language of a text, as far as prompts need it: Chinese (by the share of CJK characters) or English."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["CJK_THRESHOLD", "cjk_ratio", "detect_language"]

# CJK Unified Ideographs (+ extension A and compatibility ideographs)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_THRESHOLD = 0.2


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among the non-space characters of ``text`` (0.0 for an empty text)."""
    characters = [c for c in text if not c.isspace()]
    if not characters:
        return 0.0
    return sum(1 for c in characters if _CJK.match(c)) / len(characters)


def detect_language(texts: str | Iterable[str], *, threshold: float = CJK_THRESHOLD) -> str:
    """``"zh"`` when at least ``threshold`` of the texts' non-space characters are CJK ideographs, else ``"en"``.

    Chinese technical text mixes in Latin words (``Linux 内核``), so the threshold is well below one half.
    """
    joined = texts if isinstance(texts, str) else "".join(texts)
    return "zh" if cjk_ratio(joined) >= threshold else "en"
