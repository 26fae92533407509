"""Late minus naive chunking per query: how much of a split's difference the choice of meetings and queries explains.

Reads the per-query files of ``bench_late_chunking.py --per-query`` (each query's document nDCG@10 per chunker and
mode). Files of one split are seeds of one model recipe, paired by query. For one chunker and one late mode:

- per split: the mean over queries of (late - naive), averaged over seeds (it equals the difference of the
  aggregate scores), and each seed's value;
- its 95% interval under a cluster bootstrap over meetings (the split's meetings drawn with replacement, each with
  all its queries; queries of one meeting are not independent) and, for comparison, a bootstrap over queries;
- with two splits: the bootstrap interval of their difference and of the pooled mean over both (meetings resampled
  within each split, the same draws);
- a descriptive breakdown by query type (its opening words) and meeting series (AMI / ICSI / committee, from the
  meeting id): number of queries, mean naive and late nDCG@10, late - naive. No setting is chosen from it.

    python benchmarks/late_chunking_breakdown.py runs/pq/dev/gold-4?.queries.json runs/pq/test/gold-4?.queries.json \\
        --chunker sentences:2 --mode late --json benchmarks/results/long_context_chunk_targets/breakdown.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QMSUM = REPO.parent / "shared" / "data" / "retrieval_qmsum_longdoc_en"
RESAMPLES = 10_000


def query_type(text: str) -> str:
    """The query's kind from its opening words: summarize / what did X ... / what (other) / why / how / other."""
    words = text.lower().replace("’", "'").split()
    if not words:
        return "other"
    if words[0].startswith("summar"):
        return "summarize"
    if words[0] in ("what", "what's"):
        return "what did X ..." if words[:2] == ["what", "did"] else "what (other)"
    return words[0] if words[0] in ("why", "how") else "other"


def meeting_series(meeting_id: str) -> str:
    """QMSum's source corpus from the meeting id: AMI (ES/IS/TS...), ICSI (B...), committee (the rest)."""
    if re.match(r"^(ES|IS|TS|EN)\d", meeting_id):
        return "AMI (product design)"
    if re.match(r"^B[a-z]{2}\d", meeting_id):
        return "ICSI (research)"
    return "committee (parliament)"


def load_differences(files: list[dict], chunker: str, mode: str) -> tuple[dict[str, list[float]], dict[str, list]]:
    """``{query_id: [late - naive per seed]}`` and ``{query_id: [naive per seed, late per seed]}`` of one split."""
    diffs: dict[str, list[float]] = defaultdict(list)
    scores: dict[str, list] = defaultdict(lambda: [[], []])
    query_sets = []
    for record in files:
        by_mode = {row["variant"]: row["ndcg_at_10"] for row in record["rows"] if row["chunker"] == chunker}
        if "naive" not in by_mode or mode not in by_mode:
            raise ValueError(f"{record['_path']}: no naive and {mode} rows for chunker {chunker}")
        naive, late = by_mode["naive"], by_mode[mode]
        if set(naive) != set(late):
            raise ValueError(f"{record['_path']}: naive and {mode} rows score different queries")
        query_sets.append(set(naive))
        for query_id in naive:
            diffs[query_id].append(late[query_id] - naive[query_id])
            scores[query_id][0].append(naive[query_id])
            scores[query_id][1].append(late[query_id])
    if any(queries != query_sets[0] for queries in query_sets):
        raise ValueError("the seed files of one split score different queries")
    return dict(diffs), dict(scores)


def bootstrap_totals(
    values: np.ndarray, groups: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Sum of ``values`` and number of values in each of RESAMPLES draws of whole groups with replacement.

    Each draw takes as many groups as there are; ``sums / counts`` is the mean over the drawn values (groups of
    different sizes weigh by their size, as in the mean over all values).
    """
    labels = np.unique(groups)
    members = [np.flatnonzero(groups == label) for label in labels]
    sums = np.array([values[index].sum() for index in members])
    counts = np.array([len(index) for index in members])
    draws = rng.integers(0, len(labels), size=(RESAMPLES, len(labels)))
    return sums[draws].sum(axis=1), counts[draws].sum(axis=1)


def bootstrap_means(values: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Means of ``values`` over RESAMPLES draws of whole groups with replacement (see :func:`bootstrap_totals`)."""
    sums, counts = bootstrap_totals(values, groups, rng)
    return sums / counts


def interval(samples: np.ndarray) -> list[float]:
    """The 2.5th and 97.5th percentiles of bootstrap means (fractions), x100 and rounded to 2 decimals."""
    return [round(float(np.percentile(samples, 2.5)) * 100, 2), round(float(np.percentile(samples, 97.5)) * 100, 2)]


def split_summary(
    diffs: dict[str, list[float]], scores: dict[str, list], meeting_of: dict[str, str], text_of: dict[str, str],
    models: list[str], rng: np.random.Generator,
) -> tuple[dict, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """One split's summary (see the module docstring) and its cluster bootstrap's (sums, counts)."""
    query_ids = sorted(diffs)
    per_query = np.array([statistics.mean(diffs[q]) for q in query_ids])
    meetings = np.array([meeting_of[q] for q in query_ids])
    seeds = len(next(iter(diffs.values())))
    totals = bootstrap_totals(per_query, meetings, rng)
    cluster = totals[0] / totals[1]
    by_query = bootstrap_means(per_query, np.arange(len(query_ids)), rng)
    breakdown = {}
    keys = {"query_type": lambda q: query_type(text_of[q]), "series": lambda q: meeting_series(meeting_of[q])}
    for name, key in keys.items():
        groups: dict[str, list[str]] = defaultdict(list)
        for q in query_ids:
            groups[key(q)].append(q)
        breakdown[name] = {
            label: {
                "queries": len(members),
                "meetings": len({meeting_of[q] for q in members}),
                "naive": round(100 * statistics.mean(statistics.mean(scores[q][0]) for q in members), 2),
                "late": round(100 * statistics.mean(statistics.mean(scores[q][1]) for q in members), 2),
                "late_minus_naive": round(100 * statistics.mean(statistics.mean(diffs[q]) for q in members), 2),
            }
            for label, members in sorted(groups.items(), key=lambda item: -len(item[1]))
        }
    summary = {
        "queries": len(query_ids),
        "meetings": len(set(meetings)),
        "seeds": seeds,
        "late_minus_naive": round(100 * float(per_query.mean()), 2),
        "late_minus_naive_unrounded": 100 * float(per_query.mean()),
        "per_seed": [round(100 * statistics.mean(diffs[q][s] for q in query_ids), 2) for s in range(seeds)],
        "seed_models": models,
        "interval_95_meetings": interval(cluster),
        "interval_95_queries": interval(by_query),
        "queries_late_better": int((per_query > 1e-9).sum()),
        "queries_naive_better": int((per_query < -1e-9).sum()),
        "queries_tied": int((np.abs(per_query) <= 1e-9).sum()),
        "queries_tied_at_top": sum(  # the gold document first both ways, for every seed
            abs(statistics.mean(diffs[q])) <= 1e-9 and min(scores[q][0] + scores[q][1]) == 1.0 for q in query_ids),
        **breakdown,
    }
    return summary, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="per-query files of bench_late_chunking.py --per-query")
    parser.add_argument("--chunker", required=True)
    parser.add_argument("--mode", default="late", choices=("late", "long-late"))
    parser.add_argument("--data", type=Path, default=QMSUM)
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from st_plus.data import load_retrieval

    if len(set(map(Path.resolve, args.files))) < len(args.files):
        parser.error("a file is given twice: each file is one seed")
    by_split: dict[str, list[dict]] = defaultdict(list)
    for path in args.files:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["_path"] = str(path)
        by_split[record["split"]].append(record)
    rng = np.random.default_rng(args.seed)
    result = {"chunker": args.chunker, "mode": args.mode, "resamples": RESAMPLES, "bootstrap_seed": args.seed,
              "files": {split: [r["_path"] for r in records] for split, records in by_split.items()}, "splits": {}}
    totals = {}
    for split, records in by_split.items():
        data = load_retrieval(args.data, split=split)
        meeting_of = {q: next(iter(docs)) for q, docs in data.qrels.items()}
        text_of = {row["_id"]: row["text"] for row in data.queries}
        try:
            diffs, scores = load_differences(records, args.chunker, args.mode)
        except ValueError as exc:
            parser.error(str(exc))
        models = [record["model"] for record in records]
        result["splits"][split], totals[split] = split_summary(diffs, scores, meeting_of, text_of, models, rng)
    if len(totals) == 2:
        # the difference of the splits' means and their pooled mean, from the same draws: meetings are resampled
        # within each split (independent splits), so every pooled draw keeps both splits' sizes
        (a, (sums_a, counts_a)), (b, (sums_b, counts_b)) = totals.items()
        split_a, split_b = result["splits"][a], result["splits"][b]
        value = split_a["late_minus_naive_unrounded"] - split_b["late_minus_naive_unrounded"]
        result["difference"] = {"splits": f"{a} - {b}", "value": round(value, 2),
                                "interval_95_meetings": interval(sums_a / counts_a - sums_b / counts_b)}  # fmt: skip
        queries = split_a["queries"] + split_b["queries"]
        pooled = (split_a["late_minus_naive_unrounded"] * split_a["queries"]
                  + split_b["late_minus_naive_unrounded"] * split_b["queries"]) / queries  # fmt: skip
        result["pooled"] = {"queries": queries, "late_minus_naive": round(pooled, 2),
                            "interval_95_meetings": interval((sums_a + sums_b) / (counts_a + counts_b))}  # fmt: skip
    print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def table(result: dict) -> str:
    lines = [f"{result['mode']} - naive, {result['chunker']}, document nDCG@10 x100 (mean over seeds)", "",
             "| split | queries | meetings | late - naive | per seed | 95% interval, meetings resampled | "
             "95% interval, queries resampled | queries late / naive better / tied |",
             "|---|---:|---:|---:|---|---|---|---|"]
    for split, s in result["splits"].items():
        lines.append(f"| {split} | {s['queries']} | {s['meetings']} | {s['late_minus_naive']:+.2f} | "
                     f"{', '.join(f'{v:+.2f}' for v in s['per_seed'])} | "
                     f"[{s['interval_95_meetings'][0]:+.2f}, {s['interval_95_meetings'][1]:+.2f}] | "
                     f"[{s['interval_95_queries'][0]:+.2f}, {s['interval_95_queries'][1]:+.2f}] | "
                     f"{s['queries_late_better']} / {s['queries_naive_better']} / {s['queries_tied']} |")  # fmt: skip
    if "difference" in result:
        d, p = result["difference"], result["pooled"]
        lines.append(f"| {d['splits']} | | | {d['value']:+.2f} | | [{d['interval_95_meetings'][0]:+.2f}, "
                     f"{d['interval_95_meetings'][1]:+.2f}] | | |")  # fmt: skip
        lines.append(f"| pooled | {p['queries']} | | {p['late_minus_naive']:+.2f} | | "
                     f"[{p['interval_95_meetings'][0]:+.2f}, {p['interval_95_meetings'][1]:+.2f}] | | |")
    for name in ("query_type", "series"):
        splits = list(result["splits"])
        lines += ["", "| " + name.replace("_", " ") + " | " + " | ".join(
            f"{split}: queries | {split}: naive | {split}: late | {split}: late - naive" for split in splits) + " |",
            "|---|" + "---:|" * (4 * len(splits))]  # fmt: skip
        labels = list(dict.fromkeys(label for split in splits for label in result["splits"][split][name]))
        for label in labels:
            cells = []
            for split in splits:
                g = result["splits"][split][name].get(label)
                if g:
                    diff = g["late_minus_naive"]
                    cells += [str(g["queries"]), f"{g['naive']:.2f}", f"{g['late']:.2f}", f"{diff:+.2f}"]
                else:
                    cells += ["0", "", "", ""]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
