"""Run with 2 CPU processes (see test_dynamic_ddp.py): dynamic negatives stay identical on every process.

Usage: dynamic_ddp_check.py MODEL_DIR OUT_DIR — each process writes rank{r}.json with its final state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.modules import Transformer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.sentence_transformer.modules import Pooling

from st_plus.mining import (
    CorpusEmbeddingStore,
    DynamicNegatives,
    DynamicNegativesCallback,
    DynamicNegativesConfig,
    mine_hybrid_negatives,
    model_score_fn,
    sharded_encode_fn,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests_helpers import leave_two_process_check  # noqa: E402

CORPUS = [f"document number {i} about topic {i % 7}" for i in range(60)]


def main() -> None:
    model_dir, out = sys.argv[1], Path(sys.argv[2])
    transformer = Transformer(model_dir, max_seq_length=32)
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")
    for name, parameter in model.named_parameters():
        if ".pooler." in name:
            parameter.requires_grad_(False)
    pairs = Dataset.from_dict({"anchor": [f"query about topic {i % 7} number {i}" for i in range(16)],
                               "positive": CORPUS[:16]})  # fmt: skip
    options = {"range_min": 0, "range_max": 10, "num_negatives": 2, "candidate_depth": 40, "sampling": "top"}
    mined = mine_hybrid_negatives(
        pairs, model, corpus=CORPUS[16:], method="hybrid", max_positive_ratio=None, **options
    )
    # initial scores: the untrained model's, raised for even rows (replaced) and lowered for odd ones (kept), so
    # decisions go both ways (the tiny model scores every pair almost alike)
    score = model_score_fn(model)
    initial = score(mined.dataset["anchor"], [[row[f"negative_{j}"] for j in (1, 2)] for row in mined.dataset])
    shifted = [value + (0.5 if i % 2 == 0 else -0.5) for i, value in enumerate(initial.mean(axis=1).tolist())]
    negatives = DynamicNegatives(mined, initial_scores=shifted)
    config = DynamicNegativesConfig(refresh_steps=1, decay=1.0, max_abs_score=1.5, offset=2, reindex_steps=2)
    callback = DynamicNegativesCallback(negatives, model, config)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "trainer"), per_device_train_batch_size=2, max_steps=4, report_to=[], save_steps=2,
        seed=3, learning_rate=1e-3, ddp_find_unused_parameters=False,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=negatives.dataset(),
                                         loss=MultipleNegativesRankingLoss(model), callbacks=[callback])  # fmt: skip
    trainer.train()
    rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
    state = negatives.state_dict()
    # the corpus encoded in shards across the processes equals this process encoding all of it
    sharded = sharded_encode_fn(model)(CORPUS, "document")
    whole = CorpusEmbeddingStore().encode(model, CORPUS, role="document")
    (out / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "world": world,
                "current": state["current"],
                "replacements": state["replacements"],
                "history": [h["rows_scored"] for h in callback.history],
                "reindexes": state["reindexes"],
                "candidates": state["candidates"],
                "sharded_equals_whole": bool(np.allclose(sharded, whole, atol=1e-6)),
            }
        )
    )
    leave_two_process_check(trainer.accelerator)


if __name__ == "__main__":
    main()
