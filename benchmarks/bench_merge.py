"""No forgetting: quickstart models merged with their start model (LM-Cocktail), scored on the development suite.

    # 1. train the quickstart with three seeds (a copy of the recipe with `seed:` changed, paths made absolute)
    st-plus train qs-seed1.yaml --output-dir runs/qs-merge-seed1        # seeds 1, 2, 3
    # 2. merge each with the bundled base at every grid weight, evaluate on the dev suite, write the results
    python benchmarks/bench_merge.py --runs runs/qs-merge-seed1 runs/qs-merge-seed2 runs/qs-merge-seed3 \\
        --dev-suite ../dev_suite --cache-dir runs/merge-cache
    # 3. the README table, from the results file only
    python benchmarks/bench_merge.py --table

For each run, ``w * finetuned + (1 - w) * start`` (``st_plus.models.merge_models`` maths, through
``st_plus.training.merge_weights.choose_merge_weight``) is evaluated on every task of the development suite
(``benchmarks/make_dev_suite.py``; English and Chinese, six task types; never the shipped test slices) for each
``w`` in the grid; ``w = 1`` is the unmerged fine-tuned model. The rule of the recipe's ``merge: {weight: auto}``
picks the largest ``w`` at which no task is below the start model by more than 0.3 points (x100), else the best mean.

Goal (issue 14): with merging, no dev task of any type or language below the start model by more than 0.3, while the
in-domain retrieval task (``retrieval_debian_dev_en``) keeps >= 80% of its unmerged gain. Reported per seed at the
automatically chosen weight, and for every fixed grid weight over the seeds (mean, standard deviation, the paired
per-seed difference to the unmerged model). Writes ``benchmarks/results/merge.json`` and ``merge.png`` (score vs
weight per task); this script is their only writer. Encoding batch 64, one torch thread, ``--dtype auto`` (bfloat16
where the CPU has it natively, else float32; the results file records which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "merge.json"
IN_DOMAIN = "retrieval_debian_dev_en"
MAX_DROP = 0.003
MIN_RETENTION = 0.8
GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _dev_tasks(suite: Path) -> list[Path]:
    """The task folders of a suite: ``LANG/TASK/`` (the dev suite) or ``TASK/`` (e.g. ``examples/data``)."""
    tasks = sorted({p.parent for p in [*suite.glob("*/task.json"), *suite.glob("*/*/task.json")]})
    if not tasks:
        raise SystemExit(f"no task folders under {suite} (build it with benchmarks/make_dev_suite.py)")
    return tasks


def _suite_key(tasks: list[Path], settings: dict) -> dict:
    """What a cached evaluation depends on: the task folders, their ``task.json`` (a rebuilt suite can change a
    task's settings under the same path, as stop 52's 32 rows per label did) and the encoding settings."""
    descriptors = [(task / "task.json").read_text(encoding="utf-8") for task in tasks]
    return {"tasks": [str(t) for t in tasks], "descriptors": descriptors, **settings}


def _cached(cache: Path | None, name: str, key: dict, compute):
    """``compute()``, stored as ``cache/name.json`` with ``key`` (recomputed when the key changed)."""
    file = cache / f"{name}.json" if cache else None
    if file is not None and file.is_file():
        stored = json.loads(file.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return stored["value"]
    value = compute()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps({"key": key, "value": value}, indent=1) + "\n", encoding="utf-8")
    return value


def _model_dir(run: Path) -> Path:
    """The run's final model; the last stage's when the run was stopped during its final (test-slice) evaluation."""
    for folder in (run / "model", run / "stages" / "multitask" / "model"):
        if (folder / "model.safetensors").is_file():
            return folder
    raise SystemExit(f"{run} has no trained model (model/ or stages/multitask/model/)")


def _seed_of(run: Path) -> int:
    import yaml

    return int(yaml.safe_load((run / "recipe.resolved.yaml").read_text(encoding="utf-8"))["seed"])


def evaluate_runs(args) -> dict:
    import torch

    from st_plus.evaluation import evaluate_suite
    from st_plus.models import load_model
    from st_plus.training.merge_weights import choose_merge_weight, grid_point, select_merge_weight

    torch.set_num_threads(args.threads)
    tasks = _dev_tasks(args.dev_suite)
    settings = {"batch_size": 64, "dtype": args.dtype}
    key = _suite_key(tasks, settings)
    base = load_model("default", device="cpu")

    def base_eval():
        results = evaluate_suite(base, tasks, show_progress_bar=False, **settings)
        for r in results:
            print(f"start model: {r.task_name} {r.main_score:.4f} ({r.evaluation_time:.0f}s)", flush=True)
        return {r.task_name: r.main_score for r in results}

    base_scores = _cached(args.cache_dir, "base-default", key, base_eval)
    if not args.runs:
        return {"base_scores": base_scores}
    meta = {}
    for task in tasks:
        descriptor = json.loads((task / "task.json").read_text(encoding="utf-8"))
        language = descriptor.get("language", task.parent.name)
        meta[descriptor.get("name", task.name)] = {"type": descriptor["task_type"], "language": language}
    runs = []
    for index, run in enumerate(args.runs):
        model_dir = _model_dir(run)
        finetuned = load_model(model_dir, device="cpu")
        run_key = {**key, "model": str(model_dir), "mtime": (model_dir / "model.safetensors").stat().st_mtime}
        table = []
        for weight in sorted(set(args.grid) | (set(args.curve_grid) if index == 0 else set())):
            name = f"{run.name}-w{weight:.2f}"

            def point(weight=weight, finetuned=finetuned):
                choice = choose_merge_weight(
                    finetuned, base, tasks, grid=[weight], base_scores=base_scores, **settings
                )
                return choice.table[0].scores

            started = time.perf_counter()
            scores = _cached(args.cache_dir, name, run_key, point)
            print(f"{run.name} w={weight:.2f}: mean {statistics.mean(scores.values()):.4f} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)  # fmt: skip
            table.append(grid_point(weight, scores, base_scores))
        chosen, rule = select_merge_weight(table, max_drop=MAX_DROP)
        rows = [vars(p) for p in table]
        goal = _goal(rows, chosen, base_scores, args.in_domain)
        runs.append({"run": str(run), "model": str(model_dir), "seed": _seed_of(run), "table": rows,
                     "auto": {"weight": chosen, "rule": rule, **goal}})  # fmt: skip
    return {"base_scores": base_scores, "tasks": meta, "runs": runs}


def _goal(table: list, weight: float, base_scores: dict, in_domain: str = IN_DOMAIN) -> dict:
    """The issue's goal at ``weight``: worst drop below the start model and the in-domain gain kept."""
    from st_plus.training.merge_weights import SCORE_EPSILON, within_tolerance

    by_weight = {round(p["weight"], 6): p["scores"] for p in table}
    scores, full = by_weight[round(weight, 6)], by_weight[1.0]
    drops = {task: base_scores[task] - s for task, s in scores.items()}
    worst = max(drops, key=drops.get)
    gain_unmerged = full[in_domain] - base_scores[in_domain]
    gain = scores[in_domain] - base_scores[in_domain]
    retention = gain / gain_unmerged if gain_unmerged > 0 else float("nan")
    return {
        "worst_drop": round(drops[worst], 5),
        "worst_task": worst,
        "tasks_below_tolerance": sorted(t for t, d in drops.items() if not within_tolerance(d, MAX_DROP)),
        "in_domain_gain": round(gain, 5),
        "in_domain_gain_unmerged": round(gain_unmerged, 5),
        "in_domain_retention": round(retention, 4),
        # a retention of exactly 80% counts as 80% (the ratio of two score differences carries float error)
        "met": bool(within_tolerance(drops[worst], MAX_DROP) and retention >= MIN_RETENTION - SCORE_EPSILON),
    }


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 5),
            "std": round(statistics.stdev(values), 5) if len(values) > 1 else None,
            "per_seed": [round(v, 5) for v in values]}  # fmt: skip


def summarise(evaluated: dict, grid: list[float], in_domain: str = IN_DOMAIN) -> dict:
    """Per fixed weight over the seeds: scores, the goal and the paired difference to the unmerged model."""
    base, runs = evaluated["base_scores"], evaluated["runs"]
    by_weight = {}
    for weight in grid:
        points = [next(p for p in r["table"] if abs(p["weight"] - weight) < 1e-9) for r in runs]
        unmerged = [next(p for p in r["table"] if p["weight"] == 1.0) for r in runs]
        goals = [_goal(r["table"], weight, base, in_domain) for r in runs]
        by_weight[f"{weight:.2f}"] = {
            "scores": {task: _stats([p["scores"][task] for p in points]) for task in base},
            "mean_over_tasks": _stats([p["mean"] for p in points]),
            "worst_drop": _stats([g["worst_drop"] for g in goals]),
            "in_domain_retention": _stats([g["in_domain_retention"] for g in goals]),
            "paired_vs_unmerged": {
                "mean_over_tasks": _stats([p["mean"] - u["mean"] for p, u in zip(points, unmerged, strict=True)]),
                in_domain: _stats(
                    [p["scores"][in_domain] - u["scores"][in_domain] for p, u in zip(points, unmerged, strict=True)]
                ),  # fmt: skip
            },
            "goal_met_per_seed": [g["met"] for g in goals],
            "tasks_below_tolerance_per_seed": [g["tasks_below_tolerance"] for g in goals],
        }
    met_everywhere = [w for w, v in by_weight.items() if all(v["goal_met_per_seed"])]
    return {
        "by_weight": by_weight,
        "auto_goal_met_per_seed": [r["auto"]["met"] for r in runs],
        "weights_meeting_the_goal_on_every_seed": met_everywhere,
    }


def paired(results: dict, other: dict, other_name: str) -> dict:
    """This file's runs minus ``other``'s, paired by seed, at every weight both grids hold (points, x100).

    Per task, for the mean over tasks and for the largest drop below the start model (negative: a smaller drop); and
    the mean over tasks and the in-domain task at each weight against the other file's unmerged models (w = 1).
    Both files must score the same tasks against the same start-model scores, and share at least one seed.
    """
    if set(results["base_scores"]) != set(other["base_scores"]):
        raise SystemExit(f"{other_name} scores other tasks than this run")
    if any(abs(results["base_scores"][t] - other["base_scores"][t]) > 1e-9 for t in results["base_scores"]):
        raise SystemExit(f"{other_name} has other start-model scores (another dev suite or encoding)")
    mine = {r["seed"]: r for r in results["runs"]}
    theirs = {r["seed"]: r for r in other["runs"]}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        raise SystemExit(f"{other_name} shares no seed with this run ({sorted(mine)} vs {sorted(theirs)})")
    base = results["base_scores"]

    def point(run: dict, weight: float) -> dict | None:
        return next((p for p in run["table"] if abs(p["weight"] - weight) < 1e-9), None)

    by_weight = {}
    domain = results.get("in_domain_task", IN_DOMAIN)
    unmerged = [point(theirs[s], 1.0) for s in seeds]
    for weight in sorted({p["weight"] for r in results["runs"] for p in r["table"]}):
        mine_at = [point(mine[s], weight) for s in seeds]
        theirs_at = [point(theirs[s], weight) for s in seeds]
        if any(a is None for a in mine_at):
            continue
        entry: dict = {}
        if all(b is not None for b in theirs_at):  # both files hold this weight: the paired differences
            goals = [(_goal(mine[s]["table"], weight, base, domain), _goal(theirs[s]["table"], weight, base, domain))
                     for s in seeds]  # fmt: skip
            pairs = list(zip(mine_at, theirs_at, strict=True))
            entry = {
                "tasks": {t: _stats([100 * (a["scores"][t] - b["scores"][t]) for a, b in pairs]) for t in base},
                "mean_over_tasks": _stats([100 * (a["mean"] - b["mean"]) for a, b in pairs]),
                "worst_drop": _stats([100 * (g["worst_drop"] - h["worst_drop"]) for g, h in goals]),
                "goal_met_per_seed": {"this": [g["met"] for g, _ in goals], "other": [h["met"] for _, h in goals]},
            }  # fmt: skip
        else:  # only this file holds it: the goal here, and the comparison with the other file's unmerged models
            entry = {"goal_met_per_seed": {"this": [_goal(mine[s]["table"], weight, base, domain)["met"]
                                                    for s in seeds], "other": None}}  # fmt: skip
        if all(u is not None for u in unmerged):
            both = list(zip(mine_at, unmerged, strict=True))
            entry["against_other_unmerged"] = {
                "mean_over_tasks": _stats([100 * (a["mean"] - u["mean"]) for a, u in both]),
                domain: _stats([100 * (a["scores"][domain] - u["scores"][domain]) for a, u in both]),
            }
        by_weight[f"{weight:.2f}"] = entry
    return {"other": other_name, "seeds": seeds, "by_weight": by_weight}


def paired_table(comparison: dict) -> str:
    """Per task and weight: the paired difference to the other file's runs (mean ± sd over seeds, x100)."""
    weights = list(comparison["by_weight"])
    lines = [f"Paired by seed ({', '.join(map(str, comparison['seeds']))}) against {comparison['other']}: "
             "this minus that, points (mean ± sd; per seed)", "",
             "| task | " + " | ".join(f"w={w}" for w in weights) + " |", "|---|" + "---:|" * len(weights)]  # fmt: skip

    def cell(stats: dict) -> str:
        seeds = " / ".join(f"{v:+.2f}" for v in stats["per_seed"])
        return f"{stats['mean']:+.2f} ± {stats['std'] or 0:.2f} ({seeds})"

    by_weight = comparison["by_weight"]

    def row(label: str, get) -> str:
        cells = [cell(get(by_weight[w])) if get(by_weight[w]) else "" for w in weights]
        return f"| {label} | " + " | ".join(cells) + " |"

    tasks = next((v["tasks"] for v in by_weight.values() if "tasks" in v), {})
    for task in tasks:
        lines.append(row(task, lambda v, t=task: v.get("tasks", {}).get(t)))
    for label, key in (("mean over tasks", "mean_over_tasks"), ("largest drop below start", "worst_drop")):
        lines.append(row(label, lambda v, k=key: v.get(k)))
    keys = next((list(v["against_other_unmerged"]) for v in by_weight.values() if "against_other_unmerged" in v), [])
    for key in keys:
        lines.append(row(f"{key}, against that file's unmerged models",
                         lambda v, k=key: v.get("against_other_unmerged", {}).get(k)))  # fmt: skip

    def met(values: list | None) -> str:
        return "-" if values is None else str(sum(values))

    goal = " | ".join(f"{met(by_weight[w]['goal_met_per_seed']['this'])} vs "
                      f"{met(by_weight[w]['goal_met_per_seed']['other'])}" for w in weights)  # fmt: skip
    lines.append(f"| goal met (seeds): this vs that | {goal} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base, tasks = results["base_scores"], list(results["base_scores"])
    cols = 4
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for run in results["runs"]:
            xs = [0.0] + [p["weight"] for p in run["table"]]
            ys = [100 * base[task]] + [100 * p["scores"][task] for p in run["table"]]
            ax.plot(xs, ys, marker=".", label=f"seed {run['seed']}")
        ax.axhline(100 * base[task] - 100 * MAX_DROP, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{task} ({results['tasks'][task]['type']})", fontsize=8)
        ax.set_xlabel("fine-tuned weight (0 = start model)", fontsize=7)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Dev main score (x100) vs merge weight; dashed: start model - 0.3", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(results: dict) -> str:
    """The README table: per task, the start model and each fixed weight (mean over seeds, x100)."""
    weights = list(results["summary"]["by_weight"])
    shown = weights
    head = ["task", "type", "lang", "start", *[f"w={w}" + (" (unmerged)" if w == "1.00" else "") for w in shown]]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    by_weight, base = results["summary"]["by_weight"], results["base_scores"]
    for task in base:
        meta = results["tasks"][task]
        cells = [task, meta["type"], meta["language"], f"{100 * base[task]:.2f}"]
        for w in shown:
            score = by_weight[w]["scores"][task]
            delta = 100 * (score["mean"] - base[task])
            cells.append(f"{100 * score['mean']:.2f} ({delta:+.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    rows = [("largest drop below start (max over seeds)", lambda v: f"{100 * max(v['worst_drop']['per_seed']):.2f}"),
            ("Debian gain kept (min over seeds)", lambda v: f"{100 * min(v['in_domain_retention']['per_seed']):.0f}%"),
            ("goal met (seeds)", lambda v: f"{sum(v['goal_met_per_seed'])}/{len(v['goal_met_per_seed'])}"),
            ]  # fmt: skip
    for label, cell in rows:
        lines.append(f"| {label} | | | | " + " | ".join(cell(by_weight[w]) for w in shown) + " |")
    lines += ["", "| seed | weight | mean over tasks | largest drop below start (task) | Debian gain kept | goal |",
              "|---:|---:|---:|---|---:|---|"]  # fmt: skip
    for run in results["runs"]:
        for point in run["table"]:
            goal = _goal(run["table"], point["weight"], base, results.get("in_domain_task", IN_DOMAIN))
            lines.append(
                f"| {run['seed']} | {point['weight']:.2f} | {100 * point['mean']:.2f} | "
                f"{100 * goal['worst_drop']:.2f} ({goal['worst_task']}) | {100 * goal['in_domain_retention']:.0f}% | "
                f"{'met' if goal['met'] else 'missed'} |"
            )
    auto = ", ".join(f"seed {r['seed']}: w={r['auto']['weight']:.1f} ({'met' if r['auto']['met'] else 'missed'})"
                     for r in results["runs"])  # fmt: skip
    return "\n".join(lines) + f"\n\nAutomatic choice (`weight: auto`, tolerance 0.3): {auto}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, nargs="+", help="Quickstart run folders (each with model/)")
    parser.add_argument("--dev-suite", type=Path, default=REPO.parent / "dev_suite")
    parser.add_argument("--grid", type=float, nargs="+", default=list(GRID), help="Fine-tuned weights (with 1.0)")
    parser.add_argument("--curve-grid", type=float, nargs="*", default=[],
                        help="More weights for the first run only (its score-vs-weight curve)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None, help="Keep each evaluation here (resumable)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=("auto", "bfloat16", "float32"), default="auto",
                        help="Encoding precision (auto: bfloat16 where the CPU has it natively, else float32)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--table", action="store_true", help="Print the README table from --output and stop")
    parser.add_argument("--base-only", action="store_true",
                        help="Evaluate the start model into --cache-dir and stop (while runs train)")  # fmt: skip
    parser.add_argument("--in-domain", default=IN_DOMAIN,
                        help="The in-domain task whose gain merging must keep (examples/data: retrieval_debian_en)")
    parser.add_argument("--paired-with", type=Path, default=None,
                        help="An earlier results file of this script (e.g. the same seeds without a recipe "
                             "change): adds the paired per-seed difference to it")  # fmt: skip
    args = parser.parse_args()
    if args.table:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        print(table(results))
        if "paired" in results:
            print("\n" + paired_table(results["paired"]))
        return
    from st_plus.precision import resolve_dtype

    requested_dtype, args.dtype = args.dtype, resolve_dtype(args.dtype)  # the cache key holds the resolved one
    if args.base_only:
        if args.cache_dir is None:
            parser.error("--base-only needs --cache-dir")
        args.runs = []
        evaluate_runs(args)
        return
    if not args.runs:
        parser.error("--runs is required (or --table / --base-only)")
    args.grid = sorted(set(args.grid) | {1.0})
    load_before, started = os.getloadavg(), time.perf_counter()
    evaluated = evaluate_runs(args)
    results = {
        "description": "Quickstart models merged with the bundled start model at each fine-tuned weight, "
        "main scores on the development suite (0-1 scale); goal: no task below the start by more than "
        f"{MAX_DROP}, {args.in_domain} keeps >= {MIN_RETENTION:.0%} of its unmerged gain.",
        "command": "python benchmarks/bench_merge.py --runs "
        + " ".join(str(r) for r in args.runs)
        + f" --dev-suite {args.dev_suite} --grid "
        + " ".join(f"{w:g}" for w in args.grid)
        + (" --curve-grid " + " ".join(f"{w:g}" for w in args.curve_grid) if args.curve_grid else "")
        + (f" --in-domain {args.in_domain}" if args.in_domain != IN_DOMAIN else "")
        + (f" --dtype {requested_dtype}" if requested_dtype != "auto" else "")
        + (f" --paired-with {args.paired_with}" if args.paired_with else ""),
        "dev_suite": str(args.dev_suite),
        "grid": args.grid,
        "curve_grid_first_run": sorted(args.curve_grid),
        "max_drop": MAX_DROP,
        "in_domain_task": args.in_domain,
        "encoding": {"dtype": args.dtype, "batch_size": 64, "torch_threads": args.threads},
        **evaluated,
        "summary": summarise(evaluated, args.grid, args.in_domain),
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in load_before],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "shared": True,
            "seconds": round(time.perf_counter() - started, 1),
        },  # fmt: skip
    }
    if args.paired_with is not None:
        other = json.loads(args.paired_with.read_text(encoding="utf-8"))
        results["paired"] = paired(results, other, str(args.paired_with))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    plot(results, args.output.with_suffix(".png"))
    print(table(results))
    if "paired" in results:
        print("\n" + paired_table(results["paired"]))
    print(f"\nwrote {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
