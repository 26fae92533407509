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
    assert sum(rank0["replacements"]) > 0  # negatives did change during training
    assert rank0["current"] == rank1["current"] and rank0["replacements"] == rank1["replacements"]
    assert rank0["history"] == rank1["history"]
    # re-indexing (every 2 of the 4 steps) shards the corpus encoding and gives every process the same rankings
    assert rank0["reindexes"] == rank1["reindexes"] == 2 and rank0["candidates"] == rank1["candidates"]
    assert rank0["sharded_equals_whole"] and rank1["sharded_equals_whole"]
