"""Loading a task folder (data files + optional ``task.json``) into validated datasets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from st_plus.data._jsonl import JSONL_SUFFIXES, find_data_file
from st_plus.data.descriptor import DESCRIPTOR_FILE, TaskDescriptor, normalize_task_type
from st_plus.data.labelled import load_labelled_texts
from st_plus.data.pairs import load_pair_classification, load_sts
from st_plus.data.reranking import load_reranking
from st_plus.data.retrieval import load_retrieval

_PREFERRED_SPLITS = ("test", "validation", "dev")


@dataclass
class Task:
    """A validated evaluation task read from a folder.

    Attributes:
        descriptor: The folder's ``task.json`` (or one built from the arguments).
        folder: The folder.
        split: The evaluated split.
        data: By task type: a ``Dataset`` (STS, PairClassification, Clustering, Reranking), a
            ``{"train": Dataset | None, "eval": Dataset}`` dict (Classification) or a
            :class:`~st_plus.data.retrieval.RetrievalData` (Retrieval).
    """

    descriptor: TaskDescriptor
    folder: Path
    split: str
    data: Any

    @property
    def task_type(self) -> str:
        """MTEB's name of the task type."""
        return self.descriptor.task_type

    @property
    def name(self) -> str:
        """The task's name (descriptor ``name`` or the folder name)."""
        return self.descriptor.name or self.folder.name


def _available_splits(folder: Path, task_type: str) -> list[str]:
    if task_type == "Retrieval":
        return sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    names = set()
    for suffix in JSONL_SUFFIXES:
        names.update(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}"))
    return sorted(names)


def _resolve_split(folder: Path, task_type: str, requested: str | None, exclude: str | None) -> str:
    available = _available_splits(folder, task_type)
    if requested is not None:
        if requested not in available:
            raise FileNotFoundError(
                f"{folder}: no split {requested!r} for {task_type} (available: {available or 'none'})"
            )
        return requested
    for split in _PREFERRED_SPLITS:
        if split in available:
            return split
    candidates = [split for split in available if split != exclude]
    if len(candidates) == 1:
        return candidates[0]
    raise FileNotFoundError(
        f"{folder}: cannot tell which split to evaluate (found {available or 'no data files'}); "
        "pass --split or set eval_split in task.json"
    )


def load_task(
    folder: str | Path,
    *,
    task_type: str | None = None,
    split: str | None = None,
    descriptor: TaskDescriptor | None = None,
) -> Task:
    """Reads and validates an evaluation folder.

    The folder's ``task.json`` says what it is; without one, ``task_type`` is required. Arguments given here
    override the descriptor.

    Args:
        folder: The dataset folder (layouts: see ``../shared/data/README.md`` and the README).
        task_type: MTEB task type, required when the folder has no ``task.json``.
        split: The split to evaluate (default: the descriptor's, else ``test``/``validation``/``dev``).
        descriptor: A descriptor to use instead of the folder's ``task.json``.

    Raises:
        FileNotFoundError: The folder or a data file is missing.
        ValueError: No task type, an invalid ``task.json``, or data failing validation
            (:class:`~st_plus.data.DataValidationError`, naming file, line and field).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {folder}")
    descriptor_path = folder / DESCRIPTOR_FILE
    if descriptor is None and descriptor_path.is_file():
        descriptor = TaskDescriptor.from_file(descriptor_path)
    if descriptor is None:
        if task_type is None:
            raise ValueError(f"{folder}: no {DESCRIPTOR_FILE}; pass the task type (--task-type)")
        descriptor = TaskDescriptor(task_type=task_type)
    elif task_type is not None and normalize_task_type(task_type) != descriptor.task_type:
        descriptor = replace(descriptor, task_type=task_type)
    kind = descriptor.task_type
    train_split = descriptor.train_split if kind == "Classification" else None
    eval_split = _resolve_split(folder, kind, split or descriptor.eval_split, exclude=train_split)

    def data_file(stem: str) -> Path:
        path = find_data_file(folder, stem)
        if path is None:
            raise FileNotFoundError(f"{folder}: missing {stem}.jsonl or {stem}.jsonl.gz")
        return path

    if kind == "STS":
        data: Any = load_sts(data_file(eval_split), score_range=descriptor.score_range)
    elif kind == "PairClassification":
        data = load_pair_classification(data_file(eval_split))
    elif kind == "Clustering":
        data = load_labelled_texts(data_file(eval_split))
    elif kind == "Reranking":
        data = load_reranking(data_file(eval_split))
    elif kind == "Retrieval":
        data = load_retrieval(folder, split=eval_split)
    else:  # Classification
        train = None
        if train_split is not None and train_split != eval_split and find_data_file(folder, train_split):
            train = load_labelled_texts(data_file(train_split))
        data = {"train": train, "eval": load_labelled_texts(data_file(eval_split))}
    return Task(descriptor=descriptor, folder=folder, split=eval_split, data=data)
