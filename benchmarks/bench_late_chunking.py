"""Late vs naive chunking on long meeting transcripts (QMSum), side by side in one run.

Data: ../shared/data/retrieval_qmsum_longdoc_en (232 meeting transcripts, 'Speaker: utterance' per line, median
~12k tokens; spans.jsonl gives each query's answer turns). The corpus is the meetings judged in the chosen split
(each split's queries ask about that split's meetings), cut to the first --max-docs of them with the queries
they answer (`st_plus.data.judged_subset`, as `st-plus eval --max-docs`); --model (default: the bundled
all-MiniLM-L6-v2; e.g. runs/long_context/model, the 2,048-token model of examples/recipes/long_context.yaml).

Settings per chunker:
    naive      each chunk encoded on its own (model.encode)
    late       late chunking in windows of --window tokens (default: the model's max_seq_length, 256 for the
               bundled model), no overlap
    long-late  long late chunking: --long-window tokens per window, --overlap context tokens shared (dropped
               before pooling)

Metrics: document nDCG@10 (a document scores its best chunk), chunk-level recall@10 (a chunk is relevant when its
lines overlap a gold answer turn range), chunk encoding wall time and its ratio to naive.

Usage (choose settings on dev, report test):
    nice -n 5 python benchmarks/bench_late_chunking.py --split dev --chunkers sentences:3 sentences:5 lines:5
    nice -n 5 python benchmarks/bench_late_chunking.py --split test --chunkers sentences:5

Goals: late >= naive + 2.0 document nDCG@10, better chunk recall@10, late wall time <= 1.2x naive.

Table of written files (no model loaded): one row per (name, chunker), each mode's document nDCG@10 and chunk
recall@10, and each late mode minus naive of the same chunker:
    python benchmarks/bench_late_chunking.py --table default=runs/a.json w512=runs/b.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QMSUM = REPO.parent / "shared" / "data" / "retrieval_qmsum_longdoc_en"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=QMSUM)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--chunkers", nargs="+", default=["sentences:5"])
    parser.add_argument("--modes", nargs="+", default=["naive", "late", "long-late"])
    parser.add_argument("--long-window", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--max-docs", type=int, default=None, help="Keep the first N judged meetings (corpus order)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--model", default="default", help="Model folder (default: the bundled model)")
    parser.add_argument("--window", type=int, default=None,
                        help="Window of `late` mode (default: the model's max_seq_length)")
    parser.add_argument("--extend-positions", type=int, default=None,
                        help="Copy the model's position table to this many positions first (no training: an arm "
                             "of the long-context ablation)")
    parser.add_argument("--json", type=Path, help="Also write the rows here")
    parser.add_argument("--table", nargs="+", metavar="NAME=FILE",
                        help="Print the markdown table of written --json files and exit")  # fmt: skip
    args = parser.parse_args()
    if args.table:
        named = []
        for item in args.table:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                parser.error(f"--table takes NAME=FILE, got {item!r}")
            if not Path(path).is_file():
                parser.error(f"--table: no file {path}")
            named.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
        print(chunker_table(named))
        return

    import torch

    from st_plus import load_model
    from st_plus.chunking import parse_chunker
    from st_plus.data import judged_subset, load_retrieval
    from st_plus.data.turn_spans import load_turn_spans
    from st_plus.evaluation import ChunkedRetrievalEvaluator, EmbeddingCache
    from st_plus.models import extend_positions

    torch.manual_seed(0)
    data = judged_subset(load_retrieval(args.data, split=args.split), args.max_docs)  # as `st-plus eval --max-docs`
    corpus = {row["_id"]: {"title": row["title"], "text": row["text"]} for row in data.corpus}
    qrels = data.qrels
    queries = {row["_id"]: row["text"] for row in data.queries}
    gold = load_turn_spans(args.data / "spans.jsonl")
    model = load_model(args.model, device="cpu")
    if args.extend_positions:
        extend_positions(model, args.extend_positions)
    cache = EmbeddingCache(model, batch_size=args.batch_size, dtype=args.dtype)
    print(f"{args.data.name} {args.split}: {len(queries)} queries, {len(corpus)} meetings; {args.dtype}, "
          f"batch {args.batch_size}, torch threads {torch.get_num_threads()}")  # fmt: skip
    header = ("chunker", "mode", "chunks", "doc nDCG@10", "chunk R@10", "encode s", "x naive")
    print("".join(f"{name:<{width}}" if width > 0 else f"{name:>{-width}}" for name, width in
                  zip(header, (14, 11, -7, -13, -12, -10, -9), strict=True)))  # fmt: skip
    rows = []
    for spec in args.chunkers:
        chunker = parse_chunker(spec, tokenizer=model.tokenizer, model=model)
        naive_seconds = None
        for mode in args.modes:
            settings = {"mode": "naive"} if mode == "naive" else {"mode": "late"}
            if mode == "late" and args.window:
                settings.update(window=args.window, overlap=0)
            if mode == "long-late":
                settings.update(window=args.long_window, overlap=args.overlap)
            evaluator = ChunkedRetrievalEvaluator(
                queries, corpus, qrels, chunker=chunker, gold_spans=gold, batch_size=args.batch_size, **settings
            )
            start = time.perf_counter()
            result = evaluator.evaluate(model, cache=cache)
            seconds = evaluator.encoding_seconds
            naive_seconds = seconds if mode == "naive" else naive_seconds
            ratio = seconds / naive_seconds if naive_seconds else float("nan")
            scores = result.scores
            print(f"{spec:<14}{mode:<11}{scores['num_chunks']:>7}{100 * scores['ndcg_at_10']:>13.2f}"
                  f"{100 * scores.get('chunk_recall_at_10', float('nan')):>12.2f}{seconds:>10.1f}{ratio:>9.2f}",
                  flush=True)  # fmt: skip
            rows.append({"split": args.split, "chunker": spec, **settings, "variant": mode, "encode_seconds": seconds,
                         "total_seconds": time.perf_counter() - start, "ratio_to_naive": ratio,
                         "num_queries": len(queries), "num_docs": len(corpus), "dtype": args.dtype,
                         "model": args.model, "max_seq_length": model.max_seq_length,
                         "extend_positions": args.extend_positions,
                         **{k: v for k, v in scores.items() if k in _KEPT}})  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def chunker_table(named: list[tuple[str, list[dict]]]) -> str:
    """Markdown: per (name, chunker) each mode's doc nDCG@10 (chunk R@10) and each late mode minus naive."""
    modes = [m for m in ("naive", "late", "long-late") if any(r["variant"] == m for _, rows in named for r in rows)]
    late = [m for m in modes if m != "naive"]
    header = ["model", "split", "chunker", *modes, *(f"{m} - naive" for m in late)]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|" + "---:|" * (len(header) - 3)]
    for name, rows in named:
        chunkers = list(dict.fromkeys(r["chunker"] for r in rows))
        for chunker in chunkers:
            by_mode = {r["variant"]: r for r in rows if r["chunker"] == chunker}
            split = next(iter(by_mode.values()))["split"]
            cells = [name, split, chunker]
            for mode in modes:
                r = by_mode.get(mode)
                recall = float("nan") if r is None else 100 * r.get("chunk_recall_at_10", float("nan"))
                cells.append("" if r is None else f"{100 * r['ndcg_at_10']:.2f} ({recall:.2f})")
            for mode in late:
                r, n = by_mode.get(mode), by_mode.get("naive")
                cells.append("" if r is None or n is None else f"{100 * (r['ndcg_at_10'] - n['ndcg_at_10']):+.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_KEPT = {"ndcg_at_10", "recall_at_10", "mrr_at_10", "num_chunks", "chunk_recall_at_10", "chunk_ndcg_at_10",
         "chunk_hit_rate_at_10", "chunk_num_queries"}  # fmt: skip

if __name__ == "__main__":
    main()
