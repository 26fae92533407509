"""Attention-probability dropout set for a training run: every site found, the forward pass as with no dropout
there, and the model restored afterwards."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from st_plus.models import attention_dropout, attention_dropout_sites


def _with_attention_dropout(model, p: float):
    for obj, name in attention_dropout_sites(model):
        setattr(obj, name, p)
    return model


def _token_embeddings(model, texts):
    features = model.tokenize(texts)
    return model[0](features)["token_embeddings"]


def test_every_bert_layer_is_found_and_the_training_forward_matches_no_attention_dropout(tiny_bert):
    model = _with_attention_dropout(tiny_bert, 0.5)  # the fixture has no hidden-state dropout
    layers = model[0].auto_model.encoder.layer
    assert [obj for obj, _ in attention_dropout_sites(model)] == [layer.attention.self.dropout for layer in layers]
    texts = ["a short text", "a somewhat longer text about packages"]
    model.eval()
    with torch.no_grad():
        reference = _token_embeddings(model, texts)  # eval mode: no dropout anywhere
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        dropped = _token_embeddings(model, texts)
    assert not torch.allclose(dropped, reference, atol=1e-4)  # the dropout is live in training mode
    with attention_dropout(model, 0.0) as changed, torch.no_grad():
        assert changed == len(layers)
        assert all(layer.attention.self.dropout.p == 0.0 for layer in layers)
        torch.testing.assert_close(_token_embeddings(model, texts), reference)
    assert all(layer.attention.self.dropout.p == 0.5 for layer in layers)  # restored
    assert model[0].auto_model.config.attention_probs_dropout_prob == 0.0  # the configuration is never touched


def test_a_float_attention_dropout_attribute_is_set_and_restored_even_after_an_error():
    class Attention(nn.Module):  # the form of NomicBERT's and ModernBERT's attention modules
        def __init__(self):
            super().__init__()
            self.attention_dropout = 0.1

    model = nn.Sequential(Attention(), Attention())
    with pytest.raises(RuntimeError, match="boom"), attention_dropout(model, 0.0) as changed:
        assert changed == 2 and [m.attention_dropout for m in model] == [0.0, 0.0]
        raise RuntimeError("boom")
    assert [m.attention_dropout for m in model] == [0.1, 0.1]


def test_none_changes_nothing_bad_values_are_refused_and_a_model_without_it_warns(tiny_bert, caplog):
    model = _with_attention_dropout(tiny_bert, 0.3)
    with attention_dropout(model, None) as changed:
        assert changed == 0 and all(obj.p == 0.3 for obj, _ in attention_dropout_sites(model))
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"), attention_dropout(model, bad):
            pass
    with caplog.at_level(logging.WARNING), attention_dropout(nn.Linear(2, 2), 0.0) as changed:
        assert changed == 0
    assert "has no effect" in caplog.text


def test_a_stage_trains_with_its_setting_records_it_and_restores_the_model(tiny_bert, tmp_path):
    from st_plus.training.stages import train

    model = _with_attention_dropout(tiny_bert, 0.1)
    seen = []

    def fake_train(resume_from_checkpoint=None):  # what the trainer's model looks like while it trains
        seen.append([obj.p for obj, _ in attention_dropout_sites(model)])

    trainer = SimpleNamespace(model=model, train=fake_train, state=SimpleNamespace(global_step=3))
    info = train(trainer, tmp_path, resume=False, attention_p=0.0)
    assert seen == [[0.0, 0.0]] and info["steps"] == 3 and info["extra"] == {"attention_dropout": 0.0}
    assert [obj.p for obj, _ in attention_dropout_sites(model)] == [0.1, 0.1]
    assert "extra" not in train(trainer, tmp_path, resume=False)  # the model's own: nothing recorded
    assert seen[-1] == [0.1, 0.1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the kernel is kept on machines without CUDA only")
def test_on_cpu_removing_the_dropout_keeps_attention_on_the_unfused_kernel(tiny_bert):
    flash = torch.backends.cuda.flash_sdp_enabled  # PyTorch's kernel switches, read by its CPU dispatch as well
    model = _with_attention_dropout(tiny_bert, 0.1)
    assert flash()
    with attention_dropout(model, 0.0):
        assert not flash() and torch.backends.cuda.math_sdp_enabled()
    assert flash()
    with attention_dropout(model, 0.0, keep_cpu_kernel=False):
        assert flash()
    with attention_dropout(model, 0.05):  # dropout stays: PyTorch's own choice (unfused with dropout)
        assert flash()
    model.max_seq_length = 256  # past UNFUSED_MAX_TOKENS the fused kernel was the faster one: PyTorch picks
    with attention_dropout(model, 0.0):
        assert flash()
    model.max_seq_length = 128
    with attention_dropout(_with_attention_dropout(model, 0.0), 0.0):  # nothing removed: nothing to keep
        assert flash()
