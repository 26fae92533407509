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

Seeds (no model loaded): the files of one NAME are seeds of one arm, paired across arms by their order. Per
(chunker, mode): mean and standard deviation of doc nDCG@10 and of each late mode minus naive, with the per-seed
values, and for every arm after the first its paired difference from the first (`--json` writes the summary):
    python benchmarks/bench_late_chunking.py --seeds gold=a42.json gold=a43.json chunk=b42.json chunk=b43.json
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    parser.add_argument("--json", type=Path, help="Also write the rows (with --seeds: the summary) here")
    parser.add_argument("--per-query", type=Path,
                        help="Also write each query's document nDCG@10 per (chunker, mode) here (for "
                             "benchmarks/late_chunking_breakdown.py)")  # fmt: skip
    parser.add_argument("--table", nargs="+", metavar="NAME=FILE",
                        help="Print the markdown table of written --json files and exit")  # fmt: skip
    parser.add_argument("--seeds", nargs="+", metavar="NAME=FILE",
                        help="Summarise written --json files as seeds of arms (see above) and exit")  # fmt: skip
    args = parser.parse_args()
    if args.table and args.seeds:
        parser.error("--table and --seeds exclude each other")
    if (args.table or args.seeds) and args.per_query:
        parser.error("--per-query needs a scoring run, not --table / --seeds")
    if args.table or args.seeds:
        named = []
        for item in args.table or args.seeds:
            name, sep, path = item.partition("=")
            flag = "--table" if args.table else "--seeds"
            if not sep or not name or not path:
                parser.error(f"{flag} takes NAME=FILE, got {item!r}")
            if not Path(path).is_file():
                parser.error(f"{flag}: no file {path}")
            named.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
        if args.table:
            print(chunker_table(named))
            return
        try:
            summary = seeds_summary(named)
        except ValueError as exc:
            parser.error(f"--seeds: {exc}")
        print(seeds_table(summary))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return

    import torch

    from st_plus import load_model
    from st_plus.chunking import parse_chunker
    from st_plus.data import judged_subset, load_retrieval
    from st_plus.data.turn_spans import load_turn_spans
    from st_plus.evaluation import ChunkedRetrievalEvaluator, EmbeddingCache, per_query_ndcg
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
    rows, query_rows = [], []
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
            if args.per_query:  # only when asked: the aggregate scores above already ran trec_eval once
                query_rows.append({"chunker": spec, "variant": mode,
                                   "ndcg_at_10": per_query_ndcg(evaluator.relevant_docs, evaluator.doc_run, 10)})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if args.per_query:
        args.per_query.parent.mkdir(parents=True, exist_ok=True)
        record = {"split": args.split, "model": args.model, "data": str(args.data), "rows": query_rows}
        args.per_query.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


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


def seeds_summary(named: list[tuple[str, list[dict]]]) -> dict:
    """Per arm, chunker and mode: doc nDCG@10 over seeds, late modes minus naive, and paired differences.

    ``named``: (arm, rows of one --json file) in order; an arm's files are its seeds, paired across arms by position.
    Values are nDCG@10 x 100 (and chunk recall@10 x 100 where every seed file has it, in the JSON only); ``sd`` is
    the sample standard deviation (0 for one seed). Settings (chunker, mode)
    missing from some seed file of an arm are left out of it and listed under ``left_out``.
    """
    for field in ("split", "num_queries"):  # files of one evaluation set only (dev and test never mixed)
        seen = {r.get(field) for _, rows in named for r in rows}
        if len(seen) > 1:
            raise ValueError(f"the files differ in {field}: {sorted(map(str, seen))}")
    arms: dict[str, list[dict[tuple[str, str], float]]] = {}  # arm -> one {(chunker, mode): score} per seed
    recalls: dict[str, list[dict[tuple[str, str], float]]] = {}  # the same for chunk recall@10, where scored
    for name, rows in named:
        scores: dict[tuple[str, str], float] = {}
        recall: dict[tuple[str, str], float] = {}
        for r in rows:
            key = (r["chunker"], r["variant"])
            if key in scores:
                raise ValueError(f"a file has more than one row for {key[0]} {key[1]}")
            scores[key] = 100 * r["ndcg_at_10"]
            if "chunk_recall_at_10" in r:
                recall[key] = 100 * r["chunk_recall_at_10"]
        arms.setdefault(name, []).append(scores)
        recalls.setdefault(name, []).append(recall)
    counts = {name: len(files) for name, files in arms.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"every arm needs the same number of seed files, got {counts}")

    def stats(values: list[float]) -> dict:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return {"mean": round(statistics.mean(values), 2), "sd": round(sd, 2), "seeds": [round(v, 2) for v in values]}

    def column(files: list[dict], key: tuple[str, str]) -> list[float]:
        return [scores[key] for scores in files]

    summary: dict = {"arms": {}, "paired": {}, "left_out": {}}
    first = next(iter(arms))
    for name, files in arms.items():
        every = list(dict.fromkeys(key for scores in files for key in scores))
        keys = [k for k in every if all(k in scores for scores in files)]
        if len(keys) < len(every):  # a setting scored for some seeds only says nothing about the arm
            summary["left_out"][name] = [f"{c} {m}" for c, m in every if (c, m) not in keys]
        arm: dict = {}
        paired: dict = {}
        for chunker, mode in keys:
            values = column(files, (chunker, mode))
            entry = {"ndcg_at_10": stats(values)}
            if all((chunker, mode) in recall for recall in recalls[name]):
                entry["chunk_recall_at_10"] = stats(column(recalls[name], (chunker, mode)))
            if mode != "naive" and (chunker, "naive") in keys:
                naive = column(files, (chunker, "naive"))
                entry["minus_naive"] = stats([v - n for v, n in zip(values, naive, strict=True)])
            arm.setdefault(chunker, {})[mode] = entry
            if name != first and all((chunker, mode) in scores for scores in arms[first]):
                base = column(arms[first], (chunker, mode))
                paired.setdefault(chunker, {})[mode] = stats([v - b for v, b in zip(values, base, strict=True)])
        summary["arms"][name] = arm
        if name != first:
            summary["paired"][f"{name} - {first}"] = paired
    return summary


def seeds_table(summary: dict) -> str:
    """Markdown of :func:`seeds_summary`: mean ± sd (seeds) per arm, chunker and mode, then the paired rows."""

    def cell(s: dict) -> str:
        return f"{s['mean']:.2f} ± {s['sd']:.2f} ({', '.join(f'{v:.2f}' for v in s['seeds'])})"

    lines = ["| arm | chunker | mode | doc nDCG@10 | minus naive |", "|---|---|---|---:|---:|"]
    for name, arm in summary["arms"].items():
        for chunker, modes in arm.items():
            for mode, entry in modes.items():
                minus = cell(entry["minus_naive"]) if "minus_naive" in entry else ""
                lines.append(f"| {name} | {chunker} | {mode} | {cell(entry['ndcg_at_10'])} | {minus} |")
    for pair, chunkers in summary["paired"].items():
        for chunker, modes in chunkers.items():
            for mode, entry in modes.items():
                lines.append(f"| paired: {pair} | {chunker} | {mode} | {cell(entry)} | |")
    for name, settings in summary["left_out"].items():
        lines.append(f"\nLeft out of {name} (not in every seed file): {', '.join(settings)}")
    return "\n".join(lines)


_KEPT = {"ndcg_at_10", "recall_at_10", "mrr_at_10", "num_chunks", "chunk_recall_at_10", "chunk_ndcg_at_10",
         "chunk_hit_rate_at_10", "chunk_num_queries"}  # fmt: skip

if __name__ == "__main__":
    main()
