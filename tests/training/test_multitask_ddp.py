"""Multi-dataset training with 2 CPU processes: sentence-transformers' sampler vs the rank-synchronised one.

sentence-transformers' multi-dataset samplers yield one stream of batches and accelerate deals consecutive
batches to the processes, so the processes of one step may train on different datasets. With
``gather_across_devices`` that mixes domains, and different losses / column counts per dataset can hang.
The first test shows the mismatch (losses without gathering, so it cannot hang); the second shows that with
st_plus's sampler both processes train on the same dataset at every step, with gathering on, end to end.

Two CPU processes come from `accelerate launch --multi_gpu --num_processes 2` on a machine without GPUs
(`accelerate launch --num_processes 2 --cpu` starts a single process unless given an MPI hostfile).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests_helpers import launch_two_cpu_processes

HERE = Path(__file__).resolve().parent


def _launch(model_dir: Path, out: Path, sampler: str) -> list[dict]:
    launch_two_cpu_processes(HERE / "multitask_ddp_check.py", model_dir, out, sampler)
    runs = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(run["world"] == 2 for run in runs)
    return runs


@pytest.mark.distributed
def test_sentence_transformers_sampler_puts_processes_on_different_datasets(tiny_bert_dir, tmp_path):
    rank0, rank1 = _launch(tiny_bert_dir, tmp_path, "sentence_transformers")
    assert len(rank0["datasets"]) == len(rank1["datasets"]) == 8
    mismatched = [step for step, (a, b) in enumerate(zip(rank0["datasets"], rank1["datasets"], strict=True)) if a != b]
    assert mismatched, "expected at least one step where the two processes train on different datasets"


@pytest.mark.distributed
def test_rank_synchronized_sampler_keeps_processes_on_one_dataset_per_step(tiny_bert_dir, tmp_path):
    rank0, rank1 = _launch(tiny_bert_dir, tmp_path, "st_plus")
    assert len(rank0["datasets"]) == 8
    assert rank0["datasets"] == rank1["datasets"]
    assert set(rank0["datasets"]) == {"sts", "retrieval"}
    assert all(math.isfinite(run["training_loss"]) for run in (rank0, rank1))
