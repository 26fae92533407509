"""Pre-train a small NomicBERT-style encoder from scratch: WordPiece tokenizer, 30% MLM, then contrastive pairs.

    python examples/pretrain_nomic_mlm.py --output-dir nomic-scratch --mlm-minutes 8 --contrastive-minutes 4
    python examples/pretrain_nomic_mlm.py --fast --output-dir /tmp/scratch      # a quick look

Data (real, shipped): Debian package descriptions in English and Chinese and the CSL title -> abstract pairs
(../shared/data, else the repository's examples/training_data). Steps: train a WordPiece tokenizer (Chinese split
into characters, vocabulary padded to 64), masked-LM pre-training with ``NomicBertForMaskedLM`` at a 30% mask rate
(the loss is printed as it falls), then InfoNCE on (title, description) pairs, and the STSBenchmark test score of
the encoder before and after the contrastive stage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from st_plus.data import load_task
from st_plus.evaluation import build_evaluator
from st_plus.losses import InfoNCELoss
from st_plus.models import (
    WallClockCallback,
    encoder_from_mlm,
    pretrain_mlm,
    read_texts,
    train_wordpiece_tokenizer,
)

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
STS = HERE / "data" / "sts_stsbenchmark_en"


def _data_files() -> list[Path]:
    names = ["train_debian_descriptions_en/train.jsonl.gz", "train_debian_descriptions_zh/train.jsonl.gz",
             "train_csl_title_abstract_zh/train.jsonl"]  # fmt: skip
    files = [SHARED / name for name in names if (SHARED / name).is_file()]
    local = HERE / "training_data"
    return files or [local / "stsb_train_en.jsonl", local / "csl_title_abstract_zh.jsonl"]


def _pairs(files: list[Path], limit: int) -> Dataset:
    import gzip
    import json

    rows = []
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                anchor = row.get("anchor") or row.get("sentence1")
                positive = row.get("positive") or row.get("sentence2")
                if anchor and positive:
                    rows.append({"anchor": anchor, "positive": positive})
    rows = rows[:: max(1, len(rows) // limit)][:limit]
    return Dataset.from_list(rows).shuffle(seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--vocab-size", type=int, default=16384)
    parser.add_argument("--mlm-minutes", type=float, default=8.0)
    parser.add_argument("--contrastive-minutes", type=float, default=4.0)
    parser.add_argument("--fast", action="store_true", help="tiny preset, 2,000 texts, seconds per stage")
    args = parser.parse_args()
    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    if args.fast:
        args.preset, args.vocab_size, args.mlm_minutes, args.contrastive_minutes = "tiny", 2048, 0.3, 0.2

    files = _data_files()
    texts = read_texts(files, limit=2000 if args.fast else 60_000)
    tokenizer = train_wordpiece_tokenizer(texts, vocab_size=args.vocab_size)
    sample = tokenizer.tokenize("今天天气")
    print(f"tokenizer: {len(tokenizer)} tokens from {len(texts):,} texts; 今天天气 -> {sample}")
    run = pretrain_mlm(tokenizer, texts, args.preset, max_minutes=args.mlm_minutes, batch_size=32)
    model, losses = run.model, run.losses
    print(f"MLM (mask rate 0.3) loss every 10 steps: {' '.join(f'{loss:.2f}' for loss in losses)}")

    encoder = encoder_from_mlm(model, tokenizer, max_seq_length=128, device="cpu")
    evaluator = build_evaluator(load_task(STS))
    before = evaluator.evaluate(encoder).main_score
    pairs = _pairs(files, 2000 if args.fast else 40_000)
    with tempfile.TemporaryDirectory() as tmp:
        training = SentenceTransformerTrainingArguments(
            output_dir=tmp, per_device_train_batch_size=64, num_train_epochs=1, learning_rate=2e-4,
            warmup_steps=0.05, save_strategy="no", report_to="none", use_cpu=True, logging_steps=10,
        )  # fmt: skip
        trainer = SentenceTransformerTrainer(
            model=encoder,
            args=training,
            train_dataset=pairs,
            loss=InfoNCELoss(encoder),
            callbacks=[WallClockCallback(args.contrastive_minutes * 60.0)],
        )
        trainer.train()
    after = evaluator.evaluate(encoder).main_score
    print(f"contrastive stage: {trainer.state.global_step} steps on {len(pairs):,} (title, description) pairs")
    print(f"STSBenchmark test cosine_spearman: after MLM {before:.4f}, after contrastive {after:.4f}")
    encoder.save(str(out))
    print(f"saved to {out}")


if __name__ == "__main__":
    main()
