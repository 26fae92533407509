"""``st_plus_run.json``: what a training run writes next to the saved model, for the model card.

The training pipeline saves the model with ``model.save(path)`` (a plain sentence-transformers folder) and writes
this file into the same folder. Publishing reads it when present; without it the card is built from
sentence-transformers' card data and what the folder holds. Schema (every key optional except
``st_plus_version``; ``null`` is accepted wherever a key is optional)::

    {
      "st_plus_version": "0.1.0",
      "base_model": "sentence-transformers/all-MiniLM-L6-v2",
      "recipe": {"name": "quickstart", "file": "recipe.resolved.yaml"},
      "stages": [{
          "name": "stage1", "kind": "contrastive",            # mlm | distill | contrastive | multitask
          "datasets": [{"name": "debian-descriptions-en", "path": "...", "hub_id": null, "license": "...",
                        "rows": 3000, "task_type": "Retrieval"}],  # name required
          "losses": ["CachedMultipleNegativesRankingLoss"], "steps": 100, "batch_size": 64, "seconds": 200.5,
          "filtering": {"rows_in": 3000, "rows_dropped": 120, "side_file": "dropped.jsonl"},
          "mining": {...} or "one line",                      # MinedDataset.stats / summary()
          "dynamic_negatives": {...}                          # DynamicNegativesCallback.summary()
      }],
      "matryoshka": {"dims": [384, 256], "scores": {"384": {"retrieval_xquad_en": 0.93}, "256": {...}}},
      "late_chunking": {"mode": "late", "window": 512, "overlap": 128, "chunker": "sentences:5"},
      "results": [{"task": "retrieval_xquad_en", "task_type": "Retrieval", "dataset": "retrieval_xquad_en",
                   "language": "en", "split": "test", "metric": "ndcg_at_10", "value": 0.9318, "before": 0.93}],
      "hardware": {"cpu": "...", "gpu": null, "processes": 1},
      "training_seconds": 612.0,
      "extra": {...}                                          # free-form, ignored by the card
    }

Scores are on MTEB's 0-1 scale. :func:`results_to_run_info` and :func:`matryoshka_to_run_info` turn
:class:`~st_plus.evaluation.TaskResult` objects into ``results`` and ``matryoshka``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

RUN_INFO_FILE = "st_plus_run.json"
STAGE_KINDS = ("mlm", "distill", "contrastive", "multitask")


class RunInfoError(ValueError):
    """A ``st_plus_run.json`` that does not follow the schema; the message names the file and the key."""


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_languages(value: Any) -> bool:
    return _is_str(value) or (isinstance(value, list) and all(_is_str(v) for v in value))


# key -> (check, what is expected); a nested dict / list is checked by its own table below.
_DATASET_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (_is_str, "a non-empty string"),
    "path": (_is_str, "a non-empty string"),
    "hub_id": (_is_str, "a Hub dataset id (string)"),
    "license": (_is_str, "a non-empty string"),
    "rows": (_is_count, "an integer >= 0"),
    "task_type": (_is_str, "a non-empty string"),
}
_FILTERING_KEYS = {
    "rows_in": (_is_count, "an integer >= 0"),
    "rows_dropped": (_is_count, "an integer >= 0"),
    "side_file": (_is_str, "a non-empty string"),
}
_STAGE_KEYS = {
    "name": (_is_str, "a non-empty string"),
    "kind": (lambda v: v in STAGE_KINDS, f"one of {', '.join(STAGE_KINDS)}"),
    "losses": (lambda v: isinstance(v, list) and all(_is_str(x) for x in v), "a list of loss class names"),
    "steps": (_is_count, "an integer >= 0"),
    "batch_size": (_is_count, "an integer >= 0"),
    "seconds": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "mining": (lambda v: isinstance(v, (dict, str)), "an object or a string"),
    "dynamic_negatives": (lambda v: isinstance(v, dict), "an object (DynamicNegativesCallback.summary())"),
}
_RESULT_KEYS = {
    "task": (_is_str, "a non-empty string"),
    "task_type": (_is_str, "a non-empty string"),
    "dataset": (_is_str, "a non-empty string"),
    "language": (_is_languages, "a language code or a list of them"),
    "split": (_is_str, "a non-empty string"),
    "metric": (_is_str, "a metric name such as ndcg_at_10"),
    "value": (_is_number, "a finite number"),
    "before": (_is_number, "a finite number"),
}
_HARDWARE_KEYS = {
    "cpu": (_is_str, "a non-empty string"),
    "gpu": (_is_str, "a non-empty string"),
    "processes": (lambda v: _is_count(v) and v >= 1, "an integer >= 1"),
}
_TOP_KEYS = {
    "st_plus_version": (_is_str, "a version string"),
    "base_model": (_is_str, "a model id or path"),
    "recipe": (lambda v: isinstance(v, dict) and all(_is_str(x) for x in v.values()), "an object of strings"),
    "late_chunking": (lambda v: isinstance(v, dict), "an object"),
    "training_seconds": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "extra": (lambda v: isinstance(v, dict), "an object"),
}
_TABLES = {"stages", "matryoshka", "results", "hardware"}


def _check_object(
    data: Any,
    keys: Mapping[str, tuple[Callable[[Any], bool], str]],
    where: str,
    *,
    nested: set[str] = frozenset(),
    required: Sequence[str] = (),
) -> None:
    if not isinstance(data, dict):
        raise RunInfoError(f"`{where or 'the top level'}` must be a JSON object, got {type(data).__name__}.")
    prefix = f"{where}." if where else ""
    for key in required:
        if data.get(key) is None:
            raise RunInfoError(f"`{prefix}{key}` is required.")
    for key, value in data.items():
        if key in nested:
            continue
        if key not in keys:
            raise RunInfoError(f"`{prefix}{key}` is not a known key; known: {', '.join(sorted({*keys, *nested}))}.")
        check, expected = keys[key]
        if value is not None and not check(value):
            raise RunInfoError(f"`{prefix}{key}` must be {expected}, got {value!r}.")


def _check_list(data: Any, where: str) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise RunInfoError(f"`{where}` must be a list, got {type(data).__name__}.")
    return data


def _check_matryoshka(data: Any) -> None:
    if not isinstance(data, dict) or set(data) - {"dims", "scores"}:
        raise RunInfoError(f"`matryoshka` must be an object with `dims` and `scores`, got {data!r}.")
    dims = data.get("dims") or []
    if not isinstance(dims, list) or not all(_is_count(d) and d > 0 for d in dims):
        raise RunInfoError(f"`matryoshka.dims` must be a list of positive integers, got {dims!r}.")
    scores = data.get("scores") or {}
    if not isinstance(scores, dict):
        raise RunInfoError(f"`matryoshka.scores` must be an object keyed by dimension, got {scores!r}.")
    for dim, by_task in scores.items():
        if not str(dim).isdigit() or int(dim) not in dims:
            raise RunInfoError(f"`matryoshka.scores.{dim}` is not one of `matryoshka.dims` {dims}.")
        if not isinstance(by_task, dict) or not all(_is_number(v) for v in by_task.values()):
            raise RunInfoError(f"`matryoshka.scores.{dim}` must map task names to numbers, got {by_task!r}.")


def validate_run_info(data: Any) -> dict[str, Any]:
    """Checks ``data`` against the schema above and returns it.

    Raises:
        RunInfoError: (a ``ValueError``) naming the first bad key, e.g. ``stages[0].datasets[1].rows``.
    """
    _check_object(data, _TOP_KEYS, "", nested=_TABLES, required=("st_plus_version",))
    for i, stage in enumerate(_check_list(data.get("stages"), "stages")):
        _check_object(stage, _STAGE_KEYS, f"stages[{i}]", nested={"datasets", "filtering"})
        for j, dataset in enumerate(_check_list(stage.get("datasets"), f"stages[{i}].datasets")):
            _check_object(dataset, _DATASET_KEYS, f"stages[{i}].datasets[{j}]", required=("name",))
        if stage.get("filtering") is not None:
            _check_object(stage["filtering"], _FILTERING_KEYS, f"stages[{i}].filtering")
    for i, result in enumerate(_check_list(data.get("results"), "results")):
        _check_object(result, _RESULT_KEYS, f"results[{i}]", required=("task", "task_type", "metric", "value"))
    if data.get("matryoshka") is not None:
        _check_matryoshka(data["matryoshka"])
    if data.get("hardware") is not None:
        _check_object(data["hardware"], _HARDWARE_KEYS, "hardware")
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


def write_run_info(folder: str | Path, info: dict[str, Any]) -> Path:
    """Validates ``info`` and writes it as ``folder/st_plus_run.json``; returns the file's path."""
    validate_run_info(info)
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
