"""Fixed windows of ``size`` tokens with ``overlap``, returned as character spans."""

from __future__ import annotations

from st_plus.chunking._base import Span


class TokenChunker:
    """Splits a text into windows of ``size`` tokens, consecutive windows sharing ``overlap`` tokens.

    Tokens come from the tokenizer without special tokens; each window's character span runs from its first
    token's start to its last token's end (``offset_mapping``), so the chunk text round-trips to the same tokens.

    Args:
        tokenizer: A fast Hugging Face tokenizer (it must return ``offset_mapping``).
        size: Tokens per chunk.
        overlap: Tokens shared by consecutive chunks (``0 <= overlap < size``); with ``overlap > 0`` the spans
            overlap and :attr:`overlapping` is ``True``.
    """

    def __init__(self, tokenizer, size: int = 256, *, overlap: int = 0) -> None:
        if size < 1:
            raise ValueError(f"`size` must be >= 1, got {size}.")
        if not 0 <= overlap < size:
            raise ValueError(f"`overlap` must be in [0, size={size}), got {overlap}.")
        self.tokenizer = tokenizer
        self.size = size
        self.overlap = overlap
        self.overlapping = overlap > 0

    def __call__(self, text: str) -> list[Span]:  # noqa: D102
        encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        offsets = [(start, end) for start, end in encoding["offset_mapping"] if end > start]
        spans: list[Span] = []
        step = self.size - self.overlap
        for first in range(0, len(offsets), step):
            window = offsets[first : first + self.size]
            spans.append((window[0][0], window[-1][1]))
            if first + self.size >= len(offsets):
                break
        return spans

    def __repr__(self) -> str:
        return f"TokenChunker(size={self.size}, overlap={self.overlap})"
