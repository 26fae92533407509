"""The merge weight chosen on development tasks, and the recipe's ``merge`` stage (validation, pipeline run)."""

from __future__ import annotations

import json

import pytest
import torch
from pipeline_fixtures import write_tiny_recipe
from tests_helpers import perturbed_copy

from st_plus.evaluation import evaluate_suite
from st_plus.models import load_model
from st_plus.training import run_recipe
from st_plus.training.merge_weights import (
    RULE_BEST_MEAN,
    RULE_WITHIN,
    choose_merge_weight,
    grid_point,
    select_merge_weight,
    within_tolerance,
)
from st_plus.training.recipe import RecipeError, load_recipe, recipe_to_dict

MERGE_RECIPE = """\
name: tiny-merge
seed: 3
precision: fp32
model: {base: {base}, max_seq_length: 32}
stages:
  contrastive:
    data: [{path: data/pairs.jsonl, group_column: source}]
    batch_size: 8
    max_steps: 2
    learning_rate: 1.0e-3
    filter: null
    evaluate: none
  merge:
    with: base
    weight: auto
    grid: [0.25, 0.5]
    dev_tasks: [eval/sts_tiny]
    max_drop: 1.0
evaluation:
  tasks: [eval/retrieval_tiny]
  batch_size: 16
"""


def test_the_rule_keeps_the_largest_weight_within_the_tolerance_else_the_best_mean():
    base = {"a": 0.50, "b": 0.80}
    table = [
        grid_point(0.5, {"a": 0.52, "b": 0.799}, base),  # worst drop 0.001
        grid_point(0.7, {"a": 0.55, "b": 0.798}, base),  # 0.002
        grid_point(0.9, {"a": 0.58, "b": 0.790}, base),  # 0.010
    ]
    assert table[1].worst_task == "b" and table[1].worst_drop == pytest.approx(0.002)
    assert select_merge_weight(table, max_drop=0.003) == (0.7, RULE_WITHIN)
    assert select_merge_weight(table, max_drop=0.02) == (0.9, RULE_WITHIN)
    assert select_merge_weight(table, max_drop=0.0005) == (0.9, RULE_BEST_MEAN)  # means 0.6595, 0.674, 0.685
    with pytest.raises(ValueError, match="empty"):
        select_merge_weight([])


def test_a_drop_of_exactly_the_tolerance_is_within_it_despite_float_error():
    base = {"tnews": 0.15400000000000003}  # a mean accuracy as the evaluator returns it
    point = grid_point(0.5, {"tnews": 0.151}, base)  # 0.30 points below: 0.0030000000000000304 after subtraction
    assert point.worst_drop > 0.003 and within_tolerance(point.worst_drop, 0.003)
    assert select_merge_weight([point], max_drop=0.003) == (0.5, RULE_WITHIN)
    assert not within_tolerance(0.00301, 0.003)


def test_choose_merge_weight_evaluates_every_grid_point_and_leaves_the_model_unchanged(tiny_bert, tmp_path):
    write_tiny_recipe(tmp_path, tmp_path)
    tasks = [tmp_path / "eval" / "sts_tiny", tmp_path / "eval" / "retrieval_tiny"]
    finetuned = perturbed_copy(tiny_bert, 0, 0.2)
    before = {k: v.clone() for k, v in finetuned.state_dict().items()}
    choice = choose_merge_weight(finetuned, tiny_bert, tasks, grid=(1.0, 0.5), max_drop=0.0)
    assert [p.weight for p in choice.table] == [0.5, 1.0]
    assert all(torch.equal(v, before[k]) for k, v in finetuned.state_dict().items())
    scores = {r.task_name: r.main_score for r in evaluate_suite(finetuned, tasks, show_progress_bar=False)}
    assert choice.table[-1].scores == pytest.approx(scores)
    base = {r.task_name: r.main_score for r in evaluate_suite(tiny_bert, tasks, show_progress_bar=False)}
    assert choice.base_scores == pytest.approx(base)
    assert (choice.weight, choice.rule) == select_merge_weight(choice.table, max_drop=0.0)
    json.dumps(choice.to_dict())
    for grid, match in (((), "at least one"), ((0.0, 1.0), r"in \(0, 1\]"), ((1.5,), r"in \(0, 1\]")):
        with pytest.raises(ValueError, match=match):
            choose_merge_weight(finetuned, tiny_bert, tasks, grid=grid)
    with pytest.raises(ValueError, match="dev_tasks"):
        choose_merge_weight(finetuned, tiny_bert, [])


def test_seed_dependent_dev_tasks_are_scored_as_the_mean_over_the_evaluation_seeds(tiny_bert, tmp_path):
    from tests_helpers import CORPUS, write_jsonl

    folder = tmp_path / "clf_dev"
    write_jsonl(folder / "test.jsonl", [{"text": t, "label": i % 3} for i, t in enumerate(CORPUS[:12])])
    (folder / "task.json").write_text(json.dumps({"task_type": "Classification", "train_split": None}))
    finetuned = perturbed_copy(tiny_bert, 0, 0.2)
    choice = choose_merge_weight(finetuned, tiny_bert, [folder], grid=(1.0,), max_drop=1.0, eval_seeds=[42, 3])
    [expected] = evaluate_suite(finetuned, [folder], show_progress_bar=False, eval_seeds=[42, 3])
    [base] = evaluate_suite(tiny_bert, [folder], show_progress_bar=False, eval_seeds=[42, 3])
    assert choice.table[0].scores == {"clf_dev": pytest.approx(expected.main_score)}
    assert choice.base_scores == {"clf_dev": pytest.approx(base.main_score)}
    assert choice.eval_seeds == [42, 3] and choice.to_dict()["eval_seeds"] == [42, 3]
    assert choose_merge_weight(finetuned, tiny_bert, [folder], grid=(1.0,)).eval_seeds is None
    write_tiny_recipe(tmp_path, tmp_path)
    sts_only = [tmp_path / "eval" / "sts_tiny"]
    no_seeded = choose_merge_weight(finetuned, tiny_bert, sts_only, grid=(1.0,), eval_seeds=[1])
    assert no_seeded.eval_seeds is None  # no classification or clustering dev task: the seeds were not used
    with pytest.raises(ValueError, match="repeats"):
        choose_merge_weight(finetuned, tiny_bert, [folder], grid=(1.0,), eval_seeds=[2, 2])


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("    weight: auto\n", "    weight: 1.5\n", 15, "stages.merge.weight: must be in (0, 1]"),
        ("    weight: auto\n", "    weight: lots\n", 15, "stages.merge.weight: expected one of ['auto'] or a number"),
        ("    dev_tasks: [eval/sts_tiny]\n", "", 13, "stages.merge.dev_tasks: `weight: auto` chooses the weight"),
        ("    weight: auto\n", "    weight: 0.7\n", 16, "stages.merge.grid: is used by `weight: auto` only"),
        ("grid: [0.25, 0.5]", "grid: [0.5, 0]", 16, "stages.merge.grid[1]: must be in (0, 1]"),
        ("with: base", "with: nowhere/model", 14, "stages.merge.with: model folder not found"),
        ("dev_tasks: [eval/sts_tiny]", "dev_tasks: [eval/none]", 17, "stages.merge.dev_tasks[0]: no task folder"),
        ("    with: base\n", "    with: base\n    mix: 2\n", 15, "stages.merge.mix: unknown key; MergeSpec accepts"),
        ("    max_drop: 1.0\n", "    max_drop: 1.0\n    eval_seeds: [42, 42]\n", 19,
         "stages.merge.eval_seeds[1]: repeats seed 42"),
        ("    max_drop: 1.0\n", "    max_drop: 1.0\n    eval_seeds: []\n", 19,
         "stages.merge.eval_seeds: needs at least one seed"),
        ("    max_drop: 1.0\n", "    max_drop: 1.0\n    eval_seeds: [4294967296]\n", 19,
         "stages.merge.eval_seeds[0]: must be in [0, 4294967295]"),
        ("    weight: auto\n    grid: [0.25, 0.5]\n    dev_tasks: [eval/sts_tiny]\n",
         "    weight: 0.7\n    eval_seeds: [1]\n", 16, "stages.merge.eval_seeds: is used by `weight: auto` only"),
    ],
)  # fmt: skip
def test_bad_merge_settings_name_the_line_and_the_key(tmp_path, tiny_bert_dir, old, new, line, expected):
    text = MERGE_RECIPE.replace(old, new)
    assert text != MERGE_RECIPE, old
    path = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert f"{path}:{line}: " in str(info.value) and expected in str(info.value), str(info.value)


def test_a_merge_only_recipe_is_refused(tmp_path, tiny_bert_dir):
    text = "name: m\nmodel: {base: {base}}\nstages:\n  merge: {weight: 0.5}\n"
    path = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    with pytest.raises(RecipeError, match=r":4: stages.merge: merging needs a trained model"):
        load_recipe(path)


def test_the_merge_stage_makes_the_final_model_and_is_recorded(tmp_path, tiny_bert_dir):
    path = write_tiny_recipe(tmp_path, tiny_bert_dir, MERGE_RECIPE)
    recipe = load_recipe(path)
    assert recipe.stage_names() == ["contrastive", "merge"] and recipe.stages.merge.with_ == "base"
    assert recipe_to_dict(recipe)["stages"]["merge"]["with"] == "base"
    result = run_recipe(recipe, output_dir=tmp_path / "run", show_progress_bar=False)
    state = json.loads((tmp_path / "run" / "pipeline_state.json").read_text())
    extra = state["done"]["merge"]["extra"]
    weight = extra["choice"]["weight"]
    assert weight == 0.5 and [p["weight"] for p in extra["choice"]["table"]] == [0.25, 0.5]  # max_drop 1: all in
    assert [i["weight"] for i in extra["ingredients"]] == [0.5, 0.5]
    trained = load_model(tmp_path / "run" / "stages" / "contrastive" / "model").state_dict()
    base = load_model(tiny_bert_dir).state_dict()
    final = load_model(result.model_path).state_dict()
    for key, value in final.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, weight * trained[key] + (1 - weight) * base[key], atol=1e-6, rtol=0)
    record = json.loads((result.model_path / "st_plus_run.json").read_text())
    assert record["extra"]["merge"]["choice"]["rule"] == RULE_WITHIN
    assert record["extra"]["merge"]["choice"]["eval_seeds"] is None  # the recipe named none: MTEB's seed alone
    assert [s["name"] for s in record["stages"]] == ["contrastive", "merge"]
    assert "merge" in result.evaluations and "| start | merge |" in result.table.splitlines()[0]
    saved = (tmp_path / "run" / "recipe.resolved.yaml").read_text()
    assert "with: base" in saved and "with_" not in saved
    resumed = run_recipe(path, output_dir=tmp_path / "run", resume=True, show_progress_bar=False)
    assert resumed.evaluations == result.evaluations
