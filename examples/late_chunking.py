"""Late vs naive chunking on long meeting transcripts, from Python (the shipped QMSum dev slice).

    python examples/late_chunking.py                         # 8 meetings, 39 questions (a few minutes on a CPU)
    python examples/late_chunking.py --fast                  # 2 meetings, 10 questions
    python examples/late_chunking.py --model PATH --window 2048 --chunker lines:10

Steps: load the slice (`examples/data/retrieval_qmsum_longdoc_en`: transcripts of ~12k tokens, questions, gold
answer turns), chunk the opening of one transcript and embed its chunks both ways with `LateChunkingEncoder`,
then score both modes with `ChunkedRetrievalEvaluator`: document nDCG@10 (a meeting scores its best chunk) and
chunk recall@10 (a chunk is relevant when it overlaps a gold answer turn). The full run gives the numbers of
`st-plus eval --chunking late|naive --chunker sentences:5 examples/data/retrieval_qmsum_longdoc_en`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from st_plus import load_model
from st_plus.chunking import LateChunkingEncoder, parse_chunker
from st_plus.data import judged_subset, load_task
from st_plus.data.turn_spans import load_turn_spans
from st_plus.evaluation import ChunkedRetrievalEvaluator, EmbeddingCache

DATA = Path(__file__).resolve().parent / "data" / "retrieval_qmsum_longdoc_en"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--fast", action="store_true", help="Only the first 2 meetings and their questions")
    parser.add_argument("--chunker", default="sentences:5", help="sentences:N, lines:N, tokens:SIZE[:OVERLAP], ...")
    parser.add_argument("--window", type=int, default=None, help="Late chunking tokens per pass (default: model's)")
    parser.add_argument("--overlap", type=int, default=0, help="Long late chunking: tokens shared by windows")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()

    task = load_task(DATA)  # task.json: Retrieval, dev split
    data = judged_subset(task.data, 2 if args.fast else None)
    corpus = {row["_id"]: {"title": row["title"], "text": row["text"]} for row in data.corpus}
    queries = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    model = load_model(args.model)
    chunker = parse_chunker(args.chunker, tokenizer=model.tokenizer, model=model)
    print(f"{DATA.name} ({task.split}): {len(corpus)} meetings, {len(queries)} questions; chunker {args.chunker}")

    # 1. chunk and encode the opening of one meeting both ways: the same chunks, different embeddings
    first_id, first = next(iter(corpus.items()))
    opening = "\n".join(first["text"].splitlines()[:60])  # the first 60 turns
    encoder = LateChunkingEncoder(model, window=args.window, overlap=args.overlap, dtype=args.dtype)
    late, naive = (encoder.encode_chunks({first_id: opening}, chunker, mode=m)[0] for m in ("late", "naive"))
    cosines = np.sum(late.embeddings * naive.embeddings, axis=1) / (
        np.linalg.norm(late.embeddings, axis=1) * np.linalg.norm(naive.embeddings, axis=1)
    )
    print(f"{first_id}, first 60 turns: {len(late.chunks)} chunks, e.g. {late.chunks[0].text[:60]!r}...; "
          f"mean cosine(late, naive) per chunk {cosines.mean():.3f}")  # fmt: skip

    # 2. evaluate retrieval over every meeting's chunks, late vs naive
    gold = load_turn_spans(DATA / "spans.jsonl")
    cache = EmbeddingCache(model, dtype=args.dtype, show_progress_bar=False)  # queries are encoded once
    print(f"{'mode':<7}{'chunks':>8}{'doc nDCG@10':>13}{'chunk R@10':>12}{'encode s':>10}")
    for mode in ("naive", "late"):
        window = {"window": args.window, "overlap": args.overlap} if mode == "late" else {}
        evaluator = ChunkedRetrievalEvaluator(
            queries, corpus, data.qrels, chunker=chunker, mode=mode, gold_spans=gold, show_progress_bar=False, **window
        )
        scores = evaluator.evaluate(model, cache=cache).scores
        print(f"{mode:<7}{scores['num_chunks']:>8}{100 * scores['ndcg_at_10']:>13.2f}"
              f"{100 * scores['chunk_recall_at_10']:>12.2f}{evaluator.encoding_seconds:>10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
