"""ConsentLoss family and the multi-task recipe vs plain sentence-transformers, side by side in one run.

Parts (run all, or name some):
  throughput   ConsentLoss vs CoSENTLoss training steps on STS-B train pairs, bundled model, same batches
               (interleaved), samples/s ratio (goal >= 0.95).
  memory       peak RSS of one training step at a large batch: CachedConsentLoss vs ConsentLoss (each side in its
               own subprocess).
  sts          STS-B fine-tuning, CoSENTLoss vs ConsentLoss, same seed and steps: STSBenchmark test Spearman.
  retrieval    CSL title -> abstract pairs: ConsentLoss(in_batch_negatives=True) vs MNRL, same seed and steps,
               nDCG@10 on a held-out split carved from the training pairs (never the shipped test slices).
  multitask    Banking77 triplets + STS-B + CSL pairs: one task per step vs Conan cross-task steps; the six-task
               table of the shipped evaluation slices before and after.

Usage:
    python benchmarks/bench_losses.py [throughput memory sts retrieval multitask] [--steps N] [--batch-size B]

The machine is shared and noisy: compare ratios from one run, never absolute seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


def _model():
    from st_plus import load_model

    return load_model("default", device="cpu")


def _stsb_rows(limit=None):
    from st_plus.data import load_training_rows

    rows = load_training_rows(REPO / "examples" / "training_data" / "stsb_train_en.jsonl")
    rows = rows.map(lambda r: {"score": r["score"] / 5.0})
    return rows if limit is None else rows.select(range(min(limit, len(rows))))


def _train(model, dataset, loss, *, steps, batch_size, seed=12, extra=None):
    import tempfile

    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    with tempfile.TemporaryDirectory() as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out,
            per_device_train_batch_size=batch_size,
            max_steps=steps,
            learning_rate=2e-5,
            warmup_steps=max(1, steps // 10),
            seed=seed,
            report_to=[],
            save_strategy="no",
            logging_steps=10**9,
            disable_tqdm=True,
            **(extra or {}),
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
        start = time.perf_counter()
        trainer.train()
        return time.perf_counter() - start


def throughput(args) -> None:
    import torch
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from st_plus.losses import ConsentLoss

    rows = _stsb_rows(args.batch_size * args.steps)
    model = _model()
    model.train()
    batches = [rows.select(range(i, i + args.batch_size)) for i in range(0, len(rows), args.batch_size)]
    losses = {"CoSENTLoss": CoSENTLoss(model), "ConsentLoss": ConsentLoss(model)}
    times = dict.fromkeys(losses, 0.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0)  # lr 0: the same weights for both sides
    for step, batch in enumerate(batches):
        features = [model.preprocess(batch["sentence1"]), model.preprocess(batch["sentence2"])]
        labels = torch.tensor(batch["score"])
        order = list(losses) if step % 2 == 0 else list(reversed(losses))
        for name in order:
            start = time.perf_counter()
            optimizer.zero_grad()
            losses[name](features, labels).backward()
            optimizer.step()
            times[name] += time.perf_counter() - start
    samples = len(batches) * args.batch_size
    ours, theirs = samples / times["ConsentLoss"], samples / times["CoSENTLoss"]
    print(f"[throughput] {len(batches)} steps x batch {args.batch_size} (STS-B train pairs), interleaved")
    print(f"  CoSENTLoss  {theirs:6.2f} samples/s")
    print(f"  ConsentLoss {ours:6.2f} samples/s   ratio {ours / theirs:.3f} (goal >= 0.95)")


def _memory_side(kind: str, batch: int, mini: int) -> None:
    import torch

    from st_plus.losses import CachedConsentLoss, ConsentLoss

    rows = _stsb_rows()
    texts1 = [rows[i % len(rows)]["sentence1"] for i in range(batch)]
    texts2 = [rows[i % len(rows)]["sentence2"] for i in range(batch)]
    model = _model()
    model.train()
    loss = CachedConsentLoss(model, mini_batch_size=mini) if kind == "cached" else ConsentLoss(model)
    start = time.perf_counter()
    value = loss([model.preprocess(texts1), model.preprocess(texts2)], torch.rand(batch))
    value.backward()
    wall = time.perf_counter() - start
    print("RESULT " + json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "wall": wall}))


def memory(args) -> None:
    results = {}
    for kind in ("plain", "cached"):
        command = [sys.executable, __file__, "--memory-side", kind, "--batch-size", str(args.memory_batch)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        line = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")]
        results[kind] = json.loads(line[0][7:]) if line else None
        if not line:
            print(f"  {kind}: failed (exit {completed.returncode}): {completed.stderr[-300:]}")
    print(f"[memory] one training step at batch {args.memory_batch} (STS-B pairs), peak RSS of the process")
    for kind, result in results.items():
        if result:
            print(f"  {'CachedConsentLoss (mini 32)' if kind == 'cached' else 'ConsentLoss':28} "
                  f"{result['peak_mb']:8.0f} MB  {result['wall']:6.1f} s")  # fmt: skip
    if all(results.values()):
        print(f"  ratio cached / plain: {results['cached']['peak_mb'] / results['plain']['peak_mb']:.2f}")


def _stsb_test_spearman(model) -> float:
    from st_plus.data import load_task
    from st_plus.evaluation import build_evaluator

    task = load_task(DATA / "sts_stsbenchmark_en")
    return build_evaluator(task).evaluate(model).main_score


def sts(args) -> None:
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from st_plus.losses import ConsentLoss

    rows = _stsb_rows()
    print(f"[sts] STS-B fine-tuning on {len(rows)} train pairs, {args.steps} steps x batch {args.batch_size}, seed 12")
    base = _stsb_test_spearman(_model())
    print(f"  before                     STSBenchmark test cosine_spearman {base:.4f}")
    for name, make in (("CoSENTLoss", CoSENTLoss), ("ConsentLoss", ConsentLoss)):
        model = _model()
        wall = _train(model, rows, make(model), steps=args.steps, batch_size=args.batch_size)
        print(f"  {name:12} ({wall:5.0f} s)      STSBenchmark test cosine_spearman {_stsb_test_spearman(model):.4f}")


def _csl_split():
    from st_plus.data import load_training_rows

    rows = load_training_rows(REPO / "examples" / "training_data" / "csl_title_abstract_zh.jsonl")
    order = list(range(len(rows)))
    random.Random(5).shuffle(order)
    return rows.select(order[200:]), rows.select(order[:200])


def _ndcg_on_held_out(model, held) -> float:
    from st_plus.evaluation import RetrievalEvaluator

    corpus = {f"d{i}": text for i, text in enumerate(held["positive"])}
    queries = {f"q{i}": text for i, text in enumerate(held["anchor"])}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(len(held))}
    return RetrievalEvaluator(queries, corpus, qrels).evaluate(model).main_score


def retrieval(args) -> None:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from st_plus.losses import ConsentLoss

    train, held = _csl_split()
    print(f"[retrieval] CSL title -> abstract: train {len(train)} pairs, held-out {len(held)} (carved, seed 5); "
          f"{args.steps} steps x batch {args.batch_size}, seed 12")  # fmt: skip
    print(f"  before                                   held-out nDCG@10 {_ndcg_on_held_out(_model(), held):.4f}")
    makers = (
        ("MultipleNegativesRankingLoss", lambda m: MultipleNegativesRankingLoss(m)),
        ("ConsentLoss(in_batch_negatives=True)", lambda m: ConsentLoss(m, in_batch_negatives=True)),
    )
    for name, make in makers:
        model = _model()
        wall = _train(model, train, make(model), steps=args.steps, batch_size=args.batch_size)
        print(f"  {name:38} ({wall:4.0f} s) held-out nDCG@10 {_ndcg_on_held_out(model, held):.4f}")


def multitask(args) -> None:
    from st_plus.data import load_labelled_texts
    from st_plus.evaluation import evaluate_suite
    from st_plus.training import TrainingTask, build_multitask

    task_dirs = sorted(str(p) for p in DATA.glob("*/") if (p / "task.json").exists())
    banking = load_labelled_texts(DATA / "classification_banking77_en" / "train.jsonl.gz")
    banking = banking.shuffle(seed=3).select(range(2000))
    stsb = _stsb_rows()
    csl, _ = _csl_split()

    def tasks():
        return [
            TrainingTask("banking77", "classification", banking),
            TrainingTask("stsb", "sts", stsb, weight=0.8),
            TrainingTask("csl", "retrieval", csl),
        ]

    tables = {"before": evaluate_suite(_model(), task_dirs, show_progress_bar=False)}
    for label, cross in (("one task per step", False), ("Conan cross-task steps", True)):
        model = _model()
        setup = build_multitask(model, tasks(), cross_task=cross)
        # the same number of optimiser steps and of training rows for both
        steps = args.steps if not cross else args.steps // 3
        _train(model, setup.train_dataset, setup.loss, steps=steps, batch_size=args.batch_size,
               extra={k: v for k, v in setup.training_args(args.batch_size).items()
                      if k != "per_device_train_batch_size"})  # fmt: skip
        tables[label] = evaluate_suite(model, task_dirs, show_progress_bar=False)
    print(f"[multitask] Banking77 triplets (2,000) + STS-B (1,000, weight 0.8) + CSL pairs ({len(csl)}); "
          f"{args.steps} micro-batches x {args.batch_size} each; note: Banking77 classification/clustering/pair "
          "slices share intents with the Banking77 training triplets")  # fmt: skip
    names = [r.task_name for r in tables["before"]]
    print(f"  {'task':34} " + " ".join(f"{label[:22]:>22}" for label in tables))
    for i, name in enumerate(names):
        print(f"  {name:34} " + " ".join(f"{tables[label][i].main_score:22.4f}" for label in tables))
    print("  " + "average".ljust(34) + " " + " ".join(
        f"{sum(r.main_score for r in t) / len(t):22.4f}" for t in tables.values()))  # fmt: skip


PARTS = {"throughput": throughput, "memory": memory, "sts": sts, "retrieval": retrieval, "multitask": multitask}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--memory-batch", type=int, default=1024)
    parser.add_argument("--memory-side", choices=("plain", "cached"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_side:
        _memory_side(args.memory_side, args.batch_size, 32)
        return
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    for part in args.parts or list(PARTS):
        PARTS[part](args)


if __name__ == "__main__":
    main()
