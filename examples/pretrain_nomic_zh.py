"""The Chinese recipe: a NomicBERT-style encoder pre-trained from scratch on shipped Chinese text (CPU, minutes).

    python examples/pretrain_nomic_zh.py --output-dir nomic-zh            # the recipe (about 10 min on 2 cores)
    python examples/pretrain_nomic_zh.py --fast --output-dir /tmp/zh      # a smoke run (seconds, tiny sizes)

Data (shipped, Apache-2.0, examples/training_data): CSL title -> abstract pairs (csl_title_abstract_zh.jsonl) and
CSL category-labelled titles (csl_titles_labelled_zh.jsonl); neither holds a text of the shipped evaluation slices.
Steps: a WordPiece tokenizer (Chinese split into characters), masked-LM pre-training at a 30% mask rate on every
title and abstract (loss printed as it falls), then one contrastive stage (``build_multitask``: InfoNCE on the
title -> abstract pairs and label triplets from the categories), with the scores of the encoder on the shipped
Chinese tasks (and on STS-B-zh when ../shared/data/sts_stsb_zh exists; not shipped, not trained on) printed after
MLM and after the contrastive stage. ``--compare-default`` also scores the bundled English model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from st_plus.data import load_task
from st_plus.evaluation import evaluate_suite
from st_plus.models import WallClockCallback, encoder_from_mlm, pretrain_mlm, train_wordpiece_tokenizer
from st_plus.training import TrainingTask, build_multitask

HERE = Path(__file__).resolve().parent
DATA = HERE / "training_data"
EVAL = [HERE / "data" / "retrieval_csl_title2abstract_zh", HERE / "data" / "clustering_csl_titles_zh"]
STS_ZH = HERE.parents[1] / "shared" / "data" / "sts_stsb_zh"  # local only (licence unstated): reported, not shipped

#: The Chinese recipe's settings (keyword arguments of each stage); ``--fast`` shrinks them for a smoke test.
MODEL = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512,
         "max_position_embeddings": 512}  # fmt: skip
RECIPE = {
    "tokenizer": {"vocab_size": 8192},
    "mlm": {"preset_or_config": MODEL, "max_minutes": 3.5, "max_seq_length": 128, "batch_size": 32,
            "learning_rate": 1e-3, "warmup_steps": 20, "mask_rate": 0.3, "group_by_length": True},
    "contrastive": {"max_minutes": 6.0, "batch_size": 32, "learning_rate": 1e-3, "max_seq_length": 128,
                    "scale": 20.0},
}  # fmt: skip
FAST = {
    "tokenizer": {"vocab_size": 1024},
    "mlm": {**RECIPE["mlm"], "preset_or_config": "tiny", "max_minutes": 0.1, "max_steps": 20},
    "contrastive": {**RECIPE["contrastive"], "max_minutes": 0.1, "max_steps": 10},
}


def _read(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _scores(model: SentenceTransformer, tasks: list) -> dict[str, float]:
    results = evaluate_suite(model, tasks, show_progress_bar=False)
    return {result.task_name: round(100 * result.main_score, 2) for result in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--fast", action="store_true", help="tiny preset and data, seconds per stage (smoke test)")
    parser.add_argument("--mlm-minutes", type=float, help=f"default {RECIPE['mlm']['max_minutes']}")
    parser.add_argument("--contrastive-minutes", type=float, help=f"default {RECIPE['contrastive']['max_minutes']}")
    parser.add_argument("--preset", help=f"default {RECIPE['mlm']['preset_or_config']}")
    parser.add_argument("--compare-default", action="store_true", help="also score the bundled English model")
    args = parser.parse_args()
    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty")
    recipe = {stage: dict(values) for stage, values in (FAST if args.fast else RECIPE).items()}
    if args.mlm_minutes is not None:
        recipe["mlm"]["max_minutes"] = args.mlm_minutes
    if args.contrastive_minutes is not None:
        recipe["contrastive"]["max_minutes"] = args.contrastive_minutes
    if args.preset:
        recipe["mlm"]["preset_or_config"] = args.preset
    print(f"recipe: {recipe}")

    pairs, titles = _read("csl_title_abstract_zh.jsonl"), _read("csl_titles_labelled_zh.jsonl")
    if args.fast:
        pairs, titles = pairs[:64], titles[:256]
    texts = [r["anchor"] for r in pairs] + [r["positive"] for r in pairs] + [r["text"] for r in titles]
    texts = list(dict.fromkeys(texts))  # distinct, in a fixed order
    tasks = [load_task(folder) for folder in EVAL]
    if STS_ZH.is_dir() and not args.fast:
        tasks.append(load_task(STS_ZH, task_type="STS"))
    if args.fast:  # a small corpus keeps the smoke test in seconds
        tasks = tasks[1:]

    start = time.perf_counter()
    tokenizer = train_wordpiece_tokenizer(texts, **recipe["tokenizer"])
    sample = tokenizer.tokenize("今天天气")
    print(f"tokenizer: {len(tokenizer)} tokens from {len(texts):,} texts; 今天天气 -> {sample}")
    run = pretrain_mlm(tokenizer, texts, **recipe["mlm"])
    model, losses = run.model, run.losses
    mlm_minutes = (time.perf_counter() - start) / 60
    print(f"MLM (mask rate 0.3), {mlm_minutes:.1f} min; loss at step 1, every 10 steps and at the end: "
          f"{' '.join(f'{loss:.2f}' for loss in losses)}")  # fmt: skip
    print(f"MLM loss first {losses[0]:.3f} -> last {losses[-1]:.3f}")

    contrastive = recipe["contrastive"]
    encoder = encoder_from_mlm(model, tokenizer, max_seq_length=contrastive["max_seq_length"], device="cpu")
    before = _scores(encoder, tasks)
    print(f"scores after MLM: {before}")

    setup = build_multitask(
        encoder,
        [
            TrainingTask("csl_title_abstract", "retrieval", Dataset.from_list(pairs)),
            TrainingTask("csl_titles", "clustering", Dataset.from_list(titles)),
        ],
        scale=contrastive["scale"],
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        training = SentenceTransformerTrainingArguments(
            output_dir=tmp, num_train_epochs=100, max_steps=contrastive.get("max_steps", -1),
            learning_rate=contrastive["learning_rate"], lr_scheduler_type="constant", save_strategy="no",
            report_to="none", use_cpu=True, logging_steps=10, seed=0,
            **setup.training_args(contrastive["batch_size"]),
        )  # fmt: skip
        trainer = SentenceTransformerTrainer(
            model=encoder,
            args=training,
            train_dataset=setup.train_dataset,
            loss=setup.loss,
            callbacks=[WallClockCallback(contrastive["max_minutes"] * 60.0, peak_lr=contrastive["learning_rate"])],
        )
        trainer.train()
    contrastive_minutes = (time.perf_counter() - start) / 60
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    print(f"contrastive stage: {trainer.state.global_step} steps, {contrastive_minutes:.1f} min; loss "
          f"{losses[0] if losses else float('nan'):.3f} -> {losses[-1] if losses else float('nan'):.3f}")  # fmt: skip
    after = _scores(encoder, tasks)
    print(f"scores after contrastive: {after}")
    print(f"training cost: {mlm_minutes + contrastive_minutes:.1f} min (tokenizer + MLM {mlm_minutes:.1f}, "
          f"contrastive {contrastive_minutes:.1f})")  # fmt: skip
    if args.compare_default:
        from st_plus import load_model

        print(f"bundled model (st_plus.load_model('default')): {_scores(load_model('default'), tasks)}")
    encoder.save(str(out))
    print(f"saved to {out}")


if __name__ == "__main__":
    sys.exit(main())
