"""Dynamic vs static hard negatives against run length, over seeds (issue 14): table, JSON and plot.

Reads the per-seed files that ``benchmarks/bench_dynamic_negatives.py --runs c d --curve-epochs ...`` writes (one
file per seed, arms (c) static hybrid negatives and (d) the same rows with Conan's dynamic refresh, everything else
equal) and pairs the seeds at every epoch: the held-out nDCG@10 of each arm, and the paired difference (d) - (c) as
mean, standard deviation and per-seed values. The last point is the run's final score.

``--static FOLDER`` takes arm (c) from another folder's files of the same seeds (the same settings but for the arm
list and ``--reindex-steps``): e.g. (d) with re-indexing, run alone, against the static runs already measured.

Usage:
    python benchmarks/dynamic_negatives_curve.py benchmarks/results/dynamic_negatives_curve [--output OUT.json]
        [--plot OUT.png] [--static FOLDER]    # defaults: benchmarks/results/dynamic_negatives_curve.{json,png}
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
GOAL = 0.5  # issue 14: dynamic >= static + 0.5 nDCG@10


def _points(run: dict, epochs: int) -> dict[int, float]:
    """``{epoch: held-out nDCG@10 x100}``: the scores inside the run, then the final one."""
    points = {p["epoch"]: 100 * p["held-out"] for p in run.get("held_out_curve", [])}
    points[epochs] = 100 * run["scores"]["held-out"]
    return points


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 3),
            "std": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
            "per_seed": [round(v, 3) for v in values]}  # fmt: skip


def _settings(run: dict, ignore: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in run["args"].items() if k not in ("seed", "json", "plot", *ignore)}


def _with_static(files: list[Path], runs: list[dict], static: Path) -> None:
    """Puts arm (c) of ``static``'s file of each seed into ``runs`` (settings checked but for the arm list)."""
    ignore = ("runs", "reindex_steps")
    for f, r in zip(files, runs, strict=True):
        other = static / f.name
        if not other.is_file():
            raise SystemExit(f"{other}: no static run of seed {r['args']['seed']}")
        s = json.loads(other.read_text())
        same = _settings(s, ignore) == _settings(r, ignore) and s["args"]["seed"] == r["args"]["seed"]
        if not same or "c" not in s["results"]:
            raise SystemExit(f"{other}: not the static arm (c) of {f}'s settings and seed: cannot pair them")
        r["results"]["c"], r["curves"]["c"] = s["results"]["c"], s["curves"]["c"]


def summarise(folder: Path, static: Path | None = None) -> dict:
    """The curve over every ``*.json`` seed file in ``folder`` (seeds must share the run settings).

    ``static``: a folder whose file of the same name holds arm (c) of the same seed and settings.
    """
    files = sorted(folder.glob("*.json"))
    if not files:
        raise SystemExit(f"{folder}: no per-seed result files (*.json)")
    runs = [json.loads(f.read_text()) for f in files]
    if static is not None:
        _with_static(files, runs, static)
    settings = _settings(runs[0])
    for f, r in zip(files, runs, strict=True):
        if _settings(r) != settings:
            raise SystemExit(f"{f}: run settings differ from {files[0].name}'s: cannot pair the seeds")
        if not {"c", "d"} <= set(r["results"]):
            raise SystemExit(f"{f}: needs both arms, (c) and (d) (--runs c d, or --static FOLDER)")
    epochs = int(settings["epochs"])
    seeds = [int(r["args"]["seed"]) for r in runs]
    per_arm = {arm: [_points(r["results"][arm], epochs) for r in runs] for arm in ("c", "d")}
    common = sorted(set.intersection(*(set(p) for arm in per_arm.values() for p in arm)))
    steps_per_epoch = -(-int(settings["train_rows"]) // int(settings["batch_size"]))
    curve = []
    for e in common:
        c = [p[e] for p in per_arm["c"]]
        d = [p[e] for p in per_arm["d"]]
        curve.append({"epoch": e, "step": e * steps_per_epoch, "static": _stats(c), "dynamic": _stats(d),
                      "dynamic_minus_static": _stats([b - a for a, b in zip(c, d, strict=True)])})  # fmt: skip
    replaced = [r["results"]["d"]["summary"]["rows_replaced"] for r in runs]
    rows_touched = [r["results"]["d"]["summary"].get("rows_with_replacements") for r in runs]
    rows = [r["results"]["d"]["rows"] for r in runs]
    wall = {arm: _stats([r["results"][arm]["wall"] for r in runs]) for arm in ("c", "d")}
    out_of_domain = {
        arm: {task: _stats([100 * r["results"][arm]["scores"][task] for r in runs])
              for task in runs[0]["results"][arm]["scores"] if task != "held-out"}
        for arm in ("c", "d")
    }  # fmt: skip
    negatives = {arm: [r["curves"][arm] for r in runs] for arm in ("c", "d")}
    final = curve[-1]["dynamic_minus_static"]
    pays = [p["epoch"] for p in curve if p["dynamic_minus_static"]["mean"] >= GOAL]
    return {
        "folder": _shown(folder), "static_from": _shown(static) if static is not None else None,
        "arms": {arm: runs[0]["results"][arm]["name"] for arm in ("c", "d")},
        "settings": settings, "seeds": seeds, "steps_per_epoch": steps_per_epoch, "curve": curve,
        "rows": rows, "rows_replaced": replaced,
        "rows_with_replacements": rows_touched, "wall_seconds": wall, "out_of_domain_final": out_of_domain,
        "negative_score_curves": negatives,
        "goal": {"dynamic_minus_static_at_end": final["mean"], "goal": GOAL, "met": final["mean"] >= GOAL,
                 "first_epoch_at_goal": pays[0] if pays else None},
    }  # fmt: skip


def _shown(folder: Path) -> str:
    folder = folder.resolve()
    return str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder)


def table(data: dict) -> str:
    """The markdown table of the curve."""
    lines = [f"{data['arms']['c']} vs {data['arms']['d']}; seeds {', '.join(map(str, data['seeds']))}; held-out "
             "nDCG@10 x100, mean ± std over seeds",
             "", "| epoch | steps | static (c) | dynamic (d) | (d) - (c): mean ± std (per seed) |",
             "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for p in data["curve"]:
        c, d, g = p["static"], p["dynamic"], p["dynamic_minus_static"]
        per = ", ".join(f"{v:+.2f}" for v in g["per_seed"])
        lines.append(f"| {p['epoch']} | {p['step']} | {c['mean']:.2f} ± {c['std']:.2f} | {d['mean']:.2f} ± "
                     f"{d['std']:.2f} | {g['mean']:+.2f} ± {g['std']:.2f} ({per}) |")  # fmt: skip
    goal = data["goal"]
    touched = ", ".join(map(str, data["rows_with_replacements"]))
    wall = data["wall_seconds"]
    lines += ["", f"replacements by (d) over the run: {', '.join(map(str, data['rows_replaced']))} (rows with at "
              f"least one: {touched} of {data['rows'][0]}); train seconds (c) {wall['c']['mean']:.0f}, (d) "
              f"{wall['d']['mean']:.0f}",
              f"dynamic >= static + {goal['goal']} at the end of the run: **{'met' if goal['met'] else 'not met'}** "
              f"({goal['dynamic_minus_static_at_end']:+.2f}); first epoch at the goal: "
              f"{goal['first_epoch_at_goal'] or 'none in the measured range'}"]  # fmt: skip
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [p["step"] for p in data["curve"]]
    for i, seed in enumerate(data["seeds"]):
        left.plot(steps, [p["dynamic_minus_static"]["per_seed"][i] for p in data["curve"]], marker=".", alpha=0.5,
                  label=f"seed {seed}")  # fmt: skip
    left.plot(steps, [p["dynamic_minus_static"]["mean"] for p in data["curve"]], marker="o", color="black",
              label="mean")  # fmt: skip
    left.axhline(0, color="grey", lw=0.8)
    left.axhline(data["goal"]["goal"], color="red", ls="--", lw=0.8, label="goal +0.5")
    left.set_xlabel("training steps (run length)")
    left.set_ylabel("held-out nDCG@10: dynamic - static (x100)")
    left.set_title("Gain of dynamic negatives against run length")
    left.legend(fontsize=8)
    for arm, label in (("c", "static (c)"), ("d", "dynamic (d)")):
        for i, curve in enumerate(data["negative_score_curves"][arm]):
            s, neg, _ = zip(*curve, strict=True)
            right.plot(s, neg, color="tab:blue" if arm == "c" else "tab:orange", alpha=0.6,
                       label=label if i == 0 else None)  # fmt: skip
    right.set_xlabel("training step")
    right.set_ylabel("mean cosine(query, hard negative)")
    right.set_title("Hard-negative score at each refresh (all seeds)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the per-seed files of bench_dynamic_negatives.py")
    parser.add_argument("--output", type=Path, default=RESULTS / "dynamic_negatives_curve.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "dynamic_negatives_curve.png")
    parser.add_argument("--static", type=Path, help="take arm (c) from this folder's files of the same seeds")
    args = parser.parse_args()
    data = summarise(args.folder.resolve(), args.static.resolve() if args.static else None)
    args.output.write_text(json.dumps(data, indent=1) + "\n")
    plot(data, args.plot)
    print(table(data))
    print(f"\nnumbers: {args.output}; plot: {args.plot}")


if __name__ == "__main__":
    main()
