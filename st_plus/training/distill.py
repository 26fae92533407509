"""Embedding distillation: a smaller (or cross-lingual) student learns to place texts where the teacher does.

Three students, one procedure (:func:`distill_model`): the teacher encodes the training texts once; the student
is trained with :class:`~st_plus.losses.MSECosineDistillLoss` to reproduce those embeddings.

- A layer-pruned copy of the teacher (:func:`~st_plus.models.prune_layers`, e.g. layers 0, 2, 4 of 6): about
  half the encoding cost, most of the quality back after a few minutes.
- A new NomicBERT-style encoder of a preset (:func:`~st_plus.models.build_nomic_bert`) with the teacher's
  tokenizer; when it is narrower than the teacher it learns the teacher's Matryoshka prefix (the first ``d``
  dimensions, re-normalised), so train the teacher with ``matryoshka_dims`` first.
- A copy of the teacher with ``parallel`` (source, translation) rows: both the source text and its translation
  are trained onto the teacher's embedding of the source (Reimers & Gurevych, 2020,
  https://arxiv.org/abs/2004.09813), which moves the new language next to the teacher's language. Where the
  teacher's vocabulary lacks the new language's characters, ``extend_vocab`` adds them first
  (:func:`~st_plus.models.add_characters`).

The student is a plain sentence-transformers model (stock modules only).
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

from st_plus.losses import MSECosineDistillLoss
from st_plus.models import add_characters, build_nomic_bert, prune_layers, read_texts
from st_plus.models.recovery import LengthGroupedBatchSampler
from st_plus.training.preserve import unit_prefix
from st_plus.training.recipe import DistillStage
from st_plus.training.stages import build_trainer, train

logger = logging.getLogger(__name__)


def read_parallel(paths: Sequence[str | Path]) -> list[tuple[str, str]]:
    """``(source, translation)`` pairs from JSONL(.gz) rows ``{"source": ..., "translation": ...}``.

    Raises:
        FileNotFoundError: A missing file.
        ValueError: A row that is not an object or lacks a non-empty string field (``FILE:LINE: field``).
    """
    pairs: dict[tuple[str, str], None] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"Parallel text file not found: {path}")
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                for field in ("source", "translation"):
                    if not isinstance(row, dict) or not isinstance(row.get(field), str) or not row[field].strip():
                        raise ValueError(f"{path}:{number}: {field}: expected a non-empty string")
                pairs[(row["source"].strip(), row["translation"].strip())] = None
    return list(pairs)


def build_student(
    teacher: SentenceTransformer, *, layers: Sequence[int] | None = None, preset: str | None = None, seed: int = 0
) -> SentenceTransformer:
    """The student: the teacher's ``layers`` (pruned copy), a new ``preset`` encoder, or (neither) a full copy.

    Raises:
        ValueError: Both ``layers`` and ``preset``.
    """
    if layers is not None and preset is not None:
        raise ValueError("give `layers` (a pruned teacher) or `preset` (a new encoder), not both.")
    if preset is not None:
        normalize = any(type(m).__name__ == "Normalize" for m in teacher)
        return build_nomic_bert(
            teacher.tokenizer, preset, normalize=normalize, max_seq_length=teacher.max_seq_length, seed=seed
        )
    count = teacher.transformers_model.config.num_hidden_layers
    return prune_layers(teacher, keep=list(layers) if layers is not None else list(range(count)))


def teacher_embeddings(
    teacher: SentenceTransformer, texts: Sequence[str], dim: int, *, batch_size: int = 64
) -> np.ndarray:
    """The teacher's embeddings of ``texts``, cut to their first ``dim`` dimensions and re-normalised if cut.

    Raises:
        ValueError: ``dim`` larger than the teacher's embeddings.
    """
    vectors = teacher.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    if dim > vectors.shape[1]:
        raise ValueError(f"the student's embeddings ({dim}) are wider than the teacher's ({vectors.shape[1]}).")
    return unit_prefix(vectors, dim)


def distill_dataset(
    teacher: SentenceTransformer,
    dim: int,
    texts: Sequence[str] = (),
    parallel: Sequence[tuple[str, str]] = (),
    *,
    batch_size: int = 64,
) -> Dataset:
    """``text, label`` rows: each text with its teacher embedding; both sides of a pair with the source's."""
    sources = [source for source, _ in parallel]
    all_texts = list(texts) + sources + [translation for _, translation in parallel]
    labels = teacher_embeddings(teacher, list(texts) + sources, dim, batch_size=batch_size)
    labels = np.concatenate([labels, labels[len(texts) :]]) if parallel else labels
    return Dataset.from_dict({"text": all_texts, "label": labels.tolist()})


def distill_model(
    student: SentenceTransformer,
    teacher: SentenceTransformer,
    stage: DistillStage,
    folder: str | Path,
    *,
    texts: Sequence[str] = (),
    parallel: Sequence[tuple[str, str]] = (),
    seed: int = 0,
    bf16: bool = False,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Trains ``student`` (in place) on ``teacher``'s embeddings of ``texts`` and ``parallel`` pairs.

    Checkpoints go to ``folder`` (resumable like every stage). ``stage.max_minutes`` stops training after that
    much wall-clock time with a learning rate decaying linearly in time (so the schedule ends whenever it stops).

    Returns:
        The run record's stage entry: steps, seconds, rows, losses, datasets.
    """
    if not texts and not parallel:
        raise ValueError("distillation needs `texts` and/or `parallel` pairs.")
    folder = Path(folder)
    start = time.perf_counter()
    dim = student.get_embedding_dimension()
    dataset = distill_dataset(teacher, dim, texts, parallel, batch_size=stage.batch_size)
    teacher_seconds = time.perf_counter() - start
    logger.info("Teacher embeddings of %d texts (%d parallel pairs) in %.0fs", len(dataset), len(parallel),
                teacher_seconds)  # fmt: skip
    loss: torch.nn.Module = MSECosineDistillLoss(
        student, mse_weight=stage.mse_weight, cosine_weight=stage.cosine_weight
    )
    if stage.matryoshka_dims:
        dims = sorted({dim, *(d for d in stage.matryoshka_dims if d < dim)}, reverse=True)
        loss = MatryoshkaLoss(student, loss, matryoshka_dims=dims)
    trainer = build_trainer(
        stage, student, folder, dataset, loss, seed=seed, bf16=bf16, callbacks=list(callbacks),
        batch_sampler=LengthGroupedBatchSampler,
    )  # fmt: skip
    info: dict[str, Any] = {
        "kind": "distill", "batch_size": stage.batch_size,
        "losses": [type(loss).__name__, *(["MSECosineDistillLoss"] if stage.matryoshka_dims else [])],
        "datasets": [{"name": Path(p).name, "path": Path(p).name, "task_type": "Distillation"}
                     for p in [*stage.data, *stage.parallel]],
    }  # fmt: skip
    info.update(train(trainer, folder, resume))
    info["seconds"] = round(time.perf_counter() - start, 1)
    info["extra"] = {"texts": len(texts), "parallel_pairs": len(parallel), "rows": len(dataset),
                     "teacher_seconds": round(teacher_seconds, 1), "student_dim": dim}  # fmt: skip
    info["log_history"] = trainer.state.log_history
    return info


def run_distill(
    stage: DistillStage, teacher: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    callbacks: Sequence[Any] = (),
) -> tuple[SentenceTransformer, dict[str, Any]]:  # fmt: skip
    """The recipe's distillation stage: builds the student from ``teacher`` and distills into it."""
    texts = read_texts(stage.data, limit=stage.max_texts, seed=seed) if stage.data else []
    parallel = read_parallel(stage.parallel) if stage.parallel else []
    torch.manual_seed(seed)
    student = build_student(teacher, layers=stage.student_layers, preset=stage.student_preset, seed=seed)
    added = add_characters(student, texts + [t for _, t in parallel]) if stage.extend_vocab else []
    info = distill_model(student, teacher, stage, folder, texts=texts, parallel=parallel, seed=seed, bf16=bf16,
                         resume=resume, callbacks=callbacks)  # fmt: skip
    info["extra"]["added_characters"] = len(added)
    return student, info
