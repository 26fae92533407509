"""The `st-plus eval` command: table / JSON output, result files and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests_helpers import write_jsonl

from st_plus.cli import main


@pytest.fixture()
def sts_dir(tmp_path):
    rows = [
        {"sentence1": "the cat sat on the mat", "sentence2": "a cat on a mat", "score": 4.5},
        {"sentence1": "my card has not arrived yet", "sentence2": "the weather is sunny", "score": 0.2},
        {"sentence1": "how do I reset my password", "sentence2": "reset the password", "score": 4.0},
        {"sentence1": "stock markets fell", "sentence2": "the train is delayed", "score": 1.0},
    ]
    write_jsonl(tmp_path / "sts" / "test.jsonl", rows)
    return tmp_path / "sts"


def test_eval_prints_json_line_per_task(tiny_model_dir, sts_dir, capsys):
    code = main(["eval", "--model", str(tiny_model_dir), "--task-type", "sts", "--json", "--quiet", str(sts_dir)])
    assert code == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    record = json.loads(line)
    assert record["data"] == str(sts_dir)
    assert record["task_type"] == "STS"
    assert record["main_score_name"] == "cosine_spearman"
    assert -1.0 <= record["main_score"] <= 1.0
    assert record["scores"]["cosine_spearman"] == record["main_score"]


def test_eval_dtype_auto_without_native_bf16_scores_as_float32(tiny_model_dir, sts_dir, capsys, monkeypatch):
    from st_plus import precision

    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)  # an AVX2-only CPU
    args = ["eval", "--model", str(tiny_model_dir), "--task-type", "sts", "--json", "--quiet", str(sts_dir)]

    assert main([*args, "--dtype", "auto"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert main([*args, "--dtype", "float32"]) == 0
    exact = json.loads(capsys.readouterr().out)

    assert auto["main_score"] == exact["main_score"]


def test_eval_table_truncate_dims_and_result_files(tiny_model_dir, sts_dir, tmp_path, capsys):
    out = tmp_path / "results"
    args = ["eval", "--model", str(tiny_model_dir), "--task-type", "STS", "--truncate-dims", "8", "4"]
    code = main([*args, "--output", str(out), "--quiet", str(sts_dir)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| sts | STS |" in printed
    assert "dim 8" in printed and "dim 4" in printed
    [result_file] = list(out.glob("*/no_revision_available/sts.json"))
    payload = json.loads(result_file.read_text())
    assert payload["task_name"] == "sts"
    entry = payload["scores"]["test"][0]
    assert entry["hf_subset"] == "default" and "main_score" in entry and "dim_8" in entry


def test_eval_never_replaces_a_result_file_it_did_not_write(tiny_model_dir, sts_dir, tmp_path, capsys):
    out = tmp_path / "results"
    args = ["eval", "--model", str(tiny_model_dir), "--task-type", "STS", "--output", str(out), "--quiet"]
    assert main([*args, str(sts_dir)]) == 0
    [result_file] = list(out.glob("*/no_revision_available/sts.json"))
    result_file.write_text("my own notes")
    assert main([*args, str(sts_dir)]) == 2
    assert "was not written by st_plus" in capsys.readouterr().err
    assert result_file.read_text() == "my own notes"
    assert main([*args, "--overwrite", str(sts_dir)]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/no/such/model", "--task-type", "sts"], "cannot load model"),
        (["--task-type", "nonsense"], "Unknown task type 'nonsense'"),
        (["--truncate-dims", "0", "--task-type", "sts"], "--truncate-dims must be positive"),
        ([], "no task.json; pass the task type"),
        (["--eval-seeds", "3", "3", "--task-type", "sts"], "--eval-seeds: `eval_seeds` repeats [3]"),
        (["--eval-seeds", "3", "--task-type", "sts"], "--eval-seeds applies to Classification and Clustering tasks"),
    ],
)
def test_eval_errors_are_one_line_with_exit_code_2(args, message, sts_dir, tiny_model_dir, capsys):
    if "--model" not in args:
        args = ["--model", str(tiny_model_dir), *args]
    code = main(["eval", *args, str(sts_dir)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_eval_invalid_data_names_file_line_and_field(tiny_model_dir, tmp_path, capsys):
    write_jsonl(tmp_path / "bad" / "test.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 9}])
    code = main(["eval", "--model", str(tiny_model_dir), "--task-type", "sts", str(tmp_path / "bad")])
    assert code == 2
    err = capsys.readouterr().err
    assert "test.jsonl:1: field 'score'" in err
    assert len(err.strip().splitlines()) == 1


def test_console_script_runs_as_module(tiny_model_dir, sts_dir):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "st_plus",
            "eval",
            "--model",
            str(tiny_model_dir),
            "--task-type",
            "sts",
            "--json",
            str(sts_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1])["task_type"] == "STS"


@pytest.mark.real
def test_eval_default_model_on_shipped_retrieval_slice(capsys):
    from conftest import example_task_dir

    folder = example_task_dir("retrieval_xquad_en")
    assert main(["eval", "--model", "default", "--json", "--quiet", str(folder)]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["main_score_name"] == "ndcg_at_10"
    assert 0.85 < record["main_score"] < 1.0  # all-MiniLM-L6-v2 scores 0.942 here
