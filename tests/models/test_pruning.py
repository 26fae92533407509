"""prune_layers: the kept layers compute what they computed in the teacher, and the copy is a plain ST model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests_helpers import CORPUS, encode_in_plain_subprocess

from st_plus.models import prune_layers


def _naive_one_layer(teacher, layer: int):
    """A fresh 1-layer BertModel loaded with the teacher's embeddings and its layer ``layer`` (renamed to 0)."""
    from transformers import BertModel

    inner = teacher.transformers_model
    config = type(inner.config).from_dict({**inner.config.to_dict(), "num_hidden_layers": 1})
    naive = BertModel(config)
    state = {}
    for key, value in inner.state_dict().items():
        if key.startswith("encoder.layer."):
            index, rest = key[len("encoder.layer.") :].split(".", 1)
            if int(index) != layer:
                continue
            key = f"encoder.layer.0.{rest}"
        state[key] = value
    naive.load_state_dict(state)
    return naive.eval()


def test_pruned_model_matches_a_naively_built_model_with_the_kept_layer(tiny_bert):
    student = prune_layers(tiny_bert, keep=[1])
    assert student.transformers_model.config.num_hidden_layers == 1
    assert tiny_bert.transformers_model.config.num_hidden_layers == 2  # the teacher is unchanged
    naive = _naive_one_layer(tiny_bert, 1)
    features = tiny_bert.tokenize(CORPUS[:3])
    with torch.no_grad():
        expected = naive(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).float()
        pooled = (expected * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(student.encode(CORPUS[:3]), pooled.numpy(), atol=1e-5)


def test_keeping_every_layer_changes_nothing_and_negative_indices_count_from_the_end(tiny_bert):
    np.testing.assert_allclose(prune_layers(tiny_bert, [0, -1]).encode(CORPUS), tiny_bert.encode(CORPUS), atol=1e-6)


def test_pruned_model_saves_and_loads_with_plain_sentence_transformers(tiny_bert, tmp_path):
    student = prune_layers(tiny_bert, keep=[0])
    student.save(str(tmp_path / "student"))
    plain = encode_in_plain_subprocess(tmp_path / "student", CORPUS[:4])
    np.testing.assert_allclose(plain, student.encode(CORPUS[:4]), atol=1e-6)


@pytest.mark.parametrize(
    ("keep", "match"), [([], "at least one layer"), ([0, 2], r"in \[-2, 2\)"), ([1, -1], "repeats a layer")]
)
def test_bad_layer_lists_are_refused(tiny_bert, keep, match):
    with pytest.raises(ValueError, match=match):
        prune_layers(tiny_bert, keep)


def test_a_model_without_a_transformer_is_refused(tiny_model):
    with pytest.raises(ValueError, match="Transformer"):
        prune_layers(tiny_model, [0])
