"""The two-stage training pipeline: one recipe, one command (``st-plus train RECIPE.yaml``).

Stages run in order (MLM pre-training, distillation, contrastive pre-training + consistency filtering, multi-task
fine-tuning), each from the previous stage's saved model, with an evaluation on the recipe's tasks before and after
each stage; a recipe's ``adapter`` trains LoRA weights in stages 1 and 2 instead of the full model.
Every unit of work (a stage, the filtering, an evaluation) is recorded in ``pipeline_state.json`` (written
atomically) once done; training inside a stage checkpoints atomically. ``resume=True`` skips what is recorded and
continues the interrupted stage from its last complete checkpoint, with the same data order, RNG and dynamic-negative
state, so a resumed run ends where an uninterrupted one does.

Output folder::

    recipe.resolved.yaml     every setting, defaults filled in
    train.log                the log (stages, evaluations, every logged training step)
    pipeline_state.json      what is done (resume reads it)
    stages/<stage>/          checkpoints, log_history.json, model/ (the stage's model)
    stages/contrastive/      kept_pairs.jsonl, dropped_pairs.jsonl (consistency filtering)
    stages/merge/model/      the trained model merged with its base (``stages.merge``; the run record's
                             ``extra.merge`` holds the weights and, for ``weight: auto``, the development table)
    eval/<point>/            MTEB-layout result files of each evaluation
    results.md               the before/after table
    curves.png               loss, learning rate, hard-negative scores, evaluation scores
    model/                   the final model (plain sentence-transformers), with st_plus_run.json and a copy of
                             recipe.resolved.yaml, their paths relative to the recipe's folder
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from accelerate import PartialState
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import get_rank, get_world_size, is_dist_initialized
from transformers import TrainerCallback

from st_plus._version import __version__
from st_plus.evaluation import evaluate_suite
from st_plus.models import load_model, position_count, readable_positions
from st_plus.portable_paths import relative_paths
from st_plus.precision import cpu_supports_bf16
from st_plus.run_record import RUN_INFO_FILE
from st_plus.training import stages as st
from st_plus.training._yaml import dotted, load_yaml_with_lines
from st_plus.training.adapters import adapter_summary, apply_adapter, merge_adapter
from st_plus.training.checkpoints import (
    atomic_save_model,
    atomic_write_json,
    atomic_write_text,
    discard_incomplete_checkpoints,
)
from st_plus.training.distill import run_distill
from st_plus.training.long_context import run_long_context
from st_plus.training.memory import ReleaseMemoryCallback, release_memory
from st_plus.training.merge_weights import run_merge
from st_plus.training.prompts import ROLES, record_prompts, role_prompts, stage_prompts
from st_plus.training.recipe import Recipe, RecipeError, load_recipe, recipe_to_dict
from st_plus.training.recipe_checks import RecipeBuilder
from st_plus.training.recipe_data import check_recipe_data
from st_plus.training.report import plot_curves, run_info, table
from st_plus.training.stages import filter_pairs, read_pairs

logger = logging.getLogger(__name__)

STATE_FILE = "pipeline_state.json"
RECIPE_FILE = "recipe.resolved.yaml"


@dataclass
class PipelineResult:
    """What :func:`run_recipe` returns.

    Attributes:
        output_dir: The run's folder.
        model_path: The final model's folder (loads with plain ``SentenceTransformer(path)``).
        evaluations: ``{point: {task: main score}}`` for each evaluation point (``start``, then each stage).
        table: The before/after table (markdown).
    """

    output_dir: Path
    model_path: Path
    evaluations: dict[str, dict[str, float]] = field(default_factory=dict)
    table: str = ""


def _is_main() -> bool:
    return get_rank() == 0


def _barrier() -> None:
    if is_dist_initialized():
        dist.barrier()


def resolve_precision(precision: str) -> bool:
    """``auto`` / ``bf16`` / ``fp32`` -> whether to train under bf16 autocast."""
    if precision == "auto":
        return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else cpu_supports_bf16()
    return precision == "bf16"


class _WarningRecorder(logging.Handler):
    """Keeps every distinct st_plus WARNING of a run (fallbacks, padded rows, ...) for the run record."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 - logging.Handler hook
        message = f"{record.name}: {record.getMessage()}"
        if message not in self.messages:
            self.messages.append(message)


class _LogFileCallback(TrainerCallback):
    """Sends every logged training step to the pipeline's log, tagged with the stage."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102 - TrainerCallback hook
        if logs and state.is_world_process_zero:
            logger.info("[%s] step %d: %s", self.stage, state.global_step, json.dumps(logs, default=str))


#: Top-level recipe keys added after runs could be resumed: for each, the value an st_plus without the key behaved
#: as, and the values a resuming recipe may give it (its default and that value) to go on that way.
_KEYS_ADDED_SINCE_RUNS_COULD_RESUME: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "mining_precision": ("float32", ("auto", "float32")),  # filtering and mining were float32 before the key
}
#: Keys of a stage-2 task's ``negatives`` added since runs could resume, with the value that behaves as before: a
#: saved recipe without the key resumes when the current recipe has that value.
_NEGATIVES_KEYS_ADDED: dict[str, Any] = {"corpus_group_field": None, "group_negatives": 0}
#: Keys of the ``contrastive`` and ``multitask`` stages added since runs could resume, with the value that behaves
#: as before (as ``_NEGATIVES_KEYS_ADDED``).
_STAGE_KEYS_ADDED: dict[str, Any] = {"attention_dropout": None, "label_negatives": "explicit"}
#: Top-level recipe keys that change no result: a run resumes with any value of them (e.g. ``trim_memory: true``
#: added to resume a run that ran out of memory).
_RESULT_NEUTRAL_KEYS = ("output_dir", "trim_memory")


def _fill_added_keys(saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Adds the keys added since runs could resume to a saved recipe where the current one keeps the old value.

    ``_NEGATIVES_KEYS_ADDED`` go into the stage-2 tasks' ``negatives``, ``_STAGE_KEYS_ADDED`` into the stages.

    In place: a run started by an st_plus without those keys resumes when the recipe did not change.
    """
    for name in ("contrastive", "multitask"):
        before, now = (saved.get("stages") or {}).get(name), (current.get("stages") or {}).get(name)
        if isinstance(before, dict) and isinstance(now, dict):
            for key, default in _STAGE_KEYS_ADDED.items():
                if key not in before and now.get(key) == default:
                    before[key] = default
    saved_tasks = ((saved.get("stages") or {}).get("multitask") or {}).get("tasks") or []
    current_tasks = ((current.get("stages") or {}).get("multitask") or {}).get("tasks") or []
    for old, new in zip(saved_tasks, current_tasks, strict=False):
        before, now = (old or {}).get("negatives"), (new or {}).get("negatives")
        if not isinstance(before, dict) or not isinstance(now, dict):
            continue
        for key, default in _NEGATIVES_KEYS_ADDED.items():
            if key not in before and now.get(key) == default:
                before[key] = default


def _prepare_output(out: Path, recipe: Recipe, *, resume: bool, overwrite: bool) -> dict[str, Any]:
    """Checks the output folder against the flags; returns the saved state (empty for a new run)."""
    resolved = recipe_to_dict(recipe)
    state_path = out / STATE_FILE
    if resume and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        saved = yaml.safe_load((out / RECIPE_FILE).read_text(encoding="utf-8"))
        for key in _RESULT_NEUTRAL_KEYS:
            saved.pop(key, None)
        current = {k: v for k, v in resolved.items() if k not in _RESULT_NEUTRAL_KEYS}
        for key, (behaved_as, compatible) in _KEYS_ADDED_SINCE_RUNS_COULD_RESUME.items():
            if key not in saved and current.get(key) in compatible:  # started by an st_plus without the key
                saved[key] = current[key]
                setattr(recipe, key, behaved_as)  # resume as that st_plus ran
        _fill_added_keys(saved, current)
        if json.loads(json.dumps(saved)) != json.loads(json.dumps(current)):
            changed = sorted(k for k in current if saved.get(k) != json.loads(json.dumps(current[k])))
            raise RecipeError(
                f"{recipe.source}: the recipe differs from the one the run in {out} started with (keys {changed}); "
                "resume with the same recipe, or start over with --overwrite. If you did not change it, a default "
                f"changed between st_plus versions (e.g. `length_grouped`, now true): compare with "
                f"{out / RECIPE_FILE} and write the differing keys into your recipe"
            )
        if "length_unit" not in state:  # started before batches were length-grouped by tokens (not characters)
            grouped = [name for name in ("contrastive", "multitask")
                       if getattr(getattr(recipe.stages, name, None), "length_grouped", False)
                       and name not in state.get("done", {})]  # fmt: skip
            if grouped:
                raise RecipeError(
                    f"{recipe.source}: the run in {out} was started by an st_plus that grouped batches by characters; "
                    f"this one groups them by tokens, so stage(s) {grouped} would not resume with the same batches. "
                    "Finish it with the st_plus that started it, or start over with --overwrite"
                )
        if "prompts_in_model" not in state:  # started before stages recorded their prompts in the model
            pending = _prompted_stages_pending(recipe, state)
            if pending:
                raise RecipeError(
                    f"{recipe.source}: the run in {out} was started by an st_plus that did not keep the training "
                    f"prompts in the model; this one does, so stage(s) {pending} would not resume as they started "
                    "(mining and evaluations would read with the prompts). Finish it with the st_plus that started "
                    "it, or start over with --overwrite"
                )
        return state
    non_empty = out.exists() and any(out.iterdir())
    if non_empty and resume:
        raise FileExistsError(
            f"Output folder {out} has no {STATE_FILE}: it holds no st_plus run to resume (checkpoints there would "
            "be stale); choose an empty folder, or --overwrite if it is an st_plus run folder."
        )
    if non_empty and not overwrite:
        raise FileExistsError(
            f"Output folder {out} exists and is not empty; pass --resume to continue that run or --overwrite "
            "to delete it and start over."
        )
    if non_empty and not is_run_folder(out):
        raise FileExistsError(
            f"--overwrite deletes only st_plus run folders (with {STATE_FILE} or {RECIPE_FILE}) or empty ones; "
            f"{out} is neither. Choose another --output-dir or empty it yourself."
        )
    _barrier()  # every process has checked before the main one deletes anything
    if _is_main():
        if overwrite and out.exists():
            logger.warning("Deleting %s (--overwrite)", out)
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / RECIPE_FILE, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        atomic_write_json(out / STATE_FILE, _new_state())
    _barrier()
    return _new_state()


def _new_state() -> dict[str, Any]:
    """A new run's state.

    ``length_unit``: length-grouped batches sort by token counts (older runs: characters); ``prompts_in_model``:
    the training stages record their prompts in the model (older runs: not).
    """
    return {"st_plus_version": __version__, "length_unit": "tokens", "prompts_in_model": True, "done": {},
            "evaluations": {}}  # fmt: skip


def _prompted_stages_pending(recipe: Recipe, state: dict[str, Any]) -> list[str]:
    """The contrastive / multi-task stages (and stage 1's filter) with query / document prompts not yet done."""
    pending = []
    for name in ("contrastive", "multitask"):
        spec = getattr(recipe.stages, name, None)
        if spec is None:
            continue
        agreed, conflicts, _ = stage_prompts(spec)
        if not (agreed or conflicts):
            continue
        if name not in state.get("done", {}):
            pending.append(name)
        elif name == "contrastive" and spec.filter is not None and "filter" not in state["done"]:
            pending.append("filter")
    return pending


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds an st_plus run (what ``--overwrite`` may delete)."""
    return (folder / STATE_FILE).is_file() or (folder / RECIPE_FILE).is_file()


def _attach_log_file(out: Path) -> logging.Handler | None:
    if not _is_main():
        return None
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    package = logging.getLogger("st_plus")
    package.addHandler(handler)
    if package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    return handler


def _load(path: str | Path, max_seq_length: int | None) -> SentenceTransformer:
    model = load_model(path)
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def _inference_length(model: SentenceTransformer, infer: int | None) -> int:
    """``infer`` (the length evaluations and the final model read), at most the model's positions; else unchanged."""
    if infer is None:
        return model.max_seq_length
    try:
        return min(infer, readable_positions(model))
    except ValueError:  # no position table to read (e.g. rotary positions): the length is a choice, not a limit
        return infer


def _adapted(model: SentenceTransformer, recipe: Recipe) -> SentenceTransformer:
    """The model with the recipe's LoRA adapter (added, or made trainable again after a reload); else unchanged."""
    if recipe.adapter is None:
        return model
    return apply_adapter(model, recipe.adapter)


class _Run:
    """One pipeline run: the recipe, the output folder and the state, saved after every unit of work."""

    def __init__(self, recipe: Recipe, out: Path, state: dict[str, Any], resume: bool, show_progress_bar: bool):
        self.recipe, self.out, self.state, self.resume = recipe, out, state, resume
        self.show_progress_bar = show_progress_bar
        self.bf16 = resolve_precision(recipe.precision)
        # the filter, the mining and the dynamic refreshes: bfloat16 token-budget encoding when training in bf16
        self.mining_dtype = recipe.mining_dtype(self.bf16)
        self.warnings: list[str] = []  # the st_plus WARNINGs of this process (recorded in st_plus_run.json)

    def save_state(self) -> None:
        if _is_main():
            atomic_write_json(self.out / STATE_FILE, self.state)
        _barrier()

    def evaluate(self, model: SentenceTransformer, point: str, which: Any, *, dims: list[int] | None = None) -> None:
        ev = self.recipe.evaluation
        tasks = ev.tasks if which == "all" else [t for t in ev.tasks if Path(t).name in (which or [])]
        if which == "none" or not tasks or point in self.state["evaluations"]:
            return
        if _is_main():
            logger.info("Evaluating (%s) on %d tasks", point, len(tasks))
            results = evaluate_suite(
                model, tasks, batch_size=ev.batch_size, truncate_dims=dims, output_dir=self.out / "eval" / point,
                overwrite=True, show_progress_bar=self.show_progress_bar, dtype=ev.dtype,
            )  # fmt: skip
            self.state["evaluations"][point] = {
                r.task_name: {"task_type": r.task_type, "metric": r.main_score_name, "value": r.main_score,
                              "split": r.split, "language": r.language,
                              "by_dim": {str(d): s.get(r.main_score_name) for d, s in r.scores_by_dim.items()},
                              **{k: r.scores[k] for k in ("alignment", "uniformity") if k in r.scores}}
                for r in results
            }  # fmt: skip
            for r in results:
                logger.info("[%s] %s %s = %.4f", point, r.task_name, r.main_score_name, r.main_score)
            del results
            release_memory()  # the evaluation's embeddings and batches
        self.save_state()
        self.state = json.loads((self.out / STATE_FILE).read_text(encoding="utf-8"))

    def finish_stage(self, name: str, model: SentenceTransformer, info: dict[str, Any]) -> Path:
        folder = self.out / "stages" / name
        history = info.pop("log_history", None)
        if _is_main():
            if history is not None:
                atomic_write_json(folder / "log_history.json", history)
            atomic_save_model(model, folder / "model")
        self.state["done"][name] = info
        self.save_state()
        return folder / "model"


def run_recipe(
    recipe: Recipe | str | Path,
    *,
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    show_progress_bar: bool = True,
) -> PipelineResult:
    """Runs a recipe end to end (see the module docstring for the output folder).

    Args:
        recipe: A :class:`Recipe` or the path of a recipe file (validated before anything runs).
        output_dir: Overrides the recipe's ``output_dir`` (default ``runs/<name>``).
        resume: Continue the run recorded in ``output_dir``.
        overwrite: Delete an existing ``output_dir`` and start over.
        show_progress_bar: Progress bars while training and encoding.

    Raises:
        RecipeError: A bad recipe (file, line, key), or a resumed run whose recipe changed.
        RecipeDataError: Bad rows in the recipe's data files (file, line, field), found before any work starts.
        FileExistsError: ``output_dir`` exists and is not empty, without ``resume`` or ``overwrite``.
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    check_recipe_data(recipe)
    check_recipe_model(recipe)  # before the output folder is touched
    warn_prompt_conflicts(recipe)
    PartialState()  # under `accelerate launch`, joins the process group now: the folder checks below synchronise
    out = Path(output_dir or recipe.output_dir or Path("runs") / recipe.name).resolve()
    state = _prepare_output(out, recipe, resume=resume, overwrite=overwrite)
    handler = _attach_log_file(out)
    recorder = _WarningRecorder()
    logging.getLogger("st_plus").addHandler(recorder)
    try:
        run = _Run(recipe, out, state, resume, show_progress_bar)
        run.warnings = recorder.messages
        return _run(run)
    finally:
        logging.getLogger("st_plus").removeHandler(recorder)
        if handler is not None:
            logging.getLogger("st_plus").removeHandler(handler)
            handler.close()


def _run(run: _Run) -> PipelineResult:
    recipe, out, seq = run.recipe, run.out, run.recipe.model.max_seq_length
    start = time.perf_counter()
    logger.info("Recipe %s -> %s (bf16 autocast: %s; resume: %s)", recipe.source, out, run.bf16, run.resume)
    model_path: str | Path | None = recipe.model.base
    model = _load(model_path, None) if model_path is not None else None
    # Training may truncate shorter (speed); evaluations and the saved model read what the base model reads.
    infer = recipe.model.inference_max_seq_length or (model.max_seq_length if model is not None else None)
    if model is not None:
        model.max_seq_length = infer
        if recipe.evaluation.before:
            run.evaluate(model, "start", "all")
    pairs = None
    dims = recipe.evaluation.matryoshka_dims
    names = recipe.stage_names()
    for name in names:
        spec = getattr(recipe.stages, name)
        folder = out / "stages" / name
        if name in run.state["done"]:
            model_path = folder / "model"
            logger.info("Stage %s already done (%s)", name, model_path)
        else:
            if run.resume:
                discard_incomplete_checkpoints(folder) if _is_main() else None
                _barrier()
            torch.manual_seed(recipe.seed)
            callbacks = [_LogFileCallback(name), *([ReleaseMemoryCallback()] if recipe.trim_memory else [])]
            prompts: dict[str, str] = {}
            conflicts: dict[str, list[str]] = {}
            if name == "mlm":
                base = _load(model_path, seq) if model_path is not None else None
                model, info = st.run_mlm(spec, seed=recipe.seed, max_seq_length=infer, base=base, bf16=run.bf16)
            elif name == "distill":
                model, info = run_distill(
                    spec, _load(model_path, seq), folder, seed=recipe.seed, bf16=run.bf16, resume=run.resume,
                    callbacks=callbacks,
                )  # fmt: skip
            elif name == "contrastive":
                model = _adapted(_load(model_path, seq), recipe)
                st.freeze_unused(model)
                prompts, conflicts = record_prompts(model, spec, name)
                model, pairs, info = st.run_contrastive(
                    spec, model, folder, seed=recipe.seed, bf16=run.bf16, resume=run.resume,
                    callbacks=callbacks,
                )  # fmt: skip
            elif name == "long_context":
                model, info = run_long_context(
                    spec, _load(model_path, None), folder, seed=recipe.seed, bf16=run.bf16, resume=run.resume,
                    callbacks=callbacks,
                )  # fmt: skip
            elif name == "merge":  # weighted parameter averaging with the base (no forgetting): the final model
                ev = recipe.evaluation
                model, info = run_merge(
                    spec, _load(model_path, infer), recipe.model.base, batch_size=ev.batch_size, dtype=ev.dtype
                )
            else:
                model = _adapted(_load(model_path, seq), recipe)
                st.freeze_unused(model)
                prompts, conflicts = record_prompts(model, spec, name)
                model, info = st.run_multitask(
                    spec, model, folder, seed=recipe.seed, bf16=run.bf16, resume=run.resume,
                    stage1_pairs=_stage1_pairs(run, pairs), callbacks=callbacks,
                    mining_dtype=run.mining_dtype, start_model=recipe.model.base,
                    stage1_data=recipe.stages.contrastive.data if recipe.stages.contrastive else (),
                    stage1_filtered=bool(recipe.stages.contrastive and recipe.stages.contrastive.filter),
                )  # fmt: skip
            if recipe.adapter is not None and name in ("contrastive", "multitask"):
                info.setdefault("extra", {})["adapter"] = adapter_summary(model, recipe.adapter)
            if prompts:  # recorded in the model before it trained
                info.setdefault("extra", {})["prompts"] = prompts
            if conflicts:  # roles whose tasks trained with different prompts: the model kept its earlier one
                info.setdefault("extra", {})["prompt_conflicts"] = conflicts
            if not (name == "long_context" and recipe.model.inference_max_seq_length is None):
                model.max_seq_length = _inference_length(model, infer)  # the stage's folder reads what the final does
            model_path = run.finish_stage(name, model, info)
            logger.info("Stage %s done: %s", name, {k: v for k, v in info.items() if k in ("steps", "seconds")})
        new_length = name == "long_context" and recipe.model.inference_max_seq_length is None
        model = _load(model_path, None if new_length else infer)  # every stage starts from what was saved
        release_memory()  # the stage's trainer and activations: not resident on top of the next step
        if new_length:  # from here on, evaluations and the saved model read the new context length
            infer = model.max_seq_length
        if name == "contrastive" and spec.filter is not None and "filter" not in run.state["done"]:
            _filter(run, spec, model, pairs)
        last_all = name == names[-1] and spec.evaluate == "all"  # the final scores, Matryoshka dims included
        run.evaluate(model, name, spec.evaluate, dims=dims if last_all else None)
    if not last_all and recipe.evaluation.tasks and "final" not in run.state["evaluations"]:
        run.evaluate(model, "final", "all", dims=dims)
    final = out / "model"
    if _is_main():
        if recipe.adapter is not None and recipe.adapter.merge:
            merge_adapter(model)
        atomic_save_model(model, final)
        run.state["warnings"] = list(dict.fromkeys([*run.state.get("warnings", []), *run.warnings]))
        run.state["training_seconds"] = run.state.get("training_seconds", 0) + round(time.perf_counter() - start, 1)
        _write_portable_record(recipe, run.state, out, final)
        text = table(run.state["evaluations"])
        atomic_write_text(out / "results.md", text + "\n")
        plot_curves(out, recipe.stage_names(), run.state["evaluations"])
        atomic_write_json(out / STATE_FILE, run.state)  # main process only: no barrier inside this block
    _barrier()
    state = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    evaluations = {p: {t: v["value"] for t, v in r.items()} for p, r in state["evaluations"].items()}
    return PipelineResult(out, final, evaluations, table(state["evaluations"]))


def _write_portable_record(recipe: Recipe, state: dict[str, Any], out: Path, final: Path) -> None:
    """The model folder's run record and resolved recipe, absolute paths made relative to the recipe's folder.

    The run folder's own ``recipe.resolved.yaml`` keeps them absolute: a resume compares it with the recipe as loaded.
    """
    base = Path(recipe.source).parent if recipe.source else out
    atomic_write_json(final / RUN_INFO_FILE, relative_paths(run_info(recipe, state, hardware()).to_dict(), base))
    resolved = relative_paths(yaml.safe_load((out / RECIPE_FILE).read_text(encoding="utf-8")), base)
    header = f"# {RECIPE_FILE} of this model's run; paths relative to " + (
        f"the folder of the recipe it read ({Path(recipe.source).name})" if recipe.source else "the run folder")
    body = yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    atomic_write_text(final / RECIPE_FILE, header + "\n" + body)


def check_recipe_model(recipe: Recipe) -> None:
    """The recipe checks that need the base model's position table (``FILE:LINE: key`` errors, before any work).

    A ``long_context`` stage: :func:`check_positions`; else an explicit ``model.inference_max_seq_length``:
    :func:`check_inference_length`. Loads the base model only when one of them applies.
    """
    if recipe.stages.long_context is not None:
        check_positions(recipe, load_model(recipe.model.base))
    elif recipe.model.inference_max_seq_length is not None and recipe.model.base is not None:
        check_inference_length(recipe, load_model(recipe.model.base))


def warn_prompt_conflicts(recipe: Recipe) -> list[str]:
    """Warns before any work, as ``FILE:LINE: key: ...``, of stage-2 tasks that train one role with different prompts.

    Not an error: per-task instructions are a choice. But the model keeps one prompt per role, so such a role is
    not recorded in it (:func:`st_plus.training.prompts.record_prompts`). Returns the messages.
    """
    stage = recipe.stages.multitask
    sources = role_prompts(stage) if stage is not None else []
    if not sources:
        return []
    (first_index, first), *others = sources
    messages = []
    for role in ROLES:
        index, other = next(((i, p) for i, p in others if p[role] != first[role]), (None, None))
        if index is None:
            continue
        key = ("stages", "multitask", "tasks", index, "prompts")
        message = str(_key_error(recipe, key, (
            f"task {stage.tasks[index].name!r} trains its {role} texts with {other[role]!r}, task "
            f"{stage.tasks[first_index].name!r} with {first[role]!r} (a task without a {role} prompt trains with "
            f"none): the model keeps one {role} prompt, so this stage records none"
        )))  # fmt: skip
        logger.warning("%s", message)
        messages.append(message)
    return messages


def check_inference_length(recipe: Recipe, base: SentenceTransformer) -> None:
    """Refuses, before any work, an explicit ``model.inference_max_seq_length`` longer than the base model reads.

    Without a ``long_context`` stage nothing lengthens the model, so every evaluation would fail on the first text
    past its position table. Models without learned positions (rotary) take any length.
    """
    try:
        readable = readable_positions(base)
    except ValueError:
        return
    explicit = recipe.model.inference_max_seq_length
    if explicit > readable:
        raise _key_error(
            recipe, ("model", "inference_max_seq_length"),
            f"{explicit} is more than the base model reads ({readable} tokens); use at most {readable}, or add "
            "stages.long_context to lengthen the model",
        )  # fmt: skip


def check_positions(recipe: Recipe, base: SentenceTransformer) -> None:
    """Refuses, before any work, a ``long_context`` stage the base model cannot take (``FILE:LINE: key`` errors).

    Also refuses an explicit ``model.inference_max_seq_length`` longer than the base model reads before the stage,
    and distillation blocks (``distill_chunk_tokens`` plus ``[CLS]`` and ``[SEP]``) longer than the teacher reads:
    the teacher is the base model, read at its own position count.
    """
    stage = recipe.stages.long_context
    try:
        count = position_count(base)
    except ValueError as exc:
        raise _key_error(recipe, ("stages", "long_context"), f"the base model cannot be extended: {exc}") from None
    if count > stage.max_positions:
        raise _key_error(recipe, ("stages", "long_context", "max_positions"),
                         f"{stage.max_positions} is below the base model's {count} positions")  # fmt: skip
    if stage.distill_weight > 0 and stage.distill_chunk_tokens + 2 > count:
        raise _key_error(
            recipe, ("stages", "long_context", "distill_chunk_tokens"),
            f"the teacher (the base model, {count} positions) reads each block alone with [CLS] and [SEP]: "
            f"blocks of {stage.distill_chunk_tokens} tokens need {stage.distill_chunk_tokens + 2}; use at most "
            f"{count - 2}",
        )  # fmt: skip
    explicit = recipe.model.inference_max_seq_length
    if explicit is not None and explicit > count:
        raise _key_error(
            recipe, ("model", "inference_max_seq_length"),
            f"{explicit} is more than the base model reads ({count} positions) before stages.long_context; leave it "
            "out: after the stage evaluations and the saved model read stages.long_context.max_positions",
        )  # fmt: skip


def _key_error(recipe: Recipe, key: tuple, message: str) -> RecipeError:
    """``FILE:LINE: key: message`` for a check that needs the base model (the recipe file is read again for lines)."""
    if recipe.source is not None and Path(recipe.source).is_file():
        return RecipeBuilder(Path(recipe.source), load_yaml_with_lines(recipe.source)[1]).error(key, message)
    return RecipeError(f"{recipe.source}: {dotted(key)}: {message}")  # a Recipe built in code: no file


def _stage1_pairs(run: _Run, pairs: Any) -> Any:
    """The stage-1 pairs, filtered when stage 1 has a filter (read back from disk when it ran in an earlier run)."""
    path = run.out / "stages" / "contrastive" / "kept_pairs.jsonl"
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return Dataset.from_list(rows)
    if pairs is None and run.recipe.stages.contrastive is not None:
        return read_pairs(run.recipe.stages.contrastive.data, run.recipe.seed)  # no filtering configured
    return pairs


def _filter(run: _Run, spec: Any, model: SentenceTransformer, pairs: Any) -> None:
    pairs = pairs if pairs is not None else read_pairs(spec.data, run.recipe.seed)
    kept, result = filter_pairs(spec, model, pairs, dtype=run.mining_dtype)
    folder = run.out / "stages" / "contrastive"
    if _is_main():
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept)
        atomic_write_text(folder / "kept_pairs.jsonl", text)
        (folder / "dropped_pairs.jsonl").unlink(missing_ok=True)
        result.write_dropped(folder / "dropped_pairs.jsonl")
        logger.info("Consistency filter: %s; dropped rows in %s", result.summary(), folder / "dropped_pairs.jsonl")
    run.state["done"]["filter"] = {**result.stats, "side_file": "dropped_pairs.jsonl"}
    run.save_state()


def hardware() -> dict[str, Any]:
    """What the run ran on (for the model card)."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "processes": get_world_size(),
        "bf16_cpu": cpu_supports_bf16(),
    }
