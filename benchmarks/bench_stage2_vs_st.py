"""Stage 2 of the recipe vs a plain sentence-transformers baseline on the same data for the same steps.

    python benchmarks/bench_stage2_vs_st.py [--recipe examples/recipes/quickstart.yaml] [--output FILE.json]

Both sides start from the same model (the recipe's base; with ``--from-stage1 DIR``, a stage-1 model such as
``runs/quickstart/stages/contrastive/model``) and train on the same rows of the recipe's stage-2 tasks, with the
same batch size, learning rate, schedule, seed and number of steps:

- st_plus: the recipe's stage 2 as the pipeline runs it (``st_plus.training.stages.run_multitask``): hybrid mined
  hard negatives refreshed during training (Conan), Consent on scored pairs, label triplets with explicit
  negatives, rank-synchronised batches, Matryoshka;
- plain ST: ``MultipleNegativesRankingLoss`` with static negatives from ``sentence_transformers.util.
  mine_hard_negatives`` (dense, same number per row and rank band) for retrieval tasks, ``CoSENTLoss`` on the scored
  pairs, MNRL on the same label triplets, and sentence-transformers' default proportional multi-dataset sampler.

The stage-2 retrieval rows come from the recipe's stage-1 data (``data: stage1``, unfiltered here: the same rows for
both sides). Scores (float32): held-out Debian retrieval (examples/data/retrieval_debian_en), the other shipped
retrieval sets and STS-B. Goal: st_plus >= plain + 1.0 nDCG@10 on held-out retrieval, no loss on STS.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = ["retrieval_debian_en", "retrieval_xquad_en", "retrieval_csl_title2abstract_zh", "sts_stsbenchmark_en"]


def _load(path, seq):
    from st_plus import load_model

    model = load_model(path, device="cpu")
    if seq:
        model.max_seq_length = seq
    for name, parameter in model.named_parameters():
        if ".pooler." in name:
            parameter.requires_grad_(False)
    return model


def plain_st(stage, model, datasets, steps: int, folder: Path, bf16: bool):
    """The baseline: stock sentence-transformers losses, ST's static dense mining, ST's default sampler."""
    from datasets import DatasetDict
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss
    from sentence_transformers.util import mine_hard_negatives

    from st_plus.training.multitask import _LABEL_LIKE, _RETRIEVAL_LIKE, _task_type, triplets_from_labels

    train, losses = {}, {}
    for task in stage.tasks:
        rows, kind = datasets[task.name], _task_type(task.type)
        if kind in _LABEL_LIKE:
            rows = triplets_from_labels(rows, seed=42)
            losses[task.name] = MultipleNegativesRankingLoss(model)
        elif kind in _RETRIEVAL_LIKE:
            rows = rows.select_columns(["anchor", "positive"])
            if task.negatives is not None:
                n = task.negatives
                rows = mine_hard_negatives(rows, model, range_min=n.range_min, range_max=n.range_max,
                                           num_negatives=n.num_negatives, output_format="n-tuple", verbose=False,
                                           batch_size=64)  # fmt: skip
            losses[task.name] = MultipleNegativesRankingLoss(model)
        else:
            losses[task.name] = CoSENTLoss(model)
        train[task.name] = rows
    args = SentenceTransformerTrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=stage.batch_size, max_steps=steps,
        learning_rate=stage.learning_rate, warmup_steps=stage.warmup_ratio, seed=42, bf16=bf16, save_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True, multi_dataset_batch_sampler="proportional",
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=DatasetDict(train), loss=losses)
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO / "examples" / "recipes" / "quickstart.yaml")
    parser.add_argument("--from-stage1", default=None, help="start both sides from this model (default: base)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    from st_plus.evaluation import evaluate_suite
    from st_plus.training.pipeline import resolve_precision
    from st_plus.training.recipe import load_recipe
    from st_plus.training.stages import _task_rows, read_pairs, run_multitask

    recipe = load_recipe(args.recipe)
    stage, seq, bf16 = recipe.stages.multitask, recipe.model.max_seq_length, resolve_precision(recipe.precision)
    start_model = args.from_stage1 or recipe.model.base
    pairs = read_pairs(recipe.stages.contrastive.data, recipe.seed) if recipe.stages.contrastive else None
    datasets = {t.name: _task_rows(t, pairs, recipe.seed)[0] for t in stage.tasks}
    folders = [str(REPO / "examples" / "data" / name) for name in TASKS]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model, info = run_multitask(stage, _load(start_model, seq), Path(tmp) / "plus", seed=recipe.seed, bf16=bf16,
                                    resume=False, stage1_pairs=pairs,
                                    mining_dtype=recipe.mining_dtype(bf16))  # fmt: skip
        steps = info["steps"]
        results["st_plus stage 2"] = {"seconds": time.perf_counter() - start, "steps": steps,
                                      "scores": {r.task_name: r.main_score for r in
                                                 evaluate_suite(model, folders, show_progress_bar=False)}}  # fmt: skip
        print(f"st_plus: {results['st_plus stage 2']}", flush=True)
        start = time.perf_counter()
        model, _ = plain_st(stage, _load(start_model, seq), datasets, steps, Path(tmp) / "plain", bf16)
        results["plain ST (MNRL + static dense negatives, CoSENT)"] = {
            "seconds": time.perf_counter() - start, "steps": steps,
            "scores": {r.task_name: r.main_score for r in evaluate_suite(model, folders, show_progress_bar=False)},
        }  # fmt: skip
    base = {r.task_name: r.main_score for r in evaluate_suite(_load(start_model, seq), folders,
                                                               show_progress_bar=False)}  # fmt: skip
    print(f"\nstart model: {start_model}; {steps} steps x batch {stage.batch_size}, bf16 {bf16}\n")
    print("| run | seconds | " + " | ".join(TASKS) + " |\n|---|---:|" + "---:|" * len(TASKS))
    print("| start model | | " + " | ".join(f"{100 * base[t]:.2f}" for t in TASKS) + " |")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.0f} | " + " | ".join(f"{100 * r['scores'][t]:.2f}" for t in TASKS) + " |")
    plus, plain = results["st_plus stage 2"]["scores"], results["plain ST (MNRL + static dense negatives, CoSENT)"]
    gain = 100 * (plus["retrieval_debian_en"] - plain["scores"]["retrieval_debian_en"])
    sts = 100 * (plus["sts_stsbenchmark_en"] - plain["scores"]["sts_stsbenchmark_en"])
    print(f"\nheld-out Debian nDCG@10: st_plus - plain = {gain:+.2f} (goal >= +1.0); STS-B: {sts:+.2f} (goal >= 0)")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"start_model": str(start_model), "steps": steps, "base": base, "results": results}
        args.output.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
