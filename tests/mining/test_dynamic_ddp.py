"""Dynamic negatives with 2 CPU processes: every process ends with the same negatives and rankings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_helpers import launch_two_cpu_processes

HERE = Path(__file__).resolve().parent


@pytest.mark.distributed
def test_every_process_keeps_the_same_negatives(tiny_bert_dir, tmp_path):
    launch_two_cpu_processes(HERE / "dynamic_ddp_check.py", tiny_bert_dir, tmp_path)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert rank0["world"] == rank1["world"] == 2
    replaced = sum(1 for count in rank0["replacements"] if count)
    assert 0 < replaced < len(rank0["replacements"])  # negatives changed, by decisions that went both ways
    assert rank0["current"] == rank1["current"] and rank0["replacements"] == rank1["replacements"]
    assert rank0["history"] == rank1["history"]
    # re-indexing (every 2 of the 4 steps) shards the corpus encoding and gives every process the same rankings
    assert rank0["reindexes"] == rank1["reindexes"] == 2 and rank0["candidates"] == rank1["candidates"]
    assert rank0["sharded_equals_whole"] and rank1["sharded_equals_whole"]
    # checkpoints: the shared state once, each process's reads (its batch in flight) in its own file
    for step in (2, 4):
        folder = tmp_path / "trainer" / f"checkpoint-{step}"
        names = {path.name for path in folder.iterdir() if path.name.startswith("dynamic_negatives")}
        assert names == {"dynamic_negatives.json", "dynamic_negatives_candidates.safetensors",
                         "dynamic_negatives_rank0.json", "dynamic_negatives_rank1.json"}  # fmt: skip
