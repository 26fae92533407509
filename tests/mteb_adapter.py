"""Builds MTEB's own task objects from st_plus task folders, so that MTEB can score the same local data.

Used by the parity tests and by benchmarks/bench_eval_vs_mteb.py. Needs the `test` extra (mteb).
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from st_plus.data import Task
from st_plus.evaluation.reranking import candidate_ids

_MAIN_SCORES = {
    "STS": "cosine_spearman",
    "PairClassification": "max_ap",
    "Classification": "accuracy",
    "Clustering": "v_measure",
    "Retrieval": "ndcg_at_10",
    "Reranking": "map_at_1000",
}


def _metadata(task: Task, split: str):
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(
        name=task.name,
        description=f"st_plus parity task built from {task.folder}",
        dataset={"path": f"local/{task.name}", "revision": "local"},
        type=task.task_type,
        category="t2t",
        modalities=["text"],
        eval_splits=[split],
        eval_langs=["eng-Latn"],
        main_score=_MAIN_SCORES[task.task_type],
    )


def make_mteb_task(task: Task, **settings: Any):
    """An MTEB task object over ``task``'s data; ``settings`` set MTEB task attributes (e.g. ``n_experiments``)."""
    from mteb.abstasks import (
        AbsTaskClassification,
        AbsTaskClustering,
        AbsTaskPairClassification,
        AbsTaskRetrieval,
        AbsTaskSTS,
    )

    split = task.split
    kind = task.task_type
    data = task.data
    if kind == "STS":
        base, dataset = AbsTaskSTS, {split: data}
        settings.setdefault("min_score", task.descriptor.score_range[0])
        settings.setdefault("max_score", task.descriptor.score_range[1])
    elif kind == "PairClassification":
        base, dataset = AbsTaskPairClassification, {split: data.rename_column("label", "labels")}
    elif kind == "Classification":
        base = AbsTaskClassification
        if data["train"] is None:
            dataset = {split: data["eval"]}
            settings.update(is_cross_validation=True, train_split=split)
        else:
            dataset = {"train": data["train"], split: data["eval"]}
    elif kind == "Clustering":
        base = AbsTaskClustering
        dataset = {split: data.rename_columns({"text": "sentences", "label": "labels"})}
        settings.setdefault("max_document_to_embed", 2048)
        settings.setdefault("max_fraction_of_documents_to_embed", None)
    elif kind == "Retrieval":
        base = AbsTaskRetrieval
        corpus = Dataset.from_dict(
            {"id": data.corpus["_id"], "title": data.corpus["title"], "text": data.corpus["text"]}
        )
        queries = Dataset.from_dict({"id": data.queries["_id"], "text": data.queries["text"]})
        dataset = {
            "default": {split: {"corpus": corpus, "queries": queries, "relevant_docs": data.qrels, "top_ranked": None}}
        }
    else:  # Reranking: MTEB v2 runs it through retrieval with each query's candidates as top_ranked
        base = AbsTaskRetrieval
        ids, texts, qrels, top_ranked = [], [], {}, {}
        for i, row in enumerate(data):
            candidates = list(row["positive"]) + list(row["negative"])
            doc_ids = candidate_ids(i, len(candidates))
            ids += doc_ids
            texts += candidates
            qrels[f"q{i}"] = dict(zip(doc_ids, [1] * len(row["positive"]) + [0] * len(row["negative"]), strict=False))
            top_ranked[f"q{i}"] = doc_ids
        corpus = Dataset.from_dict({"id": ids, "title": [""] * len(ids), "text": texts})
        queries = Dataset.from_dict({"id": [f"q{i}" for i in range(len(data))], "text": data["query"]})
        dataset = {
            "default": {
                split: {"corpus": corpus, "queries": queries, "relevant_docs": qrels, "top_ranked": top_ranked}
            }
        }

    metadata = _metadata(task, split)

    class LocalTask(base):  # type: ignore[misc, valid-type]
        def load_data(self, **kwargs: Any) -> None:
            self.dataset = dataset
            self.data_loaded = True

    LocalTask.metadata = metadata
    for key, value in settings.items():
        setattr(LocalTask, key, value)
    return LocalTask()


def run_mteb(task: Task, model, *, batch_size: int = 32, **settings: Any) -> dict[str, Any]:
    """MTEB's scores (the ``default`` subset) of ``model`` on ``task``."""
    from mteb.models import SentenceTransformerEncoderWrapper

    mteb_task = make_mteb_task(task, **settings)
    mteb_task.load_data()
    scores = mteb_task.evaluate(
        SentenceTransformerEncoderWrapper(model), task.split, encode_kwargs={"batch_size": batch_size}
    )
    return scores["default"]
