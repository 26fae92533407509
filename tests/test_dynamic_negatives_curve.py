"""benchmarks/dynamic_negatives_curve.py: seeds paired at every epoch of the dynamic-vs-static curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "dynamic_negatives_curve.py"


def _arm(curve: list[float], final: float, replaced: int = 0) -> dict:
    return {
        "name": "dynamic" if replaced else "static", "rows": 100, "wall": 10.0,
        "summary": {"rows_replaced": replaced},
        "scores": {"held-out": final, "retrieval_x": 0.5},
        "held_out_curve": [{"epoch": i + 1, "step": 5 * (i + 1), "held-out": v, "seconds": 1.0}
                           for i, v in enumerate(curve)],
    }  # fmt: skip


def _seed_file(folder: Path, seed: int, static: list[float], dynamic: list[float], **args) -> None:
    folder.mkdir(exist_ok=True)
    data = {
        "args": {"seed": str(seed), "epochs": "3", "train_rows": "100", "batch_size": "20", "json": "x",
                 "plot": "y", **args},
        "results": {"c": _arm(static[:-1], static[-1]), "d": _arm(dynamic[:-1], dynamic[-1], replaced=seed)},
        "curves": {"c": [[5, 0.3, 0.6], [10, 0.29, 0.61]], "d": [[5, 0.3, 0.6], [10, 0.31, 0.61]]},
    }  # fmt: skip
    (folder / f"seed{seed}.json").write_text(json.dumps(data))


def test_seeds_are_paired_at_every_epoch_and_the_final_score_is_the_last_point(tmp_path):
    _seed_file(tmp_path, 1, [0.80, 0.81, 0.82], [0.80, 0.815, 0.83])
    _seed_file(tmp_path, 2, [0.70, 0.71, 0.72], [0.70, 0.705, 0.73])
    data = load_script(SCRIPT, "dynamic_negatives_curve").summarise(tmp_path)
    assert [p["epoch"] for p in data["curve"]] == [1, 2, 3]
    assert [p["step"] for p in data["curve"]] == [5, 10, 15]  # 100 rows / batch 20 = 5 steps an epoch
    gain = [p["dynamic_minus_static"] for p in data["curve"]]
    assert gain[0] == {"mean": 0.0, "std": 0.0, "per_seed": [0.0, 0.0]}
    assert gain[1]["per_seed"] == [0.5, -0.5] and gain[1]["mean"] == 0.0
    assert gain[1]["std"] == pytest.approx(0.707, abs=1e-3)  # sample std of (+0.5, -0.5)
    assert gain[2]["per_seed"] == [1.0, 1.0] and gain[2]["mean"] == 1.0
    assert data["curve"][2]["static"]["mean"] == pytest.approx(77.0)
    assert data["rows_replaced"] == [1, 2] and data["seeds"] == [1, 2]
    assert data["goal"] == {"dynamic_minus_static_at_end": 1.0, "goal": 0.5, "met": True, "first_epoch_at_goal": 3}
    assert "| 3 | 15 | 77.00 ± 7.07 | 78.00 ± 7.07 | +1.00 ± 0.00 (+1.00, +1.00) |" in load_script(
        SCRIPT, "dynamic_negatives_curve"
    ).table(data)


def test_seeds_with_different_settings_are_not_paired(tmp_path):
    _seed_file(tmp_path, 1, [0.8, 0.8, 0.8], [0.8, 0.8, 0.8])
    _seed_file(tmp_path, 2, [0.8, 0.8, 0.8], [0.8, 0.8, 0.8], refresh_steps="50")
    with pytest.raises(SystemExit, match="run settings differ"):
        load_script(SCRIPT, "dynamic_negatives_curve").summarise(tmp_path)


def test_the_static_arm_can_come_from_another_folder_of_the_same_seeds(tmp_path):
    _seed_file(tmp_path / "static", 1, [0.80, 0.81, 0.82], [0.0, 0.0, 0.0])
    _seed_file(tmp_path / "reindex", 1, [0.0, 0.0, 0.0], [0.80, 0.815, 0.83], reindex_steps="5", runs="['d']")
    module = load_script(SCRIPT, "dynamic_negatives_curve")
    data = module.summarise(tmp_path / "reindex", static=tmp_path / "static")
    assert [p["dynamic_minus_static"]["per_seed"] for p in data["curve"]] == [[0.0], [0.5], [1.0]]
    _seed_file(tmp_path / "static", 1, [0.8, 0.8, 0.8], [0.8, 0.8, 0.8], refresh_steps="50")
    with pytest.raises(SystemExit, match="not the static arm"):
        module.summarise(tmp_path / "reindex", static=tmp_path / "static")
