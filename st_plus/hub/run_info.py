"""``st_plus_run.json`` files: reading, writing and building their parts from evaluation results.

The record itself is :class:`st_plus.run_record.RunRecord` (typed, shared with training, which writes it next to
the saved model). Publishing reads it when present; without it the card is built from sentence-transformers' card
data and what the folder holds. :func:`results_to_run_info` and :func:`matryoshka_to_run_info` turn
:class:`~st_plus.evaluation.TaskResult` objects into its ``results`` and ``matryoshka`` entries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from st_plus.run_record import RUN_INFO_FILE, RunInfoError, RunRecord

__all__ = [
    "RUN_INFO_FILE",
    "RunInfoError",
    "load_run_info",
    "load_run_record",
    "matryoshka_to_run_info",
    "results_to_run_info",
    "validate_run_info",
    "write_run_info",
]


def validate_run_info(data: Any) -> dict[str, Any]:
    """Checks ``data`` against the :class:`~st_plus.run_record.RunRecord` schema and returns it.

    Raises:
        RunInfoError: (a ``ValueError``) naming the first bad key, e.g. ``stages[0].datasets[1].rows``.
    """
    RunRecord.from_dict(data)
    return data


def load_run_info(path: str | Path) -> dict[str, Any] | None:
    """Reads and validates ``st_plus_run.json`` from a model folder (or the file itself).

    Returns:
        The validated dictionary, or ``None`` when a folder has no such file.

    Raises:
        RunInfoError: The file is not JSON or breaks the schema; the message names the file and the key.
    """
    path = Path(path)
    file = path / RUN_INFO_FILE if path.is_dir() else path
    if path.is_dir() and not file.exists():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunInfoError(f"{file}: not valid JSON (line {exc.lineno}): {exc.msg}.") from None
    try:
        return validate_run_info(data)
    except RunInfoError as exc:
        raise RunInfoError(f"{file}: {exc}") from None


def load_run_record(path: str | Path) -> RunRecord | None:
    """:func:`load_run_info` as a typed :class:`~st_plus.run_record.RunRecord` (``None`` without the file)."""
    data = load_run_info(path)
    return None if data is None else RunRecord.from_dict(data)


def write_run_info(folder: str | Path, info: dict[str, Any] | RunRecord) -> Path:
    """Validates ``info`` and writes it as ``folder/st_plus_run.json``; returns the file's path."""
    info = info.to_dict() if isinstance(info, RunRecord) else validate_run_info(info)
    file = Path(folder) / RUN_INFO_FILE
    file.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return file


def _before_scores(before: Any) -> dict[str, float]:
    if before is None:
        return {}
    if isinstance(before, Mapping):
        return {str(k): float(v) for k, v in before.items()}
    return {result.task_name: result.main_score for result in before}


def results_to_run_info(results: Sequence[Any], before: Sequence[Any] | Mapping[str, float] | None = None) -> list:
    """The ``results`` list of ``st_plus_run.json`` from :class:`~st_plus.evaluation.TaskResult` objects.

    Args:
        results: The trained model's results (``evaluate_suite``'s return value).
        before: The base model's results on the same tasks (``TaskResult`` objects, or task name -> main score);
            matched by task name and shown as "before" in the card.

    Returns:
        One dictionary per task: task, task_type, dataset, language, split, metric, value[, before].
    """
    baseline = _before_scores(before)
    rows = []
    for result in results:
        row = {
            "task": result.task_name,
            "task_type": result.task_type,
            "dataset": result.task_name,
            "language": result.language,
            "split": result.split,
            "metric": result.main_score_name,
            "value": round(result.main_score, 5),
        }
        if result.task_name in baseline:
            row["before"] = round(baseline[result.task_name], 5)
        rows.append({key: value for key, value in row.items() if value is not None})
    return rows


def matryoshka_to_run_info(results: Sequence[Any]) -> dict[str, Any] | None:
    """The ``matryoshka`` entry (dims x task main scores) from results evaluated with ``truncate_dims``.

    Returns ``None`` when no result was scored at more than one dimension.
    """
    dims = sorted({dim for result in results for dim in result.scores_by_dim}, reverse=True)
    if len(dims) < 2:
        return None
    scores = {
        str(dim): {
            r.task_name: round(float(r.scores_by_dim[dim][r.main_score_name]), 5)
            for r in results
            if dim in r.scores_by_dim and r.main_score_name in r.scores_by_dim[dim]
        }
        for dim in dims
    }
    return {"dims": dims, "scores": scores}
