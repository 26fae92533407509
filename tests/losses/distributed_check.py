"""Run under 2 CPU processes (see test_distributed.py): losses with gather_across_devices on split batches.

Each process takes its half of a fixed batch, computes the loss with ``gather_across_devices=True`` through a
DDP-wrapped model and back-propagates; DDP averages the gradients. Rank 0 writes the loss and the averaged
gradients, which the test compares with one process on the whole batch.

Usage: distributed_check.py MODEL_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import Accelerator
from safetensors.torch import save_file
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Transformer
from sentence_transformers.sentence_transformer.modules import Pooling

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from losses.distributed_cases import CASES, batch_for  # noqa: E402
from tests_helpers import leave_two_process_check  # noqa: E402


def main() -> None:
    model_dir, out_dir = sys.argv[1], Path(sys.argv[2])
    accelerator = Accelerator(cpu=True)
    rank, world = accelerator.process_index, accelerator.num_processes
    if world != 2:
        raise SystemExit(f"expected 2 processes, got {world}: the launcher did not start a distributed run")
    transformer = Transformer(model_dir, max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")
    for name, parameter in model.named_parameters():
        if ".pooler." in name:  # BERT's pooler never feeds sentence embeddings; DDP needs unused weights frozen
            parameter.requires_grad_(False)
    wrapped = accelerator.prepare(model)
    results = {}
    for name, make_loss in CASES.items():
        columns, labels = batch_for(name)
        per_rank = len(columns[0]) // world
        rows = slice(rank * per_rank, (rank + 1) * per_rank)
        loss = make_loss(model, gather_across_devices=True)
        loss.model = wrapped
        features = [model.preprocess(column[rows]) for column in columns]
        wrapped.zero_grad()
        value = loss(features, None if labels is None else labels[rows])
        value.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        if rank == 0:
            save_file(grads, str(out_dir / f"{name}.safetensors"))
            results[name] = value.item()
    if rank == 0:
        (out_dir / "losses.json").write_text(json.dumps(results))
    leave_two_process_check(accelerator)


if __name__ == "__main__":
    main()
