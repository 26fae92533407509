"""Issue 15: the Chinese recipe vs the bundled model and a from-scratch candidate, task by task, on the dev suite.

    python benchmarks/make_dev_suite.py --output runs/dev_suite                          # once
    python benchmarks/make_dev_suite.py --chinese-training runs/chinese_training         # once
    python benchmarks/bench_chinese.py --seeds 42 43 44 --scratch-seeds 42               # trains, scores, writes
    python benchmarks/bench_chinese.py --table                                           # README table (results only)

Arms, every one scored on the 14 dev tasks (7 Chinese of five types, 7 English of six types; bfloat16 encoding,
batch 64, the pipeline's final evaluation):

- ``bundled``: the bundled all-MiniLM-L6-v2 as it is;
- ``chinese``: ``examples/recipes/chinese.yaml`` (vocabulary extension + continued MLM on the bundled model, then
  multi-task training on every Chinese source) with each of ``--seeds``;
- ``scratch``: ``benchmarks/recipes/chinese_scratch.yaml`` (the same stage 2 on a NomicBERT-style ``mini`` encoder
  pre-trained from scratch) with each of ``--scratch-seeds``.

Each run is ``st-plus train RECIPE --seed S --output-dir RUNS/ARM-seedS --resume`` (a finished run is read, not
retrained). Reported per task: mean and standard deviation over seeds and the paired per-seed difference to the
bundled model; the goals of issue 15 (every Chinese dev task >= +2.0 over the bundled model, their mean >= +8.0, the
English dev mean down by no more than 1.0) are checked on every seed. Then, once, every final model and the bundled
model are scored on the shipped Chinese test slices (``examples/data/*_zh``: CSL clustering and title -> abstract
retrieval), which nothing was tuned on. Writes ``benchmarks/results/chinese.json``; this script is its only writer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "chinese.json"
RECIPES = {"chinese": REPO / "examples" / "recipes" / "chinese.yaml",
           "scratch": REPO / "benchmarks" / "recipes" / "chinese_scratch.yaml"}  # fmt: skip
GOAL_TASK, GOAL_MEAN, MAX_EN_DROP = 2.0, 8.0, 1.0


def dev_tasks(dev_suite: Path) -> list[Path]:
    return sorted(dev_suite.glob("zh/*/")) + sorted(dev_suite.glob("en/*/"))


def bundled_scores(dev_suite: Path, cache: Path) -> dict[str, dict]:
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from st_plus import load_model
    from st_plus.evaluation import evaluate_suite

    results = evaluate_suite(load_model("default", device="cpu"), dev_tasks(dev_suite), batch_size=64,
                             show_progress_bar=False, dtype="bfloat16")  # fmt: skip
    scores = {r.task_name: {"language": r.language, "task_type": r.task_type, "metric": r.main_score_name,
                            "value": round(100 * r.main_score, 2)} for r in results}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")
    return scores


def train(arm: str, seed: int, runs: Path) -> dict:
    out = runs / f"{arm}-seed{seed}"
    command = [sys.executable, "-m", "st_plus", "train", str(RECIPES[arm]), "--seed", str(seed), "--output-dir",
               str(out), "--quiet", "--resume"]  # fmt: skip
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    state = json.loads((out / "pipeline_state.json").read_text(encoding="utf-8"))
    final = state["evaluations"].get("final") or state["evaluations"][list(state["evaluations"])[-1]]
    stages = {name: {k: info.get(k) for k in ("steps", "seconds")} for name, info in state["done"].items()}
    return {"arm": arm, "seed": seed, "run": str(out.relative_to(REPO) if out.is_relative_to(REPO) else out),
            "training_seconds": state.get("training_seconds"), "stages": stages,
            "scores": {task: round(100 * v["value"], 2) for task, v in final.items()}}  # fmt: skip


def test_scores(runs: list[dict], cache: Path) -> dict[str, dict[str, float]]:
    """Each final model's and the bundled model's scores on the shipped Chinese test slices (x100)."""
    from st_plus import load_model
    from st_plus.evaluation import evaluate_suite

    tasks = sorted((REPO / "examples" / "data").glob("*_zh/"))
    scores = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    for name, path in [("bundled", "default")] + [(Path(r["run"]).name, REPO / r["run"] / "model") for r in runs]:
        if name not in scores:
            results = evaluate_suite(load_model(str(path), device="cpu"), tasks, batch_size=64,
                                     show_progress_bar=False, dtype="bfloat16")  # fmt: skip
            scores[name] = {r.task_name: round(100 * r.main_score, 2) for r in results}
            cache.write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")
    return scores


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0}  # fmt: skip


def summarise(bundled: dict[str, dict], runs: list[dict]) -> dict:
    zh = [t for t, v in bundled.items() if v["language"] == "zh"]
    en = [t for t, v in bundled.items() if v["language"] == "en"]
    base_zh = statistics.mean(bundled[t]["value"] for t in zh)
    base_en = statistics.mean(bundled[t]["value"] for t in en)
    out: dict = {"bundled": {"zh_mean": round(base_zh, 2), "en_mean": round(base_en, 2)}}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        rows = [r for r in runs if r["arm"] == arm]
        tasks = {t: {**_stats([r["scores"][t] for r in rows]),
                     "paired_vs_bundled": [round(r["scores"][t] - bundled[t]["value"], 2) for r in rows]}
                 for t in bundled}  # fmt: skip
        zh_means = [statistics.mean(r["scores"][t] for t in zh) for r in rows]
        en_means = [statistics.mean(r["scores"][t] for t in en) for r in rows]
        goals = {
            "every_zh_task_plus_2": all(d >= GOAL_TASK for t in zh for d in tasks[t]["paired_vs_bundled"]),
            "zh_mean_plus_8": all(m - base_zh >= GOAL_MEAN for m in zh_means),
            "en_mean_drop_at_most_1": all(base_en - m <= MAX_EN_DROP for m in en_means),
        }
        out[arm] = {"seeds": [r["seed"] for r in rows], "tasks": tasks, "zh_mean": _stats(zh_means),
                    "zh_mean_paired_vs_bundled": [round(m - base_zh, 2) for m in zh_means],
                    "en_mean": _stats(en_means),
                    "en_mean_paired_vs_bundled": [round(m - base_en, 2) for m in en_means],
                    "training_minutes": [round((r["training_seconds"] or 0) / 60, 1) for r in rows],
                    "goals_every_seed": goals}  # fmt: skip
    return out


def table(result: dict) -> str:
    bundled, summary = result["bundled"], result["summary"]
    arms = [a for a in summary if a != "bundled"]
    head = "| task | lang | metric | bundled | " + " | ".join(
        f"{a} ({len(summary[a]['seeds'])} seed{'s' if len(summary[a]['seeds']) > 1 else ''})" for a in arms)
    lines = [head + " |", "|---|---|---|---:|" + "---:|" * len(arms)]
    for task, info in bundled.items():
        cells = []
        for arm in arms:
            t = summary[arm]["tasks"][task]
            delta = statistics.mean(t["paired_vs_bundled"])
            spread = f" ± {t['std']:.2f}" if len(summary[arm]["seeds"]) > 1 else ""
            cells.append(f"{t['mean']:.2f}{spread} ({delta:+.2f})")
        lines.append(f"| {task} | {info['language']} | {info['metric']} | {info['value']:.2f} | " + " | ".join(cells)
                     + " |")  # fmt: skip
    for lang in ("zh", "en"):
        cells = []
        for arm in arms:
            s = summary[arm]
            deltas = s[f"{lang}_mean_paired_vs_bundled"]
            cells.append(f"**{s[f'{lang}_mean']['mean']:.2f}** ({statistics.mean(deltas):+.2f}; per seed "
                         + ", ".join(f"{d:+.2f}" for d in deltas) + ")")  # fmt: skip
        lines.append(f"| **mean, {lang}** | | | **{summary['bundled'][f'{lang}_mean']:.2f}** | " + " | ".join(cells)
                     + " |")  # fmt: skip
    return "\n".join(lines)


def test_table(result: dict) -> str:
    scores = result["test"]
    tasks = list(scores["bundled"])
    lines = ["| model | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    lines += [f"| {name} | " + " | ".join(f"{s[t]:.2f}" for t in tasks) + " |" for name, s in scores.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-suite", type=Path, default=REPO / "runs" / "dev_suite")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "chinese_bench")
    parser.add_argument("--seeds", type=int, nargs="*", default=[42, 43, 44])
    parser.add_argument("--scratch-seeds", type=int, nargs="*", default=[42])
    parser.add_argument("--table", action="store_true", help="Print the README table from the results file")
    args = parser.parse_args()
    if args.table:
        result = json.loads(RESULTS.read_text(encoding="utf-8"))
        print(table(result) + "\n\nShipped Chinese test slices (once, at the end):\n\n" + test_table(result))
        return
    bundled = bundled_scores(args.dev_suite, args.runs_dir / "bundled.json")
    runs = [train("chinese", s, args.runs_dir) for s in args.seeds]
    runs += [train("scratch", s, args.runs_dir) for s in args.scratch_seeds]
    result = {
        "command": "python benchmarks/bench_chinese.py --seeds " + " ".join(map(str, args.seeds))
        + " --scratch-seeds " + " ".join(map(str, args.scratch_seeds)),
        "goals": {"every_zh_task": f">= +{GOAL_TASK}", "zh_mean": f">= +{GOAL_MEAN}",
                  "en_mean_drop": f"<= {MAX_EN_DROP}"},
        "bundled": bundled, "runs": runs, "summary": summarise(bundled, runs),
        "test": test_scores(runs, args.runs_dir / "test_scores.json"),
    }  # fmt: skip
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(table(result) + "\n\n" + test_table(result))
    print(json.dumps({arm: s.get("goals_every_seed") for arm, s in result["summary"].items()}, indent=1))


if __name__ == "__main__":
    main()
