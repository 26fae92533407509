"""The training recipe: what ``st-plus train RECIPE.yaml`` runs, validated before any work starts.

A recipe is a YAML file whose keys map onto the dataclasses below; every field has a documented default. Relative
paths are resolved against the recipe file's folder. Unknown keys, wrong types, missing files and impossible
combinations raise :class:`RecipeError` naming the file, the line and the key, e.g.
``quickstart.yaml:14: stages.contrastive.batch_size: expected an integer, got 'big'``.

Example (``examples/recipes/quickstart.yaml`` is the full one)::

    name: quickstart
    model: {base: default, max_seq_length: 128}
    stages:
      contrastive:
        data: [{path: ../training_data/debian_pairs_en.jsonl.gz, group_column: source, rows: 2000}]
        batch_size: 64
      multitask:
        tasks:
          - {name: sts, type: sts, data: {path: ../training_data/stsb_train_en.jsonl}}
    evaluation: {tasks: [../data/*/]}
"""

from __future__ import annotations

import dataclasses
import glob
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from st_plus.training._yaml import KeyPath, RecipeError, dotted, line_of, load_yaml_with_lines

__all__ = [
    "ContrastiveStage",
    "DataSpec",
    "EvaluationSpec",
    "FilterSpec",
    "MergeSpec",
    "MlmStage",
    "ModelSpec",
    "MultitaskStage",
    "NegativesSpec",
    "Recipe",
    "RecipeError",
    "StagesSpec",
    "TaskSpec",
    "load_recipe",
    "recipe_to_dict",
]

Evaluate = Literal["all", "none"] | list[str]


@dataclass
class DataSpec:
    """One training file: ``.jsonl`` / ``.jsonl.gz`` rows (``load_training_rows``; ``load_labelled_texts`` for labels).

    Attributes:
        path: The file.
        rows: Use a sample of ``rows`` rows, drawn with the recipe's seed in file order (default: all).
        group_column: A bookkeeping column (e.g. Debian's ``source``) whose equal values are never each other's
            negatives; kept for mining and the consistency filter.
        name: The dataset's name in the model card (default: the file name).
        license: The data's licence, for the model card.
    """

    path: str
    rows: int | None = None
    group_column: str | None = None
    name: str | None = None
    license: str | None = None


@dataclass
class ModelSpec:
    """The starting model.

    Attributes:
        base: ``"default"`` (the bundled all-MiniLM-L6-v2), a local folder, or ``None`` when ``stages.mlm``
            pre-trains a new NomicBERT-style encoder.
        max_seq_length: Truncation length for training and evaluation (default: the model's own).
    """

    base: str | None = "default"
    max_seq_length: int | None = None


@dataclass
class MlmStage:
    """Stage 0: a WordPiece tokenizer and masked-LM pre-training of a new NomicBERT-style encoder.

    Restarted from its beginning on ``--resume`` when it was interrupted (it is deterministic for a seed).

    Attributes:
        data: Text files (JSONL rows' string fields, or one text per line).
        max_texts: At most this many distinct texts (shuffled with the recipe's seed).
        preset: ``build_nomic_bert`` preset (``tiny``, ``micro``, ``mini``, ``small``, ...).
        vocab_size: WordPiece vocabulary size (padded to a multiple of 64).
        lowercase: Lower-case the tokenizer's input.
        max_steps: Optimiser steps.
        batch_size: Sequences per step.
        learning_rate: Peak learning rate (warm-up 50 steps, then linear decay).
        max_seq_length: Tokens per sequence.
        mask_rate: Share of masked tokens (Nomic: 0.3).
        group_by_length: Batch texts of similar length together (less padding, faster on CPU).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: list[str]
    max_texts: int | None = None
    preset: str = "tiny"
    vocab_size: int = 8192
    lowercase: bool = True
    max_steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 5e-4
    max_seq_length: int = 128
    mask_rate: float = 0.3
    group_by_length: bool = True
    evaluate: Evaluate = "none"


@dataclass
class FilterSpec:
    """Consistency filtering of the stage-1 pairs with the stage-1 model (:func:`st_plus.mining.consistency_filter`).

    Attributes:
        top_k: The positive must rank in the anchor's top ``top_k`` (``None``: no rank test).
        min_score: And/or score at least this cosine (``None``: no score test).
    """

    top_k: int | None = 2
    min_score: float | None = None


@dataclass
class ContrastiveStage:
    """Stage 1: weakly supervised contrastive pre-training with in-batch negatives (InfoNCE / MNRL).

    Attributes:
        data: The (anchor, positive) files.
        batch_size: Per-process batch (the in-batch negatives; large batches through ``mini_batch_size``).
        mini_batch_size: Use sentence-transformers' ``CachedMultipleNegativesRankingLoss`` (GradCache) with this
            mini-batch, so ``batch_size`` can exceed what fits in memory.
        epochs: Passes over the data (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        learning_rate: Peak learning rate (linear warm-up, then linear decay).
        warmup_ratio: Share of the steps spent warming up.
        scale: Inverse temperature of the loss.
        gather_across_devices: Gather in-batch negatives from every process (no effect with one process).
        prompts: ``{"query": ..., "document": ...}`` prompts of the anchor and positive columns.
        filter: Consistency filtering after the stage (``null`` to skip); the dropped rows go to a side file.
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: list[DataSpec]
    batch_size: int = 64
    mini_batch_size: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    gather_across_devices: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    filter: FilterSpec | None = field(default_factory=FilterSpec)
    save_steps: int = 50
    evaluate: Evaluate = "all"


@dataclass
class NegativesSpec:
    """Hard negatives of a retrieval task: mined before stage 2, optionally refreshed while training (Conan).

    Attributes:
        method: ``hybrid`` (BM25 + dense), ``dense`` or ``bm25``.
        num_negatives: Negatives per row.
        range_min: Skip the top ``range_min`` candidates ("hard but not too hard").
        range_max: Sample from candidates up to this rank.
        corpus: Extra documents to mine from, beyond the task's positives (files read like ``mlm.data``).
        dynamic: Re-score and replace negatives while training (:class:`st_plus.mining.DynamicNegativesCallback`).
        refresh_steps: Steps between refreshes.
        reindex_steps: Steps between full re-rankings with the current weights (``None``: never).
    """

    method: Literal["hybrid", "dense", "bm25"] = "hybrid"
    num_negatives: int = 3
    range_min: int = 10
    range_max: int = 100
    corpus: list[str] = field(default_factory=list)
    dynamic: bool = True
    refresh_steps: int = 50
    reindex_steps: int | None = None


@dataclass
class TaskSpec:
    """One stage-2 task.

    Attributes:
        name: Unique task name.
        type: ``retrieval`` / ``reranking`` / ``nli`` (pairs or n-tuples), ``sts`` / ``pair_classification``
            (scored pairs), ``classification`` / ``clustering`` (``text, label`` rows, trained as label triplets).
        data: The training file, or ``stage1`` for the (filtered) stage-1 pairs.
        rows: With ``data: stage1``: use a sample of ``rows`` filtered pairs (drawn with the recipe's seed).
        weight: Factor on the task's loss.
        batch_size: Per-process batch size of this task (default: the stage's).
        prompts: ``{"query": ..., "document": ...}`` or ``{"text": ...}``.
        negatives: Hard negatives (retrieval-like tasks only; ``null``: in-batch negatives only).
    """

    name: str
    type: str
    data: DataSpec | Literal["stage1"]
    rows: int | None = None
    weight: float = 1.0
    batch_size: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    negatives: NegativesSpec | None = None


@dataclass
class MultitaskStage:
    """Stage 2: multi-task fine-tuning, each task type with its loss (:func:`st_plus.training.build_multitask`).

    Attributes:
        tasks: The tasks.
        batch_size: Default per-process batch size.
        mini_batch_size: Gradient caching for the retrieval and ranking losses.
        epochs: Passes (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        learning_rate: Peak learning rate.
        warmup_ratio: Share of the steps spent warming up.
        scale: Inverse temperature of the InfoNCE losses.
        consent_scale: Scale of the Consent (CoSENT-family) losses.
        matryoshka_dims: Wrap every loss in ``MatryoshkaLoss`` with these dimensions.
        strategy: Dataset sampling: ``proportional``, ``round_robin`` or ``temperature``.
        temperature: Temperature of the ``temperature`` strategy.
        cross_task: A sub-batch of every task per optimiser step (Conan-embedding).
        gather_across_devices: Gather in-batch candidates from every process.
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    tasks: list[TaskSpec]
    batch_size: int = 32
    mini_batch_size: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    consent_scale: float = 20.0
    matryoshka_dims: list[int] | None = None
    strategy: Literal["proportional", "round_robin", "temperature"] = "proportional"
    temperature: float = 1.0
    cross_task: bool = False
    gather_across_devices: bool = True
    save_steps: int = 50
    evaluate: Evaluate = "all"


@dataclass
class MergeSpec:
    """The last stage: merge the trained model with its base by weighted parameter averaging (LM-Cocktail).

    Keeps the base's general ability ("no forgetting"); see :mod:`st_plus.training.merge_weights`. The merged model
    is the run's final model.

    Attributes:
        with_: (YAML key ``with``) The model to merge with: ``base`` (the recipe's ``model.base``), ``default`` or a
            model folder (same architecture and tokenizer).
        weight: The trained model's weight in (0, 1] (the other model gets ``1 - weight``), or ``auto``: the
            largest ``grid`` weight at which no ``dev_tasks`` task falls below the ``with`` model by more than
            ``max_drop``, else the best mean (:func:`st_plus.training.merge_weights.choose_merge_weight`).
        grid: Weights tried by ``auto`` (default ``[0.3, 0.4, ..., 0.9, 1.0]``).
        dev_tasks: Development task folders for ``auto`` (globs allowed); never the held-out evaluation tasks.
        max_drop: ``auto``'s tolerance on the 0-1 scale (0.003 = 0.3 points of a x100 score).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    with_: str = field(default="base", metadata={"key": "with"})
    weight: float | Literal["auto"] = "auto"
    grid: list[float] | None = None
    dev_tasks: list[str] = field(default_factory=list)
    max_drop: float = 0.003
    evaluate: Evaluate = "all"


@dataclass
class StagesSpec:
    """The stages, run in this order; each is optional, at least one is required."""

    mlm: MlmStage | None = None
    contrastive: ContrastiveStage | None = None
    multitask: MultitaskStage | None = None
    merge: MergeSpec | None = None


@dataclass
class EvaluationSpec:
    """Evaluation on local task folders (:func:`st_plus.evaluation.evaluate_suite`), before and after each stage.

    Attributes:
        tasks: Task folders; globs allowed (``../data/*/``).
        batch_size: Encoding batch size.
        before: Evaluate the starting model too (the "before" column).
        matryoshka_dims: Also score these truncated dimensions at the end (a dims x score table).
        dtype: Encoding precision: ``float32`` (MTEB's numbers) or ``bfloat16`` (about 2x faster on CPUs with
            AMX / AVX512-BF16; scores differ from float32 in the third decimal). Every column of the table uses it.
    """

    tasks: list[str] = field(default_factory=list)
    batch_size: int = 64
    before: bool = True
    matryoshka_dims: list[int] | None = None
    dtype: Literal["float32", "bfloat16"] = "float32"


@dataclass
class Recipe:
    """A training recipe.

    Attributes:
        name: The run's name (model card, logs).
        seed: Seed of data order, sampling and initialisation.
        output_dir: Where everything goes (``--output-dir`` wins); relative to the current folder.
        precision: ``auto`` (bf16 autocast where the CPU has AMX / AVX512-BF16 or the GPU supports bf16),
            ``bf16`` or ``fp32``.
        model: The starting model.
        stages: The stages.
        evaluation: The evaluation tasks.
        source: The recipe file (set by :func:`load_recipe`).
    """

    name: str
    stages: StagesSpec
    seed: int = 42
    output_dir: str | None = None
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    model: ModelSpec = field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    source: str | None = field(default=None, metadata={"internal": True})

    def stage_names(self) -> list[str]:
        """The configured stages, in run order."""
        return [f.name for f in dataclasses.fields(self.stages) if getattr(self.stages, f.name) is not None]


def load_recipe(path: str | Path) -> Recipe:
    """Reads and validates a recipe file; relative paths become absolute (resolved against the file's folder).

    Raises:
        RecipeError: Naming file, line and key, before any work starts.
    """
    path = Path(path).resolve()
    data, lines = load_yaml_with_lines(path)
    builder = _Builder(path, lines)
    recipe = builder.build(Recipe, data, ())
    recipe.source = str(path)
    _check_recipe(recipe, builder)
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe (every default filled in) as plain data, for ``recipe.resolved.yaml``."""
    out = dataclasses.asdict(recipe)
    out.pop("source", None)
    if out["stages"].get("merge") is not None:  # the YAML key of `MergeSpec.with_`
        out["stages"]["merge"] = {"with": out["stages"]["merge"].pop("with_"), **out["stages"]["merge"]}
    return out


class _Builder:
    """Turns parsed YAML into the dataclasses, checking keys and types against their annotations."""

    def __init__(self, path: Path, lines: dict[KeyPath, int]) -> None:
        self.path, self.lines, self.folder = path, lines, path.parent

    def error(self, key: KeyPath, message: str) -> RecipeError:
        line = line_of(self.lines, key)
        return RecipeError(f"{self.path}:{line}: {dotted(key)}: {message}")

    def build(self, cls: type, data: Any, key: KeyPath) -> Any:
        if not isinstance(data, dict):
            raise self.error(key, f"expected a mapping of {cls.__name__} settings, got {_shown(data)}")
        hints = typing.get_type_hints(cls)
        fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        unknown = [k for k in data if k not in fields]
        if unknown:
            raise self.error((*key, unknown[0]), f"unknown key; {cls.__name__} accepts {sorted(fields)}")
        values = {}
        for name, spec in fields.items():
            if name in data:
                values[spec.name] = self.value(hints[spec.name], data[name], (*key, name))
            elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise self.error(key, f"missing required key `{name}`")
        return cls(**values)

    def value(self, hint: Any, data: Any, key: KeyPath) -> Any:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if data is None and type(None) in args:
                return None
            options = [a for a in args if a is not type(None)]
            options.sort(key=lambda o: typing.get_origin(o) is not Literal)  # `stage1` before a file name
            errors = []
            for option in options:  # literals and scalars first, then containers
                try:
                    return self.value(option, data, key)
                except RecipeError as exc:
                    errors.append(exc)
            if len(options) == 1 or isinstance(data, dict):
                raise errors[-1]
            raise self.error(key, f"expected {' or '.join(_describe(o) for o in options)}, got {_shown(data)}")
        if origin is Literal:
            if data not in args:
                raise self.error(key, f"expected one of {list(args)}, got {_shown(data)}")
            return data
        if origin is list:
            if not isinstance(data, list):
                raise self.error(key, f"expected a list, got {_shown(data)}")
            return [self.value(args[0], item, (*key, i)) for i, item in enumerate(data)]
        if origin is dict:
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise self.error(key, f"expected a mapping of strings, got {_shown(data)}")
            return {str(k): v for k, v in data.items()}
        if dataclasses.is_dataclass(hint):
            if hint is DataSpec and isinstance(data, str):
                data = {"path": data}
            return self.build(hint, data, key)
        if hint is bool:
            if not isinstance(data, bool):
                raise self.error(key, f"expected true or false, got {_shown(data)}")
            return data
        if hint is int:
            if isinstance(data, bool) or not isinstance(data, int):
                raise self.error(key, f"expected an integer, got {_shown(data)}")
            return data
        if hint is float:
            if isinstance(data, bool) or not isinstance(data, (int, float)):
                raise self.error(key, f"expected a number, got {_shown(data)}")
            return float(data)
        if hint is str:
            if not isinstance(data, str):
                raise self.error(key, f"expected a string, got {_shown(data)}")
            return data
        raise TypeError(f"unsupported annotation {hint!r}")  # a bug in this module, not in the recipe

    def file(self, value: str, key: KeyPath) -> str:
        path = Path(value) if Path(value).is_absolute() else self.folder / value
        if not path.is_file():
            raise self.error(key, f"file not found: {path}")
        return str(path.resolve())

    def folders(self, pattern: str, key: KeyPath) -> list[str]:
        full = pattern if Path(pattern).is_absolute() else str(self.folder / pattern)
        matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        matches = [m.rstrip("/") for m in matches if Path(m).is_dir()]
        if not matches:
            raise self.error(key, f"no task folder matches {pattern!r} (looked for {full})")
        return [str(Path(m).resolve()) for m in matches]


def _positive(builder: _Builder, key: KeyPath, value: float | int | None, *, zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not zero)):
        raise builder.error(key, f"must be {'>= 0' if zero else '> 0'}, got {value}")


def _check_recipe(recipe: Recipe, b: _Builder) -> None:
    """Cross-field checks and file existence (paths made absolute in place)."""
    stages = recipe.stages
    if not recipe.stage_names():
        raise b.error(("stages",), "no stage configured; set at least one of mlm, contrastive, multitask")
    if recipe.model.base is None and stages.mlm is None:
        raise b.error(("model", "base"), "`base: null` needs `stages.mlm` (a new encoder must be pre-trained)")
    if recipe.model.base is not None and stages.mlm is not None:
        raise b.error(("stages", "mlm"), "MLM pre-training builds a new encoder: set `model.base: null`")
    base = recipe.model.base
    if base not in (None, "default"):
        local = Path(base) if Path(base).is_absolute() else b.folder / base
        if local.exists():
            recipe.model.base = str(local.resolve())
        elif Path(base).is_absolute() or base.startswith((".", "~")) or base.count("/") != 1:
            raise b.error(("model", "base"), f"model folder not found: {local} (or give a Hub id ORG/NAME)")
    _positive(b, ("model", "max_seq_length"), recipe.model.max_seq_length)
    _positive(b, ("seed",), recipe.seed, zero=True)
    if stages.mlm is not None:
        key = ("stages", "mlm")
        stages.mlm.data = [b.file(p, (*key, "data", i)) for i, p in enumerate(stages.mlm.data)]
        if not stages.mlm.data:
            raise b.error((*key, "data"), "needs at least one text file")
        for name in ("max_steps", "batch_size", "learning_rate", "max_seq_length", "vocab_size", "max_texts"):
            _positive(b, (*key, name), getattr(stages.mlm, name))
        if not 0 < stages.mlm.mask_rate < 1:
            raise b.error((*key, "mask_rate"), f"must be in (0, 1), got {stages.mlm.mask_rate}")
        from st_plus.models.nomic_bert_config import NOMIC_BERT_PRESETS as PRESETS

        if stages.mlm.preset not in PRESETS:
            raise b.error((*key, "preset"), f"unknown preset {stages.mlm.preset!r}; choose from {sorted(PRESETS)}")
    if stages.contrastive is not None:
        _check_contrastive(stages.contrastive, b)
    if stages.multitask is not None:
        _check_multitask(stages.multitask, stages.contrastive is not None, b)
    ev = recipe.evaluation
    ev.tasks = [f for i, p in enumerate(ev.tasks) for f in b.folders(p, ("evaluation", "tasks", i))]
    ev.tasks = list(dict.fromkeys(ev.tasks))
    if stages.merge is not None:
        _check_merge(stages.merge, recipe, b)
    _positive(b, ("evaluation", "batch_size"), ev.batch_size)
    names = {Path(t).name for t in ev.tasks}
    for stage in recipe.stage_names():
        chosen = getattr(stages, stage).evaluate
        if isinstance(chosen, list):
            for i, name in enumerate(chosen):
                if name not in names:
                    key = ("stages", stage, "evaluate", i)
                    raise b.error(key, f"{name!r} is not one of evaluation.tasks' folders {sorted(names)}")
        elif chosen == "all" and not ev.tasks and stage != "mlm":
            pass  # nothing to evaluate: fine, the table stays empty


def _check_data(data: DataSpec, b: _Builder, key: KeyPath) -> None:
    data.path = b.file(data.path, (*key, "path"))
    _positive(b, (*key, "rows"), data.rows)


def _check_contrastive(stage: ContrastiveStage, b: _Builder) -> None:
    key = ("stages", "contrastive")
    if not stage.data:
        raise b.error((*key, "data"), "needs at least one (anchor, positive) file")
    for i, data in enumerate(stage.data):
        _check_data(data, b, (*key, "data", i))
    for name in ("batch_size", "mini_batch_size", "epochs", "max_steps", "learning_rate", "scale", "save_steps"):
        _positive(b, (*key, name), getattr(stage, name))
    if stage.batch_size < 2:
        raise b.error((*key, "batch_size"), "in-batch negatives need batch_size >= 2")
    if stage.mini_batch_size is not None and stage.mini_batch_size > stage.batch_size:
        raise b.error((*key, "mini_batch_size"), f"must be <= batch_size ({stage.batch_size})")
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    _check_prompts(stage.prompts, b, (*key, "prompts"), {"query", "document"})
    if stage.filter is not None:
        if stage.filter.top_k is None and stage.filter.min_score is None:
            raise b.error((*key, "filter"), "set top_k and/or min_score (or `filter: null` to skip filtering)")
        _positive(b, (*key, "filter", "top_k"), stage.filter.top_k)


def _check_multitask(stage: MultitaskStage, has_stage1: bool, b: _Builder) -> None:
    from st_plus.training.multitask import _LABEL_LIKE, _RETRIEVAL_LIKE, _task_type

    key = ("stages", "multitask")
    if not stage.tasks:
        raise b.error((*key, "tasks"), "needs at least one task")
    for name in ("batch_size", "mini_batch_size", "epochs", "max_steps", "learning_rate", "scale", "save_steps"):
        _positive(b, (*key, name), getattr(stage, name))
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    for i, dim in enumerate(stage.matryoshka_dims or []):
        _positive(b, (*key, "matryoshka_dims", i), dim)
    seen: set[str] = set()
    for i, task in enumerate(stage.tasks):
        tkey = (*key, "tasks", i)
        if task.name in seen:
            raise b.error((*tkey, "name"), f"duplicate task name {task.name!r}")
        seen.add(task.name)
        try:
            kind = _task_type(task.type)
        except ValueError as exc:
            raise b.error((*tkey, "type"), str(exc)) from None
        if task.data == "stage1":
            if not has_stage1:
                raise b.error((*tkey, "data"), "`stage1` needs `stages.contrastive`")
            if kind not in _RETRIEVAL_LIKE:
                raise b.error((*tkey, "type"), f"the stage-1 pairs are retrieval pairs, not {task.type!r}")
        else:
            _check_data(task.data, b, (*tkey, "data"))
            if task.rows is not None:
                raise b.error((*tkey, "rows"), "`rows` is for `data: stage1`; use `data: {path: ..., rows: N}`")
        _positive(b, (*tkey, "rows"), task.rows)
        _positive(b, (*tkey, "weight"), task.weight)
        _positive(b, (*tkey, "batch_size"), task.batch_size)
        allowed = {"text"} if kind in _LABEL_LIKE else {"query", "document", "text"}
        _check_prompts(task.prompts, b, (*tkey, "prompts"), allowed)
        neg = task.negatives
        if neg is not None:
            nkey = (*tkey, "negatives")
            if kind not in _RETRIEVAL_LIKE:
                raise b.error(nkey, f"hard negatives are for retrieval-like tasks, not {task.type!r}")
            for name in ("num_negatives", "range_max", "refresh_steps", "reindex_steps"):
                _positive(b, (*nkey, name), getattr(neg, name))
            _positive(b, (*nkey, "range_min"), neg.range_min, zero=True)
            if neg.range_min >= neg.range_max:
                raise b.error((*nkey, "range_max"), f"must exceed range_min ({neg.range_min})")
            neg.corpus = [b.file(p, (*nkey, "corpus", j)) for j, p in enumerate(neg.corpus)]


def _check_merge(stage: MergeSpec, recipe: Recipe, b: _Builder) -> None:
    key = ("stages", "merge")
    if len(recipe.stage_names()) == 1:
        raise b.error(key, "merging needs a trained model: configure a training stage before it")
    if stage.with_ == "base" and recipe.model.base is None:
        raise b.error((*key, "with"), "`base` needs `model.base` (a model pre-trained from scratch has no base)")
    if stage.with_ not in ("base", "default"):
        local = Path(stage.with_) if Path(stage.with_).is_absolute() else b.folder / stage.with_
        if not local.is_dir():
            raise b.error((*key, "with"), f"model folder not found: {local} (or use `base` / `default`)")
        stage.with_ = str(local.resolve())
    if stage.weight != "auto" and not 0 < stage.weight <= 1:
        raise b.error((*key, "weight"), f"must be in (0, 1] (the trained model's share) or `auto`, got {stage.weight}")
    if stage.weight == "auto" and not stage.dev_tasks:
        raise b.error((*key, "dev_tasks"), "`weight: auto` chooses the weight on development tasks: list them")
    if stage.weight != "auto":
        for name in ("grid", "dev_tasks"):
            if getattr(stage, name):
                raise b.error((*key, name), "is used by `weight: auto` only; remove it or set `weight: auto`")
    for i, weight in enumerate(stage.grid or []):
        if not 0 < weight <= 1:
            raise b.error((*key, "grid", i), f"must be in (0, 1], got {weight}")
    if stage.grid is not None and not stage.grid:
        raise b.error((*key, "grid"), "needs at least one weight (or remove it for the default grid)")
    _positive(b, (*key, "max_drop"), stage.max_drop, zero=True)
    stage.dev_tasks = [f for i, p in enumerate(stage.dev_tasks) for f in b.folders(p, (*key, "dev_tasks", i))]
    stage.dev_tasks = list(dict.fromkeys(stage.dev_tasks))


def _check_prompts(prompts: dict[str, str], b: _Builder, key: KeyPath, allowed: set[str]) -> None:
    unknown = sorted(set(prompts) - allowed)
    if unknown:
        raise b.error((*key, unknown[0]), f"unknown prompt role; use {sorted(allowed)}")


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + str(list(typing.get_args(hint)))
    if dataclasses.is_dataclass(hint):
        return f"a {hint.__name__} mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
