"""Unsupervised stage-1 positives on text without pairs: SimCSE dropout vs ESimCSE repetition vs cutoff vs EDA.

Starting from the bundled all-MiniLM-L6-v2, each method trains stage-1 style (st_plus's own stage-1 code path:
``run_contrastive`` with a text-only ``DataSpec(unsupervised=...)``, MNRL with in-batch negatives, scale 20) on
Debian package descriptions used WITHOUT their titles (the ``positive`` column of
examples/training_data/debian_pairs_en.jsonl.gz), for a fixed small budget, with 3 seeds; every model and the
untrained start are scored on the English dev suite (/work/dev_suite/en, or --suite). fp32 (no bf16 autocast).

Writes benchmarks/results/augment.json: per method and seed the main score of each task, the dev mean, alignment and
uniformity of the STS / pair-classification tasks, and per method the mean, std and the paired per-seed difference
from no training.

    python benchmarks/bench_augment.py [--texts 2000] [--steps 60] [--batch-size 32] [--seeds 0 1 2]
        [--methods simcse repeat cutoff eda] [--tasks sts_stsb_dev_en ...] [--max-seq-length 128]

The committed results/augment.json was made on a 2-core machine shared by five jobs (load average ~15), within a
budget of ~25 CPU-minutes, with a smaller scale (its ``setup`` records the exact arguments):

    python benchmarks/bench_augment.py --steps 20 --batch-size 32 --max-seq-length 64 --texts 2000 \
        --tasks sts_stsb_dev_en pairclf_mrpc_dev_en retrieval_debian_dev_en

The loop is seed-major and the file is rewritten after every run (``complete: false`` until the end), so a run cut
short keeps every method at the seeds it finished. To use a shared machine's wall time, the seeds may run as
separate processes (``--seeds 1 --output s1.json``) merged afterwards with ``--combine s0.json s1.json s2.json``
(the committed file was made that way: seed 0 from the full run, seeds 1 and 2 in two more processes; then EDA's
seeds 1 and 2, run later with ``--methods eda --seeds 1`` / ``2``, were merged into it with
``--combine benchmarks/results/augment.json s1_eda.json s2_eda.json``: a part may hold other methods and seeds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
OUT = REPO / "benchmarks" / "results" / "augment.json"


def _texts_file(folder: Path, n: int) -> Path:
    """``n`` Debian descriptions (no titles), a seed-0 sample in file order, as a text-only file."""
    with gzip.open(DEBIAN, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    seen, texts = set(), []
    for row in rows:
        if row["positive"] not in seen:
            seen.add(row["positive"])
            texts.append({"text": row["positive"], "source": row["source"]})
    chosen = sorted(random.Random(0).sample(range(len(texts)), min(n, len(texts))))
    path = folder / "debian_texts.jsonl"
    path.write_text("".join(json.dumps(texts[i], ensure_ascii=False) + "\n" for i in chosen), encoding="utf-8")
    return path


def _evaluate(model, tasks: list[str]) -> dict:
    from st_plus.evaluation import evaluate_suite

    results = evaluate_suite(model, tasks, batch_size=64, show_progress_bar=False)
    scores = {r.task_name: round(r.main_score, 5) for r in results}
    geometry = {r.task_name: {k: round(r.scores[k], 5) for k in ("alignment", "uniformity") if k in r.scores}
                for r in results if "uniformity" in r.scores}  # fmt: skip
    return {"scores": scores, "mean": round(statistics.fmean(scores.values()), 5), "geometry": geometry}


def _train(method: str, texts: Path, seed: int, args, folder: Path):
    from st_plus import load_model
    from st_plus.training.recipe import ContrastiveStage, DataSpec
    from st_plus.training.stages import run_contrastive

    model = load_model("default", device="cpu")
    model.max_seq_length = args.max_seq_length
    stage = ContrastiveStage(
        data=[DataSpec(path=str(texts), group_column="source", unsupervised=method)], batch_size=args.batch_size,
        max_steps=args.steps, learning_rate=args.learning_rate, warmup_ratio=0.1, scale=20.0, filter=None,
        save_steps=10**6, evaluate="none",
    )  # fmt: skip
    start = time.perf_counter()
    model, _, info = run_contrastive(stage, model, folder, seed=seed, bf16=False, resume=False)
    losses = [h["loss"] for h in info["log_history"] if "loss" in h]
    return model, {"seconds": round(time.perf_counter() - start, 1), "first_loss": losses[0], "last_loss": losses[-1]}


def _summary(runs: dict, baseline: dict, tasks: list[str]) -> dict:
    means = [r["mean"] for r in runs.values()]
    diffs = [r["mean"] - baseline["mean"] for r in runs.values()]
    per_task = {t: {"mean": round(statistics.fmean(r["scores"][t] for r in runs.values()), 5),
                    "diff_vs_start": round(statistics.fmean(r["scores"][t] - baseline["scores"][t]
                                                            for r in runs.values()), 5)}
                for t in tasks}  # fmt: skip
    return {
        "dev_mean": round(statistics.fmean(means), 5),
        "dev_mean_std": round(statistics.stdev(means), 5) if len(means) > 1 else 0.0,
        "paired_diff_vs_start": [round(d, 5) for d in diffs],
        "paired_diff_mean": round(statistics.fmean(diffs), 5),
        "paired_diff_std": round(statistics.stdev(diffs), 5) if len(diffs) > 1 else 0.0,
        "per_task": per_task,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="/work/dev_suite/en")
    parser.add_argument("--tasks", nargs="*", help="Task folder names (default: every folder of the suite)")
    parser.add_argument("--methods", nargs="+", default=["simcse", "repeat", "cutoff", "eda"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--output", default=str(OUT))
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="Merge result files of runs with different --seeds (same settings) into --output",
    )
    args = parser.parse_args()
    if args.combine:
        _combine(args.combine, args.output)
        return
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from st_plus import load_model

    suite = Path(args.suite)
    tasks = sorted(str(p) for p in suite.iterdir() if p.is_dir() and (not args.tasks or p.name in args.tasks))
    names = [Path(t).name for t in tasks]
    start = time.perf_counter()
    result = {
        "setup": {**{k: v for k, v in vars(args).items() if k not in ("output", "combine")}, "precision": "fp32",
                  "model": "bundled all-MiniLM-L6-v2", "data": "Debian descriptions without titles (text-only)",
                  "loss": "MultipleNegativesRankingLoss (in-batch negatives), scale 20", "tasks": names,
                  "load_average_at_start": os.getloadavg()},
    }  # fmt: skip
    base_model = load_model("default", device="cpu")
    base_model.max_seq_length = args.max_seq_length
    result["start"] = _evaluate(base_model, tasks)
    print(f"start: dev mean {result['start']['mean']:.4f} ({time.perf_counter() - start:.0f}s wall, "
          f"{time.process_time():.0f}s CPU)", flush=True)  # fmt: skip
    result["methods"] = {m: {"runs": {}} for m in args.methods}
    with tempfile.TemporaryDirectory() as tmp:
        texts = _texts_file(Path(tmp), args.texts)
        for seed in args.seeds:  # seed-major: a run cut short still has every method at the first seeds
            for method in args.methods:
                model, info = _train(method, texts, seed, args, Path(tmp) / f"{method}_{seed}")
                runs = result["methods"][method]["runs"]
                runs[str(seed)] = {**_evaluate(model, tasks), "training": info}
                result["methods"][method]["summary"] = _summary(runs, result["start"], names)
                print(f"{method} seed {seed}: dev mean {runs[str(seed)]['mean']:.4f} "
                      f"(train {info['seconds']}s, loss {info['first_loss']:.3f} -> {info['last_loss']:.3f}; "
                      f"elapsed {time.perf_counter() - start:.0f}s wall, {time.process_time():.0f}s CPU)",
                      flush=True)  # fmt: skip
                _write(result, args.output, start, complete=False)
    _write(result, args.output, start, complete=True)
    print(f"wrote {args.output}")


def _combine(paths: list[str], output: str) -> None:
    """One result from runs of the same settings with different seeds (e.g. run as parallel processes)."""
    parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    first = parts[0]
    # parts may run different seeds and methods; `combine` (a mode, not a setting) is recorded by newer runs only
    free = ("seeds", "methods", "load_average_at_start", "combine")
    for part in parts[1:]:
        same = {k: v for k, v in part["setup"].items() if k not in free}
        if same != {k: v for k, v in first["setup"].items() if k not in free}:
            raise SystemExit(f"settings differ between {paths[0]} and a later file; cannot combine")
    names = first["setup"]["tasks"]
    result = {"setup": {**first["setup"], "seeds": []}, "start": first["start"],
              "start_identical_in_every_part": all(p["start"]["scores"] == first["start"]["scores"] for p in parts),
              "combined_from": [Path(p).name for p in paths], "methods": {}}  # fmt: skip
    for part in parts:
        for method, entry in part["methods"].items():
            runs = result["methods"].setdefault(method, {"runs": {}})["runs"]
            for seed, run in entry["runs"].items():
                runs.setdefault(seed, run)
    seeds = sorted({int(s) for m in result["methods"].values() for s in m["runs"]})
    result["setup"]["seeds"] = seeds
    result["setup"]["methods"] = list(result["methods"])
    for entry in result["methods"].values():
        entry["runs"] = dict(sorted(entry["runs"].items(), key=lambda kv: int(kv[0])))
        entry["summary"] = _summary(entry["runs"], result["start"], names)
    result["complete"] = all(len(m["runs"]) == len(seeds) for m in result["methods"].values())
    result["cpu_seconds"] = round(sum(p.get("cpu_seconds", 0.0) for p in parts), 1)
    result["seconds_per_part"] = [p.get("seconds") for p in parts]
    Path(output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {output} (seeds {seeds}; complete: {result['complete']})")
    print(markdown_table(result))


def markdown_table(result: dict) -> str:
    """The README table: main scores x100 (mean over seeds), the paired difference of the dev mean, geometry."""
    names = result["setup"]["tasks"]
    with_geometry = [t for t in names if t in result["start"]["geometry"]]  # an STS task first (SimCSE's choice)
    geometry_task = next((t for t in sorted(with_geometry, key=lambda t: not t.startswith("sts"))), None)
    head = ["method", "seeds", *names, "dev mean", "dev mean - start (±std)"]
    if geometry_task:
        head += [f"alignment ({geometry_task})", f"uniformity ({geometry_task})"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    start = result["start"]
    cells = ["no training (start)", "-", *(f"{100 * start['scores'][t]:.2f}" for t in names),
             f"{100 * start['mean']:.2f}", ""]  # fmt: skip
    if geometry_task:
        cells += [f"{start['geometry'][geometry_task][k]:.4f}" for k in ("alignment", "uniformity")]
    lines.append("| " + " | ".join(cells) + " |")
    for method, entry in result["methods"].items():
        runs, summary = entry["runs"], entry["summary"]
        cells = [method, str(len(runs)), *(f"{100 * summary['per_task'][t]['mean']:.2f}" for t in names),
                 f"{100 * summary['dev_mean']:.2f}",
                 f"{100 * summary['paired_diff_mean']:+.2f} ± {100 * summary['paired_diff_std']:.2f}"]  # fmt: skip
        if geometry_task:
            for key in ("alignment", "uniformity"):
                values = [r["geometry"][geometry_task][key] for r in runs.values()]
                cells.append(f"{statistics.fmean(values):.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write(result: dict, output: str, start: float, *, complete: bool) -> None:
    """Rewritten after every run, so that a measurement cut short keeps what it measured (``complete: false``)."""
    result["complete"] = complete
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cpu_seconds"] = round(time.process_time(), 1)
    result["load_average_at_end"] = os.getloadavg()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
