"""Training rows for long-input span pooling: (query, document window, gold span) from a retrieval folder's spans.

A long document (a QMSum meeting is ~12k tokens) does not fit a model, so each row holds a *window* of the
document: a random number of tokens in ``[min_tokens, max_tokens]`` that contains the start of the gold answer
turns, placed at a random offset around them, with the span's character offsets inside the window. One row per
gold line range (QMSum answers often cite several). A range longer than the window is cut at the window's end.
With a ``chunker``, the pooled span is not the whole range but one chunk of the document (as the chunker cuts the
whole document at inference) inside the range, so training pools the unit that late chunking pools.
The rows feed :class:`~st_plus.chunking.SpanPoolingDataCollator` and :class:`~st_plus.losses.SpanPoolingLoss`.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset

from st_plus.data import load_retrieval
from st_plus.data.turn_spans import load_turn_spans

#: Tokens kept free in every window for [CLS]/[SEP] and re-tokenisation at the window's edges.
SPECIAL_TOKEN_MARGIN = 8


def line_char_spans(
    text: str, first_line: int, last_line: int, starts: list[int] | None = None
) -> tuple[int, int] | None:
    """Character span of lines ``first_line..last_line`` (inclusive, 0-based); ``None`` if absent.

    ``starts``: the text's line start offsets, when the caller reads many ranges of one text.
    """
    if starts is None:
        starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    if first_line >= len(starts):
        return None
    last_line = min(last_line, len(starts) - 1)
    end = starts[last_line + 1] - 1 if last_line + 1 < len(starts) else len(text)
    return (starts[first_line], end) if end > starts[first_line] else None


def crop_window(
    offsets: list[tuple[int, int]], span: tuple[int, int], length: int, rng: random.Random
) -> tuple[int, int, int, int] | None:
    """A window of ``length`` tokens holding the start of ``span`` (characters), at a random position around it.

    Args:
        offsets: The document's token character offsets (no special tokens), sorted.
        span: The gold character span.
        length: Window length in tokens.
        rng: Random source.

    Returns:
        ``(window_start_char, window_end_char, span_start_char, span_end_char)`` with the span relative to the window
        and cut at its end; ``None`` when the span covers no token.
    """
    first = bisect.bisect_right(offsets, span[0], key=lambda o: o[1])  # first token ending after the start
    last = bisect.bisect_left(offsets, span[1], key=lambda o: o[0])  # first token starting at or after the end
    if first >= last:
        return None
    n = len(offsets)
    length = min(length, n)
    if last - first >= length:  # a long answer: some context before it, the window is cut at its end
        lo = max(0, first - rng.randint(0, length // 4))
    else:
        lo = rng.randint(max(0, last - length), min(first, n - length))
    hi = lo + length
    window_start, window_end = offsets[lo][0], offsets[hi - 1][1]
    span_start = max(span[0], window_start) - window_start
    span_end = min(span[1], window_end) - window_start
    return window_start, window_end, span_start, span_end


def chunk_in_span(
    chunks: Sequence[tuple[int, int]], span: tuple[int, int], rng: random.Random
) -> tuple[int, int] | None:
    """One of ``chunks`` inside ``span``, drawn with ``rng``.

    Chunks that lie wholly inside the span are drawn from; when none does (a span shorter than a chunk), the chunk
    that overlaps it most. ``None`` when no chunk overlaps it. ``chunks`` are character spans sorted by start and by
    end alike (every st_plus chunker's output, overlapping token windows included; not chunks nested in others).
    """
    lo = bisect.bisect_right(chunks, span[0], key=lambda c: c[1])  # first chunk ending after the span's start
    hi = bisect.bisect_left(chunks, span[1], key=lambda c: c[0])  # first chunk starting at or after its end
    overlapping = chunks[lo:hi]
    if not overlapping:
        return None
    inside = [c for c in overlapping if span[0] <= c[0] and c[1] <= span[1]]
    if inside:
        return rng.choice(inside)
    return max(overlapping, key=lambda c: (min(c[1], span[1]) - max(c[0], span[0]), -c[0]))


def long_document_span_rows(
    folder: str | Path,
    tokenizer: Any,
    *,
    split: str = "train",
    min_tokens: int = 256,
    max_tokens: int = 2048,
    seed: int = 42,
    max_rows: int | None = None,
    chunker: Callable[[str], Sequence[tuple[int, int]]] | None = None,
) -> Dataset:
    """Rows ``{query, document, span_start, span_end, group}`` for span-pooling training on long documents.

    Args:
        folder: A BEIR retrieval folder with ``spans.jsonl`` (gold answer lines per query and document, see
            :func:`~st_plus.data.turn_spans.load_turn_spans`).
        tokenizer: A fast tokenizer (offsets) of the model to train.
        split: The qrels split whose queries to use (never the evaluation split).
        min_tokens: Shortest window (tokens, special tokens included).
        max_tokens: Longest window (the model's ``max_seq_length``).
        seed: Seed of the window lengths and positions and of the row order.
        max_rows: Keep this many rows (after shuffling).
        chunker: When given, the row's span is one chunk of the whole document inside the gold range
            (:func:`chunk_in_span`, drawn once with the seed, from the same generator as the windows) instead of the
            whole range. A chunk longer than its window is cut at the window's end, like a long gold range.

    Returns:
        The rows, shuffled; ``group`` is the document id (one document per batch: spans of one meeting overlap).

    Raises:
        ValueError: Bad window lengths, or no usable row.
        FileNotFoundError / DataValidationError: From the folder's files (file, line, field).
    """
    if not 16 < min_tokens <= max_tokens:
        raise ValueError(f"Need 16 < min_tokens <= max_tokens, got {min_tokens} and {max_tokens}.")
    folder = Path(folder)
    data = load_retrieval(folder, split=split)
    gold = load_turn_spans(folder / "spans.jsonl")
    texts: Mapping[str, str] = {row["_id"]: row["text"] for row in data.corpus}
    queries = {row["_id"]: row["text"] for row in data.queries}
    rng = random.Random(seed)
    offsets_cache: dict[str, list[tuple[int, int]]] = {}
    line_starts: dict[str, list[int]] = {}
    doc_chunks: dict[str, list[tuple[int, int]]] = {}
    rows: list[dict[str, Any]] = []
    for query_id in sorted(data.qrels):
        for doc_id in sorted(data.qrels[query_id]):
            ranges = gold.spans.get(query_id, {}).get(doc_id)
            if not ranges or doc_id not in texts or query_id not in queries:
                continue
            text = texts[doc_id]
            if doc_id not in offsets_cache:
                encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
                offsets_cache[doc_id] = [tuple(o) for o in encoding["offset_mapping"]]
                line_starts[doc_id] = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
                if chunker is not None:
                    doc_chunks[doc_id] = sorted(tuple(c) for c in chunker(text))
            for first_line, last_line in ranges:
                span = line_char_spans(text, first_line, last_line, line_starts[doc_id])
                if span and chunker is not None:
                    span = chunk_in_span(doc_chunks[doc_id], span, rng)
                length = rng.randint(min_tokens, max_tokens) - SPECIAL_TOKEN_MARGIN
                window = crop_window(offsets_cache[doc_id], span, length, rng) if span else None
                if window is None:
                    continue
                start, end, span_start, span_end = window
                document = text[start:end]
                while span_end > span_start and document[span_end - 1].isspace():
                    span_end -= 1
                while span_start < span_end and document[span_start].isspace():
                    span_start += 1
                if span_end > span_start:
                    rows.append({"query": queries[query_id], "document": document, "span_start": span_start,
                                 "span_end": span_end, "group": doc_id})  # fmt: skip
    if not rows:
        raise ValueError(f"{folder}: no (query, gold span) row in split {split!r}.")
    rng.shuffle(rows)
    return Dataset.from_list(rows[:max_rows] if max_rows else rows)
