"""Pure maths of late chunking: character spans to token spans, macro windows, and mean pooling of spans."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import torch

from st_plus.chunking._base import Span


def char_to_token_spans(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[Span]:
    """Maps character spans to token spans ``[first, last)`` through a tokenizer's ``offset_mapping``.

    A token belongs to a span when their character ranges overlap; tokens with an empty range (special tokens,
    whose offsets are ``(0, 0)``) never belong to a span. ``offsets`` index the tokens to pool over, so callers
    pass the document's own tokens (without [CLS], prompt or [SEP]) and shift by the prefix length themselves.

    Returns:
        One ``(first, last)`` per span; ``first == last`` when no token overlaps the span.
    """
    token_spans: list[Span] = []
    for start, end in spans:
        inside = [i for i, (token_start, token_end) in enumerate(offsets) if token_end > token_start]
        inside = [i for i in inside if offsets[i][0] < end and offsets[i][1] > start]
        token_spans.append((inside[0], inside[-1] + 1) if inside else (0, 0))
    return token_spans


def fast_char_to_token_spans(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[Span]:
    """:func:`char_to_token_spans` in ``O((tokens + spans) log tokens)`` for sorted, non-empty token offsets."""
    ends = [end for _, end in offsets]
    starts = [start for start, _ in offsets]
    token_spans: list[Span] = []
    for start, end in spans:
        first = bisect.bisect_right(ends, start)  # first token ending after `start`
        last = bisect.bisect_left(starts, end)  # first token starting at or after `end`
        token_spans.append((first, last) if first < last else (0, 0))
    return token_spans


def macro_windows(num_tokens: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """The macro windows of long late chunking over ``num_tokens`` document tokens.

    Windows are ``[i, i + window)`` with stride ``window - overlap``; every window after the first drops its first
    ``overlap`` token embeddings, so the kept pieces tile ``[0, num_tokens)`` exactly once (Günther et al., 2024).

    Returns:
        ``(start, end, keep_from)`` per window: tokens ``start + keep_from`` to ``end`` are kept.
    """
    if window < 1:
        raise ValueError(f"`window` must be >= 1 token, got {window}.")
    if not 0 <= overlap < window:
        raise ValueError(f"`overlap` must be in [0, window={window}), got {overlap}.")
    windows = [(0, min(window, num_tokens), 0)]
    start = window - overlap
    while windows[-1][1] < num_tokens:
        windows.append((start, min(start + window, num_tokens), overlap))
        start += window - overlap
    return windows


def pool_spans(token_embeddings: torch.Tensor, token_spans: Sequence[Span]) -> torch.Tensor:
    """Mean of ``token_embeddings[first:last]`` for each span: ``(num_tokens, dim) -> (num_spans, dim)``.

    Computed from one float64 cumulative sum, so any number of spans costs one pass over the tokens.

    Raises:
        ValueError: An empty span or one beyond the tokens.
    """
    num_tokens = token_embeddings.shape[0]
    bounds = torch.tensor(list(token_spans), dtype=torch.long).reshape(-1, 2)
    if bounds.numel() and ((bounds[:, 0] >= bounds[:, 1]).any() or bounds.min() < 0 or bounds.max() > num_tokens):
        raise ValueError(f"Token spans must satisfy 0 <= first < last <= {num_tokens}, got {list(token_spans)}.")
    cumulative = torch.zeros(num_tokens + 1, token_embeddings.shape[1], dtype=torch.float64)
    cumulative[1:] = torch.cumsum(token_embeddings.double(), dim=0)
    sums = cumulative[bounds[:, 1]] - cumulative[bounds[:, 0]]
    return (sums / (bounds[:, 1] - bounds[:, 0]).unsqueeze(1)).to(token_embeddings.dtype)
