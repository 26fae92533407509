"""Run with 2 CPU processes (see test_multitask_ddp.py): which dataset each process trains on at each step.

Usage: multitask_ddp_check.py MODEL_DIR OUT_DIR {sentence_transformers,st_plus}
Each process writes ``rank{r}.json``: the dataset name of every loss call, and the training loss.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.modules import Transformer
from sentence_transformers.sentence_transformer.modules import Pooling

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests_helpers import CORPUS, leave_two_process_check, recording_loss  # noqa: E402

from st_plus.training import TrainingTask, build_multitask  # noqa: E402


def main() -> None:
    model_dir, out_dir, sampler = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    torch.manual_seed(0)
    transformer = Transformer(model_dir, max_seq_length=32)
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")
    for name, parameter in model.named_parameters():
        if ".pooler." in name:  # never feeds sentence embeddings; DDP wants unused weights frozen
            parameter.requires_grad_(False)
    rows = 48
    pairs = Dataset.from_dict(
        {
            "sentence1": [CORPUS[i % 10] for i in range(rows)],
            "sentence2": [CORPUS[(i * 3 + 1) % 10] for i in range(rows)],
            "score": [float(i % 5) for i in range(rows)],
        }
    )
    triplets = Dataset.from_dict(
        {
            "anchor": [CORPUS[i % 10] for i in range(rows)],
            "positive": [CORPUS[(i + 1) % 10] for i in range(rows)],
            "negative": [CORPUS[(i + 5) % 10] for i in range(rows)],
        }
    )
    ours = sampler == "st_plus"
    setup = build_multitask(
        model,
        [TrainingTask("sts", "sts", pairs), TrainingTask("retrieval", "retrieval", triplets)],
        gather_across_devices=ours,  # with sentence-transformers' sampler this could hang: see the test
    )
    log: list[str] = []
    losses = {name: recording_loss(loss, name, log) for name, loss in setup.loss.items()}
    extra = setup.training_args(4) if ours else {"per_device_train_batch_size": 4}
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out_dir / "trainer"),
        max_steps=8,
        report_to=[],
        save_strategy="no",
        seed=1,
        ddp_find_unused_parameters=False,
        dataloader_drop_last=True,
        **extra,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=setup.train_dataset, loss=losses)
    result = trainer.train()
    rank = trainer.accelerator.process_index
    world = trainer.accelerator.num_processes
    (out_dir / f"rank{rank}.json").write_text(
        json.dumps({"world": world, "datasets": log, "training_loss": result.training_loss})
    )
    leave_two_process_check(trainer.accelerator)


if __name__ == "__main__":
    main()
