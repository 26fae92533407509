"""Where a model's Debian retrieval errors are: how many top-1 misses rank a package of the query's own source higher.

    python benchmarks/diagnose_group_errors.py --model runs/abl/st_plus_nofilter-42/run/model \
        --task runs/dev_suite/en/retrieval_debian_dev_en --output benchmarks/results/group_errors_dev.json

The diagnosis behind ``negatives.group_negatives`` (issue 14, stop 43). The task folder is a Debian title ->
description retrieval split of ``benchmarks/make_dev_suite.py`` (the dev one, or a ``--debian-bucket`` one); each
description's Debian source is looked up in ``../shared/data/train_debian_descriptions_en`` (the split stores none).
The model reads queries and documents at 256 tokens (the bundled model's inference length, as every dev score is
read), float32, unit-normalised, scored by cosine. Counted: queries whose top document is not relevant; among them,
those with a document of the query's own source (a "sibling") ranked above its first relevant one, and those whose
top document is a sibling; and the documents that share a source with another document of the split.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def diagnose(scores: np.ndarray, relevant: list[set[int]], doc_sources: list[set[str]]) -> dict[str, int]:
    """Counts from a (queries x documents) score matrix, each query's relevant documents, each document's sources."""
    misses = sibling_above = sibling_top = 0
    for query, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        if int(order[0]) in relevant[query]:
            continue
        misses += 1
        own = set().union(*(doc_sources[d] for d in relevant[query]))
        first = next(rank for rank, doc in enumerate(order) if int(doc) in relevant[query])
        sibling_above += any(doc_sources[int(d)] & own for d in order[:first])
        sibling_top += bool(doc_sources[int(order[0])] & own)
    by_source: dict[str, int] = defaultdict(int)
    for sources in doc_sources:
        for source in sources:
            by_source[source] += 1
    shared = sum(1 for sources in doc_sources if any(by_source[s] > 1 for s in sources))
    return {"queries": len(relevant), "top1_misses": misses, "misses_with_a_sibling_above": sibling_above,
            "misses_with_a_sibling_on_top": sibling_top, "documents": len(doc_sources),
            "documents_sharing_a_source": shared}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--task", type=Path, required=True, help="a Debian retrieval folder of make_dev_suite.py")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    corpus = _jsonl(args.task / "corpus.jsonl")
    queries = _jsonl(args.task / "queries.jsonl")
    qrels = (args.task / "qrels" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    index = {doc["_id"]: i for i, doc in enumerate(corpus)}
    relevant_ids: dict[str, set[int]] = defaultdict(set)
    for line in qrels:
        query_id, doc_id, score = line.split("\t")
        if float(score) > 0:
            relevant_ids[query_id].add(index[doc_id])
    sources: dict[str, set[str]] = defaultdict(set)
    for row in _jsonl(args.shared / "train_debian_descriptions_en" / "train.jsonl.gz"):
        sources[row["positive"]].add(row["source"])
    doc_sources = [sources.get(doc["text"], set()) for doc in corpus]
    model = SentenceTransformer(str(args.model))
    model.max_seq_length = 256
    docs = model.encode([doc["text"] for doc in corpus], batch_size=64, normalize_embeddings=True)
    asked = model.encode([query["text"] for query in queries], batch_size=64, normalize_embeddings=True)
    counts = diagnose(asked @ docs.T, [relevant_ids[query["_id"]] for query in queries], doc_sources)
    result = {"model": str(args.model), "task": str(args.task), "max_seq_length": 256, "dtype": "float32", **counts}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
