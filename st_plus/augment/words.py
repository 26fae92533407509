"""Words of a text for augmentation: whitespace words, or jieba words where the text has Chinese characters."""

from __future__ import annotations

import functools
import re

__all__ = ["join_words", "split_words"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII_WORD_END = re.compile(r"[A-Za-z0-9]$")
_ASCII_WORD_START = re.compile(r"^[A-Za-z0-9]")


@functools.cache
def _jieba_cut():
    import jieba

    jieba.setLogLevel(60)  # no "Building prefix dict" chatter on stderr
    return jieba.lcut


def split_words(text: str) -> list[str]:
    """The words of ``text``: jieba's segmentation when it holds any CJK ideograph, else split on whitespace.

    In a Chinese text a word keeps one trailing space where the text had whitespace after it (``"apt-get install"``
    stays three words ``apt``, ``-``, ``get `` and then ``install``), so :func:`join_words` restores the spacing.
    """
    if not _CJK.search(text):
        return text.split()
    words: list[str] = []
    for token in _jieba_cut()(text):
        if not token.strip():
            if words and not words[-1].endswith(" "):
                words[-1] += " "
        else:
            words.append(token)
    return words


def join_words(words: list[str]) -> str:
    """The inverse of :func:`split_words`, also for reordered or edited word lists.

    Latin-script words are joined by spaces; in a Chinese text, words are joined without a space unless a word
    carries one or two Latin letters/digits would touch. Runs of whitespace become single spaces.
    """
    if not any(_CJK.search(w) for w in words):
        return " ".join(words)
    out = ""
    for word in words:
        if out and not out.endswith(" ") and _ASCII_WORD_END.search(out) and _ASCII_WORD_START.search(word):
            out += " "
        out += word
    return out.strip()
