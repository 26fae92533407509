"""The filtering and mining of a recipe encode in the precision it trains in."""

from __future__ import annotations

import pytest
from datasets import Dataset

from st_plus.training import stages
from st_plus.training.recipe import ContrastiveStage, DataSpec, FilterSpec


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_filter_pairs_encodes_in_the_given_precision(monkeypatch, dtype):
    seen = {}

    def fake_filter(pairs, model, **kwargs):
        seen.update(kwargs)
        return type("Result", (), {"dataset": pairs})()

    monkeypatch.setattr(stages, "consistency_filter", fake_filter)
    stage = ContrastiveStage(data=[DataSpec(path="pairs.jsonl")], filter=FilterSpec(top_k=3))
    pairs = Dataset.from_dict({"anchor": ["a"], "positive": ["b"], "group": ["g"]})
    stages.filter_pairs(stage, object(), pairs, dtype=dtype)
    assert seen["store"].dtype == dtype and seen["top_k"] == 3 and seen["group_column"] == "group"
    assert stages.mining_store(dtype).dtype == dtype


def test_mining_precision_follows_the_training_precision_unless_the_recipe_sets_it(tmp_path, tiny_bert_dir):
    from st_plus.training.pipeline import _Run
    from st_plus.training.recipe import load_recipe

    recipe_text = (f"name: r\nprecision: PRECISION\nMINING\nmodel: {{base: {tiny_bert_dir}}}\n"
                   "stages:\n  contrastive:\n    data: [pairs.jsonl]\n")  # fmt: skip
    (tmp_path / "pairs.jsonl").write_text('{"anchor": "a", "positive": "b"}\n')
    cases = [("fp32", "", "float32"), ("bf16", "", "bfloat16"), ("bf16", "mining_precision: float32", "float32"),
             ("fp32", "mining_precision: bfloat16", "bfloat16")]  # fmt: skip
    for precision, mining, expected in cases:
        path = tmp_path / "recipe.yaml"
        path.write_text(recipe_text.replace("PRECISION", precision).replace("MINING", mining))
        run = _Run(load_recipe(path), tmp_path / "out", {}, resume=False, show_progress_bar=False)
        assert run.mining_dtype == expected, (precision, mining)


def test_a_bad_mining_precision_is_an_error_with_its_line(tmp_path, tiny_bert_dir):
    from st_plus.training.recipe import RecipeError, load_recipe

    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\nmodel: {{base: {tiny_bert_dir}}}\nmining_precision: fp16\n"
                    "stages:\n  contrastive:\n    data: [pairs.jsonl]\n")  # fmt: skip
    (tmp_path / "pairs.jsonl").write_text('{"anchor": "a", "positive": "b"}\n')
    with pytest.raises(RecipeError, match=r"recipe.yaml:3: mining_precision"):
        load_recipe(path)


def test_dynamic_callback_rejects_an_unknown_dtype():
    from st_plus.mining import DynamicNegativesCallback

    with pytest.raises(ValueError, match="dtype"):
        DynamicNegativesCallback(None, None, dtype="float16")


def test_a_run_started_before_mining_precision_existed_resumes_in_float32(tmp_path, tiny_bert_dir):
    import json

    import yaml

    from st_plus.training.pipeline import RECIPE_FILE, STATE_FILE, _prepare_output, _Run
    from st_plus.training.recipe import load_recipe, recipe_to_dict

    (tmp_path / "pairs.jsonl").write_text('{"anchor": "a", "positive": "b"}\n')
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\nprecision: bf16\nmodel: {{base: {tiny_bert_dir}}}\n"
                    "stages:\n  contrastive:\n    data: [pairs.jsonl]\n")  # fmt: skip
    out = tmp_path / "run"
    out.mkdir()
    old = {k: v for k, v in recipe_to_dict(load_recipe(path)).items() if k != "mining_precision"}
    (out / RECIPE_FILE).write_text(yaml.safe_dump(old, sort_keys=False))
    (out / STATE_FILE).write_text(json.dumps({"length_unit": "tokens", "done": {}, "evaluations": {}}))
    recipe = load_recipe(path)
    state = _prepare_output(out, recipe, resume=True, overwrite=False)
    run = _Run(recipe, out, state, resume=True, show_progress_bar=False)
    assert run.bf16 and run.mining_dtype == "float32"  # that st_plus mined in float32: the resumed run keeps doing so
