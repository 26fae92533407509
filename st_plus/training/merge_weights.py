"""Choosing the merge weight on development tasks, and the recipe's ``merge`` stage ("no forgetting").

LM-Cocktail (Xiao et al., 2023, https://arxiv.org/abs/2311.13534) merges a fine-tuned model with its base and
chooses the weights on a few examples of the target tasks. Here the weight ``w`` of the fine-tuned model (the base
gets ``1 - w``) is chosen on local development task folders: every grid weight is evaluated with
:func:`st_plus.evaluation.evaluate_suite`, and the rule (:func:`select_merge_weight`) keeps the largest ``w`` at which
no development task falls below the base model by more than ``max_drop`` (0.003 = 0.3 points of a x100 main score);
when no grid weight gets there, the weight with the best mean score over the tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from st_plus.data import Task, load_task
from st_plus.evaluation import EVALUATORS, evaluate_suite
from st_plus.evaluation.seed_average import check_eval_seeds
from st_plus.models import extend_positions, load_model, position_count
from st_plus.models.merging import check_mergeable, merge_record, weighted_average

__all__ = ["DEFAULT_MERGE_GRID", "MergeGridPoint", "MergeWeightChoice", "choose_merge_weight", "select_merge_weight"]

logger = logging.getLogger(__name__)

DEFAULT_MERGE_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the quickstart needed 0.4 (results/merge.json)
RULE_WITHIN = "largest weight with no task below the base by more than max_drop"
RULE_BEST_MEAN = "no weight kept every task within max_drop: best mean"


@dataclass
class MergeGridPoint:
    """One evaluated weight.

    Attributes:
        weight: The fine-tuned model's weight (the base model's is ``1 - weight``).
        scores: Task name -> main score (0-1 scale).
        mean: Mean main score over the tasks.
        worst_drop: The largest ``base - merged`` over the tasks (negative when every task gained).
        worst_task: The task of ``worst_drop``.
    """

    weight: float
    scores: dict[str, float]
    mean: float
    worst_drop: float
    worst_task: str


@dataclass
class MergeWeightChoice:
    """What :func:`choose_merge_weight` returns.

    Attributes:
        weight: The chosen fine-tuned weight.
        rule: Which branch of the rule chose it (:data:`RULE_WITHIN` or :data:`RULE_BEST_MEAN`).
        max_drop: The tolerance the rule used (0-1 scale).
        base_scores: The base model's main scores (the reference).
        table: Every grid point, in grid order.
        eval_seeds: The evaluation seeds whose mean scored the seed-dependent tasks (``None``: MTEB's seed alone).
    """

    weight: float
    rule: str
    max_drop: float
    base_scores: dict[str, float]
    table: list[MergeGridPoint] = field(default_factory=list)
    eval_seeds: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the run record stores)."""
        return asdict(self)


def grid_point(weight: float, scores: Mapping[str, float], base_scores: Mapping[str, float]) -> MergeGridPoint:
    """Summarises one weight's scores against the base's (tasks missing from either side are skipped)."""
    drops = {task: base_scores[task] - score for task, score in scores.items() if task in base_scores}
    worst_task = max(drops, key=drops.get) if drops else ""
    mean = sum(scores.values()) / len(scores) if scores else float("nan")
    return MergeGridPoint(float(weight), dict(scores), mean, drops.get(worst_task, float("nan")), worst_task)


# scores are means of many examples: a drop of exactly the tolerance (15.40% -> 15.10% accuracy) comes out of the
# subtraction as 0.0030000000000000304; differences below this are float error, not a drop
SCORE_EPSILON = 1e-9


def within_tolerance(drop: float, max_drop: float) -> bool:
    """``drop <= max_drop``, up to float error in the scores' subtraction (:data:`SCORE_EPSILON`)."""
    return drop <= max_drop + SCORE_EPSILON


def select_merge_weight(table: Sequence[MergeGridPoint], *, max_drop: float = 0.003) -> tuple[float, str]:
    """The rule: the largest weight whose worst drop is at most ``max_drop``, else the weight with the best mean.

    Returns:
        ``(weight, rule)``, ``rule`` naming the branch taken.
    """
    if not table:
        raise ValueError("`table` is empty: evaluate at least one grid weight.")
    within = [point for point in table if within_tolerance(point.worst_drop, max_drop)]
    if within:
        return max(point.weight for point in within), RULE_WITHIN
    best = max(table, key=lambda point: (point.mean, point.weight))
    return best.weight, RULE_BEST_MEAN


def _check_grid(grid: Sequence[float]) -> list[float]:
    if not grid:
        raise ValueError("`grid` needs at least one weight in (0, 1], e.g. (0.5, 0.7, 0.9, 1.0).")
    for weight in grid:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise ValueError(f"`grid` weights must be in (0, 1] (the fine-tuned model's share), got {weight!r}.")
    return sorted({float(w) for w in grid})


def _scores(model: SentenceTransformer, tasks: Sequence[Task], **settings: Any) -> dict[str, float]:
    return {r.task_name: r.main_score for r in evaluate_suite(model, tasks, show_progress_bar=False, **settings)}


def choose_merge_weight(
    finetuned: SentenceTransformer | str | Path,
    base: SentenceTransformer | str | Path,
    dev_tasks: Sequence[str | Path | Task],
    *,
    grid: Sequence[float] = DEFAULT_MERGE_GRID,
    max_drop: float = 0.003,
    batch_size: int = 64,
    dtype: str = "float32",
    base_scores: Mapping[str, float] | None = None,
    eval_seeds: Sequence[int] | None = None,
) -> MergeWeightChoice:
    """Evaluates ``w * finetuned + (1 - w) * base`` on development tasks for each ``w`` in ``grid`` and picks one.

    The base model is evaluated too: it is the reference of "no forgetting". The rule is
    :func:`select_merge_weight`. Evaluating every grid point costs one suite evaluation each.

    Args:
        finetuned: The fine-tuned model (a model, a folder or ``"default"``).
        base: The model it started from (same architecture and tokenizer).
        dev_tasks: Development task folders (never the held-out test sets).
        grid: Fine-tuned weights to try, each in (0, 1] (1.0: the fine-tuned model unchanged).
        max_drop: Largest tolerated drop below the base on any task, 0-1 scale (0.003 = 0.3 points x100).
        batch_size: Encoding batch size.
        dtype: Encoding precision (``float32``, ``bfloat16`` or ``auto``: bfloat16 where native).
        base_scores: The base model's main scores on ``dev_tasks`` when already known (same settings); skips
            its evaluation.
        eval_seeds: Score classification and clustering dev tasks with each of these evaluation seeds and use the
            mean (``evaluate_suite(eval_seeds=...)``): on small dev tasks a single seed moves a score by about the
            tolerance, so the choice would follow the seed. ``None``: each task's own seed (MTEB's 42). Ignored
            (``None`` in the result, with a warning) when no dev task is a classification or clustering task.

    Returns:
        The chosen weight, the rule's branch and the table of all grid points.

    Raises:
        ValueError: A bad grid or ``max_drop``, no task, or models that cannot be merged.
    """
    weights = _check_grid(grid)
    seeds = check_eval_seeds(eval_seeds)
    if not max_drop >= 0:
        raise ValueError(f"`max_drop` must be >= 0 (0-1 scale; 0.003 = 0.3 points), got {max_drop}.")
    if not dev_tasks:
        raise ValueError("`dev_tasks` is empty: give the development task folders to choose the weight on.")
    tasks = [t if isinstance(t, Task) else load_task(t) for t in dev_tasks]  # validated before any encoding
    if seeds is not None and not any(EVALUATORS[t.task_type].seed_dependent for t in tasks):
        logger.warning("eval_seeds %s unused: no classification or clustering task among the dev tasks", seeds)
        seeds = None  # recorded as unused, so that the card does not claim an average
    names = [str(m) if not isinstance(m, SentenceTransformer) else label for m, label in
             ((finetuned, "fine-tuned model"), (base, "base model"))]  # fmt: skip
    finetuned = finetuned if isinstance(finetuned, SentenceTransformer) else load_model(finetuned, device="cpu")
    base = base if isinstance(base, SentenceTransformer) else load_model(base, device="cpu")
    check_mergeable([finetuned, base], names)
    settings = {"batch_size": batch_size, "dtype": dtype, "eval_seeds": seeds}
    base_scores = dict(base_scores) if base_scores is not None else _scores(base, tasks, **settings)
    missing = sorted({t.name for t in tasks} - set(base_scores))
    if missing:
        raise ValueError(f"`base_scores` lacks the tasks {missing}; evaluate the base on every dev task.")
    states = [finetuned.state_dict(), base.state_dict()]
    states = [{k: v.detach().clone() for k, v in state.items()} for state in states]
    table = []
    try:
        for weight in weights:
            finetuned.load_state_dict(weighted_average(states, [weight, 1.0 - weight]))
            point = grid_point(weight, _scores(finetuned, tasks, **settings), base_scores)
            logger.info(
                "merge weight %.2f: mean %.4f, worst drop %.4f (%s)", weight, point.mean, point.worst_drop,
                point.worst_task,
            )  # fmt: skip
            table.append(point)
    finally:
        finetuned.load_state_dict(states[0])  # the caller's model is left as it was given
    chosen, rule = select_merge_weight(table, max_drop=max_drop)
    logger.info("merge weight chosen: %.2f (%s)", chosen, rule)
    return MergeWeightChoice(chosen, rule, max_drop, base_scores, table, seeds)


def _positions(model: SentenceTransformer) -> int | None:
    try:
        return position_count(model)
    except ValueError:
        return None


def run_merge(
    spec: Any,
    model: SentenceTransformer,
    start_model: str | None,
    *,
    batch_size: int = 64,
    dtype: str = "float32",
) -> tuple[SentenceTransformer, dict[str, Any]]:
    """The recipe's ``merge`` stage: merges the trained model with ``spec.with_`` at ``spec.weight`` (or ``auto``).

    Args:
        spec: The stage's :class:`~st_plus.training.recipe.MergeSpec`.
        model: The trained model (the previous stage's).
        start_model: The recipe's ``model.base`` (what ``with: base`` means).
        batch_size: Encoding batch size of the development evaluation.
        dtype: Encoding precision of the development evaluation.

    Returns:
        The merged model and the stage's record (``seconds`` and ``extra``: partner, weights, rule, table).
    """
    start = time.perf_counter()
    partner = start_model if spec.with_ == "base" else spec.with_
    if partner is None:
        raise ValueError("`merge.with: base` needs `model.base` (a model pre-trained from scratch has no base).")
    base = load_model(partner, device="cpu")
    extra: dict[str, Any] = {"with": str(partner)}
    trained_positions, partner_positions = _positions(model), _positions(base)
    if trained_positions and partner_positions and partner_positions < trained_positions:
        extend_positions(base, trained_positions)  # a long-context stage copied the table; copy the partner's too
        base.max_seq_length = model.max_seq_length
        extra["partner_positions_extended_to"] = trained_positions
    if spec.weight == "auto":
        choice = choose_merge_weight(
            model, base, spec.dev_tasks, grid=spec.grid or DEFAULT_MERGE_GRID, max_drop=spec.max_drop,
            batch_size=batch_size, dtype=dtype, eval_seeds=spec.eval_seeds,
        )  # fmt: skip
        weight = choice.weight
        extra["choice"] = {**choice.to_dict(), "dev_tasks": [Path(t).name for t in spec.dev_tasks]}
    else:
        weight = float(spec.weight)
    check_mergeable([model, base], ["trained model", str(partner)])
    merged_state = weighted_average([model.state_dict(), base.state_dict()], [weight, 1.0 - weight])
    model.load_state_dict(merged_state)
    extra.update(merge_record(["trained model", str(partner)], [weight, 1.0 - weight], [weight, 1.0 - weight]))
    logger.info("Merged the trained model with %s at weight %.2f", partner, weight)
    return model, {"seconds": round(time.perf_counter() - start, 1), "extra": extra}
