"""The st_plus model card: sentence-transformers' card data plus what only st_plus knows (``st_plus_run.json``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import EvalResult, eval_results_to_model_index, model_index_to_eval_results
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.model_card import format_duration, generate_model_card
from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData

from st_plus._version import __version__
from st_plus.hub.citations import recorded_losses, technique_citations
from st_plus.run_record import ResultRecord, RunRecord, StageRecord

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md.j2"
MATRYOSHKA_PLOT = "assets/matryoshka.png"


class ModelCardError(ValueError):
    """The card could not be rendered, or what was rendered is not a valid Hub card."""


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _languages(results: list[ResultRecord]) -> list[str]:
    found: list[str] = []
    for result in results:
        value = result.language
        for language in [value] if isinstance(value, str) else value or []:
            code = language.split("-")[0]  # "cmn-Hans" -> "cmn"; the Hub wants ISO 639 codes
            if code not in found:
                found.append(code)
    return found


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def _shown_model(name: Any, base_model: str | None) -> str:
    """An ingredient as the card names it: ``default`` is the bundled model's Hub id, a local folder its last name."""
    name = _one_line(name)
    if name == "default":
        return base_model if base_model and "/" in base_model else "sentence-transformers/all-MiniLM-L6-v2"
    if name.startswith(("/", "./", "../", "~")) or "\\" in name:
        return Path(name.replace("\\", "/")).name
    return name


def _merge_text(merge: Any, base_model: str | None = None) -> str | None:
    """One line for the card from the run record's ``extra.merge`` (``None`` when absent or not as training writes it).

    For example ``weighted parameter average (LM-Cocktail): trained model 0.70,
    sentence-transformers/all-MiniLM-L6-v2 0.30; the weight chosen on 14 development tasks (largest weight with no
    task below the base by more than max_drop, max_drop 0.3 points)``. Local folders are shown by their last name.
    """
    if not isinstance(merge, dict) or not isinstance(merge.get("ingredients"), list):
        return None
    parts = [
        f"{_shown_model(item['model'], base_model)} {float(item['weight']):.2f}"
        for item in merge["ingredients"]
        if isinstance(item, dict) and "model" in item and isinstance(item.get("weight"), (int, float))
    ]
    if not parts:
        return None
    text = f"{_one_line(merge.get('method') or 'weighted parameter average')}: {', '.join(parts)}"
    choice = merge.get("choice")
    if isinstance(choice, dict) and choice.get("rule"):
        tasks = choice.get("dev_tasks")
        where = f" on {len(tasks)} development tasks" if isinstance(tasks, list) else " on development tasks"
        tolerance = choice.get("max_drop")
        tolerance_text = (
            f", max_drop {round(100 * tolerance, 4):g} points" if isinstance(tolerance, (int, float)) else ""
        )
        seeds = choice.get("eval_seeds")
        seeds_text = (
            f", classification and clustering scored as the mean over evaluation seeds {', '.join(map(str, seeds))}"
            if isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds) else ""
        )  # fmt: skip
        text += f"; the weight chosen{where} ({_one_line(choice['rule'])}{tolerance_text}{seeds_text})"
    return text


def results_to_eval_results(results: list[ResultRecord]) -> list[EvalResult]:
    """The run record's results as huggingface_hub ``EvalResult`` objects (one per task, its main score)."""
    return [
        EvalResult(
            task_type=result.task_type,
            task_name=result.task_type,
            dataset_type=result.dataset or result.task,
            dataset_name=result.task,
            dataset_config=result.language if isinstance(result.language, str) else None,
            dataset_split=result.split,
            metric_type=result.metric,
            metric_name=result.metric,
            metric_value=float(result.value),
        )
        for result in results
    ]


@dataclass
class StPlusModelCardData(SentenceTransformerModelCardData):
    """sentence-transformers' model card data, extended with an st_plus training run.

    Everything sentence-transformers puts in its card stays (model details, architecture, usage snippet that
    loads the model with plain ``SentenceTransformer``, citations of the losses); the run adds the recipe's
    stages with their datasets, licences and rows, losses and their citations, mining and dynamic-negative
    statistics, late-chunking settings, the Matryoshka table and plot, the evaluation results as a table and as
    Hub ``model-index`` metadata, hardware and training time. Rendered with st_plus's template
    (``st_plus/hub/templates/model_card.md.j2``).

    Args:
        run_info: The training run's :class:`~st_plus.run_record.RunRecord` (``load_run_record(folder)``), or
            ``None``; a ``st_plus_run.json`` dictionary is read with ``RunRecord.from_dict``.
        matryoshka_plot: Path of the Matryoshka PNG relative to the card, when one was drawn.
        local_files_only: Never ask the Hub about base models or datasets (default ``True``: publishing must
            not depend on the network before the upload).
        **kwargs: sentence-transformers' fields (``language``, ``license``, ``model_id``, ``tags``, ...).

    Example::

        card_data = StPlusModelCardData(run_info=load_run_record(folder), model_id="me/my-model")
        model = SentenceTransformer(folder, model_card_data=card_data)
        readme = generate_model_card(model)
    """

    run_info: RunRecord | None = None
    matryoshka_plot: str | None = None
    local_files_only: bool = True
    template_path: Path = field(default=TEMPLATE_PATH, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.run_info, dict):
            self.run_info = RunRecord.from_dict(self.run_info)
        record = self.run_info or RunRecord(st_plus_version=__version__)
        if record.base_model:
            self.base_model = record.base_model
        datasets = [dataset for stage in record.stages for dataset in stage.datasets]
        if datasets and not self.train_datasets:
            self.train_datasets = [{"name": d.name} for d in datasets]
        for dataset in datasets:
            if dataset.hub_id and dataset.hub_id not in self.datasets:
                self.datasets.append(dataset.hub_id)
        if not self.language:
            self.language = _languages(record.results)
        self.set_losses(recorded_losses(record))
        self.citations.update(technique_citations(record))
        self.add_tags("st-plus")
        if record.matryoshka:
            self.add_tags("matryoshka")
        if record.late_chunking:
            self.add_tags("late-chunking")
        if any(stage.dynamic_negatives for stage in record.stages):
            self.add_tags("dynamic-hard-negatives")

    def to_dict(self) -> dict[str, Any]:
        """sentence-transformers' card dictionary plus the st_plus sections and the results' ``model-index``."""
        data = super().to_dict()  # also cached by the parent for to_yaml()
        record = self.run_info or RunRecord(st_plus_version=__version__)
        results = record.results
        if results:
            ours = eval_results_to_model_index(data.get("model_name") or "model", results_to_eval_results(results))
            theirs = data.get("model-index") or []
            if theirs:  # evaluators of the training run: keep them, after ours
                ours[0]["results"].extend(theirs[0]["results"])
            data["model-index"] = ours
            data["metrics"] = list(dict.fromkeys([r.metric for r in results] + list(data.get("metrics") or [])))
        data.update(self._run_sections(record))
        return data

    def _run_sections(self, record: RunRecord) -> dict[str, Any]:
        results = record.results
        matryoshka = record.matryoshka
        dims = sorted(matryoshka.dims, reverse=True) if matryoshka else []
        scores = {int(d): by_task for d, by_task in matryoshka.scores.items()} if matryoshka else {}
        tasks = list(dict.fromkeys(task for dim in dims for task in scores.get(dim, {})))
        hardware = record.hardware.to_dict() if record.hardware else {}
        seconds = record.training_seconds
        merge_text = _merge_text(record.extra.get("merge"), record.base_model)
        return {
            "st_plus_version": record.st_plus_version,
            "recipe": record.recipe,
            "stages": [self._stage_view(stage, merge_text) for stage in record.stages],
            # a folder written by `st-plus merge` / merge_models: no stage of its own is the merge
            "merged_text": None if any(stage.name == "merge" for stage in record.stages) else merge_text,
            "results_rows": [
                {
                    **result.to_dict(),
                    "language": ", ".join(result.language)
                    if isinstance(result.language, list)
                    else result.language or "",
                    "value_text": _score(result.value),
                    "before_text": _score(result.before),
                    "delta_text": f"{result.value - result.before:+.4f}" if result.before is not None else "",
                }
                for result in results
            ],
            "has_before": any(r.before is not None for r in results),
            "matryoshka_dims": dims,
            "matryoshka_rows": [
                {"task": task, "scores": [_score(scores.get(dim, {}).get(task)) for dim in dims]} for task in tasks
            ],
            "late_chunking_items": list((record.late_chunking or {}).items()),
            "hardware_items": [(key, value) for key, value in hardware.items() if value is not None],
            "training_seconds_text": format_duration(seconds) if seconds is not None else None,
        }

    @staticmethod
    def _stage_view(stage: StageRecord, merge_text: str | None = None) -> dict[str, Any]:
        mining = stage.mining
        dynamic = stage.dynamic_negatives or {}  # task name -> DynamicNegativesCallback.summary()
        return {
            "name": stage.name or "stage",
            "kind": stage.kind or "",
            "datasets": stage.datasets,
            "losses": stage.losses,
            "steps": stage.steps,
            "batch_size": stage.batch_size,
            "seconds_text": format_duration(stage.seconds) if stage.seconds is not None else None,
            "filtering_items": list(stage.filtering.to_dict().items()) if stage.filtering else [],
            "merge_text": merge_text if stage.name == "merge" else None,
            "mining_text": mining if isinstance(mining, str) else None,
            "mining_tasks": _mining_tasks(mining),
            "dynamic_tasks": [
                {
                    "task": task,
                    "entries": [(k, v) for k, v in summary.items() if k != "config"],
                    "config": summary.get("config"),
                }
                for task, summary in dynamic.items()
            ],
        }


def render_model_card(model: SentenceTransformer, card_data: StPlusModelCardData) -> str:
    """Renders ``card_data`` for ``model`` with st_plus's template and checks the result parses as a Hub card.

    ``model.model_card_data`` is replaced by ``card_data`` (registered on the model, as sentence-transformers
    does); nothing is written to the model.

    Raises:
        ModelCardError: The template fails to render, or its front matter / ``model-index`` does not parse with
            huggingface_hub.
    """
    card_data.register_model(model)
    model.model_card_data = card_data
    try:
        content = generate_model_card(model)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{card_data.template_path}" + (f", line {line}" if line else "")
        raise ModelCardError(f"model card template error ({where}): {exc}") from None
    content = re.sub(r"\n{3,}", "\n\n", content)  # the template's optional sections leave runs of blank lines
    check_card(content)
    return content


def check_card(content: str) -> ModelCard:
    """Parses a rendered card with huggingface_hub and round-trips its ``model-index``; returns the card.

    Raises:
        ModelCardError: No YAML front matter, YAML that does not parse, or a ``model-index`` that huggingface_hub
            cannot turn back into evaluation results.
    """
    if not content.startswith("---\n"):
        raise ModelCardError("the rendered card has no YAML front matter (it must start with '---').")
    try:
        card = ModelCard(content)
    except Exception as exc:  # noqa: BLE001 - huggingface_hub raises ValueError / yaml errors
        raise ModelCardError(f"the rendered card's front matter does not parse: {exc}") from None
    model_index = card.data.to_dict().get("model-index")
    if model_index:
        try:
            model_index_to_eval_results(model_index)
        except Exception as exc:  # noqa: BLE001
            raise ModelCardError(f"the card's model-index does not parse as evaluation results: {exc}") from None
    return card


def _mining_tasks(mining: Any) -> list[tuple[str | None, list[tuple[str, Any]]]]:
    """A stage's mining record as ``(task, [(key, value), ...])`` pairs, one per task.

    A multi-task stage records one dict of statistics per task (``{"debian": {"rows_in": 640, ...}}``), a
    single-task one the statistics themselves (task ``None``).
    """
    if not isinstance(mining, dict) or not mining:
        return []
    if all(isinstance(value, dict) for value in mining.values()):
        return [(str(task), list(stats.items())) for task, stats in mining.items()]
    return [(None, list(mining.items()))]
