"""LoRA (peft, through the recipe's ``adapter:`` key) vs full fine-tuning on a small quickstart stage 1.

    # one run per arm and seed (each writes RUN_DIR/bench_lora_run.json); runs may go in parallel
    python benchmarks/bench_lora.py run --arm full --lr 5e-5 --seed 42 --out runs/lora_bench/full-42
    python benchmarks/bench_lora.py run --arm lora --lr 5e-4 --seed 42 --out runs/lora_bench/lora5e-4-42
    ...
    # the comparison (mean, std, paired per-seed differences, ratios)
    python benchmarks/bench_lora.py report runs/lora_bench/* --output benchmarks/results/lora.json

Each run is the quickstart's stage 1 (bundled all-MiniLM-L6-v2, shipped Debian title -> description pairs,
group-aware batches, InfoNCE, bf16 autocast where the CPU has it) at a smaller scale: ``--rows`` pairs (default
512: 16 steps), batch 32, one epoch, no consistency filter and no stage 2. ``full`` trains every weight; ``lora``
trains a LoRA adapter (``adapter: {r: 16, alpha: 32, dropout: 0.05}`` on query/key/value/dense, ~2.9% of the
parameters).
The final model is scored on the English tasks of the development suite (``--tasks``: a subset where the machine is
too slow for all seven; max_seq_length 128, bf16 encoding).

Recorded per run: the dev scores, trainable parameters, training samples/s (trainer's ``train_samples_per_second``),
the CPU seconds of the run (loading + training: comparable across runs on a shared machine, unlike wall time) and
the peak resident memory of the training process (``ru_maxrss`` right after training, before evaluating). Speed and
memory are only comparable between runs that ran at the same time on the same machine (the report gives the ratios
of runs started together, and the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"

RECIPE = """\
name: lora-bench-{arm}
seed: {seed}
precision: auto
model: {{base: default, max_seq_length: 128}}
stages:
  contrastive:
    data: [{{path: {pairs}, group_column: source, rows: {rows}}}]
    batch_size: 32
    learning_rate: {lr}
    warmup_ratio: 0.1
    filter: null
    save_steps: 1000
    evaluate: none
evaluation: {{before: false}}
"""
ADAPTER = "adapter: {r: 16, alpha: 32, dropout: 0.05}\n"


def run(args: argparse.Namespace) -> None:
    """Trains one arm, records speed / memory / parameters, then scores the model on the dev suite."""
    from st_plus import load_model
    from st_plus.evaluation import evaluate_suite
    from st_plus.training import run_recipe
    from st_plus.training.adapters import merge_adapter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = RECIPE.format(arm=args.arm, seed=args.seed, pairs=PAIRS, rows=args.rows, lr=f"{args.lr:.2e}")
    text += ADAPTER if args.arm == "lora" else ""
    recipe = out / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    load_start = os.getloadavg()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    done = out / "run" / "model" / "st_plus_run.json"
    if args.reuse and done.is_file():  # trained earlier (e.g. the evaluation was killed): score it only
        model_path, peak_rss_mb, cpu_seconds = done.parent, None, None
    else:
        model_path = run_recipe(recipe, output_dir=out / "run", overwrite=True, show_progress_bar=False).model_path
        after = resource.getrusage(resource.RUSAGE_SELF)
        peak_rss_mb = round(after.ru_maxrss / 1024, 1)
        cpu_seconds = round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 1)
    state = json.loads((out / "run" / "pipeline_state.json").read_text())
    history = json.loads((out / "run" / "stages" / "contrastive" / "log_history.json").read_text())
    summary = next(entry for entry in history if "train_samples_per_second" in entry)
    info = json.loads((model_path / "st_plus_run.json").read_text())
    adapter = info.get("extra", {}).get("contrastive", {}).get("adapter")
    model = load_model(model_path, device="cpu")
    model.max_seq_length = 128
    merge_adapter(model)  # the same embeddings (to float rounding), plain layers: faster and smaller to evaluate
    dev = Path(args.dev_suite) / "en"
    tasks = sorted(p for p in dev.iterdir() if (p / "task.json").is_file())
    tasks = [p for p in tasks if not args.tasks or p.name in args.tasks]
    results = evaluate_suite(model, tasks, batch_size=64, dtype="bfloat16", show_progress_bar=False)
    scores = {r.task_name: round(r.main_score, 5) for r in results}
    total = sum(p.numel() for p in model.parameters())
    record = {
        "arm": args.arm, "seed": args.seed, "learning_rate": args.lr, "rows": args.rows,
        "steps": state["done"]["contrastive"]["steps"], "train_seconds": state["done"]["contrastive"]["seconds"],
        "train_samples_per_second": summary["train_samples_per_second"], "peak_rss_mb": peak_rss_mb,
        "run_cpu_seconds": cpu_seconds,
        "trainable_parameters": adapter["trainable"] if adapter else total - _frozen(model),
        "total_parameters": adapter["total"] if adapter else total,
        "load_average_at_start": [round(x, 2) for x in load_start], "model_files": sorted(
            p.name for p in model_path.iterdir()),
        "dev_scores": scores, "dev_mean": round(statistics.mean(scores.values()), 5),
    }  # fmt: skip
    record["trainable_share"] = round(record["trainable_parameters"] / record["total_parameters"], 5)
    (out / "bench_lora_run.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "dev_scores"}))


def _frozen(model) -> int:
    """Parameters a full fine-tuning run does not train (the BERT pooler, frozen by the pipeline)."""
    return sum(p.numel() for n, p in model.named_parameters() if ".pooler." in n)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def report(args: argparse.Namespace) -> None:
    """Aggregates runs: per-arm mean / std of the dev mean, paired per-seed differences, speed and memory ratios."""
    runs = [json.loads((Path(d) / "bench_lora_run.json").read_text()) for d in args.runs
            if (Path(d) / "bench_lora_run.json").is_file()]  # fmt: skip
    arms: dict[str, list[dict]] = {}
    for r in runs:
        arms.setdefault(f"{r['arm']}@{r['learning_rate']:g}", []).append(r)
    table = {}
    for name, rs in sorted(arms.items()):
        means = [r["dev_mean"] for r in rs]
        table[name] = {
            "seeds": [r["seed"] for r in rs], "dev_mean_per_seed": means, "dev_mean": round(statistics.mean(means), 5),
            "dev_std": round(statistics.stdev(means), 5) if len(means) > 1 else None,
            "trainable_share": rs[0]["trainable_share"], "steps": rs[0]["steps"],
            "per_task_mean": {t: round(statistics.mean(r["dev_scores"][t] for r in rs), 5)
                              for t in rs[0]["dev_scores"]},
        }  # fmt: skip
    full = next((k for k in table if k.startswith("full@")), None)
    comparisons = {}
    for name in table:
        if name == full or full is None:
            continue
        by_seed_full = {r["seed"]: r for r in arms[full]}
        paired = [(r["seed"], round(100 * (r["dev_mean"] - by_seed_full[r["seed"]]["dev_mean"]), 3),
                   round(r["train_samples_per_second"] / by_seed_full[r["seed"]]["train_samples_per_second"], 3),
                   _ratio(r["peak_rss_mb"], by_seed_full[r["seed"]]["peak_rss_mb"]))
                  for r in arms[name] if r["seed"] in by_seed_full]  # fmt: skip
        if paired:
            diffs = [p[1] for p in paired]
            comparisons[name] = {
                "paired_dev_mean_difference_points_per_seed": {str(s): d for s, d, _, _ in paired},
                "mean_difference_points": round(statistics.mean(diffs), 3),
                "std_difference_points": round(statistics.stdev(diffs), 3) if len(diffs) > 1 else None,
                "samples_per_second_ratio_per_seed": {str(s): x for s, _, x, _ in paired},
                "peak_rss_ratio_per_seed": {str(s): m for s, _, _, m in paired},
                "run_cpu_seconds_ratio_per_seed": {
                    str(r["seed"]): _ratio(r.get("run_cpu_seconds"), by_seed_full[r["seed"]].get("run_cpu_seconds"))
                    for r in arms[name] if r["seed"] in by_seed_full
                },
            }  # fmt: skip
    result = {"runs": runs, "arms": table, f"vs_{full}": comparisons,
              "note": "dev = the runs' English dev tasks (see dev_scores); points = 100 x score. Speed / memory "
                      "ratios compare runs started together on a shared 2-core machine."}  # fmt: skip
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    for name, row in table.items():
        print(f"{name:16} dev mean {row['dev_mean']:.4f} (std {row['dev_std']}) seeds {row['seeds']} "
              f"trainable {row['trainable_share']:.2%}")  # fmt: skip
    print(json.dumps(comparisons, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--arm", choices=("full", "lora"), required=True)
    r.add_argument("--lr", type=float, required=True)
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--rows", type=int, default=512)
    r.add_argument("--tasks", nargs="*", default=None, help="Only these dev task folders (default: every en task)")
    r.add_argument("--dev-suite", default="/work/dev_suite")
    r.add_argument("--out", required=True)
    r.add_argument("--reuse", action="store_true", help="Only score OUT's trained model (no speed / memory then)")
    p = sub.add_parser("report")
    p.add_argument("runs", nargs="+")
    p.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "lora.json"))
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
