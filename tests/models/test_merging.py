"""Weighted parameter averaging (LM-Cocktail): maths against a naive loop, compatibility checks, saved folders."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from tests_helpers import CORPUS, encode_in_plain_subprocess, perturbed_copy

from st_plus.hub import validate_run_info
from st_plus.models.merging import merge_models, normalize_weights, weighted_average


def _naive_average(state_dicts, weights):
    """Element by element, in Python floats: sum_i w_i * x_i for floats, the first model's value otherwise."""
    out = {}
    for key, first in state_dicts[0].items():
        if not first.is_floating_point():
            out[key] = first.clone()
            continue
        flat = [state[key].reshape(-1).tolist() for state in state_dicts]
        values = [sum(w * values[j] for w, values in zip(weights, flat, strict=True)) for j in range(first.numel())]
        out[key] = torch.tensor(values, dtype=first.dtype).reshape(first.shape)
    return out


def test_weighted_average_matches_naive_loop():
    generator = torch.Generator().manual_seed(0)
    states = [
        {
            "w": torch.randn(3, 4, generator=generator),
            "b": torch.randn(5, generator=generator, dtype=torch.float64),
            "h": torch.randn(2, 3, generator=generator).to(torch.bfloat16),
            "position_ids": torch.arange(6).unsqueeze(0) + i,  # integer buffer: must come from the first
        }
        for i in range(3)
    ]
    weights = [0.5, 0.3, 0.2]
    merged, naive = weighted_average(states, weights), _naive_average(states, weights)
    assert merged.keys() == naive.keys()
    for key in merged:
        assert merged[key].dtype == states[0][key].dtype, key
        atol = 1e-2 if merged[key].dtype == torch.bfloat16 else 1e-6
        torch.testing.assert_close(merged[key], naive[key], atol=atol, rtol=0)
    assert torch.equal(merged["position_ids"], states[0]["position_ids"])
    merged["w"].add_(1.0)
    assert not torch.equal(merged["w"], states[0]["w"])  # no tensor shared with the inputs


def test_weights_are_checked_and_normalised():
    assert normalize_weights([7, 3], 2) == pytest.approx([0.7, 0.3])
    for bad, match in (([0.7], "one weight per model"), ([0.7, 0.0], "positive"), ([1, -1], "positive"),
                       ([1, float("nan")], "positive"), ([1, True], "positive")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            normalize_weights(bad, 2)


def test_merge_models_averages_parameters_with_normalised_weights(tiny_bert):
    other = perturbed_copy(tiny_bert, 1)
    merged = merge_models([tiny_bert, other], [7, 3])
    expected = _naive_average([tiny_bert.state_dict(), other.state_dict()], [0.7, 0.3])
    for key, value in merged.state_dict().items():
        torch.testing.assert_close(value, expected[key], atol=1e-6, rtol=0)
    one = merge_models([tiny_bert, other], [1.0, 1e-12])
    np.testing.assert_allclose(one.encode(CORPUS[:3]), tiny_bert.encode(CORPUS[:3]), atol=1e-6)
    assert merged is not tiny_bert and merged.max_seq_length == tiny_bert.max_seq_length


def test_models_that_cannot_be_averaged_are_refused_with_the_mismatch_named(tiny_bert):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    transformer, pooling = tiny_bert[0], tiny_bert[1]
    with pytest.raises(ValueError, match="has modules"):
        merge_models([tiny_bert, SentenceTransformer(modules=[transformer, pooling, Normalize()])], [1, 1])
    cls = Pooling(pooling.get_embedding_dimension(), pooling_mode="cls")
    with pytest.raises(ValueError, match="module 1 differs"):
        merge_models([tiny_bert, SentenceTransformer(modules=[transformer, cls])], [1, 1])
    wider = copy.deepcopy(tiny_bert)
    wider[0].auto_model.resize_token_embeddings(wider[0].auto_model.config.vocab_size + 8)
    with pytest.raises(ValueError, match=r"parameter .*word_embeddings.weight has shape"):
        merge_models([tiny_bert, wider], [1, 1])
    renamed = copy.deepcopy(tiny_bert)
    renamed.tokenizer.add_tokens(["zzzunseen"])
    with pytest.raises(ValueError, match="tokenizer vocabularies differ"):
        merge_models([tiny_bert, renamed], [1, 1])
    with pytest.raises(ValueError, match="at least two models"):
        merge_models([tiny_bert], [1])


def test_a_merged_folder_loads_in_plain_st_and_records_the_merge(tiny_bert, tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    monkeypatch.chdir(tmp_path / "..")
    tiny_bert.save(str(first))
    perturbed_copy(tiny_bert, 2).save(str(second))
    out = tmp_path / "merged"
    merged = merge_models([first, second], [0.6, 0.4], output=out)
    modules = json.loads((out / "modules.json").read_text())
    assert all(m["type"].startswith("sentence_transformers.") for m in modules)
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    plain = encode_in_plain_subprocess(out, CORPUS[:4])
    np.testing.assert_allclose(plain, merged.encode(CORPUS[:4]), atol=1e-6)
    record = validate_run_info(json.loads((out / "st_plus_run.json").read_text()))
    ingredients = record["extra"]["merge"]["ingredients"]
    # absolute ingredient paths are recorded relative to the working directory: no machine layout in the record
    assert [i["model"] for i in ingredients] == [f"./{tmp_path.name}/a", f"./{tmp_path.name}/b"]
    assert [i["weight"] for i in ingredients] == [0.6, 0.4]
    with pytest.raises(FileExistsError, match="overwrite"):
        merge_models([first, second], [0.5, 0.5], output=out)
    merge_models([first, second], [0.5, 0.5], output=out, overwrite=True)
    assert json.loads((out / "st_plus_run.json").read_text())["extra"]["merge"]["ingredients"][0]["weight"] == 0.5


def test_the_record_carries_the_ingredients_training_stages_but_not_their_results(trained_dir, tiny_bert, tmp_path):
    other = tmp_path / "other"
    perturbed_copy(tiny_bert, 3).save(str(other))
    out = tmp_path / "merged"
    merge_models([trained_dir, other], [0.8, 0.2], output=out)
    record = validate_run_info(json.loads((out / "st_plus_run.json").read_text()))
    assert record["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert [s["name"] for s in record["stages"]] == ["trained/stage1", "trained/stage2"]
    assert "results" not in record and "matryoshka" not in record
