"""Quality of hard negatives: in-batch only vs static (sentence-transformers / st_plus hybrid) vs dynamic.

Same base model (the bundled all-MiniLM-L6-v2), seed, steps, batch size, loss (MultipleNegativesRankingLoss),
learning rate and precision (bf16 autocast by default: 2x faster training on this AMX CPU) for the four runs; only
the negatives differ:

  (a) in-batch negatives only (anchor, positive);
  (b) static dense negatives from sentence-transformers' ``mine_hard_negatives``;
  (c) st_plus static hybrid negatives (BM25 + dense, group guard on the Debian ``source``);
  (d) st_plus dynamic negatives: (c)'s rows, re-scored every ``--refresh-steps`` and replaced (Conan's rule).

Data: the Debian title -> description pairs (../shared/data/train_debian_descriptions_en), split by source package
(a source's packages share paragraphs): about 1 source in 20 is held out (hash of the source name). Training rows
and extra mining-corpus documents come from the other sources. Measured: nDCG@10 on the held-out split (titles ->
descriptions of the held-out packages) and on the bundled out-of-domain retrieval sets (XQuAD en, CSL zh).

(c) is run with the dynamic callback in monitor-only mode (``replace=False``) to draw its hard-negative score
curve; that scoring time is reported and left out of (c)'s wall time, so (d) vs (c) compares like with like.

Usage:
    python benchmarks/bench_dynamic_negatives.py [--train-rows 1600] [--epochs 3] [--plot OUT.png]

The gain of (d) over (c) against run length (issue 14): ``--runs c d --lr-schedule constant_with_warmup
--warmup-steps 10 --curve-epochs 1 2 3`` scores the held-out split at the end of those epochs as well. With a constant
learning rate after a fixed warm-up, the model at the end of epoch k is the model a k-epoch run trains (same seed,
same batches), so one run per arm gives every point.
``benchmarks/dynamic_negatives_curve.py`` pairs the seeds and plots the curve.

Prints a table and the goal checks: (d) >= (b) + 1.0 nDCG@10 on the held-out split; (d)'s wall <= 1.15 x (c)'s.
Noisy shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = REPO.parent / "shared" / "data" / "train_debian_descriptions_en" / "train.jsonl.gz"
OUT_OF_DOMAIN = [
    REPO / "examples" / "data" / "retrieval_xquad_en",
    REPO / "examples" / "data" / "retrieval_csl_title2abstract_zh",
]  # noqa: E501


def _held_out(source: str) -> bool:
    return int(hashlib.blake2b(source.encode(), digest_size=4).hexdigest(), 16) % 20 == 0


def _splits(args):
    from st_plus.data import load_training_rows

    rows = load_training_rows(args.data, keep_columns=["source"])
    held_idx = [i for i, s in enumerate(rows["source"]) if _held_out(s)]
    train_idx = [i for i, s in enumerate(rows["source"]) if not _held_out(s)]
    rng = random.Random(0)
    rng.shuffle(held_idx)
    rng.shuffle(train_idx)
    held = rows.select(held_idx[: args.held_out_rows])
    train = rows.select(train_idx[: args.train_rows])
    extra_corpus = list(dict.fromkeys(rows.select(train_idx[args.train_rows :])["positive"]))[: args.corpus_extra]
    return train, held, extra_corpus


def _held_out_ndcg(model, held) -> float:
    from st_plus.evaluation import RetrievalEvaluator

    docs = list(dict.fromkeys(held["positive"]))
    doc_id = {text: f"d{i}" for i, text in enumerate(docs)}
    corpus = {doc_id[text]: text for text in docs}
    queries = {f"q{i}": text for i, text in enumerate(held["anchor"])}
    qrels = {f"q{i}": {doc_id[text]: 1} for i, text in enumerate(held["positive"])}
    return RetrievalEvaluator(queries, corpus, qrels).evaluate(model).main_score


def _scores(model, held) -> dict[str, float]:
    from st_plus.data import load_task
    from st_plus.evaluation import build_evaluator

    out = {"held-out": _held_out_ndcg(model, held)}
    for folder in OUT_OF_DOMAIN:
        out[folder.name] = build_evaluator(load_task(folder)).evaluate(model).main_score
    return out


def _model(args):
    from st_plus import load_model

    model = load_model("default", device="cpu")
    model.max_seq_length = args.max_seq_length
    return model


def _epoch_scorer(model, held, epochs: list[int], curve: list):
    """A callback that appends ``(epoch, step, held-out nDCG@10)`` at the end of each epoch in ``epochs``."""
    from transformers import TrainerCallback

    class EpochScorer(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = round(state.epoch or 0)
            if epoch in epochs:
                start = time.perf_counter()
                score = _held_out_ndcg(model, held)
                curve.append((epoch, state.global_step, score, time.perf_counter() - start))
                print(f"    epoch {epoch} (step {state.global_step}): held-out {curve[-1][2]:.4f}", flush=True)

    return EpochScorer()


def _train(model, dataset, args, callbacks=()):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    warmup = 0.1 if args.warmup_steps is None else args.warmup_steps
    with tempfile.TemporaryDirectory() as out:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size, num_train_epochs=args.epochs,
            learning_rate=args.lr, warmup_steps=warmup, seed=args.seed, data_seed=args.seed, report_to=[],
            save_strategy="no", logging_steps=10**9, disable_tqdm=True, bf16=args.precision == "bf16",
            use_cpu=args.precision == "bf16", lr_scheduler_type=args.lr_schedule,
        )  # fmt: skip
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(model),
            callbacks=list(callbacks),
        )  # fmt: skip
        start = time.perf_counter()
        trainer.train()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEBIAN)
    parser.add_argument("--train-rows", type=int, default=1600)
    parser.add_argument("--held-out-rows", type=int, default=3000, help="at most (about 2,400 rows are held out)")
    parser.add_argument("--corpus-extra", type=int, default=6000, help="extra mining-corpus documents")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--negatives", type=int, default=1)
    parser.add_argument("--range-min", type=int, default=10)
    parser.add_argument("--range-max", type=int, default=100)
    parser.add_argument("--refresh-steps", type=int, default=25)
    parser.add_argument("--reindex-steps", type=int, default=None, help="(d) also re-ranks every row this often")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16", help="training precision")
    parser.add_argument("--runs", nargs="*", default=["a", "b", "c", "d"])
    parser.add_argument("--lr-schedule", choices=("linear", "constant_with_warmup"), default="linear",
                        help="constant_with_warmup: the model after epoch k is a k-epoch run's (for --curve-epochs)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="default: 10%% of the run")
    parser.add_argument("--curve-epochs", nargs="*", type=int, default=[],
                        help="(c) and (d): score the held-out split at the end of these epochs")
    parser.add_argument("--plot", type=Path, default=REPO / "benchmarks" / "results" / "dynamic_negatives.png")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "dynamic_negatives.json")
    args = parser.parse_args()

    from sentence_transformers.util import mine_hard_negatives as st_mine

    from st_plus.mining import (
        DynamicNegatives,
        DynamicNegativesCallback,
        DynamicNegativesConfig,
        mine_hybrid_negatives,
    )

    train, held, extra_corpus = _splits(args)
    n = args.negatives
    steps = args.epochs * -(-len(train) // args.batch_size)
    print(f"Debian title -> description: train {len(train):,} rows, held-out {len(held):,} rows (sources split by "
          f"hash), mining corpus {len(set(train['positive'])) + len(extra_corpus):,} documents; {args.epochs} epochs "
          f"= {steps} steps x batch {args.batch_size}, {n} negative(s), band [{args.range_min}, {args.range_max}), "
          f"max_seq_length {args.max_seq_length}, {args.precision} training, seed {args.seed}")  # fmt: skip
    results: dict[str, dict] = {}
    base = _model(args)
    results["base"] = {"scores": _scores(base, held)}
    print(f"  base model: {results['base']['scores']}", flush=True)
    band = {"range_min": args.range_min, "range_max": args.range_max, "num_negatives": n}
    pairs = train.select_columns(["anchor", "positive"])

    if "a" in args.runs:
        model = _model(args)
        wall = _train(model, pairs, args)
        results["a"] = {"name": "(a) in-batch only", "wall": wall, "scores": _scores(model, held)}
        print(f"  {results['a']}", flush=True)
    if "b" in args.runs:
        start = time.perf_counter()
        mined_b = st_mine(pairs, base, corpus=extra_corpus, sampling_strategy="top", relative_margin=0.05,
                          output_format="n-tuple", verbose=False, batch_size=64, **band)  # fmt: skip
        mining = time.perf_counter() - start
        model = _model(args)
        wall = _train(model, mined_b, args)
        results["b"] = {"name": "(b) ST static dense", "rows": len(mined_b), "mining": mining, "wall": wall,
                        "scores": _scores(model, held)}  # fmt: skip
        print(f"  {results['b']}", flush=True)
    if "c" in args.runs or "d" in args.runs:
        start = time.perf_counter()
        mined = mine_hybrid_negatives(train, base, corpus=extra_corpus, method="hybrid", sampling="top",
                                    group_column="source", output_scores=True,
                                    candidate_depth=args.range_max + 6 * n, **band)  # fmt: skip
        mining_c = time.perf_counter() - start
    curves = {}
    for run, replace in (("c", False), ("d", True)):
        if run not in args.runs:
            continue
        model = _model(args)
        negatives = DynamicNegatives(mined)  # initial scores: the mined ones (output_scores=True)
        config = DynamicNegativesConfig(
            refresh_steps=args.refresh_steps, replace=replace, reindex_steps=args.reindex_steps if replace else None
        )
        callback = DynamicNegativesCallback(negatives, model, config)
        held_curve: list = []
        scorer = [_epoch_scorer(model, held, args.curve_epochs, held_curve)] if args.curve_epochs else []
        wall = _train(model, negatives.dataset(), args, callbacks=[callback, *scorer])
        if scorer:  # the held-out scoring inside the run is not training time
            wall -= sum(h[3] for h in held_curve)
        summary = callback.summary()
        name = "(c) st_plus static hybrid" if run == "c" else "(d) st_plus dynamic"
        if run == "d" and args.reindex_steps:
            name += f" + reindex every {args.reindex_steps} steps"
        results[run] = {"name": name, "rows": len(mined.dataset), "mining": mining_c, "wall_with_scoring": wall,
                        "scoring": summary["seconds"], "wall": wall - summary["seconds"] if run == "c" else wall,
                        "summary": summary, "scores": _scores(model, held)}  # fmt: skip
        if scorer:
            results[run]["held_out_curve"] = [{"epoch": e, "step": st, "held-out": sc, "seconds": round(t, 1)}
                                              for e, st, sc, t in held_curve]  # fmt: skip
        curves[run] = [(h["step"], h["mean_negative_score"], h["mean_positive_score"]) for h in callback.history]
        print(f"  {results[run]}", flush=True)

    names = " | ".join(f.name for f in OUT_OF_DOMAIN)
    print(f"\n| run | rows | mining s | train s | held-out nDCG@10 | {names} |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(OUT_OF_DOMAIN))
    for r in results.values():
        s = r["scores"]
        print(f"| {r.get('name', 'base model')} | {r.get('rows', '')} | {r.get('mining', 0):.0f} | "
              f"{r.get('wall', 0):.0f} | {s['held-out']:.4f} | "
              + " | ".join(f"{s[f.name]:.4f}" for f in OUT_OF_DOMAIN) + " |")  # fmt: skip
    if "b" in results and "d" in results:
        gain = 100 * (results["d"]["scores"]["held-out"] - results["b"]["scores"]["held-out"])
        print(f"\n(d) - (b) held-out nDCG@10: {gain:+.2f} points (goal >= +1.0)")
    if "c" in results and "d" in results:
        print(f"(d) / (c) wall time: {results['d']['wall'] / results['c']['wall']:.3f}x (goal <= 1.15; (c) without "
              f"its {results['c']['scoring']:.0f} s of monitoring)")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                     "curves": curves}, indent=1))  # fmt: skip
    if curves:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for run, label in (("c", "static (c)"), ("d", "dynamic (d)")):
            if run in curves:
                steps_, neg, _ = zip(*curves[run], strict=True)
                ax.plot(steps_, neg, marker="o", label=f"{label}: mean hard-negative score")
        ax.set_xlabel("training step")
        ax.set_ylabel("mean cosine(query, hard negative)")
        ax.set_title("Hard-negative score during training (Debian titles -> descriptions)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}; numbers: {args.json}")


if __name__ == "__main__":
    main()
