"""Ranking metrics through ``pytrec_eval`` (as MTEB computes them), plus MRR."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

MTEB_K_VALUES = (1, 3, 5, 10, 20, 100, 1000)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def check_k_values(k_values: Sequence[int], main_score: str | None = None) -> list[int]:
    """Validates metric cut-offs (positive integers; the main score's ``_at_{k}`` among them); returns them sorted."""
    values = list(k_values)
    if not values or any(isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1 for k in values):
        raise ValueError(f"`k_values` must be positive integers, got {values}.")
    if main_score and "_at_" in main_score:
        suffix = main_score.rsplit("_at_", 1)[1]
        if suffix.isdigit() and int(suffix) not in values:
            raise ValueError(f"`main_score` {main_score!r} needs k={suffix} in `k_values`, got {sorted(values)}.")
    return sorted({int(k) for k in values})


def mrr_at_k(qrels: Qrels, run: Run, k_values: Sequence[int]) -> dict[int, float]:
    """Mean reciprocal rank of the first relevant document within the top k.

    Ties in score break by document id, descending, as ``trec_eval`` (and MTEB) rank them.
    """
    totals = dict.fromkeys(k_values, 0.0)
    for query_id, doc_scores in run.items():
        ranked = sorted(doc_scores.items(), key=lambda item: (item[1], item[0]), reverse=True)[: max(k_values)]
        relevant = {doc_id for doc_id, rel in qrels[query_id].items() if rel > 0}
        first = next((rank for rank, (doc_id, _) in enumerate(ranked, start=1) if doc_id in relevant), None)
        for k in k_values:
            if first is not None and first <= k:
                totals[k] += 1.0 / first
    return {k: total / max(len(run), 1) for k, total in totals.items()}


def retrieval_scores(qrels: Qrels, run: Run, k_values: Sequence[int] = MTEB_K_VALUES) -> dict[str, float]:
    """nDCG, MAP, recall, precision and hit rate at each k (``pytrec_eval``, rounded to 5 decimals as MTEB), MRR.

    Args:
        qrels: ``{query_id: {doc_id: relevance}}``.
        run: ``{query_id: {doc_id: score}}`` of the retrieved documents; every query in it must be in ``qrels``.
        k_values: Cut-offs.

    Returns:
        ``ndcg_at_{k}``, ``map_at_{k}``, ``recall_at_{k}``, ``precision_at_{k}``, ``hit_rate_at_{k}``,
        ``mrr_at_{k}`` and ``accuracy`` (= recall at 1, as MTEB).

    Raises:
        ValueError: A cut-off below 1, or a query of the run without qrels.
    """
    k_values = check_k_values(k_values)  # trec_eval aborts the whole process on a cut-off below 1
    cutoffs = ",".join(str(k) for k in k_values)
    measures = {f"map_cut.{cutoffs}", f"ndcg_cut.{cutoffs}", f"recall.{cutoffs}", f"P.{cutoffs}", f"success.{cutoffs}"}
    per_query = _trec_eval(qrels, run, measures)
    n = max(len(per_query), 1)
    scores: dict[str, float] = {}
    for name, trec_name in (
        ("ndcg", "ndcg_cut"),
        ("map", "map_cut"),
        ("recall", "recall"),
        ("precision", "P"),
        ("hit_rate", "success"),
    ):
        for k in k_values:
            scores[f"{name}_at_{k}"] = round(sum(q[f"{trec_name}_{k}"] for q in per_query.values()) / n, 5)
    for k, value in mrr_at_k(qrels, run, k_values).items():
        scores[f"mrr_at_{k}"] = value
    if 1 in k_values:
        scores["accuracy"] = scores["recall_at_1"]
    return scores


def per_query_ndcg(qrels: Qrels, run: Run, k: int = 10) -> dict[str, float]:
    """``{query_id: nDCG@k}`` of every query of the run (``pytrec_eval``, unrounded; their mean is ``ndcg_at_{k}``).

    Raises:
        ValueError: ``k`` below 1, or a query of the run without qrels.
    """
    (k,) = check_k_values([k])
    per_query = _trec_eval(qrels, run, {f"ndcg_cut.{k}"})
    return {query_id: values[f"ndcg_cut_{k}"] for query_id, values in per_query.items()}


def _trec_eval(qrels: Qrels, run: Run, measures: set[str]) -> dict[str, dict[str, float]]:
    try:
        import pytrec_eval
    except ImportError:  # pragma: no cover - a core dependency
        raise ImportError("Retrieval metrics need `pytrec-eval-terrier`: pip install pytrec-eval-terrier") from None
    missing = [query_id for query_id in run if query_id not in qrels]
    if missing:
        raise ValueError(f"{len(missing)} queries of the run have no qrels, e.g. {missing[:3]}.")
    evaluator = pytrec_eval.RelevanceEvaluator({q: dict(d) for q, d in qrels.items()}, measures)
    return evaluator.evaluate({q: {d: float(s) for d, s in docs.items()} for q, docs in run.items()})
