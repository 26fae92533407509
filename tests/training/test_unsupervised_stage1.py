"""Text-only stage-1 data with `unsupervised:`: recipe validation (file, line, key), pairs, a run, dropout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pipeline_fixtures import RECIPE_HEAD, write_tiny_recipe
from tests_helpers import CORPUS, write_jsonl

from st_plus.training.pipeline import run_recipe
from st_plus.training.recipe import DataSpec, RecipeError, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data
from st_plus.training.stages import read_pairs

RECIPE = RECIPE_HEAD + """\
  contrastive:
    data: [{path: data/texts.jsonl, group_column: g, unsupervised: simcse}]
    batch_size: 4
    max_steps: 3
    save_steps: 2
    filter: null
evaluation:
  tasks: [eval/*/]
  batch_size: 16
"""


@pytest.fixture
def recipe_file(tmp_path, tiny_bert_dir):
    path = write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE)
    write_jsonl(tmp_path / "data" / "texts.jsonl", [{"text": f"{t} {i}", "g": i % 3} for i, t in
                                                   enumerate(CORPUS * 2)])  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("unsupervised: simcse", "unsupervised: dropout",
         "7: stages.contrastive.data[0].unsupervised: expected one of ['simcse', 'repeat', 'cutoff', 'eda']"),
        ("data/texts.jsonl, group_column: g, unsupervised: simcse", "data/texts.jsonl, group_column: g",
         "7: stages.contrastive.data[0].path: a text-only file has no positives: set `unsupervised"),
        ("data/texts.jsonl, group_column: g", "data/pairs.jsonl, group_column: source",
         "7: stages.contrastive.data[0].unsupervised: needs a text-only file"),
    ],
)  # fmt: skip
def test_unsupervised_settings_are_checked_with_file_line_and_key(recipe_file, tiny_bert_dir, old, new, expected):
    text = RECIPE.replace(old, new).replace("{base}", str(tiny_bert_dir))
    recipe_file.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe_file)
    assert f"{recipe_file}:{expected}" in str(info.value), str(info.value)


def test_unsupervised_is_refused_for_a_stage2_task(recipe_file, tiny_bert_dir):
    text = RECIPE.replace("evaluation:", "  multitask:\n    tasks:\n      - {name: t, type: retrieval, data: "
                          "{path: data/texts.jsonl, unsupervised: repeat}}\nevaluation:")  # fmt: skip
    recipe_file.write_text(text.replace("{base}", str(tiny_bert_dir)), encoding="utf-8")
    with pytest.raises(RecipeError, match=r":14: stages.multitask.tasks\[0\].data.unsupervised: unsupervised "):
        load_recipe(recipe_file)


def test_read_pairs_turns_texts_into_pairs_with_groups(recipe_file):
    folder = recipe_file.parent / "data"
    simcse = read_pairs([DataSpec(path=str(folder / "texts.jsonl"), group_column="g", unsupervised="simcse")], 7)
    assert simcse["anchor"] == simcse["positive"] and len(simcse) == 20 and simcse["group"][:3] == ["0", "1", "2"]
    mixed = read_pairs([DataSpec(path=str(folder / "texts.jsonl"), unsupervised="cutoff", rows=5),
                        DataSpec(path=str(folder / "pairs.jsonl"), group_column="source")], 7,
                       with_source=True)  # fmt: skip
    assert len(mixed) == 29 and mixed["source_file"].count(0) == 5
    assert all(p != a for a, p in zip(mixed["anchor"][:5], mixed["positive"][:5], strict=True))


def test_a_text_only_recipe_trains_and_records_alignment_and_uniformity(recipe_file, tmp_path):
    result = run_recipe(load_recipe(recipe_file), output_dir=tmp_path / "out", show_progress_bar=False)
    state = json.loads((result.output_dir / "pipeline_state.json").read_text())
    assert state["done"]["contrastive"]["steps"] == 3
    for point in ("start", "contrastive"):
        sts = state["evaluations"][point]["sts_tiny"]
        assert {"alignment", "uniformity"} <= set(sts), sts
    assert (result.output_dir / "curves.png").stat().st_size > 0


@pytest.mark.real
def test_the_bundled_model_gives_two_different_encodings_of_one_text_in_training_mode(bundled_model):
    """SimCSE's positive is the text itself: it only works because dropout is on while training."""
    features = bundled_model.tokenize(["a small tool to list files"] * 2)
    bundled_model.train()
    try:
        with torch.no_grad():
            one = bundled_model(dict(features))["sentence_embedding"]
            two = bundled_model(dict(features))["sentence_embedding"]
    finally:
        bundled_model.eval()
    assert not np.allclose(one.numpy(), two.numpy(), atol=1e-4)
    cosine = torch.nn.functional.cosine_similarity(one, two).min().item()
    assert 0.8 < cosine < 0.99999


def test_the_data_check_reads_text_only_files_and_names_bad_lines(recipe_file):
    check_recipe_data(load_recipe(recipe_file))  # a valid text-only file passes
    path = recipe_file.parent / "data" / "texts.jsonl"
    path.write_text(path.read_text() + '{"text": "", "g": 1}\n', encoding="utf-8")
    with pytest.raises(RecipeDataError, match=r"texts.jsonl:21: field 'text': empty text"):
        check_recipe_data(load_recipe(recipe_file))
