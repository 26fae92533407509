"""benchmarks/bench_attention_dropout.py on a tiny model: both arms run on the same batches, alternating, and the
model leaves the benchmark with its own attention dropout."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_attention_dropout.py"


def test_both_arms_time_the_same_batches_and_the_ratio_is_their_medians(tiny_bert, monkeypatch):
    import st_plus
    from st_plus.models import attention_dropout_sites

    bench = load_script(SCRIPT, "bench_attention_dropout")
    for obj, name in attention_dropout_sites(tiny_bert):
        setattr(obj, name, 0.1)
    monkeypatch.setattr(st_plus, "load_model", lambda name: tiny_bert)
    seen = []
    real = bench._step_seconds

    def spy(model, batches, dtype):
        seen.append(([obj.p for obj, _ in attention_dropout_sites(model)], [b["input_ids"].shape for b in batches]))
        return real(model, batches, dtype)

    monkeypatch.setattr(bench, "_step_seconds", spy)
    args = argparse.Namespace(rounds=2, batches=2, texts=4, length=16, dtype="fp32", seed=0, field="positive", join=1)
    result = bench.measure(args)
    assert [p for p, _ in seen[1:]] == [[0.1, 0.1], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.1, 0.1]]
    assert len({str(shapes) for _, shapes in seen[1:]}) == 1 and all(s[1] <= 16 for s in seen[1][1])
    assert [len(v) for v in result["seconds"].values()] == [2, 2, 2]
    median = {arm: statistics.median(values) for arm, values in result["seconds"].items()}
    assert result["speedup_without_attention_dropout"] == pytest.approx(
        median["default"] / median["no attention dropout"], abs=0.001)  # fmt: skip
    assert result["speedup_without_attention_dropout_math_kernel"] == pytest.approx(
        median["default"] / median["no attention dropout, math kernel"], abs=0.001)  # fmt: skip
    assert result["settings"]["dtype"] == "float32" and result["settings"]["padded_length"][0] <= 16
    assert [obj.p for obj, _ in attention_dropout_sites(tiny_bert)] == [0.1, 0.1]
