"""benchmarks/distill_seeds.py: mean and spread of several seeds' distillation results, checked by hand."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "distill_seeds.py"


def _module():
    return load_script(SCRIPT, "distill_seeds")


def _result(seed: int, student: dict[str, float], speedup=None, teacher=None) -> dict:
    teacher = teacher or {"a": 0.8, "b": 0.6}
    means = {"teacher": statistics.mean(teacher.values()), "student": statistics.mean(student.values())}
    return {
        "teacher": "t", "student": f"s{seed}", "dev_suite": "suite/en", "max_seq_length": 256,
        "distillation": {"seed": seed, "steps": 10 * seed},
        "dev_scores": {"teacher": teacher, "student": student}, "dev_mean": means,
        "student_share_of_teacher_mean": round(means["student"] / means["teacher"], 4),
        "speed": {"speedup": speedup},
    }  # fmt: skip


def test_summary_of_three_seeds():
    results = [
        _result(1, {"a": 0.78, "b": 0.58}, 2.0),
        _result(2, {"a": 0.76, "b": 0.58}),
        _result(3, {"a": 0.7, "b": 0.5}),
    ]
    summary = _module().summarize(results)
    shares = [0.68 / 0.7, 0.67 / 0.7, 0.6 / 0.7]
    assert summary["shares"] == [round(s, 4) for s in shares]
    assert summary["share_mean"] == pytest.approx(statistics.mean(round(s, 4) for s in shares), abs=1e-4)
    assert summary["share_stdev"] == pytest.approx(statistics.stdev(round(s, 4) for s in shares), abs=1e-4)
    assert summary["per_task"]["a"] == {"teacher": 0.8, "student_mean": round((0.78 + 0.76 + 0.7) / 3, 5)}
    assert summary["seeds"] == [1, 2, 3] and summary["steps"] == [10, 20, 30]
    assert summary["speedup"] == 2.0 and summary["goals"]["speedup >= 1.8"] is True
    assert summary["goals"]["mean share >= 0.95"] is False  # 0.9714, 0.9571, 0.8571: mean 0.9286
    assert summary["goals"]["every seed's share >= 0.95"] is False
    best = _module().summarize(results[:2])
    assert best["goals"] == {"mean share >= 0.95": True, "every seed's share >= 0.95": True, "speedup >= 1.8": True}


def test_results_of_different_teachers_or_suites_are_refused():
    module = _module()
    with pytest.raises(ValueError, match="teacher's scores"):
        module.summarize(
            [_result(1, {"a": 0.7, "b": 0.5}), _result(2, {"a": 0.7, "b": 0.5}, teacher={"a": 0.8, "b": 0.7})]
        )
    other = _result(2, {"a": 0.7, "b": 0.5})
    other["dev_suite"] = "other/en"
    with pytest.raises(ValueError, match="dev_suite"):
        module.summarize([_result(1, {"a": 0.7, "b": 0.5}), other])
    with pytest.raises(ValueError, match="no results"):
        module.summarize([])
    with pytest.raises(ValueError, match="given twice"):
        module.summarize([_result(1, {"a": 0.7, "b": 0.5}), _result(1, {"a": 0.7, "b": 0.5})])
    other_lr = _result(2, {"a": 0.7, "b": 0.5})
    other_lr["distillation"]["learning_rate"] = 1e-4
    with pytest.raises(ValueError, match="learning_rate"):
        module.summarize([_result(1, {"a": 0.7, "b": 0.5}), other_lr])


def test_command_writes_the_summary(tmp_path):
    files = []
    for seed in (1, 2):
        files.append(tmp_path / f"r{seed}.json")
        files[-1].write_text(json.dumps(_result(seed, {"a": 0.78, "b": 0.58})))
    out = tmp_path / "summary.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, files), "--output", str(out)], check=True, capture_output=True
    )
    summary = json.loads(out.read_text())
    assert summary["share_mean"] == round(0.68 / 0.7, 4) and summary["share_stdev"] == 0.0
    assert [r["student"] for r in summary["results"]] == ["s1", "s2"]
