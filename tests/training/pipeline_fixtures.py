"""A tiny recipe on toy files (tiny random-init BERT, a few steps) for the pipeline tests and their subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests_helpers import CORPUS, write_jsonl

#: The first lines of every tiny recipe (``{base}``: the model folder), up to ``stages:``.
RECIPE_HEAD = """\
name: tiny
seed: 7
precision: fp32
model: {base: {base}, max_seq_length: 32}
stages:
"""

RECIPE = RECIPE_HEAD + """\
  contrastive:
    data: [{path: data/pairs.jsonl, group_column: source, license: MIT}]
    batch_size: 8
    max_steps: 4
    save_steps: 2
    filter: {top_k: 3}
    evaluate: [sts_tiny]
  multitask:
    tasks:
      - name: pairs
        type: retrieval
        data: stage1
        negatives: {num_negatives: 2, range_min: 1, range_max: 10, refresh_steps: 2}
      - {name: sts, type: sts, data: data/sts.jsonl}
      - {name: labels, type: classification, data: data/labels.jsonl}
    batch_size: 4
    max_steps: 6
    save_steps: 2
    matryoshka_dims: [32, 16]
evaluation:
  tasks: [eval/*/]
  batch_size: 16
  matryoshka_dims: [16]
"""


def write_tiny_recipe(folder: Path, base: Path, text: str = RECIPE) -> Path:
    """Toy training and evaluation files under ``folder`` plus ``recipe.yaml`` naming them; returns the recipe."""
    n = len(CORPUS)
    write_jsonl(folder / "data" / "pairs.jsonl", [
        {"anchor": f"{CORPUS[i % n]} {i}", "positive": f"{CORPUS[(i + 1) % n]} {CORPUS[i % n]} {i}",
         "source": f"s{i % 7}"}
        for i in range(24)
    ])  # fmt: skip
    write_jsonl(folder / "data" / "sts.jsonl", [
        {"sentence1": CORPUS[i % n], "sentence2": CORPUS[(i * 3 + 1) % n], "score": float(i % 5)} for i in range(16)
    ])  # fmt: skip
    write_jsonl(
        folder / "data" / "labels.jsonl", [{"text": f"{CORPUS[i % n]} {i}", "label": i % 3} for i in range(18)]
    )
    sts = folder / "eval" / "sts_tiny"
    write_jsonl(sts / "test.jsonl", [
        {"sentence1": CORPUS[i % n], "sentence2": CORPUS[(i * 7 + 2) % n], "score": float(i % 6)} for i in range(20)
    ])  # fmt: skip
    (sts / "task.json").write_text(json.dumps({"task_type": "STS", "name": "sts_tiny", "score_range": [0, 5]}))
    ret = folder / "eval" / "retrieval_tiny"
    write_jsonl(ret / "corpus.jsonl", [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(CORPUS)])
    write_jsonl(ret / "queries.jsonl", [{"_id": f"q{i}", "text": t.split()[-1]} for i, t in enumerate(CORPUS)])
    (ret / "qrels").mkdir(parents=True, exist_ok=True)
    (ret / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(n))
    )
    (ret / "task.json").write_text(json.dumps({"task_type": "Retrieval", "name": "retrieval_tiny"}))
    recipe = folder / "recipe.yaml"
    recipe.write_text(text.replace("{base}", str(base)), encoding="utf-8")
    return recipe


def run_pipeline_process(recipe: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``pipeline_run.py RECIPE OUT [extra]`` in its own process (one thread, offline); see that script's flags."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).with_name("pipeline_run.py")), str(recipe), str(out), *extra],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
