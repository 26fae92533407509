"""st_plus's evaluators give MTEB's own numbers on the same model and data (one dataset per task type).

Tolerances from the foundation issue: 1e-4 for STS, pair classification, retrieval and reranking; 0.005 for
classification and clustering. Every metric both report is compared, not only the main score.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from st_plus.data import Task, load_task
from st_plus.evaluation import build_evaluator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import example_task_dir  # noqa: E402
from mteb_adapter import run_mteb  # noqa: E402

pytest.importorskip("mteb")
pytestmark = [pytest.mark.real, pytest.mark.mteb]


def _subset(task: Task, n: int) -> Task:
    data = task.data
    if isinstance(data, dict):
        data = {k: (v if v is None or k == "train" else v.select(range(min(n, len(v))))) for k, v in data.items()}
    else:
        data = data.select(range(min(n, len(data))))
    return replace(task, data=data)


def _compare(task: Task, model, tolerance: float, **settings) -> dict[str, float]:
    ours = build_evaluator(task, show_progress_bar=False, **settings).evaluate(model)
    theirs = run_mteb(task, model, **settings)
    shared = [k for k, v in ours.scores.items() if isinstance(v, float) and isinstance(theirs.get(k), float)]
    assert ours.main_score_name in shared
    assert len(shared) >= 4, shared
    differences = {k: abs(ours.scores[k] - theirs[k]) for k in shared}
    worst = max(differences, key=differences.get)
    assert differences[worst] <= tolerance, f"{worst}: st_plus {ours.scores[worst]} vs MTEB {theirs[worst]}"
    assert abs(ours.main_score - theirs["main_score"]) <= tolerance
    return differences


def test_sts_matches_mteb(bundled_model):
    task = load_task(example_task_dir("sts_stsbenchmark_en"))
    _compare(task, bundled_model, 1e-4)


def test_pair_classification_matches_mteb(bundled_model):
    task = load_task(example_task_dir("pairclf_banking77_en"))
    _compare(task, bundled_model, 1e-4)


def test_classification_matches_mteb(bundled_model):
    task = _subset(load_task(example_task_dir("classification_banking77_en")), 800)
    _compare(task, bundled_model, 0.005)


def test_classification_cross_validation_matches_mteb(bundled_model):
    task = load_task(example_task_dir("classification_banking77_en"))
    task = replace(task, data={"train": None, "eval": task.data["eval"].select(range(600))})
    _compare(task, bundled_model, 0.005)


def test_clustering_matches_mteb(bundled_model):
    # 3,080 texts: exercises MTEB's sampling of 2,048 documents before the bootstrap.
    task = load_task(example_task_dir("clustering_banking77_en"))
    _compare(task, bundled_model, 0.005)


def test_retrieval_matches_mteb(bundled_model):
    task = load_task(example_task_dir("retrieval_xquad_en"))
    _compare(task, bundled_model, 1e-4)


def test_reranking_matches_mteb(bundled_model):
    task = _subset(load_task(example_task_dir("reranking_xquad_en")), 120)
    _compare(task, bundled_model, 1e-4)


def test_result_files_load_with_mteb(bundled_model, tmp_path):
    from mteb import TaskResult as MTEBTaskResult

    from st_plus.evaluation import evaluate_suite

    task = _subset(load_task(example_task_dir("pairclf_banking77_en")), 200)
    [result] = evaluate_suite(bundled_model, [task], output_dir=tmp_path, show_progress_bar=False, model_name="m")
    path = tmp_path / "m" / "no_revision_available" / f"{task.name}.json"
    loaded = MTEBTaskResult.from_disk(path)
    assert loaded.task_name == task.name
    assert loaded.scores["test"][0]["main_score"] == pytest.approx(result.main_score, abs=1e-5)
    assert (tmp_path / "m" / "no_revision_available" / "results.md").is_file()
