"""Where the quickstart's wall time goes, before and after a change: parsed from `/usr/bin/time -v st-plus train` logs.

    /usr/bin/time -v st-plus train examples/recipes/quickstart.yaml --output-dir runs/qs_time/new1 --quiet \
        > runs/qs_time/new1.log 2>&1
    python benchmarks/quickstart_wall_time.py --arm before runs/qs_time/old1.log runs/qs_time/old2.log \
        --arm after runs/qs_time/new1.log runs/qs_time/new2.log --output benchmarks/results/quickstart_wall_time.json

Each log gives: the whole run's wall clock and peak RSS (``/usr/bin/time -v``), each stage's training seconds and
each evaluation's, the consistency filter's and the mining's seconds (the pipeline's INFO lines). "training" is
the sum of the stages; "other" is the wall clock minus what is listed (start-up, model loading, tokenization,
dynamic-negative state, reports). Runs are paired in the order given (1st with 1st): the factor of a pair is
before / after, for the whole run and for training, since the issue asks that the whole run drop by the training
factor.
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

_PATTERNS = {
    "evaluations": re.compile(r"Evaluated \d+ tasks in ([\d.]+)s"),
    "stages": re.compile(r"Stage (\w+) done: \{.*'seconds': ([\d.]+)\}"),
    "filter": re.compile(r"mining\.filtering: kept .*?, ([\d.]+)s"),
    "mining": re.compile(r"mining\.miner: mined .*?, ([\d.]+)s[;,]?"),
    "wall": re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)"),
    "rss_kb": re.compile(r"Maximum resident set size \(kbytes\): (\d+)"),
}


def parse_log(path: Path) -> dict:
    """The timings of one run's log (seconds; peak RSS in MB)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    wall = _PATTERNS["wall"].search(text)
    rss = _PATTERNS["rss_kb"].search(text)
    if wall is None or rss is None:
        raise ValueError(f"{path}: no `/usr/bin/time -v` report (wall clock and peak RSS)")
    hours, minutes, seconds = wall.groups()
    stages = {name: float(s) for name, s in _PATTERNS["stages"].findall(text)}
    if not stages:
        raise ValueError(f"{path}: no finished stage")
    record = {
        "log": str(path),
        "wall": round(int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), 1),
        "peak_rss_mb": round(int(rss.group(1)) / 1024),
        "stages": stages,
        "training": round(sum(stages.values()), 1),
        "evaluations": [float(s) for s in _PATTERNS["evaluations"].findall(text)],
        "filter": sum(float(s) for s in _PATTERNS["filter"].findall(text)),
        "mining": sum(float(s) for s in _PATTERNS["mining"].findall(text)),
    }
    listed = record["training"] + sum(record["evaluations"]) + record["filter"] + record["mining"]
    record["other"] = round(record["wall"] - listed, 1)
    return record


def compare(arms: dict[str, list[Path]]) -> dict:
    """Per run timings, per arm medians, and the paired factors (first arm / second arm)."""
    if len(arms) != 2:
        raise ValueError(f"give exactly two arms, got {list(arms)}")
    runs = {name: [parse_log(p) for p in paths] for name, paths in arms.items()}
    first, second = list(arms)
    if len(runs[first]) != len(runs[second]):
        raise ValueError(f"the arms have different numbers of runs: {len(runs[first])} vs {len(runs[second])}")
    factors = []
    for a, b in zip(runs[first], runs[second], strict=True):
        factor = {"whole_run": round(a["wall"] / b["wall"], 3), "training": round(a["training"] / b["training"], 3)}
        shared = [s for s in a["stages"] if s in b["stages"]]
        factor.update({f"stage {s}": round(a["stages"][s] / b["stages"][s], 3) for s in shared})
        factors.append(factor)
    medians = {key: round(statistics.median(f[key] for f in factors), 3) for key in factors[0]}
    return {"runs": runs, "factors": factors, "median_factors": medians}


def markdown(record: dict) -> str:
    """One row per run, then the factors of each pair."""
    stage_names = list(next(iter(record["runs"].values()))[0]["stages"])
    lines = ["| run | whole run | " + " | ".join(f"stage {s}" for s in stage_names)
             + " | evaluations | filter | mining | other | peak RSS |",
             "|---|---:|" + "---:|" * len(stage_names) + "---:|---:|---:|---:|---:|"]  # fmt: skip
    for arm, runs in record["runs"].items():
        for i, r in enumerate(runs, 1):
            evaluations = " + ".join(f"{s:.1f}" for s in r["evaluations"])
            lines.append(f"| {arm} {i} | {r['wall']:.1f} s | " + " | ".join(f"{r['stages'].get(s, 0):.1f} s"
                         for s in stage_names) + f" | {evaluations} s | {r['filter']:.1f} s | {r['mining']:.1f} s | "
                         f"{r['other']:.1f} s | {r['peak_rss_mb']:,} MB |")  # fmt: skip
    lines.append("")
    lines.append("| pair | whole run | training | " + " | ".join(f"stage {s}" for s in stage_names) + " |")
    lines.append("|---|---:|---:|" + "---:|" * len(stage_names))
    for i, f in enumerate(record["factors"], 1):
        lines.append(f"| {i} | {f['whole_run']:.2f}x | {f['training']:.2f}x | "
                     + " | ".join(f"{f.get('stage ' + s, 0):.2f}x" for s in stage_names) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", nargs="+", action="append", metavar="NAME LOG", required=True,
                        help="an arm's name, then its runs' logs (give two arms)")  # fmt: skip
    parser.add_argument("--output", help="JSON file to write")
    args = parser.parse_args()
    arms = {name: [Path(p) for p in logs] for name, *logs in args.arm}
    from st_plus.training.checkpoints import atomic_write_json

    record = compare(arms)
    print(markdown(record))
    if args.output:
        print(f"wrote {atomic_write_json(args.output, record)}")


if __name__ == "__main__":
    main()
