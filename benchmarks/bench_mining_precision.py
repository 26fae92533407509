"""Filtering and mining in bfloat16 vs float32: the same decisions, in less time (issue 17).

    python benchmarks/bench_mining_precision.py --output benchmarks/results/mining_precision.json
    python benchmarks/bench_mining_precision.py --rounds 1 --filter-rows 256 --mine-rows 64 --output /tmp/smoke.json

Recipes that train in bf16 filter their stage-1 pairs, mine hard negatives and refresh dynamic negatives with
``CorpusEmbeddingStore(dtype="bfloat16")`` (token-budget batches on a bfloat16 copy of the weights) instead of
sentence-transformers' float32 ``encode``. This measures what that changes on the quickstart's own data
(examples/recipes/quickstart.yaml: its stage-1 Debian pairs, read and sampled as the pipeline reads them, and its
stage-2 ``debian`` task's mining settings), with the bundled model or ``--model``:

- consistency filter (``top_k`` of the recipe, rows of one source do not compete): the rows each precision keeps,
  and the rows on which the two disagree;
- hybrid mining: per row, the overlap of the mined negatives (|bf16 & fp32| / num_negatives) and of the ranked
  candidate lists the dynamic refreshes draw replacements from (their first ``range_max`` entries);
- seconds of each, median of ``--rounds`` alternating rounds (a timing measurement: run it on an idle machine).

The negatives are drawn at random within the band with the recipe's seed, so a changed candidate list can change
the draw; the candidate-list overlap tells the two apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "recipes" / "quickstart.yaml"


def _filter(pairs, model, top_k: int, dtype: str):
    from st_plus.mining import CorpusEmbeddingStore, consistency_filter

    start = time.perf_counter()
    result = consistency_filter(pairs, model, top_k=top_k, group_column="group",
                                store=CorpusEmbeddingStore(dtype=dtype))  # fmt: skip
    return time.perf_counter() - start, result


def _mine(rows, model, neg, seed: int, dtype: str):
    from st_plus.mining import CorpusEmbeddingStore, mine_hybrid_negatives

    start = time.perf_counter()
    result = mine_hybrid_negatives(
        rows, model, method=neg.method, range_min=neg.range_min, range_max=neg.range_max,
        num_negatives=neg.num_negatives, group_column="group", output_scores=True, too_few="pad", seed=seed,
        candidate_depth=neg.range_max + 6 * neg.num_negatives if neg.dynamic else None,
        store=CorpusEmbeddingStore(dtype=dtype),
    )  # fmt: skip
    return time.perf_counter() - start, result


def _negatives(result, num_negatives: int) -> list[set[str]]:
    columns = [f"negative_{j}" for j in range(1, num_negatives + 1)]
    return [{row[c] for c in columns} for row in result.dataset]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="Model to judge and mine with (default: the bundled one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--filter-rows", type=int, help="Fewer stage-1 rows than the recipe's (smoke runs)")
    parser.add_argument("--mine-rows", type=int, help="Fewer mined rows than the recipe's (smoke runs)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "mining_precision.json"))
    args = parser.parse_args()
    import torch

    from st_plus import load_model
    from st_plus.training.recipe import load_recipe
    from st_plus.training.stages import read_pairs, sample_rows

    load_at_start = os.getloadavg()
    recipe = load_recipe(RECIPE)
    stage1, stage2 = recipe.stages.contrastive, recipe.stages.multitask
    task = next(t for t in stage2.tasks if t.data == "stage1" and t.negatives is not None)
    model = load_model(args.model, device="cpu")
    model.max_seq_length = recipe.model.max_seq_length
    pairs = read_pairs(stage1.data, recipe.seed)
    if args.filter_rows:
        pairs = pairs.select(range(min(args.filter_rows, len(pairs))))

    seconds: dict[str, list[float]] = {f"{p} {d}": [] for p in ("filter", "mine") for d in ("fp32", "bf16")}
    filtered, mined = {}, {}
    for round_ in range(args.rounds):
        for dtype in ("float32", "bfloat16") if round_ % 2 == 0 else ("bfloat16", "float32"):
            short = "fp32" if dtype == "float32" else "bf16"
            took, filtered[short] = _filter(pairs, model, stage1.filter.top_k, dtype)
            seconds[f"filter {short}"].append(took)
            # stage 2 mines from the rows the float32 filter kept, so both precisions mine the same rows
            kept = filtered.get("fp32", filtered[short]).dataset
            rows = sample_rows(kept, args.mine_rows or task.rows, recipe.seed)
            took, mined[short] = _mine(rows, model, task.negatives, recipe.seed, dtype)
            seconds[f"mine {short}"].append(took)

    kept = {short: {(r["anchor"], r["positive"]) for r in result.dataset} for short, result in filtered.items()}
    mined_negs = {short: _negatives(result, task.negatives.num_negatives) for short, result in mined.items()}
    same_rows = mined["fp32"].rows == mined["bf16"].rows
    pairs_of_rows = zip(mined_negs["fp32"], mined_negs["bf16"], strict=True) if same_rows else []
    negative_overlap = [len(a & b) / task.negatives.num_negatives for a, b in pairs_of_rows]
    depth = task.negatives.range_max
    candidate_pairs = zip(mined["fp32"].candidates, mined["bf16"].candidates, strict=True) if same_rows else []
    candidate_overlap = [len(set(a[:depth]) & set(b[:depth])) / max(1, min(depth, len(a), len(b)))
                         for a, b in candidate_pairs] or [float("nan")]  # fmt: skip
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "setup": {"recipe": str(RECIPE.relative_to(REPO)), "model": args.model, "rounds": args.rounds,
                  "threads": torch.get_num_threads(), "filter_rows": len(pairs), "top_k": stage1.filter.top_k,
                  "mine_rows": len(mined["fp32"].dataset), "negatives": task.negatives.num_negatives,
                  "band": [task.negatives.range_min, task.negatives.range_max], "method": task.negatives.method,
                  "load_average_at_start": load_at_start},
        "filter": {"kept_fp32": len(kept["fp32"]), "kept_bf16": len(kept["bf16"]),
                   "kept_by_both": len(kept["fp32"] & kept["bf16"]),
                   "disagreements": len(kept["fp32"] ^ kept["bf16"])},
        "mining": {"same_rows": same_rows,
                   "negative_overlap_mean": round(statistics.mean(negative_overlap), 4) if negative_overlap else None,
                   "rows_with_identical_negatives": sum(o == 1.0 for o in negative_overlap),
                   f"candidate_overlap_top{depth}_mean": round(statistics.mean(candidate_overlap), 4),
                   f"candidate_overlap_top{depth}_min": round(min(candidate_overlap), 4)},
        "seconds": {name: [round(v, 2) for v in values] for name, values in seconds.items()},
        "median_seconds": {name: round(v, 2) for name, v in medians.items()},
        "speedup": {part: round(medians[f"{part} fp32"] / medians[f"{part} bf16"], 2) for part in ("filter", "mine")},
    }  # fmt: skip
    result["setup"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps({k: result[k] for k in ("filter", "mining", "median_seconds", "speedup")}, indent=2))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
