"""Recipe files: defaults, path resolution, and errors naming file, line and key before any work starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pipeline_fixtures import RECIPE, write_tiny_recipe

from st_plus.training.recipe import RecipeError, load_recipe, recipe_to_dict


@pytest.fixture
def recipe_file(tmp_path, tiny_bert_dir):
    return write_tiny_recipe(tmp_path, tiny_bert_dir)


def _error(path: Path, text: str, base: Path) -> str:
    path.write_text(text.replace("{base}", str(base)), encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return str(info.value)


def test_a_valid_recipe_gets_defaults_absolute_paths_and_expanded_globs(recipe_file, tmp_path):
    recipe = load_recipe(recipe_file)
    assert recipe.stage_names() == ["contrastive", "multitask"]
    assert recipe.stages.contrastive.learning_rate == 5e-5 and recipe.stages.multitask.strategy == "proportional"
    assert recipe.stages.contrastive.data[0].path == str((tmp_path / "data" / "pairs.jsonl").resolve())
    assert sorted(Path(t).name for t in recipe.evaluation.tasks) == ["retrieval_tiny", "sts_tiny"]
    task = recipe.stages.multitask.tasks[1]
    assert task.data.path.endswith("sts.jsonl") and recipe.stages.multitask.tasks[0].data == "stage1"
    resolved = recipe_to_dict(recipe)
    assert resolved["stages"]["multitask"]["tasks"][0]["negatives"]["dynamic"] is True and "source" not in resolved


def test_the_evaluation_precision_may_be_auto(recipe_file, tiny_bert_dir):
    recipe_file.write_text(RECIPE.replace("{base}", str(tiny_bert_dir)).replace(
        "  batch_size: 16\n", "  batch_size: 16\n  dtype: auto\n"), encoding="utf-8")  # fmt: skip

    assert load_recipe(recipe_file).evaluation.dtype == "auto"


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("    batch_size: 8\n", "    batch_size: eight\n", 8, "stages.contrastive.batch_size: expected an integer"),
        ("    max_steps: 4\n", "    max_step: 4\n", 9, "stages.contrastive.max_step: unknown key"),
        ("data/sts.jsonl", "data/missing.jsonl", 19, "stages.multitask.tasks[1].data.path: file not found"),
        ("precision: fp32", "precision: fp16", 3, "precision: expected one of ['auto', 'bf16', 'fp32']"),
        ("type: sts, data", "type: sts, negatives: {num_negatives: 2}, data", 19,
         "stages.multitask.tasks[1].negatives: hard negatives are for retrieval-like tasks"),
        ("range_min: 1, range_max: 10", "range_min: 10, range_max: 10", 18,
         "stages.multitask.tasks[0].negatives.range_max: must exceed range_min"),
        ("name: sts, type", "name: pairs, type", 19, "stages.multitask.tasks[1].name: duplicate task name 'pairs'"),
        ("evaluate: [sts_tiny]", "evaluate: [sts_other]", 12, "stages.contrastive.evaluate[0]: 'sts_other' is not"),
        ("type: classification", "type: translation", 20, "stages.multitask.tasks[2].type:"),
        ("tasks: [eval/*/]", "tasks: [nowhere/*/]", 26, "evaluation.tasks[0]: no task folder matches"),
        ("  batch_size: 16\n", "  batch_size: 16\n  dtype: bf16\n", 28,
         "evaluation.dtype: expected one of ['float32', 'bfloat16', 'auto']"),
        ("    batch_size: 8\n", "    batch_size: 8\n    mini_batch_size: 16\n", 9, "must be <= batch_size (8)"),
        ("filter: {top_k: 3}", "filter: {top_k: null}", 11, "set top_k and/or min_score"),
        ("    batch_size: 8\n", "    batch_size: 8\n    attention_dropout: 1.0\n", 9,
         "stages.contrastive.attention_dropout: must be in [0, 1) (or null: the model's own), got 1.0"),
        ("range_min: 1, range_max: 10", "group_negatives: 3, range_min: 1, range_max: 10", 18,
         "stages.multitask.tasks[0].negatives.group_negatives: must be at most num_negatives (2)"),
        ("range_min: 1, range_max: 10", "corpus_group_field: source, range_min: 1, range_max: 10", 18,
         "stages.multitask.tasks[0].negatives.corpus_group_field: names the group field of `corpus` documents"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_line_and_the_key(recipe_file, tiny_bert_dir, old, new, line, expected):
    text = RECIPE.replace(old, new)
    assert text != RECIPE, old
    message = _error(recipe_file, text, tiny_bert_dir)
    assert f"{recipe_file}:{line}: " in message and expected in message, message


def test_group_negatives_need_grouped_stage1_rows_and_corpus_rows_need_the_group_field(recipe_file, tiny_bert_dir):
    from st_plus.training.recipe_data import RecipeDataError, check_recipe_data

    grouped = RECIPE.replace("range_min: 1, range_max: 10",
                             "group_negatives: 1, corpus: [data/pool.jsonl], corpus_fields: [positive], "
                             "corpus_group_field: source, range_min: 1, range_max: 10")  # fmt: skip
    pool = recipe_file.parent / "data" / "pool.jsonl"
    pool.write_text('{"positive": "a pool document", "source": "s1"}\n{"positive": "another one"}\n', encoding="utf-8")
    ungrouped = grouped.replace("group_column: source, ", "")
    message = _error(recipe_file, ungrouped, tiny_bert_dir)
    assert (f"{recipe_file}:18: stages.multitask.tasks[0].negatives.group_negatives: is for `data: stage1` tasks "
            "whose stage-1 data has a `group_column`") in message
    no_fields = grouped.replace("corpus_fields: [positive], ", "")
    message = _error(recipe_file, no_fields, tiny_bert_dir)
    assert "negatives.corpus_group_field: set `corpus_fields` too" in message
    augmented = grouped.replace("group_column: source, ", "group_column: source, augment: {method: cutoff}, ")
    message = _error(recipe_file, augmented, tiny_bert_dir)
    assert "negatives.group_negatives: cannot be used with stage-1 `augment`" in message
    recipe_file.write_text(grouped.replace("{base}", str(tiny_bert_dir)), encoding="utf-8")
    recipe = load_recipe(recipe_file)  # valid: the second pool row's missing group is a data error, found next
    negatives = recipe.stages.multitask.tasks[0].negatives
    assert (negatives.group_negatives, negatives.corpus_group_field) == (1, "source")
    with pytest.raises(RecipeDataError) as info:
        check_recipe_data(recipe)
    assert f"{pool}:2: field 'source': missing or not a string / number (the group key)" in str(info.value)


def test_impossible_stage_combinations(recipe_file, tiny_bert_dir):
    no_stage1 = RECIPE[: RECIPE.index("  contrastive:")] + RECIPE[RECIPE.index("  multitask:") :]
    assert "`stage1` needs `stages.contrastive`" in _error(recipe_file, no_stage1, tiny_bert_dir)
    no_stages = "name: x\nstages: {}\n"
    assert "no stage configured" in _error(recipe_file, no_stages, tiny_bert_dir)
    scratch = RECIPE.replace("model: {base: {base}, max_seq_length: 32}", "model: {base: null}")
    assert "`base: null` needs `stages.mlm`" in _error(recipe_file, scratch, tiny_bert_dir)
    rows_only = RECIPE.replace("stages:\n", "stages:\n  mlm: {data: [data/sts.jsonl], new_rows_steps: 5}\n")
    assert "trains the rows `extend_vocab: true` adds" in _error(recipe_file, rows_only, tiny_bert_dir)
    no_steps = RECIPE.replace("stages:\n", "stages:\n  mlm: {data: [data/sts.jsonl], max_steps: 0}\n")
    assert "no MLM step configured" in _error(recipe_file, no_steps, tiny_bert_dir)
    missing_model = RECIPE.replace("{base}", "./no-such-model")
    assert "model.base: model folder not found" in _error(recipe_file, missing_model, tiny_bert_dir)


def test_broken_yaml_and_missing_required_keys(recipe_file, tiny_bert_dir):
    assert f"{recipe_file}:3: invalid YAML" in _error(recipe_file, "name: x\nstages: [\n", tiny_bert_dir)
    assert "(top level): missing required key `stages`" in _error(recipe_file, "name: x\n", tiny_bert_dir)
    assert "recipe file not found" in str(
        pytest.raises(RecipeError, load_recipe, recipe_file.parent / "no.yaml").value
    )


def test_shipped_recipes_are_valid():
    repo = Path(__file__).resolve().parents[2]
    recipes = [*sorted((repo / "examples" / "recipes").glob("*.yaml")),
               *sorted((repo / "benchmarks" / "recipes").glob("*.yaml"))]  # fmt: skip
    assert recipes
    for path in recipes:
        text = path.read_text(encoding="utf-8")
        built = "runs/chinese_training" in text  # rows benchmarks/make_dev_suite.py builds from ../shared/data
        if built and not (repo / "runs" / "chinese_training" / "texts_zh.jsonl").is_file():
            with pytest.raises(RecipeError, match=r"file not found: .*runs/chinese_training/"):
                load_recipe(path)  # a clear FILE:LINE error on a clone without them ...
            assert "make_dev_suite.py --chinese-training runs/chinese_training" in text  # ... whose header says how
            continue
        dev_suite = "runs/dev_suite/" in text  # the development suite make_dev_suite.py builds, never shipped
        if dev_suite and not (repo / "runs" / "dev_suite").is_dir():
            with pytest.raises(RecipeError, match=re.escape(str(path)) + r":\d+: evaluation\.tasks\[0\]: no task "
                               r"folder matches .*runs/dev_suite/"):  # fmt: skip
                load_recipe(path)  # a clear FILE:LINE error on a clone without it ...
            assert "make_dev_suite.py --output runs/dev_suite" in text  # ... whose header says how to build it
            continue
        shared = "shared/data/" in text  # the long-context recipe trains on QMSum's train split, not shipped
        if shared and not (repo.parent / "shared" / "data").is_dir():
            with pytest.raises(RecipeError, match=r"no task folder matches .*shared/data/"):
                load_recipe(path)  # a clear FILE:LINE error where the shared data is absent
            continue
        assert load_recipe(path).stage_names()
