"""Completions to texts: JSON and plain-text answers both accepted; unusable items dropped with a reason."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["normalize_for_dedup", "parse_texts", "usable_texts"]

_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```$", re.DOTALL)
_ITEM = re.compile(r"^\s*(?:\d{1,3}\s*[.)、:：]|[-*•])\s+")
_LABEL = re.compile(r"^(?:passage|query|text|paraphrase|negative|positive|段落|查询|文字|改写)\s*\d*\s*[:：]\s*",
                    re.IGNORECASE)  # fmt: skip
_REFUSALS = ("i'm sorry", "i am sorry", "i cannot", "i can't", "as an ai", "sorry, ",
             "抱歉", "对不起", "我无法", "作为ai", "作为一个ai", "作为人工智能")  # fmt: skip
_PREFERRED_KEYS = ("texts", "passages", "queries", "negatives", "positives", "paraphrases", "translation", "text")
MIN_CHARS = 2


def _strip_item(text: str) -> str:
    text = _LABEL.sub("", _ITEM.sub("", text.strip())).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”「」":
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] in "“「" and text[-1] in "”」":
        text = text[1:-1].strip()
    return text


def _from_json(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
        return items if items and len(items) == len(value) else None
    if isinstance(value, dict):
        keys = [k for k in _PREFERRED_KEYS if k in value] + [k for k in value if k not in _PREFERRED_KEYS]
        for key in keys:
            items = _from_json(value[key]) if isinstance(value[key], (list, str)) else None
            if items:
                return items
    return None


def parse_texts(content: str, num: int = 1) -> list[str]:
    """The texts in a completion, in order.

    JSON first (a list of strings, a string, or an object holding either, ``{"texts": [...]}`` preferred; code fences
    removed). Otherwise plain text: numbered or bulleted items when there are any; else the whole answer when one
    text was asked for; else paragraphs (blank-line separated), else lines. Item numbers, bullets, labels such as
    ``Query 2:`` and surrounding quotes are removed.

    Args:
        content: The completion text.
        num: How many texts were asked for.
    """
    text = content.strip()
    if match := _FENCE.match(text):
        text = match.group(1).strip()
    if text[:1] in '[{"':
        try:
            items = _from_json(json.loads(text))
        except (json.JSONDecodeError, RecursionError):
            items = None
        if items is not None:
            return [s for s in (_strip_item(i) for i in items) if s]
    lines = text.splitlines()
    if any(_ITEM.match(line) for line in lines):
        items, current = [], []
        for line in lines:
            if _ITEM.match(line) and current:
                items.append(" ".join(current))
                current = []
            if line.strip():
                current.append(line.strip())
        items.append(" ".join(current))
    elif num == 1:
        items = [text]
    else:
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        items = paragraphs if len(paragraphs) > 1 else lines
    return [s for s in (_strip_item(i) for i in items) if s]


def normalize_for_dedup(text: str) -> str:
    """NFKC, case-folded, whitespace-collapsed text without trailing punctuation (for duplicate detection)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip(".。!！?？ ")


def usable_texts(items: Iterable[str], inputs: Iterable[str], *, max_chars: int = 4000) -> tuple[list[str], list[str]]:
    """Drops empty, too long, refusing, duplicate items and copies of the inputs.

    Returns:
        The kept items (order kept) and one reason per dropped item.
    """
    seen = {normalize_for_dedup(t) for t in inputs}
    kept, dropped = [], []
    for item in items:
        key = normalize_for_dedup(item)
        if len(key) < MIN_CHARS:
            dropped.append("empty")
        elif len(item) > max_chars:
            dropped.append("too long")
        elif key.startswith(_REFUSALS):
            dropped.append("refusal")
        elif key in seen:
            dropped.append("copy of an input or duplicate")
        else:
            seen.add(key)
            kept.append(item)
    return kept, dropped
