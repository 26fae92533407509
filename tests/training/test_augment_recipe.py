"""`augment:` on a recipe's pairs files: extra augmented rows in stages 1 and 2, checked with file, line and key."""

from __future__ import annotations

import json

import pytest
from pipeline_fixtures import RECIPE_HEAD, write_tiny_recipe
from tests_helpers import write_jsonl

from st_plus.training.pipeline import run_recipe
from st_plus.training.recipe import DataSpec, RecipeError, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data
from st_plus.training.stages import read_pairs

RECIPE = RECIPE_HEAD + """\
  contrastive:
    data: [{path: data/pairs.jsonl, group_column: source, augment: {method: cutoff}}]
    batch_size: 4
    max_steps: 2
    save_steps: 2
    filter: null
    evaluate: none
  multitask:
    tasks:
      - name: pairs
        type: retrieval
        data: {path: data/pairs.jsonl, group_column: source, rows: 12, augment: {method: repeat, num: 2}}
        negatives: {num_negatives: 1, range_min: 0, range_max: 6, dynamic: false}
      - {name: sts, type: sts, data: data/sts.jsonl}
    batch_size: 4
    max_steps: 3
    save_steps: 3
evaluation:
  tasks: [eval/*/]
  batch_size: 16
"""


@pytest.fixture
def recipe_file(tmp_path, tiny_bert_dir):
    return write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE)


def test_stage1_copies_share_their_originals_group(recipe_file):
    recipe = load_recipe(recipe_file)
    spec = recipe.stages.contrastive.data[0]
    pairs = read_pairs([spec], 7)
    assert len(pairs) == 48  # 24 rows and one copy each
    assert pairs["group"][:24] == pairs["group"][24:] and pairs["anchor"][:24] == pairs["anchor"][24:]
    assert sum(a != b for a, b in zip(pairs["positive"][:24], pairs["positive"][24:], strict=True)) >= 20
    plain = read_pairs([DataSpec(path=spec.path, group_column="source")], 7)
    assert plain.to_list() == pairs.select(range(24)).to_list()


def test_a_recipe_with_augmented_copies_trains_both_stages(recipe_file, tmp_path):
    result = run_recipe(load_recipe(recipe_file), output_dir=tmp_path / "out", show_progress_bar=False)
    state = json.loads((result.output_dir / "pipeline_state.json").read_text())
    assert state["done"]["contrastive"]["steps"] == 2 and state["done"]["multitask"]["steps"] == 3
    rows = {d["name"]: d["rows"] for d in state["done"]["multitask"]["datasets"]}
    assert rows["pairs.jsonl"] == 36  # 12 sampled rows, two copies each


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("augment: {method: cutoff}", "augment: {method: backtranslate}",
         "7: stages.contrastive.data[0].augment.method: expected one of ['cutoff', 'repeat', 'eda']"),
        ("augment: {method: cutoff}", "augment: {method: cutoff, num: 0}",
         "7: stages.contrastive.data[0].augment.num: must be"),
        ("augment: {method: cutoff}", "augment: {method: cutoff, synonyms: data/sts.jsonl}",
         "7: stages.contrastive.data[0].augment.synonyms: synonyms are for `method: eda`"),
        ("{name: sts, type: sts, data: data/sts.jsonl}",
         "{name: sts, type: sts, data: {path: data/sts.jsonl, augment: {method: eda}}}",
         "19: stages.multitask.tasks[1].data.augment: augmented copies are for pairs / triplets"),
    ],
)  # fmt: skip
def test_augment_settings_are_checked_with_file_line_and_key(recipe_file, tiny_bert_dir, old, new, expected):
    assert old in RECIPE
    recipe_file.write_text(RECIPE.replace(old, new).replace("{base}", str(tiny_bert_dir)), encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe_file)
    assert f"{recipe_file}:{expected}" in str(info.value), str(info.value)


def test_the_data_check_names_an_augment_column_the_rows_lack(recipe_file, tiny_bert_dir):
    text = RECIPE.replace("augment: {method: cutoff}", "augment: {method: cutoff, columns: [answer]}")
    recipe_file.write_text(text.replace("{base}", str(tiny_bert_dir)), encoding="utf-8")
    with pytest.raises(RecipeDataError, match=r"pairs.jsonl: field 'answer': `augment.columns` names a column"):
        check_recipe_data(load_recipe(recipe_file))


def test_negatives_columns_can_be_augmented(tmp_path):
    path = tmp_path / "triplets.jsonl"
    write_jsonl(path, [{"anchor": f"query {i}", "positive": f"the answer to query number {i}",
                        "negative": [f"an unrelated text about item {i}", f"another wrong answer {i}"]}
                       for i in range(6)])  # fmt: skip
    from st_plus.training.recipe import AugmentSpec

    spec = DataSpec(path=str(path), augment=AugmentSpec(method="repeat", columns=["negative"]))
    from st_plus.training.recipe_data import read_rows
    from st_plus.training.stages import augment_copies

    rows, group = augment_copies(read_rows(spec, "retrieval"), spec, seed=1)
    assert len(rows) == 12 and group == "augment_group"
    assert rows["positive"][6:] == rows["positive"][:6]
    assert rows["negative_1"][6:] != rows["negative_1"][:6]
