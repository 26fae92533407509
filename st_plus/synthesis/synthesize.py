"""Synthesised positives, hard negatives and queries for training rows, through any OpenAI-compatible endpoint."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from st_plus.synthesis.client import ChatClient, ChatError, EndpointError
from st_plus.synthesis.consistency import consistent_negatives
from st_plus.synthesis.language import detect_language
from st_plus.synthesis.parsing import normalize_for_dedup, parse_texts, usable_texts
from st_plus.synthesis.prompts import KINDS, RowContext, build_messages

__all__ = ["SynthesisResult", "synthesize"]

logger = logging.getLogger(__name__)


@dataclass
class SynthesisResult:
    """What :func:`synthesize` made.

    Attributes:
        rows: The output rows (every input column kept; see :func:`synthesize` for the layout of each kind).
        failed: ``{"line", "reason", "row"}`` for every input row that gave nothing (``line`` is 1-based).
        requests: HTTP requests sent (retries included); 0 when everything came from the cache.
        stats: Counts of dropped items by reason.
    """

    rows: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    requests: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the log / the command line."""
        dropped = ", ".join(f"{v} {k}" for k, v in sorted(self.stats.items())) or "none"
        return (f"{len(self.rows):,} rows out, {len(self.failed):,} input rows failed, "
                f"{self.requests:,} requests sent; dropped items: {dropped}")  # fmt: skip


def _context(row: dict[str, Any], language: str | None) -> RowContext | str:
    """The row's texts, or the reason it cannot be used."""
    if isinstance(row.get("anchor"), str) and isinstance(row.get("positive"), str):
        anchor, positive = row["anchor"], row["positive"]
    elif isinstance(row.get("text"), str):
        anchor, positive = None, row["text"]
    else:
        return f"needs string fields anchor and positive, or text; got keys {sorted(row)}"
    negatives = row.get("negative") or []
    negatives = [negatives] if isinstance(negatives, str) else negatives
    if not isinstance(negatives, list) or not all(isinstance(n, str) for n in negatives):
        return "field negative must be a string or a list of strings"
    texts = [t for t in (anchor, positive) if t]
    return RowContext(positive, anchor, tuple(negatives), language or detect_language(texts))


def _output(kind: str, row: dict[str, Any], ctx: RowContext, items: list[str]) -> list[dict[str, Any]]:
    if kind == "hard_negatives":
        return [{**row, "negative": [*ctx.negatives, *items]}]
    if kind == "positives":
        anchor = ctx.anchor if ctx.anchor is not None else ctx.positive
        return [{**row, "anchor": anchor, "positive": item} for item in items]
    return [{**row, "anchor": item, "positive": ctx.positive} for item in items]  # queries


def synthesize(
    rows: Sequence[dict[str, Any]], client: ChatClient, *, kind: str, num: int = 1, language: str | None = None,
    concurrency: int = 4, consistency_model: Any = None, margin: float = 0.0, show_progress_bar: bool = False,
) -> SynthesisResult:  # fmt: skip
    """Asks an LLM for ``num`` new texts per row, conditioned on the row's positive and negative documents.

    Rows are ``{"anchor", "positive"[, "negative"]}`` pairs / n-tuples or text-only ``{"text"}`` rows; every other
    column is kept. Output per kind:

    * ``positives``: one row per new positive, ``positive`` replaced (text-only rows: paraphrases of ``text``, written
      as ``anchor`` = the text, ``positive`` = the paraphrase).
    * ``hard_negatives``: one row per input row, the new negatives appended to ``negative`` (a list); a row needs all
      ``num`` of them, so that every output row has the same width (``load_training_rows`` requires it).
    * ``queries``: one row per new query, as ``anchor`` with the row's ``positive`` (or ``text``) as ``positive``.

    New texts that are empty, refusals, duplicates (within the run) or copies of any input text are dropped. With
    ``consistency_model``, a new text is dropped when a negative would outrank the positive
    (:func:`consistent_negatives`: for hard negatives, the new negative must score below the positive; for positives
    and queries, the row's negatives must score below the positive). An input row that keeps nothing goes to
    ``failed`` with its reason; the run goes on. Results do not depend on thread timing.

    Args:
        rows: The input rows.
        client: The chat client (its cache makes a repeated run free).
        kind: ``positives``, ``hard_negatives`` or ``queries``.
        num: Texts to ask for per row.
        language: ``"en"`` / ``"zh"`` for every row (default: detected per row from its CJK share).
        concurrency: Requests in flight at once.
        consistency_model: A sentence-transformers model for the consistency check (``None``: no check).
        margin: Margin of the consistency check.
        show_progress_bar: A progress bar over the rows.

    Raises:
        ValueError: Bad ``kind``, ``num``, ``language`` or ``concurrency``.
        EndpointError: The endpoint refuses every request (HTTP 401 / 403 / 404).
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    if num < 1 or concurrency < 1:
        raise ValueError(f"`num` and `concurrency` must be >= 1, got {num} and {concurrency}.")
    if language not in (None, "en", "zh"):
        raise ValueError(f"`language` must be 'en', 'zh' or None (detect), got {language!r}.")
    start_requests = client.requests_sent
    contexts = [_context(row, language) for row in rows]
    for i, ctx in enumerate(contexts):
        if kind == "hard_negatives" and isinstance(ctx, RowContext) and ctx.anchor is None:
            contexts[i] = "hard negatives need rows with anchor and positive (a query to be irrelevant to)"

    def ask(ctx: RowContext | str) -> list[str] | str:
        if isinstance(ctx, str):
            return ctx
        try:
            return parse_texts(client.complete(build_messages(kind, ctx, num)), num)
        except EndpointError:
            raise
        except ChatError as exc:
            return str(exc)

    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        answers = list(tqdm(pool.map(ask, contexts), total=len(contexts), desc=f"synthesize {kind}",
                            disable=not show_progress_bar))  # fmt: skip
    except EndpointError:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)

    every_input = {normalize_for_dedup(t) for ctx in contexts if isinstance(ctx, RowContext)
                   for t in (ctx.anchor or "", ctx.positive, *ctx.negatives) if t}  # fmt: skip
    stats: dict[str, int] = {}
    kept: list[list[str] | str] = []
    seen = set(every_input)
    for answer in answers:
        if isinstance(answer, str):
            kept.append(answer)
            continue
        items, dropped = usable_texts(answer, seen)
        for reason in dropped:
            stats[reason] = stats.get(reason, 0) + 1
        seen.update(normalize_for_dedup(t) for t in items)
        kept.append(items if items else "unusable completion: " + (", ".join(sorted(set(dropped))) or "empty"))
    if consistency_model is not None:
        kept = _check_consistency(kind, contexts, kept, consistency_model, margin, stats)
    out, failed = [], []
    for i, (row, ctx, items) in enumerate(zip(rows, contexts, kept, strict=True)):
        items = items[:num] if isinstance(items, list) else items  # the first `num` that passed every check
        if isinstance(items, list) and kind == "hard_negatives" and len(items) < num:
            items = f"only {len(items)} of {num} usable negatives"
        if isinstance(items, str):
            failed.append({"line": i + 1, "reason": items, "row": row})
        else:
            out.extend(_output(kind, row, ctx, items))
    result = SynthesisResult(out, failed, client.requests_sent - start_requests, stats)
    logger.info("synthesize %s: %s", kind, result.summary())
    return result


def _check_consistency(
    kind: str, contexts: list, kept: list, model: Any, margin: float, stats: dict[str, int]
) -> list[list[str] | str]:
    """Drops new texts that break the ordering positive > negatives under ``model``."""
    anchors, positives, negatives, owners = [], [], [], []
    for i, (ctx, items) in enumerate(zip(contexts, kept, strict=True)):
        if not isinstance(items, list) or (ctx.anchor is None and kind != "queries"):
            continue
        for item in items:
            if kind == "hard_negatives":
                anchors.append(ctx.anchor), positives.append(ctx.positive), negatives.append([item])
            elif ctx.negatives:  # a new positive (or a new query) must keep the row's negatives below the positive
                anchor = item if kind == "queries" else ctx.anchor
                positive = ctx.positive if kind == "queries" else item
                anchors.append(anchor), positives.append(positive), negatives.append(list(ctx.negatives))
            else:
                continue
            owners.append((i, item))
    if not owners:
        return kept
    verdicts = consistent_negatives(model, anchors, positives, negatives, margin=margin)
    rejected = {owner for owner, keep in zip(owners, verdicts, strict=True) if not all(keep)}
    stats["inconsistent"] = stats.get("inconsistent", 0) + len(rejected)
    result: list[list[str] | str] = []
    for i, items in enumerate(kept):
        if not isinstance(items, list):
            result.append(items)
            continue
        left = [item for item in items if (i, item) not in rejected]
        result.append(left if left else "every new text failed the consistency check")
    return result
