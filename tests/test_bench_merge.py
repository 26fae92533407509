"""benchmarks/bench_merge.py: the goal per weight and the paired comparison of two results files, by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_merge.py"
BASE = {"retrieval_debian_dev_en": 0.80, "classification_tnews_dev_zh": 0.20}


def _module():
    return load_script(SCRIPT, "bench_merge")


def _run(seed: int, points: dict[float, tuple[float, float]]) -> dict:
    table = []
    for weight, (debian, tnews) in points.items():
        scores = {"retrieval_debian_dev_en": debian, "classification_tnews_dev_zh": tnews}
        table.append({"weight": weight, "scores": scores, "mean": (debian + tnews) / 2})
    return {"seed": seed, "table": table}


def _results(runs: list[dict]) -> dict:
    return {"base_scores": dict(BASE), "runs": runs}


def test_the_goal_counts_the_largest_drop_and_the_in_domain_gain_kept():
    bench = _module()
    table = _run(1, {0.5: (0.84, 0.197), 1.0: (0.85, 0.19)})["table"]
    at_half, unmerged = bench._goal(table, 0.5, BASE), bench._goal(table, 1.0, BASE)
    assert at_half["worst_task"] == "classification_tnews_dev_zh" and at_half["met"]  # drop 0.003: the tolerance
    assert at_half["in_domain_retention"] == pytest.approx(0.8)
    assert not unmerged["met"] and unmerged["tasks_below_tolerance"] == ["classification_tnews_dev_zh"]


def test_paired_differences_are_per_seed_at_the_weights_both_files_hold():
    bench = _module()
    this = _results([_run(1, {0.5: (0.84, 0.20), 1.0: (0.86, 0.199)}), _run(2, {0.5: (0.83, 0.21), 1.0: (0.85, 0.2)})])
    that = _results([_run(2, {0.7: (0.8, 0.2), 1.0: (0.84, 0.19)}), _run(1, {1.0: (0.86, 0.195)}),
                     _run(3, {1.0: (0.9, 0.3)})])  # fmt: skip
    comparison = bench.paired(this, that, "that.json")
    assert comparison["seeds"] == [1, 2] and list(comparison["by_weight"]) == ["0.50", "1.00"]
    half = comparison["by_weight"]["0.50"]  # not in `that`: this goal (67% / 60% kept), `that`'s unmerged models
    assert "tasks" not in half and half["goal_met_per_seed"] == {"this": [False, False], "other": None}
    assert half["against_other_unmerged"]["retrieval_debian_dev_en"]["per_seed"] == pytest.approx([-2.0, -1.0])
    one = comparison["by_weight"]["1.00"]
    assert one["tasks"]["classification_tnews_dev_zh"]["per_seed"] == pytest.approx([0.4, 1.0])
    assert one["tasks"]["retrieval_debian_dev_en"]["per_seed"] == pytest.approx([0.0, 1.0])
    assert one["mean_over_tasks"]["mean"] == pytest.approx((0.2 + 1.0) / 2)
    assert one["worst_drop"]["per_seed"] == pytest.approx([-0.4, -1.0])  # smaller drops below the start model
    assert one["goal_met_per_seed"] == {"this": [True, True], "other": [False, False]}
    against = one["against_other_unmerged"]  # at w = 1 the same pairs as above
    assert against["retrieval_debian_dev_en"]["per_seed"] == pytest.approx([0.0, 1.0])
    text = bench.paired_table(comparison)
    assert "| classification_tnews_dev_zh |  | +0.70 ± 0.42 (+0.40 / +1.00) |" in text
    assert "| goal met (seeds): this vs that | 0 vs - | 2 vs 0 |" in text


def test_paired_refuses_files_that_do_not_compare():
    bench = _module()
    this = _results([_run(1, {1.0: (0.8, 0.2)})])
    with pytest.raises(SystemExit, match="shares no seed"):
        bench.paired(this, _results([_run(2, {1.0: (0.8, 0.2)})]), "x.json")
    other = _results([_run(1, {1.0: (0.8, 0.2)})])
    other["base_scores"]["retrieval_debian_dev_en"] = 0.7
    with pytest.raises(SystemExit, match="other start-model scores"):
        bench.paired(this, other, "x.json")


def test_a_cached_evaluation_is_recomputed_when_a_task_json_changes_under_the_same_path(tmp_path):
    bench = _module()
    task = tmp_path / "zh" / "classification_tnews_dev_zh"
    task.mkdir(parents=True)
    (task / "task.json").write_text('{"task_type": "Classification"}', encoding="utf-8")
    settings = {"batch_size": 64, "dtype": "bfloat16"}
    calls = []

    def compute():
        calls.append(1)
        return {"classification_tnews_dev_zh": 0.15 + len(calls)}

    first = bench._cached(tmp_path / "cache", "base", bench._suite_key([task], settings), compute)
    again = bench._cached(tmp_path / "cache", "base", bench._suite_key([task], settings), compute)
    assert first == again and len(calls) == 1  # same folder, same task.json: read from the cache
    (task / "task.json").write_text('{"task_type": "Classification", "settings": {"samples_per_label": 32}}')
    rebuilt = bench._cached(tmp_path / "cache", "base", bench._suite_key([task], settings), compute)
    assert len(calls) == 2 and rebuilt != first  # the rebuilt suite's settings are not served from the old cache


def test_a_cached_evaluation_in_one_precision_is_not_served_for_the_other(tmp_path):
    bench = _module()
    task = tmp_path / "en" / "sts_stsb_dev_en"
    task.mkdir(parents=True)
    (task / "task.json").write_text('{"task_type": "STS"}', encoding="utf-8")
    calls = []

    def compute():
        calls.append(1)
        return {"sts_stsb_dev_en": 0.80 + len(calls) / 100}

    def cached(dtype):
        return bench._cached(tmp_path / "cache", "base", bench._suite_key([task], {"batch_size": 64, "dtype": dtype}),
                             compute)  # fmt: skip

    bf16, again, fp32 = cached("bfloat16"), cached("bfloat16"), cached("float32")

    assert bf16 == again and fp32 != bf16 and len(calls) == 2  # the key holds the resolved precision
