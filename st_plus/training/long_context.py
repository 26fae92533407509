"""The recipe's ``long_context`` stage: a longer position table, then span-pooling training on long documents."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from st_plus.chunking import SpanPoolingDataCollator, parse_chunker
from st_plus.chunking.span_rows import long_document_span_rows
from st_plus.losses import LateChunkDistillationLoss, SpanPoolingLoss
from st_plus.models import attention_dropout, extend_positions
from st_plus.samplers import GroupAwareBatchSampler, series_keys
from st_plus.training.recipe import LongContextStage
from st_plus.training.stages import build_trainer, loss_citations, train

logger = logging.getLogger(__name__)


def run_long_context(
    stage: LongContextStage, model: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    callbacks: list[Any] = (),
) -> tuple[SentenceTransformer, dict[str, Any]]:  # fmt: skip
    """Extends ``model`` to ``stage.max_positions`` (in place) and trains it with span pooling on long windows.

    Returns:
        The model (reading ``max_positions`` tokens) and the stage's record: steps, seconds, rows, the context
        length and the chunking it was trained for.
    """
    start = time.perf_counter()
    teacher = copy.deepcopy(model) if stage.distill_weight > 0 else None  # the model before this stage
    extend_positions(model, stage.max_positions)
    max_tokens = stage.max_tokens or model.max_seq_length
    chunker = None
    if stage.span_target == "chunk":  # pool one chunk of the inference chunker inside each gold range
        chunker = parse_chunker(stage.chunker, tokenizer=model.tokenizer, model=model)
    rows = long_document_span_rows(
        stage.data, model.tokenizer, split=stage.split, min_tokens=stage.min_tokens, max_tokens=max_tokens,
        seed=seed, max_rows=stage.max_rows, chunker=chunker,
    )  # fmt: skip
    groups = rows["group"]
    rows = rows.remove_columns("group")
    logger.info("Long-context rows: %d (query, %s) windows of %d-%d tokens from %d documents", len(rows),
                "gold span" if chunker is None else f"{stage.chunker} chunk in the gold span", stage.min_tokens,
                max_tokens, len(set(groups)))  # fmt: skip
    series = series_counts = None
    if stage.series_pattern is not None:
        series = series_keys(groups, stage.series_pattern, min_documents=stage.batch_size)
        series_counts = _series_counts(series, groups)
        logger.info("Same-series batches: %s", series_counts)
        if len({key for key in series if key is not None}) < 2:
            logger.warning("series_pattern %r leaves fewer than 2 series of at least %d documents: the batches are "
                           "barely different from batches across all documents", stage.series_pattern,
                           stage.batch_size)  # fmt: skip
    if teacher is None:
        loss = SpanPoolingLoss(model, scale=stage.scale, document_batch_size=1)  # no padding, no mask
    else:
        loss = LateChunkDistillationLoss(model, teacher, weight=stage.distill_weight,
                                         chunk_tokens=stage.distill_chunk_tokens, scale=stage.scale)  # fmt: skip
    # the prompts earlier stages recorded: the chunked evaluations read queries and documents with them
    prompts = {role: text for role in ("query", "document") if (text := (model.prompts or {}).get(role))}
    collator = SpanPoolingDataCollator(
        preprocess_fn=model.preprocess, tokenizer=model.tokenizer, max_seq_length=model.max_seq_length,
        prompts=prompts or None,
    )  # fmt: skip
    trainer = build_trainer(
        stage, model, folder, rows, loss, seed=seed, bf16=bf16, callbacks=list(callbacks), data_collator=collator,
        batch_sampler=GroupAwareBatchSampler.configure(groups, domains=series),
    )  # fmt: skip
    info: dict[str, Any] = {
        "kind": "long_context",
        "batch_size": stage.batch_size,
        "losses": [type(loss).__name__],
        "citations": loss_citations([loss]),
        "datasets": [{"name": Path(stage.data).name, "path": Path(stage.data).name, "task_type": "Retrieval",
                      "rows": len(rows)}],
    }  # fmt: skip
    # no attention dropout: with it, PyTorch's CPU attention falls back to the unfused kernel, which materialises every
    # heads x tokens x tokens matrix (at 2,048 tokens a step ~7x slower, ~12 GB instead of ~3 GB); so PyTorch picks
    with attention_dropout(model, 0.0, keep_cpu_kernel=False) as changed:
        info.update(train(trainer, folder, resume))
    info["seconds"] = round(time.perf_counter() - start, 1)
    info["extra"] = {"context_length": model.max_seq_length, "position_extension": "copy", "split": stage.split,
                     "attention_dropout_off": changed, "window_tokens": [stage.min_tokens, max_tokens],
                     "chunk_window": stage.chunk_window or model.max_seq_length, "chunk_overlap": stage.chunk_overlap,
                     "chunker": stage.chunker, "span_target": stage.span_target,
                     "distill_weight": stage.distill_weight,
                     "series_pattern": stage.series_pattern,
                     "chunking": "late chunking (one pass per window of up to the context length, span mean "
                                 "pooling)"}  # fmt: skip
    if series_counts is not None:
        info["extra"]["series"] = series_counts
    if prompts:  # the distillation teacher reads each block without them
        info["extra"]["prompts"] = prompts
    if isinstance(loss, LateChunkDistillationLoss) and loss.history:  # the two terms at the start and the end
        n = max(1, min(20, len(loss.history) // 2))
        info["extra"]["loss_terms"] = {
            part: {k: round(sum(t[k] for t in terms) / len(terms), 4) for k in ("contrastive", "distill")}
            for part, terms in (("first_calls", loss.history[:n]), ("last_calls", loss.history[-n:]))
        }
    info["log_history"] = trainer.state.log_history
    return model, info


def _series_counts(series: list[Any], groups: list[str]) -> dict[str, dict[str, int]]:
    """Rows and documents per series key (``"(shared)"``: the series too small for a batch of their own)."""
    counts: dict[str, dict[str, Any]] = {}
    for key, group in zip(series, groups, strict=True):
        entry = counts.setdefault("(shared)" if key is None else str(key), {"rows": 0, "documents": set()})
        entry["rows"] += 1
        entry["documents"].add(group)
    return {key: {"rows": v["rows"], "documents": len(v["documents"])} for key, v in sorted(counts.items())}
