"""gather_across_devices with 2 CPU processes (gloo) equals one process on the concatenated batch.

Note: `accelerate launch --num_processes 2 --cpu` starts ONE process unless an MPI hostfile is given
(accelerate's simple launcher); two CPU processes come from `accelerate launch --multi_gpu --num_processes 2`
on a machine without GPUs (torchrun underneath, gloo backend), which is what this test uses. The check script
exits with an error when it does not see two processes, so the test cannot pass on a single process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from losses.distributed_cases import CASES, batch_for
from safetensors.torch import load_file
from tests_helpers import launch_two_cpu_processes

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def two_process_results(tiny_bert_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    launch_two_cpu_processes(HERE / "distributed_check.py", tiny_bert_dir, out, env={"PYTHONPATH": str(HERE.parent)})
    return out


@pytest.mark.distributed
@pytest.mark.parametrize("name", sorted(CASES))
def test_two_processes_equal_one_process_on_the_concatenated_batch(two_process_results, tiny_bert, name):
    columns, labels = batch_for(name)
    loss = CASES[name](tiny_bert)
    tiny_bert.zero_grad()
    value = loss([tiny_bert.preprocess(c) for c in columns], labels)
    value.backward()
    expected = {n: p.grad for n, p in tiny_bert.named_parameters() if p.grad is not None}
    losses = json.loads((two_process_results / "losses.json").read_text())
    grads = load_file(str(two_process_results / f"{name}.safetensors"))
    if not name.startswith("info_nce"):  # InfoNCE (as MNRL) reports each process's own mean
        assert losses[name] == pytest.approx(value.item(), abs=1e-5)
    assert grads.keys() == expected.keys()
    for key, grad in grads.items():
        torch.testing.assert_close(grad, expected[key], atol=1e-5, rtol=1e-4, msg=key)
