"""benchmarks/compare_recipe_runs.py: two arms of pipeline runs paired by seed, checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_recipe_runs.py"


def _run(folder: Path, seed: int, final: dict[str, float], point: str = "multitask") -> Path:
    folder.mkdir(parents=True)
    (folder / "recipe.resolved.yaml").write_text(f"name: r\nseed: {seed}\nstages:\n  multitask:\n    seed: 7\n")
    evaluations = {"start": {t: {"value": 0.5} for t in final}, point: {t: {"value": v} for t, v in final.items()}}
    (folder / "pipeline_state.json").write_text(json.dumps({"evaluations": evaluations}))
    return folder


def test_pairs_seeds_and_reports_per_task_and_mean_differences(tmp_path):
    module = load_script(SCRIPT, "compare_recipe_runs")
    a = [_run(tmp_path / "a1", 1, {"x": 0.80, "y": 0.60}), _run(tmp_path / "a2", 2, {"x": 0.82, "y": 0.50})]
    b = [_run(tmp_path / "b2", 2, {"x": 0.81, "y": 0.52}), _run(tmp_path / "b1", 1, {"x": 0.78, "y": 0.61})]

    record = module.compare({"new": a, "old": b})

    assert record["seeds"] == [1, 2] and record["point"] == "multitask"
    x = record["tasks"]["x"]
    assert x["new"]["per_seed"] == [80.0, 82.0] and x["old"]["per_seed"] == [78.0, 81.0]
    assert x["difference"]["per_seed"] == [2.0, 1.0]
    assert x["difference"]["mean"] == 1.5 and x["difference"]["sd"] == pytest.approx(0.7071, abs=1e-4)
    mean = record["tasks"]["mean"]  # per seed: the mean over tasks, then paired
    assert mean["new"]["per_seed"] == [70.0, 66.0] and mean["old"]["per_seed"] == [69.5, 66.5]
    assert mean["difference"]["per_seed"] == [0.5, -0.5] and mean["difference"]["mean"] == 0.0
    assert "| x (multitask) |" not in module.markdown(record)
    assert "| x | 81.00 ± 1.41 | 79.50 ± 2.12 | +1.50 ± 0.71 (+2.00, +1.00) |" in module.markdown(record)
    assert module.compare({"new": a, "old": b}, point="start")["tasks"]["x"]["difference"]["mean"] == 0.0


def test_refuses_unpaired_seeds_repeated_seeds_and_other_tasks(tmp_path):
    module = load_script(SCRIPT, "compare_recipe_runs")
    a1 = _run(tmp_path / "a1", 1, {"x": 0.8})
    with pytest.raises(ValueError, match="different seeds"):
        module.compare({"new": [a1], "old": [_run(tmp_path / "b3", 3, {"x": 0.8})]})
    with pytest.raises(ValueError, match="seed 1 twice"):
        module.compare({"new": [a1, _run(tmp_path / "a1b", 1, {"x": 0.8})], "old": [a1]})
    with pytest.raises(ValueError, match="other tasks"):
        module.compare({"new": [a1], "old": [_run(tmp_path / "b1", 1, {"z": 0.8})]})
    with pytest.raises(ValueError, match="different evaluation points"):
        module.compare({"new": [a1], "old": [_run(tmp_path / "c1", 1, {"x": 0.8}, point="contrastive")]})
