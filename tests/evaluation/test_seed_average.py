"""Scores averaged over evaluation seeds: the pure mean against a by-hand reference, and through evaluate_suite."""

from __future__ import annotations

import json
import pickle
import re

import pytest
from tests_helpers import CORPUS, write_jsonl

from st_plus.data import load_task
from st_plus.evaluation import TaskResult, average_over_seeds, build_evaluator, evaluate_suite, results_table
from st_plus.evaluation.seed_average import EvalSeedError, check_eval_seeds


def _result(seed_value: float, *, ap: float | None = None, dims: tuple[int, ...] = (16,)) -> TaskResult:
    by_dim = {d: {"accuracy": seed_value / d * 16, "ap": ap, "scores_per_experiment": [{"accuracy": 0.0}]}
              for d in dims}  # fmt: skip
    return TaskResult("t", "Classification", "accuracy", by_dim[dims[0]], by_dim, num_samples=4,
                      evaluation_time=1.5, split="test", language="en")  # fmt: skip


def test_every_numeric_metric_is_the_mean_over_seeds_at_every_dimension():
    results = [_result(0.5, ap=0.2, dims=(16, 8)), _result(0.8, ap=None, dims=(16, 8)), _result(0.2, dims=(16, 8))]
    averaged = average_over_seeds(results, [42, 1, 7])
    assert averaged.main_score == pytest.approx((0.5 + 0.8 + 0.2) / 3)
    assert averaged.scores_by_dim[8]["accuracy"] == pytest.approx((1.0 + 1.6 + 0.4) / 3)
    assert averaged.scores["ap"] == pytest.approx(0.2)  # None where a seed had no value: the others' mean
    assert "scores_per_experiment" not in averaged.scores  # per-seed lists are not averaged
    assert averaged.scores["eval_seeds"] == [42, 1, 7]
    assert averaged.scores["main_score_per_eval_seed"] == {"42": 0.5, "1": 0.8, "7": 0.2}
    assert averaged.scores["main_score_std_over_eval_seeds"] == pytest.approx(0.3)  # sample sd of 0.5, 0.8, 0.2
    assert averaged.evaluation_time == pytest.approx(4.5) and averaged.num_samples == 4
    assert average_over_seeds([_result(0.5)], [3]).scores["ap"] is None  # None under every seed stays None
    json.dumps(averaged.to_dict())


@pytest.mark.parametrize(
    ("seeds", "match"),
    [([], "empty"), ([1, 1], "repeats"), ([-1], r"\[0, 4294967295\]"), ([2**32], r"\[0, 4294967295\]"),
     ([1.5], "integers"), ([True], "integers")],
)
def test_bad_seeds_are_refused(seeds, match):
    with pytest.raises(ValueError, match=match):
        check_eval_seeds(seeds)


def test_results_of_other_tasks_or_counts_are_refused():
    other = TaskResult("u", "Classification", "accuracy", {"accuracy": 0.1}, {16: {"accuracy": 0.1}})
    with pytest.raises(ValueError, match="different tasks"):
        average_over_seeds([_result(0.5), other], [1, 2])
    with pytest.raises(ValueError, match="one result per seed"):
        average_over_seeds([_result(0.5)], [1, 2])
    with pytest.raises(ValueError, match="different dimensions"):
        average_over_seeds([_result(0.5), _result(0.5, dims=(16, 8))], [1, 2])


@pytest.fixture()
def task_dirs(tmp_path):
    texts = CORPUS[:12]
    write_jsonl(tmp_path / "clf" / "test.jsonl", [{"text": t, "label": i % 3} for i, t in enumerate(texts)])
    (tmp_path / "clf" / "task.json").write_text(json.dumps({"task_type": "Classification", "train_split": None}))
    pairs = zip(texts, texts[1:], strict=False)
    sts = [{"sentence1": a, "sentence2": b, "score": float(i % 5)} for i, (a, b) in enumerate(pairs)]
    write_jsonl(tmp_path / "sts" / "test.jsonl", sts)
    (tmp_path / "sts" / "task.json").write_text(json.dumps({"task_type": "STS"}))
    write_jsonl(tmp_path / "clu" / "test.jsonl", [{"text": t, "label": i % 2} for i, t in enumerate(texts)])
    settings = {"n_experiments": 2, "documents_per_experiment": 8, "max_documents_to_embed": 10}
    (tmp_path / "clu" / "task.json").write_text(json.dumps({"task_type": "Clustering", "settings": settings}))
    return [tmp_path / "clf", tmp_path / "sts", tmp_path / "clu"]


def test_evaluate_suite_scores_seed_dependent_tasks_once_per_seed_and_the_others_once(tiny_model, task_dirs, tmp_path):
    seeds = [42, 5, 11]
    clf, sts, clu = evaluate_suite(tiny_model, task_dirs, show_progress_bar=False, eval_seeds=seeds,
                                   truncate_dims=[8], output_dir=tmp_path / "out")  # fmt: skip
    task = load_task(task_dirs[0])
    each = [build_evaluator(task, seed=s, truncate_dims=[8]).evaluate(tiny_model) for s in seeds]
    assert clf.scores["main_score_per_eval_seed"] == {str(s): r.main_score for s, r in zip(seeds, each, strict=True)}
    assert clf.main_score == pytest.approx(sum(r.main_score for r in each) / 3)
    assert clf.scores_by_dim[8]["accuracy"] == pytest.approx(sum(r.scores_by_dim[8]["accuracy"] for r in each) / 3)
    assert len(set(clf.scores["main_score_per_eval_seed"].values())) > 1  # the folds moved with the seed
    clusters = [build_evaluator(load_task(task_dirs[2]), seed=s).evaluate(tiny_model).main_score for s in seeds]
    assert clu.scores["main_score_per_eval_seed"] == {str(s): v for s, v in zip(seeds, clusters, strict=True)}
    assert len(set(clusters)) > 1  # each seed its own sample of 10 of 12 documents and bootstrap
    plain = evaluate_suite(tiny_model, task_dirs, show_progress_bar=False, truncate_dims=[8])
    assert "eval_seeds" not in sts.scores and sts.scores == plain[1].scores  # no seed: scored once, unchanged
    assert plain[0].main_score == each[0].main_score  # without eval_seeds: MTEB's seed 42 alone
    written = json.loads(next((tmp_path / "out").rglob("clf.json")).read_text())["scores"]["test"][0]
    assert written["eval_seeds"] == seeds and written["main_score"] == round(clf.main_score, 5)
    assert written["evaluated_with"].endswith("(mean over evaluation seeds 42, 5, 11)")
    assert written["dim_8"]["accuracy"] == round(clf.scores_by_dim[8]["accuracy"], 5)
    table = results_table([clf, sts, clu])
    assert "Mean over evaluation seeds 42, 5, 11 (not MTEB's single seed): clf, clu." in table
    assert "evaluation seeds" not in results_table(plain)
    with pytest.raises(ValueError, match="repeats"):
        evaluate_suite(tiny_model, task_dirs, show_progress_bar=False, eval_seeds=[1, 1])


def test_st_plus_eval_reports_the_mean_over_the_seeds(tiny_model_dir, task_dirs, capsys):
    from st_plus.cli import main

    args = ["eval", "--model", str(tiny_model_dir), "--json", "--quiet", *map(str, task_dirs)]
    assert main([*args, "--eval-seeds", "42", "5"]) == 0  # after the folders: the flag takes one or more values
    clf, sts, clu = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert clf["scores"]["eval_seeds"] == [42, 5] and clu["scores"]["eval_seeds"] == [42, 5]
    assert clf["main_score"] == pytest.approx(sum(clf["scores"]["main_score_per_eval_seed"].values()) / 2)
    assert "eval_seeds" not in sts["scores"]


@pytest.mark.parametrize(
    ("seeds", "index", "reason"),
    [([], None, "needs at least one seed"), ([42, 7, 42], 2, "repeats seed 42"), ([1, 2**32], 1, r"must be in \[0, "),
     ([3, True], 1, "got True")],
)  # fmt: skip
def test_bad_seeds_name_the_position_for_callers_that_place_them(seeds, index, reason):
    with pytest.raises(EvalSeedError, match=".") as caught:  # a ValueError too (the test above)
        check_eval_seeds(seeds)
    assert caught.value.index == index
    assert re.search(reason, caught.value.reason)
    copied = pickle.loads(pickle.dumps(caught.value))
    assert (str(copied), copied.index, copied.reason) == (str(caught.value), index, caught.value.reason)
