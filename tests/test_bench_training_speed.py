"""benchmarks/bench_training_speed.py: the quality-seeds summary (mean, spread, paired differences) by hand."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training_speed.py"


def _module():
    return load_script(SCRIPT, "bench_training_speed")


def test_quality_summary_pairs_each_seed_with_the_same_seed_of_the_base_arms():
    def run(ret, sts, seconds):
        return {"ret": ret, "sts": sts, "seconds": seconds}

    scores = {
        "plain bf16": {1: run(0.80, 0.70, 9.0), 2: run(0.82, 0.71, 9.0)},
        "st_plus ungrouped": {1: run(0.81, 0.70, 8.0), 2: run(0.84, 0.69, 8.0)},
        "st_plus length_grouped": {1: run(0.80, 0.72, 6.0), 2: run(0.85, 0.70, 6.0)},
    }
    summary = _module().quality_summary(scores)
    assert set(summary["arms"]["plain bf16"]) == {"ret", "sts"}  # seconds are not a score
    assert summary["arms"]["st_plus ungrouped"]["ret"]["mean"] == pytest.approx(0.825)
    assert summary["arms"]["st_plus ungrouped"]["ret"]["sd"] == pytest.approx(statistics.stdev([0.81, 0.84]))
    paired = summary["paired"]["st_plus length_grouped - st_plus ungrouped"]["ret"]
    assert paired["values"] == pytest.approx([-0.01, 0.01]) and paired["mean"] == pytest.approx(0.0)
    assert summary["paired"]["st_plus ungrouped - plain bf16"]["sts"]["values"] == pytest.approx([0.0, -0.02])
    assert "plain bf16 - plain bf16" not in summary["paired"] and "plain bf16 - st_plus ungrouped" in summary["paired"]
