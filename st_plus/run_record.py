"""The record of a training run, ``st_plus_run.json``: one typed dataclass that training writes and ``hub`` reads.

The training pipeline builds a :class:`RunRecord` (``st_plus.training.report.run_info``) and writes
:meth:`RunRecord.to_dict` next to the saved model; publishing reads it back with :meth:`RunRecord.from_dict`, which
checks every key and names the first bad one (``stages[0].datasets[1].rows``). Every key is optional except
``st_plus_version`` (and the names of datasets, and task / type / metric / value of results); ``null`` is accepted
wherever a key is optional. Scores are on MTEB's 0-1 scale. Shape::

    {
      "st_plus_version": "0.1.0",
      "base_model": "sentence-transformers/all-MiniLM-L6-v2",
      "recipe": {"name": "quickstart", "file": "recipe.resolved.yaml"},
      "stages": [{
          "name": "stage1", "kind": "contrastive",            # mlm | distill | contrastive | multitask
          "datasets": [{"name": "debian-descriptions-en", "path": "...", "hub_id": null, "license": "...",
                        "rows": 3000, "task_type": "Retrieval"}],
          "losses": ["CachedMultipleNegativesRankingLoss"],
          "citations": {"CachedMultipleNegativesRankingLoss": "@inproceedings{..."},  # of the losses trained
          "steps": 100, "batch_size": 64, "seconds": 200.5,
          "filtering": {"rows_in": 3000, "rows_dropped": 120, "side_file": "dropped.jsonl"},
          "mining": {...} or "one line",                      # MiningResult.stats / summary()
          "dynamic_negatives": {"pairs": {...}}               # per task: DynamicNegativesCallback.summary()
      }],
      "matryoshka": {"dims": [384, 256], "scores": {"384": {"retrieval_xquad_en": 0.93}, "256": {...}}},
      "late_chunking": {"mode": "late", "window": 512, "overlap": 128, "chunker": "sentences:5"},
      "results": [{"task": "retrieval_xquad_en", "task_type": "Retrieval", "dataset": "retrieval_xquad_en",
                   "language": "en", "split": "test", "metric": "ndcg_at_10", "value": 0.9318, "before": 0.93}],
      "hardware": {"cpu": "...", "gpu": null, "processes": 1},
      "training_seconds": 612.0,
      "extra": {...}                                          # free-form; the card shows only its "merge" entry
    }
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

RUN_INFO_FILE = "st_plus_run.json"
STAGE_KINDS = ("mlm", "distill", "contrastive", "multitask", "long_context")

Check = tuple[Callable[[Any], bool], str]


class RunInfoError(ValueError):
    """A run record that does not follow the schema; the message names the key (and the file, when read from one)."""


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_STR: Check = (_is_str, "a non-empty string")
_COUNT: Check = (_is_count, "an integer >= 0")
_SECONDS: Check = (lambda v: _is_number(v) and v >= 0, "a number >= 0")
_OBJECT: Check = (lambda v: isinstance(v, dict), "an object")


class _Record:
    """``from_dict`` / ``to_dict`` for the records below: each declares a check per scalar field."""

    CHECKS: ClassVar[dict[str, Check]] = {}
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    NESTED: ClassVar[dict[str, tuple[type[_Record], bool]]] = {}  # field -> (record type, is a list of them)

    @classmethod
    def from_dict(cls, data: Any, where: str = ""):
        """The record of ``data`` (a JSON object), every key checked.

        Raises:
            RunInfoError: The first bad key, by its path (``stages[0].datasets[1].rows``).
        """
        if not isinstance(data, dict):
            raise RunInfoError(f"`{where or 'the top level'}` must be a JSON object, got {type(data).__name__}.")
        prefix = f"{where}." if where else ""
        for key in cls.REQUIRED:
            if data.get(key) is None:
                raise RunInfoError(f"`{prefix}{key}` is required.")
        known = [f.name for f in dataclasses.fields(cls)]
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise RunInfoError(f"`{prefix}{key}` is not a known key; known: {', '.join(sorted(known))}.")
            if value is None:
                continue
            if key in cls.NESTED:
                record, many = cls.NESTED[key]
                if many:
                    if not isinstance(value, list):
                        raise RunInfoError(f"`{prefix}{key}` must be a list, got {type(value).__name__}.")
                    value = [record.from_dict(item, f"{prefix}{key}[{i}]") for i, item in enumerate(value)]
                else:
                    value = record.from_dict(value, f"{prefix}{key}")
            else:
                check, expected = cls.CHECKS[key]
                if not check(value):
                    raise RunInfoError(f"`{prefix}{key}` must be {expected}, got {value!r}.")
            values[key] = value
        record = cls(**values)
        record._check(where)
        return record

    def _check(self, where: str) -> None:
        """Checks that span several fields (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``None`` fields left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _Record):
                value = value.to_dict()
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, _Record) else v for v in value]
            if value is not None:
                out[f.name] = value
        return out


@dataclass
class DatasetRecord(_Record):
    """One training data file of a stage."""

    name: str
    path: str | None = None
    hub_id: str | None = None
    license: str | None = None
    rows: int | None = None
    task_type: str | None = None

    CHECKS: ClassVar[dict[str, Check]] = {"name": _STR, "path": _STR, "hub_id": (_is_str, "a Hub dataset id (string)"),
                                          "license": _STR, "rows": _COUNT, "task_type": _STR}  # fmt: skip
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)


@dataclass
class FilteringRecord(_Record):
    """What consistency filtering kept of a stage's pairs."""

    rows_in: int | None = None
    rows_dropped: int | None = None
    side_file: str | None = None

    CHECKS: ClassVar[dict[str, Check]] = {"rows_in": _COUNT, "rows_dropped": _COUNT, "side_file": _STR}


def _is_loss_names(value: Any) -> bool:
    return isinstance(value, list) and all(_is_str(x) for x in value)


def _is_citations(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_str(k) and _is_str(v) for k, v in value.items())


def _is_per_task(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_str(k) and isinstance(s, dict) for k, s in value.items())


@dataclass
class StageRecord(_Record):
    """One stage of the run: its data, losses (and their citations, taken from the loss objects it trained), size."""

    name: str | None = None
    kind: str | None = None
    datasets: list[DatasetRecord] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    citations: dict[str, str] | None = None
    steps: int | None = None
    batch_size: int | None = None
    seconds: float | None = None
    filtering: FilteringRecord | None = None
    mining: dict[str, Any] | str | None = None
    dynamic_negatives: dict[str, dict[str, Any]] | None = None

    CHECKS: ClassVar[dict[str, Check]] = {
        "name": _STR,
        "kind": (lambda v: v in STAGE_KINDS, f"one of {', '.join(STAGE_KINDS)}"),
        "losses": (_is_loss_names, "a list of loss class names"),
        "citations": (_is_citations, "an object: loss class name -> bibtex"),
        "steps": _COUNT,
        "batch_size": _COUNT,
        "seconds": _SECONDS,
        "mining": (lambda v: isinstance(v, (dict, str)), "an object or a string"),
        "dynamic_negatives": (_is_per_task, "an object: task name -> DynamicNegativesCallback.summary()"),
    }
    NESTED: ClassVar[dict[str, tuple[type[_Record], bool]]] = {
        "datasets": (DatasetRecord, True),
        "filtering": (FilteringRecord, False),
    }


@dataclass
class ResultRecord(_Record):
    """The main score of one evaluation task after training (and before, when measured)."""

    task: str
    task_type: str
    metric: str
    value: float
    dataset: str | None = None
    language: str | list[str] | None = None
    split: str | None = None
    before: float | None = None

    CHECKS: ClassVar[dict[str, Check]] = {
        "task": _STR,
        "task_type": _STR,
        "dataset": _STR,
        "language": (lambda v: _is_str(v) or (isinstance(v, list) and all(_is_str(x) for x in v)),
                     "a language code or a list of them"),
        "split": _STR,
        "metric": (_is_str, "a metric name such as ndcg_at_10"),
        "value": (_is_number, "a finite number"),
        "before": (_is_number, "a finite number"),
    }  # fmt: skip
    REQUIRED: ClassVar[tuple[str, ...]] = ("task", "task_type", "metric", "value")


@dataclass
class MatryoshkaRecord(_Record):
    """Main scores at each truncated dimension: ``scores[str(dim)][task]``."""

    dims: list[int] = field(default_factory=list)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)

    CHECKS: ClassVar[dict[str, Check]] = {
        "dims": (lambda v: isinstance(v, list) and all(_is_count(d) and d > 0 for d in v),
                 "a list of positive integers"),
        "scores": (lambda v: isinstance(v, dict), "an object keyed by dimension"),
    }  # fmt: skip

    def _check(self, where: str) -> None:
        for dim, by_task in self.scores.items():
            if not str(dim).isdigit() or int(dim) not in self.dims:
                raise RunInfoError(f"`{where}.scores.{dim}` is not one of `{where}.dims` {self.dims}.")
            if not isinstance(by_task, dict) or not all(_is_number(v) for v in by_task.values()):
                raise RunInfoError(f"`{where}.scores.{dim}` must map task names to numbers, got {by_task!r}.")


@dataclass
class HardwareRecord(_Record):
    """What the run trained on."""

    cpu: str | None = None
    gpu: str | None = None
    processes: int | None = None

    CHECKS: ClassVar[dict[str, Check]] = {
        "cpu": _STR,
        "gpu": _STR,
        "processes": (lambda v: _is_count(v) and v >= 1, "an integer >= 1"),
    }


@dataclass
class RunRecord(_Record):
    """A training run, as the model card shows it (see the module docstring for the JSON form).

    Example:
        >>> record = RunRecord.from_dict({"st_plus_version": "0.1.0", "stages": [{"name": "s1", "steps": 10}]})
        >>> record.stages[0].steps
        10
        >>> record.to_dict()["stages"][0]
        {'name': 's1', 'datasets': [], 'losses': [], 'steps': 10}
    """

    st_plus_version: str
    base_model: str | None = None
    recipe: dict[str, str] | None = None
    stages: list[StageRecord] = field(default_factory=list)
    results: list[ResultRecord] = field(default_factory=list)
    matryoshka: MatryoshkaRecord | None = None
    late_chunking: dict[str, Any] | None = None
    hardware: HardwareRecord | None = None
    training_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    CHECKS: ClassVar[dict[str, Check]] = {
        "st_plus_version": (_is_str, "a version string"),
        "base_model": (_is_str, "a model id or path"),
        "recipe": (lambda v: isinstance(v, dict) and all(_is_str(x) for x in v.values()), "an object of strings"),
        "late_chunking": _OBJECT,
        "training_seconds": _SECONDS,
        "extra": _OBJECT,
    }
    REQUIRED: ClassVar[tuple[str, ...]] = ("st_plus_version",)
    NESTED: ClassVar[dict[str, tuple[type[_Record], bool]]] = {
        "stages": (StageRecord, True),
        "results": (ResultRecord, True),
        "matryoshka": (MatryoshkaRecord, False),
        "hardware": (HardwareRecord, False),
    }


__all__ = [
    "RUN_INFO_FILE",
    "DatasetRecord",
    "FilteringRecord",
    "HardwareRecord",
    "MatryoshkaRecord",
    "ResultRecord",
    "RunInfoError",
    "RunRecord",
    "StageRecord",
]
