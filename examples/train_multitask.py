"""Multi-task fine-tuning of the bundled model on shipped real data, each task type with its loss.

    python examples/train_multitask.py --fast                   # a few steps, to see it run
    python examples/train_multitask.py --output-dir out/mt      # ~1 epoch of the small shipped sets
    python examples/train_multitask.py --cross-task             # Conan cross-task steps
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 examples/train_multitask.py --fast --gather
                                                                # 2 CPU processes, gathered in-batch negatives

Tasks: Banking77 intent triplets (classification -> label triplets, explicit negatives only), STS-B train pairs
(ConsentLoss, weight 0.8) and CSL title -> abstract pairs (InfoNCE with in-batch negatives). Prints the shipped
STS-B and CSL retrieval scores before and after (rank 0 only).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from st_plus import load_model
from st_plus.data import load_labelled_texts, load_task, load_training_rows
from st_plus.evaluation import build_evaluator
from st_plus.training import TrainingTask, build_multitask

EXAMPLES = Path(__file__).resolve().parent
EVAL_TASKS = ["sts_stsbenchmark_en", "retrieval_csl_title2abstract_zh"]


def scores(model) -> dict[str, float]:
    """Main scores on two shipped evaluation slices."""
    return {
        name: build_evaluator(load_task(EXAMPLES / "data" / name)).evaluate(model).main_score for name in EVAL_TASKS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="6 steps on small subsets, no evaluation")
    parser.add_argument("--cross-task", action="store_true", help="a sub-batch of every task per optimiser step")
    parser.add_argument("--gather", action="store_true", help="gather in-batch negatives across processes")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--output-dir", default=None, help="where to save the model (default: not saved)")
    args = parser.parse_args()
    if args.output_dir and Path(args.output_dir).exists() and any(Path(args.output_dir).iterdir()):
        parser.error(f"--output-dir {args.output_dir} exists and is not empty; choose another folder")

    model = load_model("default")
    rows = 96 if args.fast else None
    banking = load_labelled_texts(EXAMPLES / "data" / "classification_banking77_en" / "train.jsonl.gz")
    banking = banking.shuffle(seed=0).select(range(rows or 2000))
    stsb = load_training_rows(EXAMPLES / "training_data" / "stsb_train_en.jsonl")
    stsb = stsb.map(lambda row: {"score": row["score"] / 5.0})  # any scale works; 0-1 reads better
    csl = load_training_rows(EXAMPLES / "training_data" / "csl_title_abstract_zh.jsonl")
    if rows:
        stsb, csl = stsb.select(range(rows)), csl.select(range(rows))
    setup = build_multitask(
        model,
        [
            TrainingTask("banking77", "classification", banking),
            TrainingTask("stsb", "sts", stsb, weight=0.8),
            TrainingTask("csl", "retrieval", csl),
        ],
        gather_across_devices=args.gather,
        cross_task=args.cross_task,
    )
    with tempfile.TemporaryDirectory() as scratch:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            max_steps=6 if args.fast else -1,
            num_train_epochs=1,
            learning_rate=2e-5,
            warmup_ratio=0.1,
            seed=42,
            report_to=[],
            save_strategy="no",
            logging_steps=10,
            ddp_find_unused_parameters=False,
            **setup.training_args(args.batch_size),
        )
        for name, parameter in model.named_parameters():
            if ".pooler." in name:  # BERT's pooler never feeds the sentence embedding (keeps DDP happy)
                parameter.requires_grad_(False)
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args, train_dataset=setup.train_dataset, loss=setup.loss
        )
        main_process = trainer.accelerator.is_main_process
        before = scores(model) if main_process and not args.fast else None
        result = trainer.train()
    if main_process:
        print(f"training loss {result.training_loss:.4f} over {result.global_step} steps")
        if before is not None:
            after = scores(model)
            for name in EVAL_TASKS:
                print(f"{name:34} before {before[name]:.4f}  after {after[name]:.4f}")
        if args.output_dir:
            model.save_pretrained(args.output_dir)
            print(f"saved to {args.output_dir}")
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()  # under accelerate launch: tear the process group down before exiting


if __name__ == "__main__":
    main()
