"""Small helpers shared by tests (imported as a module; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Writes rows as JSON lines, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


# Runs with -I (isolated: no cwd, no PYTHONPATH) and st_plus blocked (an import of it fails), so only
# sentence-transformers and transformers can be what loads the model.
PLAIN_LOAD = textwrap.dedent(
    """
    import json, sys
    sys.modules["st_plus"] = None
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(sys.argv[1], device="cpu")
    texts = json.loads(sys.argv[2])
    print(json.dumps(model.encode(texts, convert_to_numpy=True).tolist()))
    """
)


def encode_in_plain_subprocess(path: str | Path, texts: list[str]):
    """Embeddings from ``SentenceTransformer(path)`` in a fresh ``python -I`` process that cannot import st_plus."""
    import numpy as np

    result = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_LOAD, str(path), json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]))


# Short English sentences for tiny models and toy datasets (the fixtures' tokenizers are trained on them).
CORPUS = [
    "the cat sat on the mat",
    "a dog chased the ball in the park",
    "my card has not arrived yet",
    "how do I reset my password",
    "the weather is sunny and warm today",
    "stock markets fell sharply on monday",
    "she plays the violin in an orchestra",
    "transfer money to another account",
    "why was my payment declined",
    "the train to london is delayed",
]


def recording_loss(loss, name: str, log: list[str]):
    """Wraps ``loss`` so that each call appends ``name`` to ``log`` (which dataset a step trained on)."""
    from torch import nn

    class RecordingLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.loss = loss

        @property
        def model(self):
            return self.loss.model

        def forward(self, features, labels):
            log.append(name)
            return self.loss(features, labels)

    return RecordingLoss()


def launch_two_cpu_processes(
    script: str | Path, *args: str | Path, cwd: str | Path | None = None, env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:  # fmt: skip
    """Runs ``script args`` as two gloo CPU processes with the accelerate launcher; asserts it succeeds.

    ``accelerate launch --num_processes 2 --cpu`` starts a single process unless given an MPI hostfile, so this
    uses ``--multi_gpu`` on a machine without GPUs (torchrun underneath) with ``ACCELERATE_USE_CPU``. Skips the
    calling test when the launcher is not installed.
    """
    import pytest

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("the accelerate launcher is not installed")
    full_env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "ACCELERATE_USE_CPU": "true",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        **(env or {}),
    }
    command = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", str(script), *map(str, args)]  # fmt: skip
    # on a timeout, SIGTERM first: the launcher (torchrun) then stops its workers, which run in sessions of their
    # own; subprocess.run's SIGKILL would leave them running
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                          env=full_env) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            raise AssertionError(f"two-process run timed out after {timeout} s: {command}\n{stderr[-3000:]}") from None
    completed = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def leave_two_process_check(accelerator: Any) -> None:
    """Ends a two-process check script: a barrier, then exit 0 without tearing the gloo process group down.

    Each rank writes and closes its files before calling this. With ``accelerator.end_training()`` at the end, a full
    suite run (2026-12-06) had rank 1 wait in gloo's teardown for 15 minutes, until the test's timeout, after rank 0
    had exited; ``os._exit`` skips that teardown and the interpreter's destructors (which can abort while gloo's
    threads are alive).
    """
    accelerator.wait_for_everyone()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# A complete ``st_plus_run.json`` as the training pipeline writes it (the hub tests' fixture `run_info`).
RUN_INFO = {
    "st_plus_version": "0.1.0",
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "recipe": {"name": "quickstart", "file": "recipe.resolved.yaml"},
    "stages": [
        {
            "name": "stage1",
            "kind": "contrastive",
            "datasets": [
                {
                    "name": "debian-descriptions-en",
                    "path": "examples/training_data/debian_pairs_en.jsonl",
                    "license": "GPL-2.0-or-later",
                    "rows": 3000,
                    "task_type": "Retrieval",
                }
            ],
            "losses": ["CachedMultipleNegativesRankingLoss", "MatryoshkaLoss"],
            "citations": {"MatryoshkaLoss": "@inproceedings{kusupati2024matryoshka, title={Matryoshka}}"},
            "steps": 100,
            "batch_size": 64,
            "seconds": 200.5,
            "filtering": {"rows_in": 3000, "rows_dropped": 120, "side_file": "dropped.jsonl"},
            "mining": {"method": "hybrid", "range_min": 10, "range_max": 100, "negatives_per_row": 1},
            "dynamic_negatives": {"pairs": {"refreshes": 4, "rows_replaced": 120, "config": {"refresh_steps": 25}}},
        },
        {
            "name": "stage2",
            "kind": "multitask",
            "datasets": [{"name": "stsb", "hub_id": "sentence-transformers/stsb", "rows": 500, "task_type": "STS"}],
            "losses": ["InfoNCELoss", "ConsentLoss"],
            "citations": {"ConsentLoss": "@article{10531646, title={CoSENT}}"},
        },
    ],
    "matryoshka": {
        "dims": [32, 16],
        "scores": {"32": {"retrieval_xquad_en": 0.93, "sts_stsb_en": 0.81}, "16": {"retrieval_xquad_en": 0.9}},
    },
    "late_chunking": {"mode": "late", "window": 512, "overlap": 128},
    "results": [
        {
            "task": "retrieval_xquad_en",
            "task_type": "Retrieval",
            "dataset": "retrieval_xquad_en",
            "language": "en",
            "split": "test",
            "metric": "ndcg_at_10",
            "value": 0.9318,
            "before": 0.93,
        },
        {"task": "sts_stsb_en", "task_type": "STS", "language": ["en"], "metric": "cosine_spearman", "value": 0.81},
    ],
    "hardware": {"cpu": "2 cores", "gpu": None, "processes": 1},
    "training_seconds": 612.0,
}


def perturbed_copy(model, seed: int, scale: float = 0.05):
    """A deep copy of ``model`` with ``scale * N(0, 1)`` noise added to every parameter (another "fine-tuned" one)."""
    import copy

    import torch

    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return other


def skewed_lengths(n: int, seed: int = 0) -> list[int]:
    """Long-tailed text lengths (log-normal, as Debian descriptions): most short, a few very long."""
    rng = random.Random(seed)
    return [max(1, int(rng.lognormvariate(4.0, 1.0))) for _ in range(n)]


def padded_tokens(batches: list[list[int]], lengths: list[int]) -> int:
    """What batches cost when every text is padded to the longest of its batch."""
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def load_script(path: Path, name: str):
    """A script that is not a package module (``benchmarks/*.py``, a shim) imported from its file as ``name``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LONG_TURNS = [f"speaker {i % 3}: we talked about topic {i} and the budget of item {i}" for i in range(80)]
LONG_DOC = "\n".join(LONG_TURNS)


def write_longdoc_folder(folder: Path) -> Path:
    """A BEIR folder of two long 'meetings' (one turn a line) with gold answer lines: train (q1, q2), test (q3)."""
    docs = {"m1": LONG_DOC, "m2": LONG_DOC.replace("topic", "subject")}
    write_jsonl(folder / "corpus.jsonl", [{"_id": k, "title": "", "text": v} for k, v in docs.items()])
    queries = {"q1": "what about topic 40", "q2": "what about subject 10", "q3": "held out"}
    write_jsonl(folder / "queries.jsonl", [{"_id": k, "text": v} for k, v in queries.items()])
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tm1\t1\nq2\tm2\t1\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq3\tm1\t1\n")
    spans = [("q1", "m1", [[40, 41], [70, 70]]), ("q2", "m2", [[10, 12]]), ("q3", "m1", [[1, 2]])]
    write_jsonl(folder / "spans.jsonl",
                [{"query-id": q, "corpus-id": d, "relevant_turn_spans": s} for q, d, s in spans])  # fmt: skip
    (folder / "task.json").write_text(json.dumps({"task_type": "Retrieval", "name": folder.name}))
    return folder
