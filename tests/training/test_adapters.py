"""LoRA adapters: what trains, plain loading of the saved adapter, merging, and the pipeline's adapter key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pipeline_fixtures import RECIPE, run_pipeline_process, write_tiny_recipe
from tests_helpers import CORPUS, encode_in_plain_subprocess

from st_plus.training.adapters import apply_adapter, has_adapter, merge_adapter, parameter_counts
from st_plus.training.pipeline import run_recipe
from st_plus.training.recipe import AdapterSpec, RecipeError, load_recipe

HERE = Path(__file__).resolve().parent
ADAPTER = "adapter: {r: 4, alpha: 8, dropout: 0.0}\n"


def _perturb_lora(model) -> None:
    """A fresh LoRA update is zero (B = 0); give it a value so that saving and merging are tested for real."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))


def test_only_the_lora_weights_train_and_a_fresh_adapter_changes_nothing(tiny_bert):
    before = tiny_bert.encode(CORPUS)
    apply_adapter(tiny_bert, AdapterSpec(r=4, alpha=8))
    trainable = [n for n, p in tiny_bert.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert any(".query." in n for n in trainable) and any(".intermediate.dense." in n for n in trainable)
    counts = parameter_counts(tiny_bert)
    assert 0 < counts["trainable_share"] < 0.5 and counts["trainable"] == sum(
        p.numel() for n, p in tiny_bert.named_parameters() if ".lora_" in n
    )
    np.testing.assert_allclose(tiny_bert.encode(CORPUS), before, atol=1e-6)  # B starts at 0


def test_saved_adapter_holds_only_the_adapter_and_loads_with_plain_sentence_transformers(tiny_bert, tmp_path):
    apply_adapter(tiny_bert, AdapterSpec(r=4, alpha=8, dropout=0.0))
    _perturb_lora(tiny_bert)
    expected = tiny_bert.encode(CORPUS[:4])
    tiny_bert.save(str(tmp_path / "lora"))
    files = {p.name for p in (tmp_path / "lora").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "modules.json"} <= files
    assert "model.safetensors" not in files  # the base weights stay where adapter_config.json points
    config = json.loads((tmp_path / "lora" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["peft_type"] == "LORA"
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path / "lora", CORPUS[:4]), expected, atol=1e-6)


def test_merging_gives_a_plain_folder_with_the_adapter_models_embeddings(tiny_bert, tmp_path):
    apply_adapter(tiny_bert, AdapterSpec(r=4, alpha=8, dropout=0.0))
    _perturb_lora(tiny_bert)
    expected = tiny_bert.encode(CORPUS[:4])
    merge_adapter(tiny_bert)
    assert not has_adapter(tiny_bert) and not any(".lora_" in n for n, _ in tiny_bert.named_parameters())
    tiny_bert.save(str(tmp_path / "merged"))
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path / "merged", CORPUS[:4]), expected, atol=1e-5)


def test_a_reloaded_adapter_model_gets_its_adapter_trainable_again_not_a_second_one(tiny_bert, tmp_path):
    from st_plus import load_model

    apply_adapter(tiny_bert, AdapterSpec(r=4, alpha=8))
    n_lora = sum(".lora_" in n for n, _ in tiny_bert.named_parameters())
    tiny_bert.save(str(tmp_path / "lora"))
    reloaded = load_model(tmp_path / "lora")
    assert has_adapter(reloaded) and parameter_counts(reloaded)["trainable"] == 0  # peft loads adapters frozen
    apply_adapter(reloaded, AdapterSpec(r=4, alpha=8))
    assert sum(".lora_" in n for n, _ in reloaded.named_parameters()) == n_lora
    assert parameter_counts(reloaded)["trainable"] == parameter_counts(tiny_bert)["trainable"]
    with pytest.raises(ValueError, match="r=4, the spec r=8"):
        apply_adapter(reloaded, AdapterSpec(r=8))


def test_recipe_adapter_settings_are_validated(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE + "adapter: {r: 0}\n")
    with pytest.raises(RecipeError, match=r"adapter\.r: must be > 0, got 0"):
        load_recipe(recipe)
    recipe.write_text(recipe.read_text().replace("adapter: {r: 0}", "adapter: {method: ia3}"))
    with pytest.raises(RecipeError, match=r"adapter\.method: expected one of \['lora'\]"):
        load_recipe(recipe)
    recipe.write_text(recipe.read_text().replace("adapter: {method: ia3}", "adapter: {dropout: 1.5}"))
    with pytest.raises(RecipeError, match=r"adapter\.dropout: must be in \[0, 1\)"):
        load_recipe(recipe)



def test_pipeline_trains_one_adapter_through_both_stages_and_resumes_after_sigkill(tmp_path, tiny_bert_dir):
    from safetensors.torch import load_file

    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE + ADAPTER)
    straight = run_recipe(recipe, output_dir=tmp_path / "straight", show_progress_bar=False).output_dir
    final, stage1 = straight / "model", straight / "stages" / "contrastive" / "model"
    assert (final / "adapter_config.json").is_file() and not (final / "model.safetensors").exists()
    a1, a2 = load_file(stage1 / "adapter_model.safetensors"), load_file(final / "adapter_model.safetensors")
    assert a1.keys() == a2.keys() and any(not torch.equal(a1[k], a2[k]) for k in a1)  # stage 2 trained it on
    info = json.loads((final / "st_plus_run.json").read_text())
    adapter = info["extra"]["contrastive"]["adapter"]
    assert adapter["r"] == 4 and 0 < adapter["trainable_share"] < 0.5
    expected = encode_in_plain_subprocess(final, CORPUS[:4])
    # the same run, killed mid-step in each stage and resumed from the adapter checkpoints, ends the same
    killed = tmp_path / "killed"
    assert run_pipeline_process(recipe, killed, "--kill", "contrastive:3").returncode == -9
    assert run_pipeline_process(recipe, killed, "--resume", "--kill", "multitask:3").returncode == -9
    third = run_pipeline_process(recipe, killed, "--resume")
    assert third.returncode == 0, third.stderr[-2000:]
    assert "Resuming from" in (killed / "train.log").read_text()
    np.testing.assert_allclose(encode_in_plain_subprocess(killed / "model", CORPUS[:4]), expected, atol=1e-6)


def test_pipeline_with_merge_saves_plain_weights(tmp_path, tiny_bert_dir):
    only_stage1 = RECIPE[: RECIPE.index("  multitask:")] + RECIPE[RECIPE.index("evaluation:") :]
    text = only_stage1 + "adapter: {r: 4, alpha: 8, merge: true}\n"
    result = run_recipe(write_tiny_recipe(tmp_path, tiny_bert_dir, text), output_dir=tmp_path / "out",
                        show_progress_bar=False)  # fmt: skip
    assert (result.model_path / "model.safetensors").is_file()
    assert not (result.model_path / "adapter_config.json").exists()
    from st_plus import load_model

    adapter_model = load_model(result.output_dir / "stages" / "contrastive" / "model")
    plain = encode_in_plain_subprocess(result.model_path, CORPUS[:4])
    np.testing.assert_allclose(plain, adapter_model.encode(CORPUS[:4]), atol=1e-5)
