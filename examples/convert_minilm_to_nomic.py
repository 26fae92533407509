"""Warm-start a NomicBERT-style encoder (RoPE, SwiGLU, 2,048 tokens) from the bundled all-MiniLM-L6-v2.

    python examples/convert_minilm_to_nomic.py --output-dir minilm-nomic            # 20 minutes of recovery
    python examples/convert_minilm_to_nomic.py --fast --output-dir /tmp/nomic       # quick: 6 s recovery, 200 pairs

Steps: convert the weights (``convert_bert_to_nomic``), recover by embedding distillation from the source on
shipped English training text (``recover_by_distillation``), score source and converted model on the shipped
STSBenchmark test slice, save, and load the result again with plain ``SentenceTransformer(path)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from st_plus import load_model
from st_plus.data import load_task
from st_plus.evaluation import STSEvaluator
from st_plus.models import convert_bert_to_nomic, read_texts, recover_by_distillation

HERE = Path(__file__).resolve().parent
STS = HERE / "data" / "sts_stsbenchmark_en"
TEXTS = HERE / "training_data" / "stsb_train_en.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--minutes", type=float, default=20.0, help="Recovery budget (wall clock)")
    parser.add_argument("--recover-data", nargs="+", default=[str(TEXTS)], help="Recovery text files")
    parser.add_argument("--fast", action="store_true", help="0.1 minutes of recovery on 256 texts, 200 STS pairs")
    args = parser.parse_args()
    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")  # exit code 1 with the message

    source = load_model("default", device="cpu")
    nomic = convert_bert_to_nomic(source, device="cpu")
    texts = read_texts(args.recover_data, limit=256 if args.fast else None)
    stats = recover_by_distillation(nomic, source, texts, max_minutes=0.1 if args.fast else args.minutes)
    print(f"recovery: {stats}")

    data = load_task(STS).data
    n = 200 if args.fast else len(data["score"])
    evaluator = STSEvaluator(data["sentence1"][:n], data["sentence2"][:n], data["score"][:n], name="stsb")
    source_score = evaluator.evaluate(source).main_score
    nomic_score = evaluator.evaluate(nomic).main_score
    print(f"STSBenchmark test ({n} pairs) Spearman: source {source_score:.4f}, NomicBERT-style {nomic_score:.4f} "
          f"({nomic_score / source_score:.1%} of the source), max_seq_length {nomic.max_seq_length}")  # fmt: skip

    nomic.save(str(out))
    reloaded = SentenceTransformer(str(out), device="cpu")  # plain sentence-transformers
    probe = ["A man is playing a guitar.", "Stocks fell on Monday."]
    # st_plus runs the converted model padding-free (its fast path); the plain reload runs transformers' forward,
    # which adds the same numbers in another order: equal to float32 rounding
    assert np.allclose(reloaded.encode(probe), nomic.encode(probe), atol=1e-5)
    print(f"saved to {out}; reloaded with SentenceTransformer({str(out)!r}): the same embeddings (atol 1e-5)")


if __name__ == "__main__":
    main()
