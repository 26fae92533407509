"""The examples run as a user would run them (bundled model, shipped real data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests_helpers import launch_two_cpu_processes

REPO = Path(__file__).resolve().parents[1]


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **env}
    completed = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=full_env, timeout=900, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


@pytest.mark.real
def test_train_multitask_fast_on_shipped_data(tmp_path):
    out = tmp_path / "model"
    completed = _run(
        [sys.executable, "examples/train_multitask.py", "--fast", "--cross-task", "--output-dir", str(out)]
    )
    assert "training loss" in completed.stdout and (out / "modules.json").exists()


@pytest.mark.real
def test_train_multitask_refuses_a_non_empty_output_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    completed = subprocess.run(
        [sys.executable, "examples/train_multitask.py", "--fast", "--output-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 2 and "is not empty" in completed.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.real
@pytest.mark.distributed
def test_train_multitask_with_two_cpu_processes_and_gathered_negatives():
    completed = launch_two_cpu_processes("examples/train_multitask.py", "--fast", "--gather", cwd=REPO)
    assert completed.stdout.count("training loss") == 1  # printed by the main process only


@pytest.mark.real
def test_train_dynamic_negatives_fast_saves_checkpoints_and_a_card_with_the_summary(tmp_path):
    out = tmp_path / "run"
    completed = _run([sys.executable, "examples/train_dynamic_negatives.py", "--fast", "--output-dir", str(out)])
    assert "mined 48 of 48 rows" in completed.stdout and "summary: {'refreshes': 2, 'reindexes': 1" in completed.stdout
    assert (out / "checkpoint-4" / "dynamic_negatives.json").is_file()
    assert (out / "checkpoint-4" / "dynamic_negatives_candidates.safetensors").is_file()  # re-indexed at step 4
    card = (out / "final" / "README.md").read_text(encoding="utf-8")
    assert "dynamic_negatives" in card and "dynamic-hard-negatives" in card

    again = subprocess.run(
        [sys.executable, "examples/train_dynamic_negatives.py", "--fast", "--output-dir", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert again.returncode == 2 and "is not empty" in again.stderr  # nothing overwritten without asking


@pytest.mark.real
@pytest.mark.distributed
def test_train_dynamic_negatives_with_two_cpu_processes():
    completed = launch_two_cpu_processes("examples/train_dynamic_negatives.py", "--fast", cwd=REPO)
    assert completed.stdout.count("summary: {'refreshes': 2, 'reindexes': 1") == 1  # main process only


@pytest.mark.real
def test_convert_minilm_to_nomic_fast(tmp_path):
    out = tmp_path / "nomic"
    completed = _run([sys.executable, "examples/convert_minilm_to_nomic.py", "--fast", "--output-dir", str(out)])
    assert "of the source), max_seq_length 2048" in completed.stdout
    assert "the same embeddings (atol 1e-5)" in completed.stdout and (out / "model.safetensors").is_file()


@pytest.mark.real
def test_publish_model_fast_writes_a_hub_ready_folder_with_results(tmp_path):
    out = tmp_path / "hub"
    completed = _run([sys.executable, "examples/publish_model.py", "--fast", "--output-dir", str(out)])
    assert "model-index:" in completed.stdout and "type: ndcg_at_10" in completed.stdout
    assert (out / "README.md").is_file() and (out / "assets" / "matryoshka.png").is_file()


@pytest.mark.real
def test_late_chunking_fast_prints_naive_and_late_scores():
    completed = _run([sys.executable, "examples/late_chunking.py", "--fast"])
    assert "2 meetings, 10 questions" in completed.stdout
    lines = completed.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(("naive ", "late "))}
    assert set(rows) == {"naive", "late"} and rows["naive"][0] == rows["late"][0]  # the same chunks
    assert all(0.0 <= float(value) <= 100.0 for row in rows.values() for value in row[1:3])


@pytest.mark.real
def test_pretrain_nomic_zh_fast_prints_losses_and_scores(tmp_path):
    out = tmp_path / "zh"
    completed = _run([sys.executable, "examples/pretrain_nomic_zh.py", "--fast", "--output-dir", str(out)])
    assert "MLM loss first" in completed.stdout and "contrastive stage:" in completed.stdout
    assert "scores after MLM: {'clustering_csl_titles_zh'" in completed.stdout
    assert "scores after contrastive:" in completed.stdout and (out / "modules.json").is_file()
