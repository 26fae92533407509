"""Preserve tasks: general texts paired with the start model's embeddings, so that stage 2 does not forget.

A ``preserve`` task of the multi-task stage trains :class:`~st_plus.losses.MSECosineDistillLoss` toward what the
start model (the recipe's ``model.base``, before any stage trained it) gives each text. It is the distillation term
of issue 14, a regulariser in the spirit of LM-Cocktail's merging but applied during training: the other tasks move
the model toward their domain, this one pulls it back toward the start model on the texts it names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, Features, Value
from datasets import Sequence as Sequence_
from sentence_transformers import SentenceTransformer

from st_plus.encoding import truncate_and_renormalize
from st_plus.models import load_model, read_texts

logger = logging.getLogger(__name__)


def unit_prefix(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` dimensions of each row, unit length again when cut (a Matryoshka prefix), as float32.

    Uncut rows are left as they are (a teacher without a ``Normalize`` module keeps its norms).
    """
    if dim < vectors.shape[1]:
        return truncate_and_renormalize(vectors, dim)
    return vectors.astype(np.float32)


def preserve_texts(path: str | Path, *, fields: Sequence[str] | None, rows: int | None, seed: int) -> list[str]:
    """The distinct texts of one file (JSONL ``fields``, or one per line), shuffled with ``seed``, cut to ``rows``."""
    return read_texts([path], fields=fields, limit=rows, seed=seed)


def start_model_targets(
    texts: Sequence[str], start: SentenceTransformer, *, max_seq_length: int | None = None, prompt: str | None = None,
    dim: int | None = None, batch_size: int = 64,
) -> Dataset:  # fmt: skip
    """``text, label`` rows: each text and the start model's float32 embedding of it (the distillation target).

    Args:
        texts: The general texts.
        start: The start model (read only; its ``max_seq_length`` is restored afterwards).
        max_seq_length: Truncate as the trained model reads the texts during training (default: the start model's).
        prompt: The task's ``text`` prompt, which the trainer adds to the trained model's inputs too. ``None``: no
            prompt at all (not the start model's default prompt, which the trainer would not add).
        dim: The trained model's embedding size, when it is narrower (a distilled Matryoshka student): the targets
            are the first ``dim`` dimensions, unit length again, as :func:`st_plus.training.distill` trains them.
        batch_size: Encoding batch size.

    Raises:
        ValueError: No texts, or ``dim`` wider than the start model's embeddings.
    """
    if not texts:
        raise ValueError("A preserve task needs at least one text.")
    length = start.max_seq_length
    if max_seq_length:
        start.max_seq_length = max_seq_length
    try:
        embeddings = start.encode(list(texts), batch_size=batch_size, prompt=prompt or "", convert_to_numpy=True,
                                  show_progress_bar=False)  # fmt: skip
    finally:
        start.max_seq_length = length
    if dim is not None and dim > embeddings.shape[1]:
        raise ValueError(f"The trained model's embeddings ({dim}) are wider than the start model's "
                         f"({embeddings.shape[1]}): a preserve task cannot target them.")  # fmt: skip
    embeddings = unit_prefix(embeddings, dim or embeddings.shape[1])
    features = Features({"text": Value("string"), "label": Sequence_(Value("float32"))})
    return Dataset.from_dict({"text": list(texts), "label": list(embeddings)}, features=features)


def preserve_dataset(
    path: str | Path, start_model: str | Path, *, fields: Sequence[str] | None, rows: int | None, seed: int,
    max_seq_length: int | None, prompt: str | None = None, start: SentenceTransformer | None = None,
    dim: int | None = None,
) -> tuple[Dataset, dict[str, Any]]:  # fmt: skip
    """One preserve task's rows from its file, and what the run record keeps (texts, start model, seconds).

    ``start``: the already loaded start model (several preserve tasks share one), else ``start_model`` is loaded.
    """
    begin = time.perf_counter()
    texts = preserve_texts(path, fields=fields, rows=rows, seed=seed)
    model = start if start is not None else load_model(start_model)
    dataset = start_model_targets(texts, model, max_seq_length=max_seq_length, prompt=prompt, dim=dim)
    info = {"texts": len(texts), "start_model": str(start_model), "seconds": round(time.perf_counter() - begin, 1)}
    logger.info("Preserve task from %s: %d texts with the start model's (%s) embeddings", path, len(texts),
                start_model)  # fmt: skip
    return dataset, info
