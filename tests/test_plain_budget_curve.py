"""benchmarks/plain_budget_curve.py: plain's stored dev runs by budget, from the results files alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "plain_budget_curve.py"
RECIPE = "benchmarks/recipes/recipe_vs_st.yaml"


def _results(start: float, plain: dict[str, tuple[float, float, float]], st_plus: tuple[float, float] | None = None):
    def arm(per_seed):
        mean = {k: sum(r[k] for r in per_seed.values()) / len(per_seed) for k in ("seconds", "retrieval", "all")}
        return {"seeds": [int(s) for s in per_seed], "per_seed": per_seed, "mean": mean}

    runs = {s: {"seconds": sec, "retrieval": r, "all": a, "steps": 10} for s, (sec, r, a) in plain.items()}
    arms = {"start": {"seeds": [42], "mean": {"t": start, "seconds": 0.0}, "per_seed": {}}, "plain": arm(runs)}
    if st_plus:
        arms["st_plus_siblings"] = arm({"42": {"seconds": st_plus[0], "retrieval": st_plus[1], "all": 80.0}})
    return {"recipe": RECIPE, "tasks": ["t"], "arms": arms}


def test_plain_runs_are_listed_once_by_budget_from_same_suite_files_only(tmp_path):
    curve = load_script(SCRIPT, "plain_budget_curve")
    files = {
        "recipe_vs_st_siblings.json": _results(70.0, {"42": (600.0, 81.0, 82.0), "43": (620.0, 82.0, 82.5)},
                                               st_plus=(600.0, 82.5)),
        "recipe_vs_st_linked.json": _results(70.0, {"42": (600.0, 81.0, 82.0)}),  # the same run, linked again
        "recipe_vs_st_short.json": _results(70.0, {"42": (400.0, 80.0, 81.0)}),
        "recipe_vs_st_old.json": _results(69.0, {"42": (1000.0, 90.0, 90.0)}),  # another dev suite: skipped
        "recipe_vs_st_short_test.json": _results(70.0, {"42": (5.0, 99.0, 99.0)}),  # a test split: not read
    }
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    data = curve.collect(tmp_path)
    assert data["skipped_other_suite"] == ["recipe_vs_st_old.json"]
    runs = [(r["seconds"], r["retrieval"]) for r in data["plain_runs"]]
    assert runs == [(400.0, 80.0), (600.0, 81.0), (620.0, 82.0)]
    assert [(p["file"], p["runs"]) for p in data["plain_by_file"]] == [
        ("recipe_vs_st_short.json", 1), ("recipe_vs_st_siblings.json", 2)]  # fmt: skip
    assert data["plain_by_file"][1]["retrieval"] == pytest.approx(81.5)
    assert data["plain_best_retrieval"]["retrieval"] == 82.0
    assert [(a["arm"], a["seconds"]) for a in data["st_plus_arms"]] == [("st_plus_siblings", 600.0)]
    assert "| recipe_vs_st_short.json | 1 | 400 | 80.00 | 81.00 |" in curve.table(data)
    with pytest.raises(SystemExit, match="no such dev results file"):
        curve.collect(tmp_path, "recipe_vs_st_missing.json")
