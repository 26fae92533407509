"""Turning a recipe's YAML into the schema's dataclasses, and the checks that run before any work starts.

:class:`RecipeBuilder` checks every key and type against the dataclass annotations of
:mod:`st_plus.training.recipe` (the schema); :func:`check_recipe` checks values, files and combinations. Every error
is a :class:`~st_plus.training._yaml.RecipeError` naming the file, the line and the key.
"""

from __future__ import annotations

import dataclasses
import glob
import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from st_plus.chunking import parse_chunker
from st_plus.data.texts import first_row_keys
from st_plus.evaluation.seed_average import EvalSeedError, check_eval_seeds
from st_plus.models.nomic_bert_config import NOMIC_BERT_PRESETS as PRESETS
from st_plus.samplers import series_keys
from st_plus.training._yaml import KeyPath, RecipeError, dotted, line_of
from st_plus.training.multitask import _LABEL_LIKE, _PRESERVE, _RETRIEVAL_LIKE, _task_type

if TYPE_CHECKING:
    from st_plus.training.recipe import (
        ContrastiveStage,
        DataSpec,
        DistillStage,
        LongContextStage,
        MergeSpec,
        MultitaskStage,
        Recipe,
    )

__all__ = ["RecipeBuilder", "check_recipe"]


class RecipeBuilder:
    """Turns parsed YAML into the dataclasses, checking keys and types against their annotations."""

    def __init__(self, path: Path, lines: dict[KeyPath, int]) -> None:
        self.path, self.lines, self.folder = path, lines, path.parent

    def error(self, key: KeyPath, message: str) -> RecipeError:
        """A :class:`RecipeError` ``FILE:LINE: key.path: message`` for the key's line."""
        line = line_of(self.lines, key)
        return RecipeError(f"{self.path}:{line}: {dotted(key)}: {message}")

    def build(self, cls: type, data: Any, key: KeyPath) -> Any:
        """An instance of dataclass ``cls`` from a YAML mapping: unknown keys, missing ones and types checked."""
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
        """``data`` checked (and converted) against the annotation ``hint``."""
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
            if isinstance(data, str) and getattr(hint, "shorthand", None):
                data = {hint.shorthand: data}
            return self.build(hint, data, key)
        if hint is bool:
            if not isinstance(data, bool):
                raise self.error(key, f"expected true or false, got {_shown(data)}")
            return data
        if hint is int:
            data = _numeric_string(data, int)
            if isinstance(data, bool) or not isinstance(data, int):
                raise self.error(key, f"expected an integer, got {_shown(data)}")
            return data
        if hint is float:
            data = _numeric_string(data, float)
            if isinstance(data, bool) or not isinstance(data, (int, float)):
                raise self.error(key, f"expected a number, got {_shown(data)}")
            return float(data)
        if hint is str:
            if not isinstance(data, str):
                raise self.error(key, f"expected a string, got {_shown(data)}")
            return data
        raise TypeError(f"unsupported annotation {hint!r}")  # a bug in this module, not in the recipe

    def file(self, value: str, key: KeyPath) -> str:
        """The absolute path of an existing file, relative paths resolved against the recipe's folder."""
        path = Path(value) if Path(value).is_absolute() else self.folder / value
        if not path.is_file():
            raise self.error(key, f"file not found: {path}")
        return str(path.resolve())

    def folders(self, pattern: str, key: KeyPath) -> list[str]:
        """The task folders a path or glob names (at least one)."""
        full = pattern if Path(pattern).is_absolute() else str(self.folder / pattern)
        matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        matches = [m.rstrip("/") for m in matches if Path(m).is_dir()]
        if not matches:
            raise self.error(key, f"no task folder matches {pattern!r} (looked for {full})")
        return [str(Path(m).resolve()) for m in matches]


def _positive(builder: RecipeBuilder, key: KeyPath, value: float | int | None, *, zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not zero)):
        raise builder.error(key, f"must be {'>= 0' if zero else '> 0'}, got {value}")


def check_recipe(recipe: Recipe, b: RecipeBuilder) -> None:
    """Cross-field checks and file existence (paths made absolute in place)."""
    stages = recipe.stages
    if not recipe.stage_names():
        raise b.error(
            ("stages",), "no stage configured; set at least one of mlm, distill, contrastive, multitask, long_context"
        )
    if recipe.model.base is None and stages.mlm is None:
        raise b.error(("model", "base"), "`base: null` needs `stages.mlm` (a new encoder must be pre-trained)")
    if recipe.model.base is None and stages.mlm is not None and (stages.mlm.extend_vocab or stages.mlm.new_rows_steps):
        key = ("stages", "mlm", "extend_vocab" if stages.mlm.extend_vocab else "new_rows_steps")
        raise b.error(key, "extends the vocabulary of a base model: set `model.base`, or drop it (a new encoder "
                      "trains its own tokenizer)")  # fmt: skip
    if stages.mlm is not None and stages.mlm.new_rows_steps and not stages.mlm.extend_vocab:
        raise b.error(("stages", "mlm", "new_rows_steps"), "trains the rows `extend_vocab: true` adds: set it")
    base = recipe.model.base
    if base not in (None, "default"):
        local = Path(base) if Path(base).is_absolute() else b.folder / base
        if local.exists():
            recipe.model.base = str(local.resolve())
        elif Path(base).is_absolute() or base.startswith((".", "~")) or base.count("/") != 1:
            raise b.error(("model", "base"), f"model folder not found: {local} (or give a Hub id ORG/NAME)")
    _positive(b, ("model", "max_seq_length"), recipe.model.max_seq_length)
    _positive(b, ("model", "inference_max_seq_length"), recipe.model.inference_max_seq_length)
    _positive(b, ("seed",), recipe.seed, zero=True)
    if stages.mlm is not None:
        key = ("stages", "mlm")
        stages.mlm.data = [b.file(p, (*key, "data", i)) for i, p in enumerate(stages.mlm.data)]
        if not stages.mlm.data:
            raise b.error((*key, "data"), "needs at least one text file")
        for name in (
            "batch_size",
            "learning_rate",
            "max_seq_length",
            "vocab_size",
            "max_texts",
            "vocab_min_count",
            "new_rows_learning_rate",
        ):
            _positive(b, (*key, name), getattr(stages.mlm, name))
        _positive(b, (*key, "max_steps"), stages.mlm.max_steps, zero=recipe.model.base is not None)
        _positive(b, (*key, "new_rows_steps"), stages.mlm.new_rows_steps, zero=True)
        if recipe.model.base is not None and stages.mlm.max_steps + stages.mlm.new_rows_steps == 0:
            raise b.error((*key, "max_steps"), "no MLM step configured: set `max_steps` or `new_rows_steps`")
        if not 0 < stages.mlm.mask_rate < 1:
            raise b.error((*key, "mask_rate"), f"must be in (0, 1), got {stages.mlm.mask_rate}")
        if stages.mlm.preset not in PRESETS:
            raise b.error((*key, "preset"), f"unknown preset {stages.mlm.preset!r}; choose from {sorted(PRESETS)}")
    if stages.distill is not None:
        _check_distill(stages.distill, recipe.model.base, b)
    if recipe.adapter is not None:
        _check_adapter(recipe, b)
    if stages.contrastive is not None:
        _check_contrastive(stages.contrastive, b)
    if stages.multitask is not None:
        stage1 = stages.contrastive.data if stages.contrastive is not None else []
        _check_multitask(stages.multitask, stages.contrastive is not None, b, has_base=recipe.model.base is not None,
                         stage1_grouped=any(d.group_column for d in stage1),
                         stage1_augmented=any(d.augment is not None for d in stage1))  # fmt: skip
    ev = recipe.evaluation
    ev.tasks = [f for i, p in enumerate(ev.tasks) for f in b.folders(p, ("evaluation", "tasks", i))]
    ev.tasks = list(dict.fromkeys(ev.tasks))
    if stages.long_context is not None:
        _check_long_context(stages.long_context, recipe, b)
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


def _check_data(data: DataSpec, b: RecipeBuilder, key: KeyPath) -> None:
    data.path = b.file(data.path, (*key, "path"))
    _positive(b, (*key, "rows"), data.rows)
    aug = data.augment
    if aug is not None:
        akey = (*key, "augment")
        if data.unsupervised is not None:
            raise b.error(akey, "a text-only file already trains on augmented positives (`unsupervised`)")
        _positive(b, (*akey, "num"), aug.num)
        if not aug.columns:
            raise b.error((*akey, "columns"), "name at least one column to augment (e.g. [positive])")
        if aug.synonyms is not None:
            if aug.method != "eda":
                raise b.error((*akey, "synonyms"), f"synonyms are for `method: eda`, not {aug.method!r}")
            aug.synonyms = b.file(aug.synonyms, (*akey, "synonyms"))


def _check_unsupervised(data: DataSpec, b: RecipeBuilder, key: KeyPath) -> None:
    """A text-only file needs ``unsupervised``, and ``unsupervised`` needs a text-only file (first row checked)."""
    keys = first_row_keys(data.path)
    text_only = keys is None or ("text" in keys and "anchor" not in keys)
    if data.unsupervised is not None and not text_only:
        raise b.error((*key, "unsupervised"), f"needs a text-only file ({{'text': ...}} rows or one text per line); "
                      f"the first row of {data.path} has keys {sorted(keys)}")  # fmt: skip
    if data.unsupervised is None and text_only:
        raise b.error((*key, "path"), "a text-only file has no positives: set `unsupervised: simcse`, `repeat`, "
                      "`cutoff` or `eda`")  # fmt: skip
    if data.unsupervised is not None and keys is None and data.group_column:
        raise b.error((*key, "group_column"), "a plain-text file (one text per line) has no columns; use JSONL rows")
    if data.unsupervised is not None and data.columns is not None:
        raise b.error((*key, "columns"), "a text-only file trains on its `text`; `columns` is for row files")


def _check_attention_dropout(value: float | None, b: RecipeBuilder, key: tuple) -> None:
    if value is not None and not 0 <= value < 1:
        raise b.error((*key, "attention_dropout"), f"must be in [0, 1) (or null: the model's own), got {value}")


def _check_contrastive(stage: ContrastiveStage, b: RecipeBuilder) -> None:
    key = ("stages", "contrastive")
    if not stage.data:
        raise b.error((*key, "data"), "needs at least one (anchor, positive) file")
    for i, data in enumerate(stage.data):
        _check_data(data, b, (*key, "data", i))
        _check_unsupervised(data, b, (*key, "data", i))
    for name in ("batch_size", "mini_batch_size", "epochs", "max_steps", "learning_rate", "scale", "save_steps"):
        _positive(b, (*key, name), getattr(stage, name))
    if stage.batch_size < 2:
        raise b.error((*key, "batch_size"), "in-batch negatives need batch_size >= 2")
    if stage.mini_batch_size is not None and stage.mini_batch_size > stage.batch_size:
        raise b.error((*key, "mini_batch_size"), f"must be <= batch_size ({stage.batch_size})")
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    _check_attention_dropout(stage.attention_dropout, b, key)
    _check_prompts(stage.prompts, b, (*key, "prompts"), {"query", "document"})
    if stage.filter is not None:
        if stage.filter.top_k is None and stage.filter.min_score is None:
            raise b.error((*key, "filter"), "set top_k and/or min_score (or `filter: null` to skip filtering)")
        _positive(b, (*key, "filter", "top_k"), stage.filter.top_k)


def _check_multitask(
    stage: MultitaskStage, has_stage1: bool, b: RecipeBuilder, *, has_base: bool, stage1_grouped: bool = False,
    stage1_augmented: bool = False,
) -> None:  # fmt: skip
    key = ("stages", "multitask")
    if not stage.tasks:
        raise b.error((*key, "tasks"), "needs at least one task")
    for name in ("batch_size", "mini_batch_size", "epochs", "max_steps", "learning_rate", "scale", "save_steps"):
        _positive(b, (*key, name), getattr(stage, name))
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    _check_attention_dropout(stage.attention_dropout, b, key)
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
        if kind in _PRESERVE:
            _check_preserve(task, has_base, b, tkey)
        if task.data == "stage1":
            if not has_stage1:
                raise b.error((*tkey, "data"), "`stage1` needs `stages.contrastive`")
            if kind not in _RETRIEVAL_LIKE:
                raise b.error((*tkey, "type"), f"the stage-1 pairs are retrieval pairs, not {task.type!r}")
        else:
            _check_data(task.data, b, (*tkey, "data"))
            if task.data.unsupervised is not None:
                raise b.error((*tkey, "data", "unsupervised"), "unsupervised positives are a stage-1 data source")
            if task.rows is not None:
                raise b.error((*tkey, "rows"), "`rows` is for `data: stage1`; use `data: {path: ..., rows: N}`")
            if task.data.augment is not None and kind not in _RETRIEVAL_LIKE:
                raise b.error((*tkey, "data", "augment"), f"augmented copies are for pairs / triplets (retrieval-like "
                              f"tasks), not {task.type!r}")  # fmt: skip
        _positive(b, (*tkey, "rows"), task.rows)
        _positive(b, (*tkey, "weight"), task.weight)
        _positive(b, (*tkey, "batch_size"), task.batch_size)
        allowed = {"text"} if kind in _LABEL_LIKE | _PRESERVE else {"query", "document", "text"}
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
            _check_group_negatives(task, neg, stage1_grouped, stage1_augmented, b, nkey)
            neg.corpus = [b.file(p, (*nkey, "corpus", j)) for j, p in enumerate(neg.corpus)]


def _check_group_negatives(
    task: Any, neg: Any, stage1_grouped: bool, stage1_augmented: bool, b: RecipeBuilder, key: KeyPath
) -> None:
    """``group_negatives`` and ``corpus_group_field`` need the stage-1 pairs' groups (``data: stage1``)."""
    _positive(b, (*key, "group_negatives"), neg.group_negatives, zero=True)
    if neg.group_negatives > neg.num_negatives:
        raise b.error((*key, "group_negatives"), f"must be at most num_negatives ({neg.num_negatives})")
    grouped = "is for `data: stage1` tasks whose stage-1 data has a `group_column` (the groups the miner reads)"
    if neg.group_negatives:
        if not (task.data == "stage1" and stage1_grouped):
            raise b.error((*key, "group_negatives"), grouped)
        if stage1_augmented:
            raise b.error((*key, "group_negatives"), "cannot be used with stage-1 `augment`: an augmented copy keeps "
                          "its original's group, so it would become the original's negative")  # fmt: skip
    if neg.corpus_group_field is not None:
        if not neg.corpus_group_field.strip():
            raise b.error((*key, "corpus_group_field"), "must name a field of the `corpus` rows")
        if not neg.corpus:
            raise b.error((*key, "corpus_group_field"), "names the group field of `corpus` documents: set `corpus`")
        if not neg.corpus_fields:
            raise b.error((*key, "corpus_group_field"), "set `corpus_fields` too (e.g. [positive]): with the default "
                          "text fields a pairs file's titles would join their group as documents")  # fmt: skip
        if not (task.data == "stage1" and stage1_grouped):
            raise b.error((*key, "corpus_group_field"), grouped)


def _check_preserve(task: Any, has_base: bool, b: RecipeBuilder, key: KeyPath) -> None:
    """A preserve task: general texts from a file, kept near the start model (which must exist)."""
    if not has_base:
        raise b.error((*key, "type"), "`preserve` keeps the start model's embeddings: it needs `model.base`")
    if task.data == "stage1":
        raise b.error((*key, "data"), "`preserve` reads general texts from a file, not the stage-1 pairs")
    if task.data.group_column is not None:
        raise b.error((*key, "data", "group_column"), "a preserve task has no negatives for groups to guard")


def _check_long_context(stage: LongContextStage, recipe: Recipe, b: RecipeBuilder) -> None:
    key = ("stages", "long_context")
    if recipe.model.base is None:
        raise b.error(key, "extends a model's position table: set `model.base`")
    folders = b.folders(stage.data, (*key, "data"))
    if len(folders) > 1:
        raise b.error((*key, "data"), f"names one folder; {stage.data!r} matches {len(folders)}")
    stage.data = folders[0]
    if recipe.stages.distill is not None and recipe.stages.distill.student_preset is not None:
        raise b.error(key, "a NomicBERT student (distill.student_preset) has RoPE, no position table to extend; "
                      "use distill.student_layers or no distill stage")  # fmt: skip
    if not (Path(stage.data) / "spans.jsonl").is_file():
        raise b.error((*key, "data"), f"needs gold answer spans: {Path(stage.data) / 'spans.jsonl'} not found")
    if not (Path(stage.data) / "qrels" / f"{stage.split}.tsv").is_file():
        raise b.error((*key, "split"), f"no qrels/{stage.split}.tsv in {stage.data}")
    if stage.split in {"test", "dev"} and any(Path(t).resolve() == Path(stage.data).resolve()
                                                for t in recipe.evaluation.tasks):  # fmt: skip
        raise b.error((*key, "split"), f"trains on {stage.split!r}, which evaluation.tasks scores: use `train`")
    for name in (
        "max_positions",
        "min_tokens",
        "max_tokens",
        "max_rows",
        "epochs",
        "max_steps",
        "max_minutes",
        "batch_size",
        "learning_rate",
        "save_steps",
        "scale",
    ):
        _positive(b, (*key, name), getattr(stage, name))
    if not 16 < stage.min_tokens <= stage.max_positions:
        raise b.error((*key, "min_tokens"), f"must be in (16, max_positions={stage.max_positions}], "
                      f"got {stage.min_tokens}")  # fmt: skip
    if stage.max_tokens is not None and not stage.min_tokens <= stage.max_tokens <= stage.max_positions:
        raise b.error((*key, "max_tokens"), f"must be in [min_tokens={stage.min_tokens}, max_positions="
                      f"{stage.max_positions}], got {stage.max_tokens}")  # fmt: skip
    if stage.batch_size < 2:
        raise b.error((*key, "batch_size"), "needs >= 2 rows per batch (in-batch negatives)")
    if stage.series_pattern is not None:
        if not isinstance(stage.series_pattern, str) or not stage.series_pattern:
            raise b.error((*key, "series_pattern"), f"must be a regular expression, got {stage.series_pattern!r}")
        try:
            series_keys([], stage.series_pattern)  # its own checks, before any work
        except re.error as exc:
            raise b.error((*key, "series_pattern"), f"is not a valid regular expression: {exc}") from None
        except ValueError:
            raise b.error((*key, "series_pattern"), "matches the empty string; it must match at least one character "
                          "of a document id (e.g. '^[A-Za-z]+')") from None  # fmt: skip
    if not stage.distill_weight >= 0:
        raise b.error((*key, "distill_weight"), f"must be >= 0, got {stage.distill_weight}")
    if not 8 <= stage.distill_chunk_tokens <= stage.max_positions - 2:  # the teacher's own bound: check_positions
        raise b.error((*key, "distill_chunk_tokens"), f"must be in [8, {stage.max_positions - 2}] (a block and its "
                      f"[CLS] and [SEP] fit in a window), got {stage.distill_chunk_tokens}")  # fmt: skip
    if stage.chunk_window is not None and not 16 < stage.chunk_window <= stage.max_positions:
        raise b.error((*key, "chunk_window"), f"must be in (16, max_positions={stage.max_positions}], "
                      f"got {stage.chunk_window}")  # fmt: skip
    if not 0 <= stage.chunk_overlap < (stage.chunk_window or stage.max_positions):
        raise b.error((*key, "chunk_overlap"), f"must be in [0, chunk_window), got {stage.chunk_overlap}")
    try:  # stand-ins: the chunkers that need a tokenizer or a model only keep them
        parse_chunker(stage.chunker, tokenizer=object(), model=object())
    except (TypeError, ValueError) as error:
        raise b.error((*key, "chunker"), str(error)) from None
    if stage.span_target not in ("gold", "chunk"):
        raise b.error((*key, "span_target"), f"must be 'gold' or 'chunk', got {stage.span_target!r}")
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    if recipe.adapter is not None:
        raise b.error(key, "trains every weight (the position table grows): remove `adapter`")


def _check_distill(stage: DistillStage, base: str | None, b: RecipeBuilder) -> None:
    key = ("stages", "distill")
    if base is None:
        raise b.error(key, "distillation needs a teacher: set `model.base`")
    stage.data = [b.file(p, (*key, "data", i)) for i, p in enumerate(stage.data)]
    stage.parallel = [b.file(p, (*key, "parallel", i)) for i, p in enumerate(stage.parallel)]
    if not stage.data and not stage.parallel:
        raise b.error(key, "needs `data` (texts) and/or `parallel` (source/translation rows)")
    if stage.student_layers is not None and stage.student_preset is not None:
        raise b.error(key, "set `student_layers` (a pruned teacher) or `student_preset` (a new encoder), not both")
    if stage.student_layers == []:
        raise b.error((*key, "student_layers"), "keeps no layer; leave it out to copy the whole teacher")
    for i, layer in enumerate(stage.student_layers or []):
        _positive(b, (*key, "student_layers", i), layer, zero=True)
    if stage.student_layers is not None and len(set(stage.student_layers)) != len(stage.student_layers):
        raise b.error((*key, "student_layers"), f"repeats a layer: {stage.student_layers}")
    if stage.student_preset is not None:
        if stage.student_preset not in PRESETS:
            raise b.error((*key, "student_preset"), f"unknown preset {stage.student_preset!r}; choose from "
                          f"{sorted(PRESETS)}")  # fmt: skip
    for name in ("max_texts", "epochs", "max_steps", "max_minutes", "batch_size", "learning_rate", "save_steps"):
        _positive(b, (*key, name), getattr(stage, name))
    for name in ("mse_weight", "cosine_weight"):
        _positive(b, (*key, name), getattr(stage, name), zero=True)
    if stage.mse_weight == 0 and stage.cosine_weight == 0:
        raise b.error((*key, "cosine_weight"), "mse_weight and cosine_weight are both 0: nothing to train")
    if not 0 <= stage.warmup_ratio < 1:
        raise b.error((*key, "warmup_ratio"), f"must be in [0, 1), got {stage.warmup_ratio}")
    for i, dim in enumerate(stage.matryoshka_dims or []):
        _positive(b, (*key, "matryoshka_dims", i), dim)


def _check_adapter(recipe: Recipe, b: RecipeBuilder) -> None:
    spec, key = recipe.adapter, ("adapter",)
    if recipe.stages.contrastive is None and recipe.stages.multitask is None:
        raise b.error(key, "an adapter trains in stages 1 and 2: configure `stages.contrastive` or `multitask`")
    _positive(b, (*key, "r"), spec.r)
    _positive(b, (*key, "alpha"), spec.alpha)
    if not 0 <= spec.dropout < 1:
        raise b.error((*key, "dropout"), f"must be in [0, 1), got {spec.dropout}")
    if spec.target_modules is not None and not spec.target_modules:
        raise b.error((*key, "target_modules"), "names no layer; leave it out for the default")


def _check_merge(stage: MergeSpec, recipe: Recipe, b: RecipeBuilder) -> None:
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
        for name in ("grid", "dev_tasks", "eval_seeds"):
            if getattr(stage, name):
                raise b.error((*key, name), "is used by `weight: auto` only; remove it or set `weight: auto`")
    for i, weight in enumerate(stage.grid or []):
        if not 0 < weight <= 1:
            raise b.error((*key, "grid", i), f"must be in (0, 1], got {weight}")
    if stage.grid is not None and not stage.grid:
        raise b.error((*key, "grid"), "needs at least one weight (or remove it for the default grid)")
    _positive(b, (*key, "max_drop"), stage.max_drop, zero=True)
    _check_eval_seeds(stage.eval_seeds, b, (*key, "eval_seeds"))
    stage.dev_tasks = [f for i, p in enumerate(stage.dev_tasks) for f in b.folders(p, (*key, "dev_tasks", i))]
    stage.dev_tasks = list(dict.fromkeys(stage.dev_tasks))


def _check_eval_seeds(seeds: list[int] | None, b: RecipeBuilder, key: KeyPath) -> None:
    try:  # the rules live with the evaluation; here they only gain the file, the line and the key
        check_eval_seeds(seeds)
    except EvalSeedError as error:
        raise b.error(key if error.index is None else (*key, error.index), error.reason) from None


def _check_prompts(prompts: dict[str, str], b: RecipeBuilder, key: KeyPath, allowed: set[str]) -> None:
    unknown = sorted(set(prompts) - allowed)
    if unknown:
        raise b.error((*key, unknown[0]), f"unknown prompt role; use {sorted(allowed)}")


def _numeric_string(data: Any, kind: type) -> Any:
    """``"1e-5"`` -> ``1e-05`` (PyYAML reads exponents without a dot as strings; Hugging Face configs accept them).

    Anything that does not parse is returned unchanged, for the caller's type error.
    """
    if not isinstance(data, str):
        return data
    try:
        value = float(data.strip())
    except ValueError:
        return data
    if kind is int:
        return int(value) if value.is_integer() and "." not in data and "e" not in data.lower() else data
    return value if value == value and abs(value) != float("inf") else data


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + str(list(typing.get_args(hint)))
    if dataclasses.is_dataclass(hint):
        return f"a {hint.__name__} mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
