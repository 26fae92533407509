"""Mining from a document pool: ``negatives.corpus`` with ``corpus_fields`` (only the chosen JSONL fields)."""

from __future__ import annotations

import pytest
from tests_helpers import write_jsonl

from st_plus.training.recipe import NegativesSpec, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data
from st_plus.training.stages import _corpus

RECIPE = """\
name: pool
precision: fp32
model: {base: {base}, max_seq_length: 32}
stages:
  multitask:
    tasks:
      - name: pairs
        type: retrieval
        data: pairs.jsonl
        negatives: {corpus: [pool.jsonl], corpus_fields: [FIELD], dynamic: false}
    max_steps: 1
"""


def _pool(folder):
    write_jsonl(folder / "pool.jsonl", [{"anchor": f"title {i}", "positive": f"description {i}"} for i in range(5)])
    write_jsonl(folder / "pairs.jsonl", [{"anchor": f"q {i}", "positive": f"d {i}"} for i in range(4)])


def test_corpus_fields_take_only_the_documents_of_a_pairs_file(tmp_path):
    _pool(tmp_path)
    spec = NegativesSpec(corpus=[str(tmp_path / "pool.jsonl")], corpus_fields=["positive"])
    texts, groups = _corpus(spec)
    assert sorted(texts) == [f"description {i}" for i in range(5)] and groups is None
    every_field = NegativesSpec(corpus=[str(tmp_path / "pool.jsonl")])
    assert len(_corpus(every_field)[0]) == 10  # titles too: what `corpus_fields` is for
    assert _corpus(NegativesSpec()) == (None, None)


def test_a_corpus_field_that_no_row_has_is_a_data_error_naming_the_file(tmp_path, tiny_bert_dir):
    _pool(tmp_path)
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.replace("{base}", str(tiny_bert_dir)).replace("FIELD", "description"))
    with pytest.raises(RecipeDataError, match=r"pool.jsonl.*No texts found.*'description'"):
        check_recipe_data(load_recipe(path))
    path.write_text(RECIPE.replace("{base}", str(tiny_bert_dir)).replace("FIELD", "positive"))
    check_recipe_data(load_recipe(path))  # the documents are there: no error
