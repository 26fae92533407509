"""Regressions from the review of the landed code: extra fields, compressed outputs, group-aware filtering,
fallbacks that warn, and the MTEB version field."""

from __future__ import annotations

import gzip
import json
import logging

import pytest
from tests_helpers import CORPUS, write_jsonl

from st_plus.cli import main
from st_plus.data import load_sts, load_training_rows


def test_evaluation_files_with_extra_fields_are_read_with_one_warning(tmp_path, caplog):
    rows = [{"sentence1": "a", "sentence2": "b", "score": 1.0, "id": i, "source": "x"} for i in range(5)]
    path = write_jsonl(tmp_path / "test.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="st_plus"):
        data = load_sts(path)
    assert data.column_names == ["sentence1", "sentence2", "score"] and len(data) == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "`id` (first on line 1)" in warnings[0] and "`source`" in warnings[0]
    misspelled = write_jsonl(tmp_path / "bad.jsonl", [{"sentence1": "a", "sentnce2": "b", "score": 1.0}])
    with pytest.raises(ValueError, match="bad.jsonl:1: field 'sentence2': missing field"):
        load_sts(misspelled)


@pytest.fixture()
def pairs_file(tmp_path):
    rows = [{"anchor": f"question {i} {CORPUS[i % 10]}", "positive": f"{CORPUS[(i * 7) % 10]} answer {i}",
             "source": f"pkg{i // 3}"} for i in range(30)]  # fmt: skip
    return write_jsonl(tmp_path / "pairs.jsonl", rows)


@pytest.mark.parametrize("command", ["mine", "filter"])
def test_gz_outputs_of_mine_and_filter_are_compressed_and_read_back(command, tiny_model_dir, pairs_file, tmp_path):
    out = tmp_path / "out.jsonl.gz"
    args = [command, "--model", str(tiny_model_dir), "--data", str(pairs_file), "--output", str(out)]
    if command == "mine":
        args += ["--method", "bm25", "--range-min", "0", "--range-max", "10", "--num-negatives", "2"]
    else:
        args += ["--top-k", "3"]
    assert main(args) == 0
    with gzip.open(out, "rt", encoding="utf-8") as handle:  # a real gzip file
        assert json.loads(handle.readline())["anchor"]
    assert len(load_training_rows(out)) > 0


def test_consistency_filter_does_not_let_a_group_mate_push_a_positive_out(tiny_bert):
    from datasets import Dataset

    from st_plus.mining import consistency_filter

    # rows 0 and 1 share a group and nearly the same positive: each outranks the other's for its anchor
    rows = Dataset.from_dict({
        "anchor": ["alpha beta", "alpha beta gamma", "delta", "epsilon"],
        "positive": ["alpha beta text one", "alpha beta text one.", "delta text", "epsilon text"],
        "group": ["g", "g", "h", "i"],
    })  # fmt: skip
    plain = consistency_filter(rows, tiny_bert, top_k=1)
    grouped = consistency_filter(rows, tiny_bert, top_k=1, group_column="group")
    assert grouped.stats["rows_out"] >= plain.stats["rows_out"]
    dropped_plain = {d["row"] for d in plain.dropped}
    dropped_grouped = {d["row"] for d in grouped.dropped}
    assert dropped_grouped <= dropped_plain
    assert dropped_plain & {0, 1} and not dropped_grouped & {0, 1}  # the group-mate no longer competes


def test_padded_rows_are_a_warning_and_counted(tiny_bert, caplog):
    from datasets import Dataset

    from st_plus.mining import mine_hybrid_negatives

    rows = Dataset.from_dict({"anchor": CORPUS[:6], "positive": [t + " more" for t in CORPUS[:6]]})
    with caplog.at_level(logging.WARNING, logger="st_plus"):
        result = mine_hybrid_negatives(rows, tiny_bert, method="dense", range_min=0, range_max=2, num_negatives=3,
                                     too_few="pad", seed=1)  # fmt: skip
    assert result.stats["rows_padded"] > 0
    assert any("padded with random corpus documents" in r.getMessage() for r in caplog.records)


def test_the_group_sampler_fallback_is_a_warning(caplog):
    from datasets import Dataset

    from st_plus.samplers import GroupAwareBatchSampler

    factory = GroupAwareBatchSampler.configure(["a", "b"])
    with caplog.at_level(logging.WARNING, logger="st_plus"):
        factory(Dataset.from_dict({"x": list(range(4))}), 2, False)
    assert any("falling back to default batches" in r.getMessage() for r in caplog.records)


def test_mteb_version_is_null_with_a_warning_when_mteb_is_absent(tmp_path, monkeypatch, caplog):
    import importlib.metadata

    import st_plus.evaluation.suite as suite
    from st_plus.evaluation import TaskResult, write_mteb_results

    real = importlib.metadata.version

    def version(name):
        if name == "mteb":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(suite, "version", version)
    result = TaskResult(task_name="t", task_type="STS", main_score_name="cosine_spearman",
                        scores={"cosine_spearman": 0.5}, split="test", language="en")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="st_plus"):
        folder = write_mteb_results([result], tmp_path, model_name="m")
    payload = json.loads((folder / "t.json").read_text())
    assert payload["mteb_version"] is None
    assert any("mteb is not installed" in r.getMessage() for r in caplog.records)


def test_curves_draw_one_line_per_task_for_losses_and_for_several_dynamic_tasks():
    from st_plus.training.report import _curve_lines

    history = [{"step": 5, "loss": 3.0, "loss/sts": 25.0, "loss/pairs": 1.0,
                "dynamic_negatives/a/mean_negative_score": 0.1, "dynamic_negatives/b/mean_negative_score": 0.2}]
    assert _curve_lines("multitask", "loss", history) == [("multitask: pairs", "loss/pairs"),
                                                           ("multitask: sts", "loss/sts")]  # fmt: skip
    assert [k for _, k in _curve_lines("multitask", "dynamic_negatives/mean_negative_score", history)] == [
        "dynamic_negatives/a/mean_negative_score", "dynamic_negatives/b/mean_negative_score"]
    assert _curve_lines("contrastive", "loss", [{"step": 1, "loss": 1.0}]) == [("contrastive", "loss")]
