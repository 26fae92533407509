"""Fine-tuning with dynamic hard negatives (Conan-embedding): mine once, then re-score and replace while training.

    python examples/train_dynamic_negatives.py --fast                  # a few steps on the shipped CSL pairs
    python examples/train_dynamic_negatives.py --data ../shared/data/train_debian_descriptions_en/train.jsonl.gz \\
        --group-column source --rows 4000 --output-dir out/dyn          # real Debian pairs, grouped by source
    python examples/train_dynamic_negatives.py ... --output-dir out/dyn --resume   # continue from the last checkpoint
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 examples/train_dynamic_negatives.py --fast

Steps: hybrid (BM25 + dense) mining with the false-negative guard and scores kept as Conan's initial scores;
training with MultipleNegativesRankingLoss on ``negatives.dataset()``; every ``--refresh-steps`` the rows trained on
are re-scored with the current weights and negatives gone easy are replaced; every ``--reindex-steps`` the corpus is
re-embedded and every row re-ranked. Checkpoints (every ``--save-steps``) hold the mining state, so ``--resume``
continues exactly. Prints the refresh log and the summary recorded in the model card (main process only).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from st_plus import load_model
from st_plus.data import load_training_rows
from st_plus.mining import DynamicNegatives, DynamicNegativesCallback, DynamicNegativesConfig, mine_hybrid_negatives

EXAMPLES = Path(__file__).resolve().parent
DEFAULT_DATA = EXAMPLES / "training_data" / "csl_title_abstract_zh.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="(anchor, positive) rows, .jsonl[.gz]")
    parser.add_argument("--group-column", default=None, help="rows sharing it are never each other's negatives")
    parser.add_argument("--rows", type=int, default=None, help="use the first N rows")
    parser.add_argument("--fast", action="store_true", help="48 rows, 4 steps of 8, refresh every 2, reindex at 4")
    parser.add_argument("--method", choices=("dense", "bm25", "hybrid"), default="hybrid")
    parser.add_argument("--num-negatives", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--refresh-steps", type=int, default=50)
    parser.add_argument("--reindex-steps", type=int, default=None)
    parser.add_argument("--save-steps", type=int, default=100)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AMX / recent GPUs)")
    parser.add_argument("--output-dir", default=None, help="checkpoints and the final model (default: not saved)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    args = parser.parse_args()
    if args.fast:
        args.rows, args.epochs, args.refresh_steps, args.reindex_steps, args.save_steps = 48, 1, 2, 4, 2
        args.batch_size, args.num_negatives = 8, 2
    out = Path(args.output_dir) if args.output_dir else None
    if out is not None and not args.resume and out.exists() and any(out.iterdir()):
        parser.error(f"--output-dir {out} exists and is not empty; choose another folder or pass --resume")
    if args.resume and out is None:
        parser.error("--resume needs --output-dir")

    keep = [args.group_column] if args.group_column else []
    rows = load_training_rows(args.data, keep_columns=keep)  # validated: file, line and field on bad input
    if args.rows:
        rows = rows.select(range(min(args.rows, len(rows))))
    model = load_model("default")
    for name, parameter in model.named_parameters():
        if ".pooler." in name:  # BERT's pooler never feeds the sentence embedding (keeps DDP happy)
            parameter.requires_grad_(False)
    # every process mines the same rows with the same weights: the results are identical
    n = args.num_negatives
    mined = mine_hybrid_negatives(
        rows, model, method=args.method, num_negatives=n, group_column=args.group_column, output_scores=True,
        range_min=10, range_max=100, candidate_depth=100 + 6 * n, too_few="pad",
    )  # fmt: skip
    negatives = DynamicNegatives(mined)
    config = DynamicNegativesConfig(refresh_steps=args.refresh_steps, reindex_steps=args.reindex_steps)
    callback = DynamicNegativesCallback(negatives, model, config)

    scratch = tempfile.TemporaryDirectory() if out is None else None
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(out or scratch.name),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs,
        max_steps=4 if args.fast else -1,
        learning_rate=2e-5,
        warmup_steps=0.1,
        seed=42,
        report_to=[],
        save_strategy="steps" if out else "no",
        save_steps=args.save_steps,
        logging_steps=args.refresh_steps,
        ddp_find_unused_parameters=False,
        bf16=args.bf16,
        use_cpu=args.bf16 and not torch.cuda.is_available(),  # transformers asks for it to allow bf16 on CPU
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=negatives.dataset(), loss=MultipleNegativesRankingLoss(model),
        callbacks=[callback],
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    if trainer.accelerator.is_main_process:
        print(mined.summary())
        for entry in callback.history:
            print({key: round(value, 4) if isinstance(value, float) else value for key, value in entry.items()})
        print("summary:", callback.summary())
        if out is not None:
            model.save_pretrained(str(out / "final"))
            print(f"saved to {out / 'final'} (its README.md carries the dynamic-negatives summary)")
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()  # under accelerate launch: tear the process group down before exiting
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
