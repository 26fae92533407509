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
from st_plus.hub.citations import loss_stand_ins, technique_citations

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md.j2"
MATRYOSHKA_PLOT = "assets/matryoshka.png"


class ModelCardError(ValueError):
    """The card could not be rendered, or what was rendered is not a valid Hub card."""


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _languages(results: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for result in results:
        value = result.get("language")
        for language in [value] if isinstance(value, str) else value or []:
            code = language.split("-")[0]  # "cmn-Hans" -> "cmn"; the Hub wants ISO 639 codes
            if code not in found:
                found.append(code)
    return found


def results_to_eval_results(results: list[dict[str, Any]]) -> list[EvalResult]:
    """``st_plus_run.json`` results as huggingface_hub ``EvalResult`` objects (one per task, its main score)."""
    evals = []
    for result in results:
        language = result.get("language")
        evals.append(
            EvalResult(
                task_type=result["task_type"],
                task_name=result["task_type"],
                dataset_type=result.get("dataset") or result["task"],
                dataset_name=result["task"],
                dataset_config=language if isinstance(language, str) else None,
                dataset_split=result.get("split"),
                metric_type=result["metric"],
                metric_name=result["metric"],
                metric_value=float(result["value"]),
            )
        )
    return evals


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
        run_info: The validated content of ``st_plus_run.json`` (see :mod:`st_plus.hub.run_info`), or ``None``.
        matryoshka_plot: Path of the Matryoshka PNG relative to the card, when one was drawn.
        local_files_only: Never ask the Hub about base models or datasets (default ``True``: publishing must
            not depend on the network before the upload).
        **kwargs: sentence-transformers' fields (``language``, ``license``, ``model_id``, ``tags``, ...).

    Example::

        card_data = StPlusModelCardData(run_info=load_run_info(folder), model_id="me/my-model")
        model = SentenceTransformer(folder, model_card_data=card_data)
        readme = generate_model_card(model)
    """

    run_info: dict[str, Any] | None = None
    matryoshka_plot: str | None = None
    local_files_only: bool = True
    template_path: Path = field(default=TEMPLATE_PATH, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        info = self.run_info or {}
        if info.get("base_model"):
            self.base_model = info["base_model"]
        stages = info.get("stages") or []
        datasets = [dataset for stage in stages for dataset in stage.get("datasets") or []]
        if datasets and not self.train_datasets:
            self.train_datasets = [{"name": d["name"]} for d in datasets]
        for dataset in datasets:
            if dataset.get("hub_id") and dataset["hub_id"] not in self.datasets:
                self.datasets.append(dataset["hub_id"])
        if not self.language:
            self.language = _languages(info.get("results") or [])
        self.set_losses(loss_stand_ins([loss for stage in stages for loss in stage.get("losses") or []]))
        self.citations.update(technique_citations(info))
        self.add_tags("st-plus")
        if info.get("matryoshka"):
            self.add_tags("matryoshka")
        if info.get("late_chunking"):
            self.add_tags("late-chunking")
        if any(stage.get("dynamic_negatives") for stage in stages):
            self.add_tags("dynamic-hard-negatives")

    def to_dict(self) -> dict[str, Any]:
        """sentence-transformers' card dictionary plus the st_plus sections and the results' ``model-index``."""
        data = super().to_dict()  # also cached by the parent for to_yaml()
        info = self.run_info or {}
        results = info.get("results") or []
        if results:
            ours = eval_results_to_model_index(data.get("model_name") or "model", results_to_eval_results(results))
            theirs = data.get("model-index") or []
            if theirs:  # evaluators of the training run: keep them, after ours
                ours[0]["results"].extend(theirs[0]["results"])
            data["model-index"] = ours
            data["metrics"] = list(dict.fromkeys([r["metric"] for r in results] + list(data.get("metrics") or [])))
        data.update(self._run_sections(info))
        return data

    def _run_sections(self, info: dict[str, Any]) -> dict[str, Any]:
        results = info.get("results") or []
        matryoshka = info.get("matryoshka") or {}
        dims = sorted((int(d) for d in matryoshka.get("dims") or []), reverse=True)
        scores = {int(d): by_task for d, by_task in (matryoshka.get("scores") or {}).items()}
        tasks = list(dict.fromkeys(task for dim in dims for task in scores.get(dim, {})))
        hardware = info.get("hardware") or {}
        seconds = info.get("training_seconds")
        return {
            "st_plus_version": info.get("st_plus_version") or __version__,
            "recipe": info.get("recipe"),
            "stages": [self._stage_view(stage) for stage in info.get("stages") or []],
            "results_rows": [
                {
                    **result,
                    "language": ", ".join(result["language"])
                    if isinstance(result.get("language"), list)
                    else result.get("language") or "",
                    "value_text": _score(result["value"]),
                    "before_text": _score(result.get("before")),
                    "delta_text": f"{result['value'] - result['before']:+.4f}"
                    if result.get("before") is not None
                    else "",
                }
                for result in results
            ],
            "has_before": any(r.get("before") is not None for r in results),
            "matryoshka_dims": dims,
            "matryoshka_rows": [
                {"task": task, "scores": [_score(scores.get(dim, {}).get(task)) for dim in dims]} for task in tasks
            ],
            "late_chunking_items": list((info.get("late_chunking") or {}).items()),
            "hardware_items": [(key, value) for key, value in hardware.items() if value is not None],
            "training_seconds_text": format_duration(seconds) if seconds is not None else None,
        }

    @staticmethod
    def _stage_view(stage: dict[str, Any]) -> dict[str, Any]:
        filtering = stage.get("filtering") or {}
        mining = stage.get("mining")
        dynamic = stage.get("dynamic_negatives") or {}  # task name -> DynamicNegativesCallback.summary()
        return {
            "name": stage.get("name") or "stage",
            "kind": stage.get("kind") or "",
            "datasets": stage.get("datasets") or [],
            "losses": stage.get("losses") or [],
            "steps": stage.get("steps"),
            "batch_size": stage.get("batch_size"),
            "seconds_text": format_duration(stage["seconds"]) if stage.get("seconds") is not None else None,
            "filtering_items": list(filtering.items()),
            "mining_text": mining if isinstance(mining, str) else None,
            "mining_items": list(mining.items()) if isinstance(mining, dict) else [],
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
