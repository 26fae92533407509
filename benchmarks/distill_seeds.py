"""Mean and spread over seeds of ``bench_distill.py`` results (one JSON per seed, one suite).

    python benchmarks/distill_seeds.py runs/distill_gpu/distill_gpu_test_lr3e-4_s*.json \
        --output benchmarks/results/distill_gpu_test.json

The teacher's scores must be the same in every file (one teacher, one suite, one scoring setup); the share of each
seed is its student mean over the teacher mean, and the goal (>= 95%) is read on the mean share and on every seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def summarize(results: list[dict]) -> dict:
    """One record of several seeds' ``bench_distill.py`` results; raises if they do not share teacher and suite."""
    if not results:
        raise ValueError("no results given")
    first = results[0]
    students = [r["student"] for r in results]
    if len(set(students)) != len(students):
        raise ValueError(f"a student is given twice: {students}")
    for result in results[1:]:
        for key in ("learning_rate", "student_layers", "student_preset", "max_seq_length"):
            mine, theirs = (r.get("distillation") or {} for r in (first, result))
            if mine.get(key) != theirs.get(key):
                raise ValueError(f"results differ in the distillation's {key}: {mine.get(key)!r} vs "
                                 f"{theirs.get(key)!r}")  # fmt: skip
        for key in ("dev_suite", "max_seq_length", "teacher"):
            if result[key] != first[key]:
                raise ValueError(f"results differ in {key}: {first[key]!r} vs {result[key]!r}")
        if result["dev_scores"]["teacher"] != first["dev_scores"]["teacher"]:
            raise ValueError("results differ in the teacher's scores")
    seeds = [r["distillation"]["seed"] if r.get("distillation") and "seed" in r["distillation"] else None
             for r in results]  # fmt: skip
    shares = [r["student_share_of_teacher_mean"] for r in results]
    students = [r["dev_mean"]["student"] for r in results]
    tasks = list(first["dev_scores"]["teacher"])
    per_task = {
        task: {
            "teacher": first["dev_scores"]["teacher"][task],
            "student_mean": round(statistics.mean(r["dev_scores"]["student"][task] for r in results), 5),
        }
        for task in tasks
    }
    speeds = [r["speed"]["speedup"] for r in results if r["speed"]["speedup"] is not None]
    spread = statistics.stdev(shares) if len(shares) > 1 else 0.0
    return {
        "suite": first["dev_suite"],
        "runs": [r["student"] for r in results],
        "seeds": seeds,
        "steps": [r["distillation"]["steps"] if r.get("distillation") else None for r in results],
        "teacher_mean": first["dev_mean"]["teacher"],
        "student_means": students,
        "shares": shares,
        "share_mean": round(statistics.mean(shares), 4),
        "share_stdev": round(spread, 4),
        "per_task": per_task,
        "speedup": speeds[0] if speeds else None,
        "goals": {
            "mean share >= 0.95": statistics.mean(shares) >= 0.95,
            "every seed's share >= 0.95": all(s >= 0.95 for s in shares),
            "speedup >= 1.8": speeds[0] >= 1.8 if speeds else None,
        },
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="bench_distill.py output files, one per seed")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    summary = summarize([json.loads(Path(p).read_text()) for p in args.results])
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"teacher {summary['teacher_mean']:.4f}; students {summary['student_means']}")
    print(f"share {summary['share_mean']:.2%} ± {summary['share_stdev']:.2%} (seeds {summary['shares']}); "
          f"goals {summary['goals']}")  # fmt: skip


if __name__ == "__main__":
    main()
