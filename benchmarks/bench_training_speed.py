"""Training speed of the recipe's defaults vs plain sentence-transformers fp32, same model, data and batch.

    python benchmarks/bench_training_speed.py                      # 2 rounds x 24 steps of 32 Debian pairs each
    python benchmarks/bench_training_speed.py --steps 48 --rounds 3 --output benchmarks/results/training_speed.json

Both sides train the bundled all-MiniLM-L6-v2 (max_seq_length 128) with MultipleNegativesRankingLoss on the shipped
Debian title -> description pairs (examples/training_data/debian_pairs_en.jsonl.gz), batch 32, lr 5e-5, from the
same initial weights:

- plain: ``SentenceTransformerTrainer`` with default arguments in fp32 (what a user writes without st_plus);
- st_plus: the pipeline's stage-1 trainer (``st_plus.training.stages.run_contrastive``) with the recipe's default
  ``precision: auto`` (bf16 autocast where the CPU has AMX / AVX512-BF16) and its group-aware batches.

The sides alternate (plain, st_plus, plain, ...) so that load on the shared machine hits both; samples/s is the
median over rounds of (steps x batch) / train seconds. Quality: each side's model from the last round is evaluated
(float32) on the held-out examples/data/retrieval_debian_en (nDCG@10) and STS-B. Prints the table and the ratio
(goal: st_plus >= 2x plain, with no quality loss).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
EVAL = [REPO / "examples" / "data" / "retrieval_debian_en", REPO / "examples" / "data" / "sts_stsbenchmark_en"]


def _model():
    from st_plus import load_model

    model = load_model("default", device="cpu")
    model.max_seq_length = 128
    for name, parameter in model.named_parameters():
        if ".pooler." in name:
            parameter.requires_grad_(False)
    return model


def plain(rows, steps: int, batch: int, folder: Path):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = _model()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=batch, max_steps=steps, learning_rate=5e-5,
        warmup_steps=0.1, seed=42, save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=rows.select_columns(["anchor", "positive"]),
        loss=MultipleNegativesRankingLoss(model),
    )  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start


def st_plus(steps: int, batch: int, n_rows: int, folder: Path):
    from st_plus.training.pipeline import resolve_precision
    from st_plus.training.recipe import ContrastiveStage, DataSpec
    from st_plus.training.stages import run_contrastive

    stage = ContrastiveStage(
        data=[DataSpec(str(DATA), rows=n_rows, group_column="source")], batch_size=batch, max_steps=steps,
        save_steps=10**6, filter=None,
    )  # fmt: skip
    model, _, info = run_contrastive(stage, _model(), folder, seed=42, bf16=resolve_precision("auto"), resume=False)
    return model, info["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()

    from st_plus.evaluation import evaluate_suite
    from st_plus.training.pipeline import cpu_supports_bf16, resolve_precision
    from st_plus.training.recipe import DataSpec
    from st_plus.training.stages import read_pairs

    n_rows = args.steps * args.batch_size
    rows = read_pairs([DataSpec(str(DATA), rows=n_rows)], 42)  # the same rows the st_plus side samples
    seconds: dict[str, list[float]] = {"plain fp32": [], "st_plus defaults": []}
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            models["plain fp32"], s = plain(rows, args.steps, args.batch_size, Path(tmp) / f"plain{r}")
            seconds["plain fp32"].append(s)
            models["st_plus defaults"], s = st_plus(args.steps, args.batch_size, n_rows, Path(tmp) / f"plus{r}")
            seconds["st_plus defaults"].append(s)
            print(f"round {r + 1}: plain {seconds['plain fp32'][-1]:.1f}s, st_plus {s:.1f}s", flush=True)
    results = {}
    for name, model in models.items():
        scores = evaluate_suite(model, EVAL, show_progress_bar=False)
        sps = args.steps * args.batch_size / statistics.median(seconds[name])
        results[name] = {"samples_per_s": sps, "seconds": seconds[name],
                         **{r.task_name: r.main_score for r in scores}}  # fmt: skip
    print(f"\nbf16 autocast: {resolve_precision('auto')} (CPU bf16: {cpu_supports_bf16()}); {args.steps} steps x "
          f"{args.batch_size} pairs, {args.rounds} rounds\n")  # fmt: skip
    print("| run | samples/s | held-out Debian nDCG@10 | STS-B Spearman |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['samples_per_s']:.2f} | {100 * r['retrieval_debian_en']:.2f} | "
              f"{100 * r['sts_stsbenchmark_en']:.2f} |")  # fmt: skip
    ratio = results["st_plus defaults"]["samples_per_s"] / results["plain fp32"]["samples_per_s"]
    print(f"\nspeed ratio st_plus / plain: {ratio:.2f}x (goal >= 2.0)")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"args": vars(args) | {"output": str(args.output)}, "results": results,
                                           "ratio": ratio}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
