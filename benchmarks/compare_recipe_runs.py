"""Two arms of `st-plus train` runs, paired by seed: each task's final score, mean ± sd, and the paired difference.

    python benchmarks/compare_recipe_runs.py --arm "bf16 mining (auto)" "runs/mp/auto-*" \
        --arm "fp32 mining" "runs/mp/fp32-*" --output benchmarks/results/mining_precision_quality.json

Each run folder is read as the pipeline wrote it: the seed from ``recipe.resolved.yaml``, the scores of the last
evaluation point from ``pipeline_state.json`` (``--point`` picks another: ``start``, a stage name). Runs are paired by
seed; every seed must be in both arms, once. The runs of both arms must have evaluated the same tasks. Scores are
printed in points (x 100). The difference is the first arm minus the second.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import statistics
from pathlib import Path


def read_run(folder: Path, point: str | None) -> tuple[int, str, dict[str, float]]:
    """(seed, evaluation point, {task: main score x 100}) of one run folder."""
    resolved = (folder / "recipe.resolved.yaml").read_text(encoding="utf-8")
    match = re.search(r"^seed:\s*(\d+)\s*$", resolved, flags=re.MULTILINE)
    if match is None:
        raise ValueError(f"{folder}/recipe.resolved.yaml: no top-level `seed`")
    state = json.loads((folder / "pipeline_state.json").read_text(encoding="utf-8"))
    evaluations = state.get("evaluations") or {}
    if not evaluations:
        raise ValueError(f"{folder}/pipeline_state.json: no evaluation recorded (did the run finish?)")
    chosen = point or list(evaluations)[-1]
    if chosen not in evaluations:
        raise ValueError(f"{folder}: no evaluation {chosen!r}; it has {list(evaluations)}")
    scores = {task: 100 * entry["value"] for task, entry in evaluations[chosen].items()}
    return int(match.group(1)), chosen, scores


def _spread(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def compare(arms: dict[str, list[Path]], point: str | None = None) -> dict:
    """The comparison record of two arms (see the module docstring)."""
    if len(arms) != 2:
        raise ValueError(f"give exactly two arms, got {list(arms)}")
    runs: dict[str, dict[int, dict[str, float]]] = {}
    points = set()
    for name, folders in arms.items():
        if not folders:
            raise ValueError(f"arm {name!r}: no run folder")
        runs[name] = {}
        for folder in folders:
            seed, chosen, scores = read_run(folder, point)
            if seed in runs[name]:
                raise ValueError(f"arm {name!r}: seed {seed} twice")
            runs[name][seed] = scores
            points.add(chosen)
    first, second = list(arms)
    if set(runs[first]) != set(runs[second]):
        raise ValueError(f"the arms ran different seeds: {sorted(runs[first])} vs {sorted(runs[second])}")
    if len(points) != 1:
        raise ValueError(f"the runs end at different evaluation points: {sorted(points)}; pass --point")
    seeds = sorted(runs[first])
    tasks = sorted(runs[first][seeds[0]])
    for name in arms:
        for seed in seeds:
            if sorted(runs[name][seed]) != tasks:
                raise ValueError(f"arm {name!r} seed {seed} evaluated other tasks than {tasks}")
    record: dict = {"arms": {name: [str(f) for f in folders] for name, folders in arms.items()},
                    "point": points.pop(), "seeds": seeds, "tasks": {}}  # fmt: skip
    for task in [*tasks, "mean"]:
        per_arm, exact = {}, {}
        for name in arms:
            exact[name] = [runs[name][s][task] if task != "mean" else statistics.mean(runs[name][s].values())
                           for s in seeds]  # fmt: skip
            mean, sd = _spread(exact[name])
            rounded = [round(v, 4) for v in exact[name]]
            per_arm[name] = {"per_seed": rounded, "mean": round(mean, 4), "sd": round(sd, 4)}
        diffs = [a - b for a, b in zip(exact[first], exact[second], strict=True)]  # from the unrounded scores
        mean, sd = _spread(diffs)
        record["tasks"][task] = {**per_arm, "difference": {"per_seed": [round(d, 4) for d in diffs],
                                                            "mean": round(mean, 4), "sd": round(sd, 4)}}  # fmt: skip
    return record


def markdown(record: dict) -> str:
    """The comparison as a Markdown table."""
    first, second = list(record["arms"])
    lines = [f"| task ({record['point']}) | {first} | {second} | {first} - {second} (seeds {record['seeds']}) |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for task, entry in record["tasks"].items():
        d = entry["difference"]
        per_seed = ", ".join(f"{v:+.2f}" for v in d["per_seed"])
        lines.append(f"| {task} | {entry[first]['mean']:.2f} ± {entry[first]['sd']:.2f} | "
                     f"{entry[second]['mean']:.2f} ± {entry[second]['sd']:.2f} | "
                     f"{d['mean']:+.2f} ± {d['sd']:.2f} ({per_seed}) |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", nargs=2, action="append", metavar=("NAME", "GLOB"), required=True,
                        help="an arm's name and a glob of its run folders (give two)")  # fmt: skip
    parser.add_argument("--point", help="evaluation point (default: each run's last)")
    parser.add_argument("--output", help="JSON file to write")
    args = parser.parse_args()
    arms = {name: sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_dir()) for name, pattern in args.arm}
    record = compare(arms, args.point)
    print(markdown(record))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
