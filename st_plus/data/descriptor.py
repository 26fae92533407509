"""``task.json``: the small descriptor that lets ``st-plus eval DIR`` run a folder without flags."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from st_plus.data._jsonl import is_finite_number

TASK_TYPES = ("STS", "PairClassification", "Classification", "Clustering", "Retrieval", "Reranking")
_ALIASES = {name.lower(): name for name in TASK_TYPES} | {
    "pairclf": "PairClassification",
    "pair_classification": "PairClassification",
    "pair-classification": "PairClassification",
}
PROMPT_ROLES = ("query", "document", "text")
DESCRIPTOR_FILE = "task.json"


def normalize_task_type(value: str) -> str:
    """Maps ``"sts"``, ``"pair-classification"``, ``"PairClassification"``, ... to MTEB's task type name.

    Raises:
        ValueError: For an unknown task type, listing the accepted ones.
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _ALIASES:
            return _ALIASES[key]
        if key.replace("_", "").replace("-", "") in _ALIASES:
            return _ALIASES[key.replace("_", "").replace("-", "")]
    raise ValueError(f"Unknown task type {value!r}; expected one of {', '.join(TASK_TYPES)}.")


@dataclass
class TaskDescriptor:
    """What a dataset folder is and how to evaluate it (``task.json``).

    Args:
        task_type: One of MTEB's task types (``STS``, ``PairClassification``, ``Classification``,
            ``Clustering``, ``Retrieval``, ``Reranking``; case and ``-``/``_`` do not matter).
        name: Task name used in results (default: the folder name).
        language: Language code(s), e.g. ``"en"``; informational.
        eval_split: The split to evaluate (default: ``test``, else ``validation``/``dev``, else the only split).
        train_split: Classification only: the split the probe is trained on; ``null`` for MTEB's 5-fold
            cross-validation on the evaluation split.
        score_range: STS only: ``[min, max]`` of the gold scores, used to normalise them (MTEB: 0-5).
        main_score: Overrides the task type's main metric.
        prompts: Prompts by role: ``query`` and ``document`` (retrieval, reranking), ``text`` (the symmetric
            task types).
        settings: Evaluator settings overriding the MTEB defaults (e.g. ``{"samples_per_label": 32}``).
        source: Where the data comes from; informational.
        license: The data's licence; informational.
        description: Free text; informational.
    """

    task_type: str
    name: str | None = None
    language: str | list[str] | None = None
    eval_split: str | None = None
    train_split: str | None = "train"
    score_range: tuple[float, float] = (0.0, 5.0)
    main_score: str | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    license: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        self.task_type = normalize_task_type(self.task_type)
        for key in ("name", "eval_split", "train_split", "main_score", "source", "license", "description"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"`{key}` must be a non-empty string or null, got {value!r:.80}.")
        for key in ("name", "eval_split", "train_split"):  # these become file names
            value = getattr(self, key)
            if value is not None and ("/" in value or "\\" in value or len(value) > 200):
                raise ValueError(f"`{key}` must be a plain name (no path separators, at most 200 characters).")
        if self.language is not None and not (
            isinstance(self.language, str)
            or (isinstance(self.language, list) and all(isinstance(x, str) for x in self.language))
        ):
            raise ValueError(f"`language` must be a string or a list of strings, got {self.language!r:.80}.")
        if (
            not isinstance(self.score_range, (list, tuple))
            or len(self.score_range) != 2
            or not all(is_finite_number(x) for x in self.score_range)
            or not self.score_range[0] < self.score_range[1]
        ):
            raise ValueError(
                f"`score_range` must be [min, max] of finite numbers with min < max, got {self.score_range!r}."
            )
        self.score_range = (float(self.score_range[0]), float(self.score_range[1]))
        if not isinstance(self.prompts, dict) or not all(isinstance(v, str) for v in self.prompts.values()):
            raise ValueError(f"`prompts` must map roles to strings, got {self.prompts!r}.")
        unknown = sorted(set(self.prompts) - set(PROMPT_ROLES))
        if unknown:
            raise ValueError(f"`prompts` has unknown role(s) {unknown}; expected {', '.join(PROMPT_ROLES)}.")
        if not isinstance(self.settings, dict):
            raise ValueError(f"`settings` must be an object, got {type(self.settings).__name__}.")

    @classmethod
    def from_file(cls, path: str | Path) -> TaskDescriptor:
        """Reads and validates a ``task.json``; errors name the file and the key."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:  # not UTF-8, a too long integer, nested too deeply
            raise ValueError(f"{path}: invalid JSON ({type(exc).__name__}: {exc})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {unknown}; accepted keys: {', '.join(sorted(known))}")
        if "task_type" not in raw:
            raise ValueError(f"{path}: missing key 'task_type' (one of {', '.join(TASK_TYPES)})")
        try:
            return cls(**raw)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as JSON-ready data (``None`` values left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["score_range"] = list(self.score_range)
        return {key: value for key, value in out.items() if value not in (None, {}, [])}
