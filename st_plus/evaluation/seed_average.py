"""Scores averaged over evaluation seeds: the classification and clustering protocols' randomness, made smaller.

MTEB fixes one seed (42) for the parts of a score that are drawn at random besides the embeddings: the undersampled
training rows of a classification probe (or the cross-validation folds) and the clustering bootstrap. Any other seed
is an equally valid evaluation, and on small or hard tasks the seed moves the score by more than the effects a
development decision looks for (``benchmarks/bench_eval_noise.py``: up to 2.7 points on the start model's
Chinese classification dev tasks). ``evaluate_suite(..., eval_seeds=[...])`` scores such a task once per seed and
reports the mean: a score for choosing, no longer MTEB's own number. Each seed draws its own rows (a classification
probe's training rows, the clustering sample); they go through one embedding cache, so a text is encoded once
however many seeds use it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from st_plus.evaluation._base import TaskResult

__all__ = ["MAX_SEED", "EvalSeedError", "average_over_seeds", "check_eval_seeds"]

#: The largest seed numpy and scikit-learn accept (``2**32 - 1``).
MAX_SEED = 2**32 - 1


class EvalSeedError(ValueError):
    """A bad list of evaluation seeds.

    ``index`` is the offending seed's position (``None``: the list itself) and ``reason`` the rule it breaks, for
    callers that name the place themselves (a recipe's ``FILE:LINE: key[i]``).
    """

    def __init__(self, message: str, index: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.index, self.reason = index, reason

    def __reduce__(self):  # pickle and copy keep the position and the rule, not the message alone
        return type(self), (str(self), self.index, self.reason)


def check_eval_seeds(eval_seeds: Sequence[int] | None) -> list[int] | None:
    """Validates evaluation seeds: ``None``, or a non-empty list of distinct integers in [0, 2**32 - 1] (as a list).

    Raises:
        EvalSeedError: (a ``ValueError``) the first rule broken, with the position of the seed that breaks it.
    """
    if eval_seeds is None:
        return None
    seeds = list(eval_seeds)
    if not seeds:
        raise EvalSeedError(
            "`eval_seeds` is empty: give at least one seed (MTEB's is 42), or None for MTEB's alone.",
            index=None, reason="needs at least one seed (or remove it for MTEB's seed 42 alone)",
        )  # fmt: skip
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise EvalSeedError(
                f"`eval_seeds` must be integers in [0, {MAX_SEED}] (numpy's seeds), got {seed!r}.",
                index=i, reason=f"must be in [0, {MAX_SEED}] (numpy's seeds), got {seed!r}",
            )  # fmt: skip
    for i, seed in enumerate(seeds):
        if seed in seeds[:i]:
            repeated = sorted({s for s in seeds if seeds.count(s) > 1})
            raise EvalSeedError(
                f"`eval_seeds` repeats {repeated}: each seed counts once in the mean.",
                index=i, reason=f"repeats seed {seed}: each seed counts once in the mean",
            )  # fmt: skip
    return seeds


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mean_metrics(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of every metric that is a number under at least one seed; ``None`` where every seed had none."""
    out: dict[str, Any] = {}
    for key in per_seed[0]:
        values = [scores.get(key) for scores in per_seed]
        numbers = [float(v) for v in values if _is_number(v)]
        if numbers:
            out[key] = math.fsum(numbers) / len(numbers)
        elif all(v is None for v in values):
            out[key] = None
    return out


def average_over_seeds(results: Sequence[TaskResult], eval_seeds: Sequence[int]) -> TaskResult:
    """One task's results under several evaluation seeds (one model), as one result of their mean.

    Every numeric metric, at every dimension, becomes its mean over the seeds; a metric that is ``None`` under every
    seed stays ``None``. Per-seed details that are not numbers (lists of per-experiment scores) are left out, and a
    ``*_std`` metric becomes the mean of each seed's own spread. The full dimension's scores gain ``eval_seeds``,
    ``main_score_per_eval_seed`` (``{seed: main score}``) and ``main_score_std_over_eval_seeds`` (the sample standard
    deviation of those, 0 for one seed); the evaluation time is the sum.

    Raises:
        ValueError: No result, a count that differs from the seeds', or results of different tasks or dimensions.
    """
    seeds = check_eval_seeds(eval_seeds)
    if not results or len(results) != len(seeds):
        raise ValueError(f"Need one result per seed: {len(results)} results for {len(seeds)} seeds.")
    first = results[0]
    for result in results[1:]:
        if (result.task_name, result.main_score_name) != (first.task_name, first.main_score_name):
            raise ValueError(f"Results of different tasks: {first.task_name!r} and {result.task_name!r}.")
        if set(result.scores_by_dim) != set(first.scores_by_dim):
            raise ValueError(f"{first.task_name}: the seeds' results hold different dimensions.")
    full_dim = next(iter(first.scores_by_dim))
    scores_by_dim = {dim: _mean_metrics([r.scores_by_dim[dim] for r in results]) for dim in first.scores_by_dim}
    scores = scores_by_dim[full_dim]
    scores["eval_seeds"] = seeds
    scores["main_score_per_eval_seed"] = {str(s): r.main_score for s, r in zip(seeds, results, strict=True)}
    mains = [r.main_score for r in results]
    scores["main_score_std_over_eval_seeds"] = statistics.stdev(mains) if len(mains) > 1 else 0.0
    return TaskResult(
        task_name=first.task_name,
        task_type=first.task_type,
        main_score_name=first.main_score_name,
        scores=scores,
        scores_by_dim=scores_by_dim,
        num_samples=first.num_samples,
        evaluation_time=sum(r.evaluation_time for r in results),
        split=first.split,
        language=first.language,
    )
