"""st_plus_run.json: the schema's loader names the bad key; TaskResult objects become its results."""

from __future__ import annotations

import json

import pytest

from st_plus.evaluation import TaskResult
from st_plus.hub import (
    RUN_INFO_FILE,
    RunInfoError,
    load_run_info,
    matryoshka_to_run_info,
    results_to_run_info,
    validate_run_info,
    write_run_info,
)


def test_complete_run_info_round_trips_through_the_file(tmp_path, run_info):
    path = write_run_info(tmp_path, run_info)
    assert path == tmp_path / RUN_INFO_FILE
    assert load_run_info(tmp_path) == run_info
    assert load_run_info(path) == run_info


def test_only_the_version_is_required(tmp_path):
    assert validate_run_info({"st_plus_version": "0.1.0"}) == {"st_plus_version": "0.1.0"}
    assert validate_run_info({"st_plus_version": "0.1.0", "late_chunking": None, "hardware": None})


def test_a_folder_without_the_file_gives_none(tmp_path):
    assert load_run_info(tmp_path) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("st_plus_version"), r"`st_plus_version` is required"),
        (lambda d: d.update(stage=[]), r"`stage` is not a known key; known: .*stages"),
        (lambda d: d["stages"][0]["datasets"][0].update(rows="3000"), r"`stages\[0\]\.datasets\[0\]\.rows` must be"),
        (lambda d: d["stages"][1]["datasets"][0].pop("name"), r"`stages\[1\]\.datasets\[0\]\.name` is required"),
        (lambda d: d["stages"][0].update(kind="pretrain"), r"`stages\[0\]\.kind` must be one of mlm, distill"),
        (lambda d: d["stages"][0]["filtering"].update(rows_in=-1), r"`stages\[0\]\.filtering\.rows_in` must be"),
        (lambda d: d["results"][1].pop("value"), r"`results\[1\]\.value` is required"),
        (lambda d: d["results"][0].update(value=float("nan")), r"`results\[0\]\.value` must be a finite number"),
        (lambda d: d["matryoshka"]["scores"].update({"8": {}}), r"`matryoshka\.scores\.8` is not one of"),
        (lambda d: d["hardware"].update(processes=0), r"`hardware\.processes` must be an integer >= 1"),
        (lambda d: d.update(stages={}), r"`stages` must be a list"),
    ],
)
def test_schema_errors_name_the_bad_key(run_info, change, message):
    change(run_info)
    with pytest.raises(RunInfoError, match=message):
        validate_run_info(run_info)
    assert issubclass(RunInfoError, ValueError)


def test_loader_names_the_file(tmp_path, run_info):
    run_info["training_seconds"] = "ten minutes"
    (tmp_path / RUN_INFO_FILE).write_text(json.dumps(run_info), encoding="utf-8")
    with pytest.raises(RunInfoError, match=rf"{RUN_INFO_FILE}: `training_seconds` must be a number"):
        load_run_info(tmp_path)
    (tmp_path / RUN_INFO_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(RunInfoError, match=r"not valid JSON \(line 1\)"):
        load_run_info(tmp_path)


def test_write_refuses_invalid_info(tmp_path):
    with pytest.raises(RunInfoError, match="st_plus_version"):
        write_run_info(tmp_path, {"base_model": "x"})
    assert not (tmp_path / RUN_INFO_FILE).exists()


def _result(name, task_type, metric, by_dim):
    return TaskResult(
        task_name=name,
        task_type=task_type,
        main_score_name=metric,
        scores=by_dim[max(by_dim)],
        scores_by_dim=by_dim,
        split="test",
        language="en",
    )


def test_task_results_become_run_info_results_with_before_scores():
    after = [
        _result(
            "retrieval_xquad_en", "Retrieval", "ndcg_at_10", {384: {"ndcg_at_10": 0.931812}, 64: {"ndcg_at_10": 0.9}}
        ),
        _result("sts_stsb_en", "STS", "cosine_spearman", {384: {"cosine_spearman": 0.82}}),
    ]
    before = [_result("retrieval_xquad_en", "Retrieval", "ndcg_at_10", {384: {"ndcg_at_10": 0.92}})]
    rows = results_to_run_info(after, before=before)
    assert rows[0] == {
        "task": "retrieval_xquad_en",
        "task_type": "Retrieval",
        "dataset": "retrieval_xquad_en",
        "language": "en",
        "split": "test",
        "metric": "ndcg_at_10",
        "value": 0.93181,
        "before": 0.92,
    }
    assert "before" not in rows[1]
    assert results_to_run_info(after, before={"sts_stsb_en": 0.8})[1]["before"] == 0.8
    matryoshka = matryoshka_to_run_info(after)
    assert matryoshka == {
        "dims": [384, 64],
        "scores": {"384": {"retrieval_xquad_en": 0.93181, "sts_stsb_en": 0.82}, "64": {"retrieval_xquad_en": 0.9}},
    }
    info = {"st_plus_version": "0.1.0", "results": rows, "matryoshka": matryoshka}
    assert validate_run_info(info) is info
    assert matryoshka_to_run_info(after[1:]) is None
