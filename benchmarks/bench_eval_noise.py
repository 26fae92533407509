"""Evaluation noise: how far a dev-task score moves when nothing but the evaluation's own randomness changes.

    python benchmarks/bench_eval_noise.py --runs runs/pres/p1-42 runs/pres/p1-43 runs/pres/p1-44 --weight 0.7 \\
        --dev-suite runs/dev_suite --threads 2 --output benchmarks/results/eval_noise.json
    python benchmarks/bench_eval_noise.py --table --output benchmarks/results/eval_noise.json

Issue 14's no-forgetting goal allows no dev task below the start model by more than 0.3 points. Classification and
clustering scores depend on a seed besides the embeddings (MTEB's undersampling of the training set and the
logistic regression's state; the k-means initialisation and the clustering bootstrap), fixed at 42 as in MTEB.
Any other seed is an equally valid evaluation. This script measures, on the development suite
(``benchmarks/make_dev_suite.py``; never the shipped test slices):

- the start model (the bundled all-MiniLM-L6-v2) scored with each evaluation seed of ``--eval-seeds``: the spread
  of a task's score with no change to the model at all;
- the start model in float32 (sentence-transformers' ``encode``, MTEB-exact) against the bfloat16 encoding that
  every dev verdict uses (``--no-float32`` skips it): the size of the precision's rounding on each score;
- each run's model merged with the start model at ``--weight`` (``w * finetuned + (1 - w) * start``, as the
  recipe's merge stage) and unmerged, with every evaluation seed: each task's drop below the start model, paired by
  evaluation seed, and the goal's verdict under each evaluation seed and under the mean over them.

Each model's texts go through one embedding cache (bfloat16, batch 64, as ``benchmarks/bench_merge.py``), so a text
that several evaluation seeds draw is encoded once (``evaluate_suite(eval_seeds=...)``). Scores are x100 in the
table, 0-1 in the file; this script is the file's only writer. Not a timing measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_merge import IN_DOMAIN, MAX_DROP, MIN_RETENTION, _dev_tasks, _model_dir, _seed_of  # noqa: E402 - same goal

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "eval_noise.json"


def _seed_dependent(task_type: str) -> bool:
    """Whether a task type's score depends on a seed besides the embeddings (the evaluator's own flag)."""
    from st_plus.evaluation import EVALUATORS

    return EVALUATORS[task_type].seed_dependent


def _task_types(suite: Path) -> dict[str, str]:
    """Task name -> task type of every folder of ``suite``."""
    descriptors = [json.loads((t / "task.json").read_text(encoding="utf-8")) for t in _dev_tasks(suite)]
    return {d.get("name", t.name): d["task_type"] for d, t in zip(descriptors, _dev_tasks(suite), strict=True)}


def score_model(model, tasks: list[Path], eval_seeds: list[int], dtype: str = "bfloat16") -> dict[str, dict]:
    """``{task: {"type": ..., "scores": {seed: score}}}``; seed-free task types are scored once (key ``"-"``)."""
    from st_plus.evaluation import evaluate_suite

    results = evaluate_suite(model, tasks, batch_size=64, dtype=dtype, show_progress_bar=False, eval_seeds=eval_seeds)
    return {
        r.task_name: {"type": r.task_type, "scores": r.scores.get("main_score_per_eval_seed", {"-": r.main_score})}
        for r in results
    }


def _at(entry: dict, seed: int) -> float:
    return entry["scores"].get(str(seed), entry["scores"].get("-"))


def _mean(entry: dict) -> float:
    return statistics.mean(entry["scores"].values())


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 6),
            "std": round(statistics.stdev(values), 6) if len(values) > 1 else None,
            "min": round(min(values), 6), "max": round(max(values), 6)}  # fmt: skip


def _verdict(start: dict, merged: dict, unmerged: dict, pick, in_domain: str = IN_DOMAIN) -> dict:
    """The goal with each task's score taken by ``pick(entry)``: worst drop, its task, in-domain retention, met."""
    from st_plus.training.merge_weights import SCORE_EPSILON, within_tolerance

    drops = {task: pick(start[task]) - pick(merged[task]) for task in start}
    worst = max(drops, key=drops.get)
    gain = pick(merged[in_domain]) - pick(start[in_domain])
    gain_unmerged = pick(unmerged[in_domain]) - pick(start[in_domain])
    retention = gain / gain_unmerged if gain_unmerged > 0 else float("nan")
    return {"worst_drop": round(drops[worst], 6), "worst_task": worst, "in_domain_retention": round(retention, 4),
            "met": bool(within_tolerance(drops[worst], MAX_DROP) and retention >= MIN_RETENTION - SCORE_EPSILON)}


def summarise(results: dict) -> dict:
    """Per task: the start model's spread over evaluation seeds, float32 - bfloat16, and each run's paired drops."""
    start, seeds = results["start"], results["eval_seeds"]
    domain = results.get("in_domain_task", IN_DOMAIN)
    tasks = {}
    for name, entry in start.items():
        values = list(entry["scores"].values())
        row = {"type": entry["type"], "start_over_eval_seeds": _stats(values)}
        if "start_float32" in results:
            row["float32_minus_bfloat16_seed42"] = round(_at(results["start_float32"][name], 42) - _at(entry, 42), 6)
        if _seed_dependent(entry["type"]):
            row["drop_per_run"] = {
                str(run["seed"]): _stats([_at(entry, s) - _at(run["merged"][name], s) for s in seeds])
                for run in results["runs"]
            }  # fmt: skip
        tasks[name] = row
    verdicts = {}
    for run in results["runs"]:
        merged, unmerged = run["merged"], run["unmerged"]
        verdicts[str(run["seed"])] = {
            "per_eval_seed": {
                str(s): _verdict(start, merged, unmerged, lambda e, s=s: _at(e, s), domain) for s in seeds
            },
            "eval_seed_mean": _verdict(start, merged, unmerged, _mean, domain),
        }
    return {"tasks": tasks, "verdicts": verdicts}


def table(results: dict) -> str:
    summary, seeds = results["summary"], results["eval_seeds"]
    runs = [str(r["seed"]) for r in results["runs"]]
    head = (f"Evaluation seeds {', '.join(map(str, seeds))}; points (x100). Drop: start minus the model merged at "
            f"w={results['weight']}, paired by evaluation seed (mean ± sd over them; run seeds {', '.join(runs)}).")
    lines = [head, "", "| task | type | start: mean ± sd over eval seeds (range) | float32 - bfloat16 (start) | "
             + " | ".join(f"drop, run {r}" for r in runs) + " |", "|---|---|---:|---:|" + "---:|" * len(runs)]
    for name, row in summary["tasks"].items():
        s = row["start_over_eval_seeds"]
        spread = (f"{100 * s['mean']:.2f} ± {100 * (s['std'] or 0):.2f} ({100 * (s['max'] - s['min']):.2f})"
                  if s["std"] is not None else f"{100 * s['mean']:.2f} (no seed)")  # fmt: skip
        precision = row.get("float32_minus_bfloat16_seed42")
        cells = []
        for r in runs:
            d = (row.get("drop_per_run") or {}).get(r)
            if d is None:
                run = next(x for x in results["runs"] if str(x["seed"]) == r)
                cells.append(f"{100 * (_at(results['start'][name], 42) - _at(run['merged'][name], 42)):+.2f}")
            else:
                cells.append(f"{100 * d['mean']:+.2f} ± {100 * d['std']:.2f} ({100 * d['min']:+.2f} to "
                             f"{100 * d['max']:+.2f})")  # fmt: skip
        lines.append(f"| {name} | {row['type']} | {spread} | "
                     f"{'' if precision is None else f'{100 * precision:+.2f}'} | " + " | ".join(cells) + " |")
    lines += ["", "| run seed | " + " | ".join(f"eval seed {s}" for s in seeds) + " | mean over eval seeds |",
              "|---:|" + "---|" * (len(seeds) + 1)]  # fmt: skip

    def cell(v: dict) -> str:
        return f"{'met' if v['met'] else 'missed'}: {100 * v['worst_drop']:.2f} ({v['worst_task']})"

    for r in runs:
        v = summary["verdicts"][r]
        lines.append(f"| {r} | " + " | ".join(cell(v["per_eval_seed"][str(s)]) for s in seeds)
                     + f" | {cell(v['eval_seed_mean'])} |")  # fmt: skip
    met = [sum(summary["verdicts"][r]["per_eval_seed"][str(s)]["met"] for r in runs) for s in seeds]
    lines += ["", "Goal met (run seeds) per evaluation seed: "
              + ", ".join(f"{s}: {m}/{len(runs)}" for s, m in zip(seeds, met, strict=True))
              + f"; with the mean over evaluation seeds: "
              f"{sum(summary['verdicts'][r]['eval_seed_mean']['met'] for r in runs)}/{len(runs)}."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, nargs="+", help="Run folders (model/, else stages/multitask/model/)")
    parser.add_argument("--weight", type=float, default=0.7, help="The fine-tuned model's merge weight")
    parser.add_argument("--dev-suite", type=Path, default=REPO.parent / "dev_suite")
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    parser.add_argument("--in-domain", default=IN_DOMAIN,
                        help="The in-domain task whose gain merging must keep (examples/data: retrieval_debian_en)")
    parser.add_argument("--no-float32", action="store_true", help="Skip the start model's float32 evaluation")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--table", action="store_true", help="Print the README table from --output and stop")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.output.read_text(encoding="utf-8"))))
        return
    if not args.runs:
        parser.error("--runs is required (or --table)")
    if 42 not in args.eval_seeds:
        parser.error("--eval-seeds must hold 42 (MTEB's seed: the verdict every other results file uses)")
    if not 0 < args.weight <= 1:
        parser.error("--weight must be in (0, 1]")
    in_domain_type = _task_types(args.dev_suite).get(args.in_domain)
    if in_domain_type is None or _seed_dependent(in_domain_type):
        parser.error(f"--in-domain must name a task of --dev-suite without an evaluation seed, got {args.in_domain}")
    import torch

    from st_plus.models import load_model, merge_models

    torch.set_num_threads(args.threads)
    tasks = _dev_tasks(args.dev_suite)
    started = time.perf_counter()
    base = load_model("default", device="cpu")
    results: dict = {
        "description": "Dev-suite main scores (0-1) of the start model and of merged / unmerged fine-tuned models "
        "under several evaluation seeds (classification and clustering); bfloat16 encoding, batch 64.",
        "command": "python benchmarks/bench_eval_noise.py --runs " + " ".join(str(r) for r in args.runs)
        + f" --weight {args.weight} --dev-suite {args.dev_suite} --eval-seeds "
        + " ".join(map(str, args.eval_seeds)) + f" --in-domain {args.in_domain}"
        + (" --no-float32" if args.no_float32 else "")
        + f" --threads {args.threads} --output {args.output}",
        "weight": args.weight, "eval_seeds": args.eval_seeds, "dev_suite": str(args.dev_suite),
        "in_domain_task": args.in_domain,
        "start": score_model(base, tasks, args.eval_seeds),
    }  # fmt: skip
    print(f"start model scored ({time.perf_counter() - started:.0f}s)", flush=True)
    if not args.no_float32:
        results["start_float32"] = score_model(base, tasks, [42], dtype="float32")
        print(f"start model scored in float32 ({time.perf_counter() - started:.0f}s)", flush=True)
    results["runs"] = []
    for run in args.runs:
        finetuned = load_model(_model_dir(run), device="cpu")
        merged = merge_models([finetuned, base], [args.weight, 1 - args.weight]) if args.weight < 1 else finetuned
        if finetuned.max_seq_length != base.max_seq_length:  # a stage folder of an older run reads the training length
            print(f"{run}: the model reads {finetuned.max_seq_length} tokens, the start model {base.max_seq_length}")
        entry = {"run": str(run), "model": str(_model_dir(run)), "seed": _seed_of(run),
                 "max_seq_length": finetuned.max_seq_length,
                 "merged": score_model(merged, tasks, args.eval_seeds),
                 "unmerged": score_model(finetuned, tasks, [42])}  # fmt: skip
        results["runs"].append(entry)
        print(f"{run} scored ({time.perf_counter() - started:.0f}s)", flush=True)
    results["summary"] = summarise(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
