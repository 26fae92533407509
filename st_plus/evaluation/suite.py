"""Running several tasks with one model: shared encoding, MTEB-layout result files, a Markdown table."""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from st_plus._version import __version__
from st_plus.data import Task, load_task
from st_plus.data.turn_spans import load_turn_spans
from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator, TaskResult
from st_plus.evaluation.chunked_retrieval import ChunkedRetrievalEvaluator
from st_plus.evaluation.classification import ClassificationEvaluator
from st_plus.evaluation.clustering import ClusteringEvaluator
from st_plus.evaluation.pair_classification import PairClassificationEvaluator
from st_plus.evaluation.reranking import CandidateRerankingEvaluator
from st_plus.evaluation.retrieval import RetrievalEvaluator
from st_plus.evaluation.seed_average import average_over_seeds, check_eval_seeds
from st_plus.evaluation.sts import STSEvaluator

logger = logging.getLogger(__name__)

EVALUATORS: dict[str, type[TaskEvaluator]] = {
    "STS": STSEvaluator,
    "PairClassification": PairClassificationEvaluator,
    "Classification": ClassificationEvaluator,
    "Clustering": ClusteringEvaluator,
    "Retrieval": RetrievalEvaluator,
    "Reranking": CandidateRerankingEvaluator,
}
_LANGUAGE_SCRIPTS = {"en": "eng-Latn", "zh": "cmn-Hans", "de": "deu-Latn", "fr": "fra-Latn", "es": "spa-Latn"}


def _settings_for(evaluator_cls: type[TaskEvaluator], settings: dict[str, Any], source: str) -> dict[str, Any]:
    accepted = set(inspect.signature(evaluator_cls.__init__).parameters) | set(
        inspect.signature(TaskEvaluator.__init__).parameters
    )
    accepted -= {"self", "args", "kwargs"}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise ValueError(
            f"{source}: unknown {evaluator_cls.__name__} setting(s) {unknown}; accepted: {', '.join(sorted(accepted))}"
        )
    return settings


def build_evaluator(task: Task, *, chunking: Mapping[str, Any] | None = None, **overrides: Any) -> TaskEvaluator:
    """Creates the evaluator for a loaded task; ``task.json`` settings first, then ``overrides``.

    With ``chunking`` (``chunker``, ``mode`` and optionally ``window`` / ``overlap``), a Retrieval task becomes a
    :class:`ChunkedRetrievalEvaluator`, with chunk-level metrics when the folder has ``spans.jsonl``.

    Raises:
        ValueError: A setting the task type's evaluator does not accept (named, with the accepted ones), or
            ``chunking`` for a task that is not Retrieval.
    """
    descriptor = task.descriptor
    evaluator_cls = EVALUATORS[descriptor.task_type]
    if chunking is not None:
        if descriptor.task_type != "Retrieval":
            raise ValueError(f"{task.folder}: chunked evaluation needs a Retrieval task, got {descriptor.task_type}.")
        evaluator_cls = ChunkedRetrievalEvaluator
    settings = {"name": task.name, "prompts": descriptor.prompts or None, **descriptor.settings}
    if descriptor.main_score:
        settings["main_score"] = descriptor.main_score
    settings.update({key: value for key, value in overrides.items() if value is not None})
    settings = _settings_for(evaluator_cls, settings, str(task.folder / "task.json"))
    data = task.data
    kind = descriptor.task_type
    if kind == "STS":
        evaluator = STSEvaluator(
            data["sentence1"], data["sentence2"], data["score"], score_range=descriptor.score_range, **settings
        )
    elif kind == "PairClassification":
        evaluator = PairClassificationEvaluator(data["sentence1"], data["sentence2"], data["label"], **settings)
    elif kind == "Classification":
        train = data["train"]
        evaluator = ClassificationEvaluator(
            data["eval"]["text"],
            data["eval"]["label"],
            train_texts=None if train is None else train["text"],
            train_labels=None if train is None else train["label"],
            **settings,
        )
    elif kind == "Clustering":
        evaluator = ClusteringEvaluator(data["text"], data["label"], **settings)
    elif kind == "Reranking":
        evaluator = CandidateRerankingEvaluator(data["query"], data["positive"], data["negative"], **settings)
    else:
        corpus = {row["_id"]: {"title": row["title"], "text": row["text"]} for row in data.corpus}
        queries = dict(zip(data.queries["_id"], data.queries["text"], strict=False))
        if chunking is not None:
            spans_path = task.folder / "spans.jsonl"
            gold_spans = load_turn_spans(spans_path) if spans_path.is_file() else None
            evaluator = ChunkedRetrievalEvaluator(
                queries, corpus, data.qrels, gold_spans=gold_spans, **dict(chunking), **settings
            )
        else:
            evaluator = RetrievalEvaluator(queries, corpus, data.qrels, **settings)
    evaluator.split = task.split
    evaluator.language = descriptor.language
    return evaluator


def model_name_of(model: SentenceTransformer) -> str:
    """A name for result folders: the card's model id, else the loaded folder's name."""
    card = getattr(model, "model_card_data", None)
    name = getattr(card, "model_id", None) or getattr(card, "base_model", None)
    if not name:
        path = getattr(model, "_model_name_or_path", None) or getattr(model, "name_or_path", None)
        name = Path(str(path)).name if path else "model"
    return str(name)


def _languages(language: str | list[str] | None) -> list[str]:
    values = [language] if isinstance(language, str) else list(language or [])
    return [_LANGUAGE_SCRIPTS.get(v, v) for v in values]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _seeds_note(scores: Mapping[str, Any]) -> str:
    """`` (mean over evaluation seeds 42, 43)`` for scores averaged by ``eval_seeds``, else ``""``."""
    seeds = scores.get("eval_seeds")
    return f" (mean over evaluation seeds {', '.join(map(str, seeds))})" if isinstance(seeds, list) else ""


def _result_folder(output_dir: str | Path, model_name: str) -> Path:
    return Path(output_dir) / model_name.replace("/", "__") / "no_revision_available"


def _written_by_st_plus(path: Path) -> bool:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        entries = [e for split in payload["scores"].values() for e in split]
        return all(str(e.get("evaluated_with", "")).startswith("st_plus") for e in entries)
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False


def check_results_writable(
    output_dir: str | Path, *, model_name: str, task_names: Sequence[str], overwrite: bool = False
) -> None:
    """Refuses to replace result files st_plus did not write (e.g. MTEB's own, or a user's), unless ``overwrite``.

    Files a previous st_plus evaluation wrote are refreshed. Called before any encoding.

    Raises:
        FileExistsError: Naming the first foreign file.
    """
    if overwrite:
        return
    folder = _result_folder(output_dir, model_name)
    for name in [*task_names, "results.md"]:
        path = folder / (name if name.endswith(".md") else f"{name}.json")
        if path.exists() and not (path.suffix == ".md" or _written_by_st_plus(path)):
            raise FileExistsError(f"{path} exists and was not written by st_plus; move it or pass overwrite=True.")


def write_mteb_results(
    results: Sequence[TaskResult], output_dir: str | Path, *, model_name: str, overwrite: bool = False
) -> Path:
    """Writes one MTEB-format result file per task under ``output_dir/<model>/no_revision_available/``.

    The layout and schema are MTEB's, so ``mteb.TaskResult.from_disk`` and MTEB's result tooling read them. Scores
    are rounded to 5 decimals as in MTEB's files. Result files st_plus did not write are never replaced unless
    ``overwrite`` (see :func:`check_results_writable`).

    Returns:
        The folder the files were written to.
    """
    check_results_writable(
        output_dir, model_name=model_name, task_names=[r.task_name for r in results], overwrite=overwrite
    )
    try:
        mteb_version = version("mteb")
    except Exception:  # noqa: BLE001 - mteb is optional
        mteb_version = None
        logger.warning("mteb is not installed: result files get `mteb_version: null` (MTEB v2 layout)")
    folder = _result_folder(output_dir, model_name)
    folder.mkdir(parents=True, exist_ok=True)
    for result in results:
        split = result.split or "test"
        entry = {
            **_rounded(result.scores),
            "main_score": round(result.main_score, 5),
            "hf_subset": "default",
            "languages": _languages(result.language),
            "evaluated_with": f"st_plus {__version__}" + _seeds_note(result.scores),
        }
        for dim, scores in result.scores_by_dim.items():
            if scores is not result.scores:
                entry[f"dim_{dim}"] = _rounded(scores)
        payload = {
            "dataset_revision": "local",
            "task_name": result.task_name,
            "mteb_version": mteb_version,
            "scores": {split: [entry]},
            "evaluation_time": round(result.evaluation_time, 3),
            "kg_co2_emissions": None,
        }
        path = folder / f"{result.task_name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    meta = {"name": model_name, "revision": "no_revision_available", "framework": ["Sentence Transformers"]}
    (folder / "model_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


def results_table(results: Sequence[TaskResult]) -> str:
    """A Markdown table of main scores (x100), and a dimension x task table when Matryoshka dims were scored."""
    lines = [
        "| task | type | lang | split | metric | score | n | seconds |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    for r in results:
        language = r.language if isinstance(r.language, str) else ",".join(r.language or []) or "-"
        lines.append(
            f"| {r.task_name} | {r.task_type} | {language} | {r.split or '-'} | {r.main_score_name} | "
            f"{100 * r.main_score:.2f} | {r.num_samples} | {r.evaluation_time:.1f} |"
        )
    if results:
        average = sum(r.main_score for r in results) / len(results)
        lines.append(f"| **average** | | | | | **{100 * average:.2f}** | | |")
    averaged = [r for r in results if isinstance(r.scores.get("eval_seeds"), list)]
    if averaged:
        seeds, names = ", ".join(map(str, averaged[0].scores["eval_seeds"])), ", ".join(r.task_name for r in averaged)
        lines += ["", f"Mean over evaluation seeds {seeds} (not MTEB's single seed): {names}."]
    dims = sorted({d for r in results for d in r.scores_by_dim}, reverse=True)
    if len(dims) > 1:
        lines += ["", "| task | " + " | ".join(f"dim {d}" for d in dims) + " |", "|---|" + "---:|" * len(dims)]
        for r in results:
            cells = [
                f"{100 * r.scores_by_dim[d][r.main_score_name]:.2f}" if d in r.scores_by_dim else "-" for d in dims
            ]
            lines.append(f"| {r.task_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_suite(
    model: SentenceTransformer,
    tasks: Sequence[str | Path | Task],
    *,
    task_type: str | None = None,
    split: str | None = None,
    batch_size: int = 32,
    truncate_dims: Sequence[int] | None = None,
    prompts: dict[str, dict[str, str]] | None = None,
    output_dir: str | Path | None = None,
    show_progress_bar: bool = True,
    dtype: str = "float32",
    model_name: str | None = None,
    overwrite: bool = False,
    chunking: Mapping[str, Any] | None = None,
    eval_seeds: Sequence[int] | None = None,
) -> list[TaskResult]:
    """Evaluates ``model`` on several task folders, encoding each distinct (prompt, text) only once.

    All folders are loaded and validated first, so that a bad folder fails before any encoding.

    Args:
        model: The model.
        tasks: Task folders (with ``task.json``, or with ``task_type`` given) or loaded :class:`~st_plus.data.Task`.
        task_type: Task type for folders without ``task.json``.
        split: Split to evaluate, overriding the descriptors.
        batch_size: Encoding batch size.
        truncate_dims: Matryoshka dimensions scored in addition to the full one.
        prompts: Per task type prompts, e.g. ``{"Retrieval": {"query": "search_query: ", "document":
            "search_document: "}, "Clustering": {"text": "clustering: "}}``; a task's own ``task.json`` prompts win.
        output_dir: Where to write MTEB-layout result files and ``results.md`` (nothing written when ``None``).
        show_progress_bar: Progress over tasks and while encoding.
        dtype: ``"float32"``, ``"bfloat16"`` or ``"auto"`` (bfloat16 where native) encoding (see
            :class:`EmbeddingCache`).
        model_name: Name of the model's result folder (default: from the model).
        overwrite: Replace result files that st_plus did not write (checked before any encoding).
        chunking: Evaluate Retrieval tasks over chunked documents: ``{"chunker": ..., "mode": "late" | "naive",
            "window": ..., "overlap": ...}`` (see :class:`ChunkedRetrievalEvaluator`).
        eval_seeds: Score each Classification and Clustering task once per seed (each seed's rows through the one
            embedding cache) and report the mean of every metric, with ``main_score_per_eval_seed`` (see
            :func:`average_over_seeds`): less noise for development decisions, but no longer MTEB's single-seed
            number (result files say so in ``evaluated_with``). These seeds replace a ``seed`` in ``task.json``.
            ``None`` (default): each task's own seed (MTEB's 42). Other task types have no seed and are scored
            once.

    Returns:
        One :class:`TaskResult` per task, in order.
    """
    seeds = check_eval_seeds(eval_seeds)
    loaded = [t if isinstance(t, Task) else load_task(t, task_type=task_type, split=split) for t in tasks]
    names = [t.name for t in loaded]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Task names must be unique (they name the result files), repeated: {duplicates}")
    evaluators = []  # per task: one evaluator, or one per evaluation seed
    for task in loaded:
        task_prompts = (prompts or {}).get(task.task_type)
        settings = {"truncate_dims": truncate_dims, "batch_size": batch_size,
                    "prompts": task.descriptor.prompts or task_prompts, "chunking": chunking}  # fmt: skip
        if seeds is not None and EVALUATORS[task.task_type].seed_dependent:
            evaluators.append([build_evaluator(task, seed=seed, **settings) for seed in seeds])
        else:
            evaluators.append([build_evaluator(task, **settings)])
    model_name = model_name or model_name_of(model)
    if output_dir is not None:
        check_results_writable(output_dir, model_name=model_name, task_names=names, overwrite=overwrite)
    cache = EmbeddingCache(model, batch_size=batch_size, show_progress_bar=show_progress_bar, dtype=dtype)
    results = []
    progress = tqdm(evaluators, desc="Tasks", disable=not show_progress_bar, unit="task")
    start = time.perf_counter()
    for group in progress:
        progress.set_postfix_str(group[0].name)
        per_seed = [evaluator.evaluate(model, cache=cache) for evaluator in group]
        results.append(average_over_seeds(per_seed, seeds) if seeds and group[0].seed_dependent else per_seed[0])
    logger.info(
        "Evaluated %d tasks in %.1fs; encoded %d distinct texts for %d requested.",
        len(results),
        time.perf_counter() - start,
        cache.texts_encoded,
        cache.texts_requested,
    )
    if output_dir is not None:
        folder = write_mteb_results(results, output_dir, model_name=model_name, overwrite=overwrite)
        (folder / "results.md").write_text(results_table(results) + "\n", encoding="utf-8")
    return results
