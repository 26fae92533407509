"""benchmarks/bench_nomic_bert.py: each arm measures on a tiny model; medians, ratios and goals by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_nomic_bert.py"


def _module():
    return load_script(SCRIPT, "bench_nomic_bert")


def test_swiglu_intermediate_matches_dims_or_two_thirds_of_the_parameters():
    bench = _module()
    assert bench.swiglu_intermediate(1536, "dims") == 1536
    assert [bench.swiglu_intermediate(n, "params") for n in (1536, 3072, 64)] == [1024, 2048, 64]


@pytest.mark.parametrize("arch", ["bert", "nomic", "nomic_fast"])
def test_every_arm_measures_a_tiny_model(arch):
    row = _module().worker(arch, 16, "tiny", tokens=64, iters=1, match="params")
    assert (row["arch"], row["length"], row["batch"], row["match"]) == (arch, 16, 4, "params")
    assert row["fast_path"] is (arch == "nomic_fast")
    assert row["train_tokens_per_s"] > 0 and row["encode_tokens_per_s"] > 0 and row["peak_rss_mib"] > 0
    # tiny preset: BERT intermediate 64, so the parameter-matched SwiGLU keeps the 64 floor
    assert row["intermediate_size"] == 64


def test_summary_takes_medians_over_rounds_and_ratios_to_bert():
    def row(arch, train, encode, rss, rounds=0):
        return {"arch": arch, "length": 512, "params_m": 1.0, "intermediate_size": 8, "round": rounds,
                "train_tokens_per_s": train, "encode_tokens_per_s": encode, "peak_rss_mib": rss}  # fmt: skip

    rows = [row("bert", 100, 200, 1000), row("bert", 120, 220, 1010), row("bert", 110, 180, 990)]
    rows += [row("nomic_fast", 115, 190, 950), row("nomic_fast", 130, 210, 960), row("nomic_fast", 90, 230, 955)]
    rows += [row("nomic", 80, 150, 1200)]
    bench = _module()
    summary = {e["arch"]: e for e in bench.summarize(rows)}
    assert summary["bert"]["train_tokens_per_s"] == 110 and summary["bert"]["rounds"] == 3
    assert summary["nomic_fast"]["train_tokens_per_s"] == 115 and summary["nomic_fast"]["encode_tokens_per_s"] == 210
    assert summary["nomic_fast"]["train_vs_bert"] == pytest.approx(115 / 110, abs=1e-3)
    assert summary["nomic_fast"]["encode_vs_bert"] == pytest.approx(210 / 200, abs=1e-3)
    assert summary["nomic_fast"]["peak_rss_vs_bert"] == pytest.approx(960 / 1010, abs=1e-3)
    reached = bench.goals(list(summary.values()))
    assert reached == {
        "nomic_fast": {"speed_ge_1x": True, "peak_rss_le_bert": True},
        "nomic": {"speed_ge_1x": False, "peak_rss_le_bert": False},
    }


def test_saved_for_backward_counts_each_saved_storage_once_and_no_parameter():
    import torch

    model = torch.nn.Linear(8, 8, bias=False)
    inputs = torch.randn(16, 8)
    # linear saves its input (16 x 8 floats) and the weight (a parameter: not counted); pow saves linear's output
    measured = _module().saved_for_backward_mib(model, lambda: (model(inputs) ** 2).sum())
    assert measured == pytest.approx(2 * 16 * 8 * 4 / 2**20)


@pytest.mark.parametrize("padding", ["half", "none"])
def test_worker_pads_half_the_rows_or_none(padding):
    row = _module().worker("nomic_fast", 16, "tiny", tokens=64, iters=1, match="params", padding=padding)
    assert row["padding"] == padding and row["saved_for_backward_mib"] > 0


def test_summary_and_goals_keep_each_padding_and_allocator_apart():
    def row(arch, train, rss, padding, allocator):
        return {"arch": arch, "length": 512, "params_m": 1.0, "intermediate_size": 8, "padding": padding,
                "allocator": allocator, "train_tokens_per_s": train, "encode_tokens_per_s": train,
                "peak_rss_mib": rss, "saved_for_backward_mib": rss / 2}  # fmt: skip

    rows = [row("bert", 100, 1000, "half", "default"), row("nomic_fast", 120, 1100, "half", "default")]
    rows += [row("bert", 100, 900, "none", "fixed"), row("nomic_fast", 90, 800, "none", "fixed")]
    rows += [{k: v for k, v in r.items() if k not in ("padding", "allocator")} for r in rows[:1]]  # an old row
    bench = _module()
    summary = {(e["arch"], e["padding"], e["allocator"]): e for e in bench.summarize(rows)}
    assert summary["bert", "half", "default"]["rounds"] == 2  # the row without the keys counts as half / default
    assert summary["nomic_fast", "none", "fixed"]["peak_rss_vs_bert"] == pytest.approx(800 / 900, abs=1e-3)
    assert summary["nomic_fast", "none", "fixed"]["saved_vs_bert"] == pytest.approx(400 / 450, abs=1e-3)
    assert bench.goals(list(summary.values())) == {
        "nomic_fast": {"speed_ge_1x": True, "peak_rss_le_bert": False, "saved_for_backward_le_bert": False},
        "nomic_fast/none/fixed": {"speed_ge_1x": False, "peak_rss_le_bert": True, "saved_for_backward_le_bert": True},
    }


def test_goals_compare_the_medians_not_the_rounded_ratios():
    def row(arch, encode):
        return {"arch": arch, "length": 512, "params_m": 1.0, "intermediate_size": 8, "train_tokens_per_s": 100.0,
                "encode_tokens_per_s": encode, "peak_rss_mib": 10.0}  # fmt: skip

    bench = _module()
    summary = bench.summarize([row("bert", 8620.8), row("nomic_fast", 8620.4)])
    assert next(e for e in summary if e["arch"] == "nomic_fast")["encode_vs_bert"] == 1.0  # rounded for the table
    assert bench.goals(summary)["nomic_fast"]["speed_ge_1x"] is False  # but 0.99995x is below BERT


def test_rows_of_an_earlier_file_are_summarised_again_without_measuring(tmp_path):
    import json
    import subprocess
    import sys

    def row(arch, train, rss):
        return {"arch": arch, "length": 512, "params_m": 1.0, "intermediate_size": 8, "padding": "none",
                "allocator": "fixed", "train_tokens_per_s": train, "encode_tokens_per_s": train,
                "peak_rss_mib": rss, "saved_for_backward_mib": 1.0, "round": 0}  # fmt: skip

    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"config": {"match": "params"}, "rows": [row("bert", 10, 5), row("nomic", 9, 4)]}))
    again = tmp_path / "again.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--rows", str(earlier), "--output", str(again)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    written = json.loads(again.read_text())
    assert written["config"] == {"match": "params"} and len(written["rows"]) == 2
    assert written["goals_at_512"]["nomic/none/fixed"]["peak_rss_le_bert"] is True
    assert "| 512 | none | fixed | nomic |" in done.stdout


def test_the_default_allocator_does_not_pass_on_a_threshold_from_the_environment():
    bench = _module()
    caller = {"PATH": "/bin", "MALLOC_MMAP_THRESHOLD_": "65536"}
    assert bench.worker_environment("default", caller) == {"PATH": "/bin"}
    assert bench.worker_environment("fixed", caller) == {"PATH": "/bin", "MALLOC_MMAP_THRESHOLD_": "131072"}
    assert caller["MALLOC_MMAP_THRESHOLD_"] == "65536"  # the caller's own environment is left as it was
