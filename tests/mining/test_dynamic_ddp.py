"""Dynamic negatives with 2 CPU processes: every process ends with the same negatives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.distributed
def test_every_process_keeps_the_same_negatives(tiny_bert_dir, tmp_path):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("the accelerate launcher is not installed")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true", "TOKENIZERS_PARALLELISM": "false"}
    command = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               str(HERE / "dynamic_ddp_check.py"), str(tiny_bert_dir), str(tmp_path)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert rank0["world"] == rank1["world"] == 2
    assert sum(rank0["replacements"]) > 0  # negatives did change during training
    assert rank0["current"] == rank1["current"] and rank0["replacements"] == rank1["replacements"]
    assert rank0["history"] == rank1["history"]
