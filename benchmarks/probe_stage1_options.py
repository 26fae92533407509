"""A probe of stage 1's loss options and schedule (issue 14): does any of them move dev retrieval by much?

    python benchmarks/make_dev_suite.py --output runs/dev_suite
    P=benchmarks/probe_stage1_options.py; export OMP_NUM_THREADS=1
    for v in base gte sym hard9 e2 lr1e4 e3; do python $P run --variant $v --seed 42 --out runs/probe/$v-42; done
    python $P report runs/probe --output benchmarks/results/stage1_options_probe.json   # prints the table

Stage 1 of ``benchmarks/recipes/recipe_vs_st.yaml`` alone (2,048 Debian title -> description pairs, batch 64,
group-aware, length-grouped batches, no consistency filter, no stage 2), through :func:`st_plus.training.run_recipe`,
then scored on the English development suite as ``bench_recipe_vs_st.py`` scores (bf16, 256 tokens). Variants:

- ``base``: the recipe's stage 1 (sentence-transformers' ``MultipleNegativesRankingLoss``, query -> document).
- ``gte``: all four directions in one softmax (query -> document, query -> query, document -> query, document ->
  document): GTE's improved contrastive loss, as ``MultipleNegativesRankingLoss(directions=...)`` implements it.
- ``sym``: query -> document and document -> query, one softmax each, averaged (a symmetric InfoNCE).
- ``hard9``: in-batch negatives weighted by hardness, ``hardness_mode="in_batch_negatives"``, strength 9 (Lan et
  al. 2025's value).
- ``e2``, ``e3``: two and three epochs instead of one; ``lr1e4``: learning rate 1e-4 instead of 5e-5.

A probe, one seed: it looks for an effect large enough (about 1 point of dev retrieval) to be worth three seeds at
the ablation scale; differences of a few tenths are within one seed's noise there (``bench_recipe_vs_st.py``'s
per-seed spread). The loss options swap the loss class stage 1 builds (``st_plus.training.stages``) for the same
class with these keyword arguments, in this process only.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

FOUR = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
LOSS_OPTIONS = {
    "gte": {"directions": FOUR},
    "sym": {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"},
    "hard9": {"hardness_mode": "in_batch_negatives", "hardness_strength": 9.0},
}
STAGE_OPTIONS = {"e2": {"epochs": 2.0}, "e3": {"epochs": 3.0}, "lr1e4": {"learning_rate": 1e-4}}
VARIANTS = ("base", *LOSS_OPTIONS, *STAGE_OPTIONS)


def run(args: argparse.Namespace) -> None:
    import bench_recipe_vs_st as bench
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    import st_plus.training.stages as stages
    from st_plus.training import load_recipe, run_recipe
    from st_plus.training.recipe import EvaluationSpec

    tasks = bench._dev_tasks()  # refused before any training when the dev suite is missing
    if args.variant in LOSS_OPTIONS:
        stages.MultipleNegativesRankingLoss = functools.partial(MultipleNegativesRankingLoss,
                                                                **LOSS_OPTIONS[args.variant])  # fmt: skip
    recipe = load_recipe(bench.RECIPE)
    stage1 = dataclasses.replace(recipe.stages.contrastive, filter=None, **STAGE_OPTIONS.get(args.variant, {}))
    recipe = dataclasses.replace(recipe, seed=args.seed, evaluation=EvaluationSpec(),
                                 stages=dataclasses.replace(recipe.stages, multitask=None, contrastive=stage1))
    start = time.perf_counter()
    result = run_recipe(recipe, output_dir=args.out / "run", overwrite=True, show_progress_bar=False)
    seconds = time.perf_counter() - start
    scores = bench._score(SentenceTransformer(str(result.model_path)), tasks)
    done = {"variant": args.variant, "seed": args.seed, "seconds": seconds, "scores": scores,
            "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None}  # fmt: skip
    (args.out / "result.json").write_text(json.dumps(done) + "\n", encoding="utf-8")
    print(json.dumps({k: done[k] for k in ("variant", "seed", "seconds")}), file=sys.stderr)


def _means(scores: dict[str, float]) -> tuple[float, float]:
    """The mean of the retrieval tasks and of all tasks."""
    retrieval = statistics.fmean(v for k, v in scores.items() if k.startswith("retrieval_"))
    return retrieval, statistics.fmean(scores.values())


def report(args: argparse.Namespace) -> None:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(args.folder.glob("*/result.json"))]
    runs = [r for r in runs if r.get("variant") in VARIANTS]
    if not runs:
        raise SystemExit(f"no */result.json of this probe under {args.folder}")
    base = {r["seed"]: r for r in runs if r["variant"] == "base"}
    rows = []
    for r in sorted(runs, key=lambda r: (VARIANTS.index(r["variant"]), r["seed"])):
        retrieval, mean = _means(r["scores"])
        row = {"variant": r["variant"], "seed": r["seed"], "seconds": round(r["seconds"], 1), "retrieval": retrieval,
               "all": mean, "scores": r["scores"]}  # fmt: skip
        if r["seed"] in base:
            base_retrieval, base_mean = _means(base[r["seed"]]["scores"])
            row["minus_base"] = {"retrieval": retrieval - base_retrieval, "all": mean - base_mean}
        rows.append(row)
    output = {"recipe": "benchmarks/recipes/recipe_vs_st.yaml (stage 1 only, no filter)", "split": "dev", "runs": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print(_table(output))


def _table(data: dict) -> str:
    lines = ["| variant | seed | wall s | dev retrieval (2) | dev mean (all) | retrieval - base | all - base |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in data["runs"]:
        d = r.get("minus_base", {})
        cells = [f"{d[k]:+.2f}" if k in d else "" for k in ("retrieval", "all")]
        lines.append(f"| {r['variant']} | {r['seed']} | {r['seconds']:.0f} | {r['retrieval']:.2f} | {r['all']:.2f} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train stage 1 with one variant and score it on the dev suite")
    p.add_argument("--variant", choices=VARIANTS, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("report", help="collect every RUN/result.json under FOLDER into the results file")
    p.add_argument("folder", type=Path)
    p.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "stage1_options_probe.json")
    p = sub.add_parser("table", help="print the README table from the results file")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "stage1_options_probe.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    commands = {"run": run, "report": report,
                "table": lambda a: print(_table(json.loads(a.results.read_text(encoding="utf-8"))))}  # fmt: skip
    commands[args.command](args)


if __name__ == "__main__":
    main()
