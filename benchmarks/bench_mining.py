"""Mining speed: st_plus dense vs sentence-transformers' mine_hard_negatives, and BM25 / hybrid timings.

Data: the Debian title -> description pairs (../shared/data/train_debian_descriptions_en), first N rows; the bundled
model; dense exact search, band [10, 50), 5 negatives, top sampling, relative margin 0.05 (= st_plus ratio 0.95).

Usage:
    python benchmarks/bench_mining.py [--rows 5000] [--bm25-rows 10000 50000]

Prints both wall times and their ratio (goal: st_plus / sentence-transformers <= 1.0, i.e. speed ratio >= 1.0),
whether the negatives are identical, and BM25 / hybrid mining times. Noisy machine: compare within one run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = REPO.parent / "shared" / "data" / "train_debian_descriptions_en" / "train.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--bm25-rows", type=int, nargs="*", default=[10000, 50000])
    parser.add_argument("--data", type=Path, default=DEBIAN)
    args = parser.parse_args()

    from sentence_transformers.util import mine_hard_negatives as st_mine

    from st_plus import load_model
    from st_plus.data import load_training_rows
    from st_plus.mining import mine_hybrid_negatives

    all_rows = load_training_rows(args.data, keep_columns=["source"])
    rows = all_rows.select(range(min(args.rows, len(all_rows))))
    pairs = rows.select_columns(["anchor", "positive"])
    model = load_model("default", device="cpu")
    settings = {"range_min": 10, "range_max": 50, "num_negatives": 5}

    start = time.perf_counter()
    theirs = st_mine(pairs, model, sampling_strategy="top", relative_margin=0.05, output_format="n-tuple",
                     verbose=False, batch_size=64, **settings)  # fmt: skip
    st_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ours = mine_hybrid_negatives(pairs, model, method="dense", sampling="top", max_positive_ratio=0.95, **settings)
    our_seconds = time.perf_counter() - start
    columns = [f"negative_{j}" for j in range(1, 6)]
    mine = {(r["anchor"], r["positive"]): [r[c] for c in columns] for r in ours.dataset}
    same = sum(mine.get((r["anchor"], r["positive"])) == [r[c] for c in columns] for r in theirs)
    print(f"[dense] {len(pairs):,} Debian pairs, band [10, 50), 5 negatives, top sampling")
    print(f"  sentence-transformers mine_hard_negatives {st_seconds:7.1f} s  ({len(theirs):,} rows)")
    print(f"  st_plus mine_hybrid_negatives             {our_seconds:7.1f} s  ({len(ours.dataset):,} rows)")
    print(f"  speed ratio st_plus / ST: {st_seconds / our_seconds:.2f}x (goal >= 1.0); identical negatives for "
          f"{same:,} of {len(theirs):,} ST rows")  # fmt: skip

    for n in args.bm25_rows:
        subset = all_rows.select(range(min(n, len(all_rows))))
        start = time.perf_counter()
        result = mine_hybrid_negatives(subset, None, method="bm25", max_positive_ratio=None, group_column="source",
                                     num_negatives=7)  # fmt: skip
        print(f"[bm25] {len(subset):,} documents: {time.perf_counter() - start:7.1f} s, {result.summary()}")
    if args.bm25_rows:
        n = min(args.bm25_rows)
        subset = all_rows.select(range(min(n, len(all_rows))))
        start = time.perf_counter()
        result = mine_hybrid_negatives(subset, model, method="hybrid", group_column="source", num_negatives=7)
        print(f"[hybrid] {len(subset):,} documents: {time.perf_counter() - start:7.1f} s, {result.summary()}")


if __name__ == "__main__":
    main()
