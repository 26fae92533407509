"""The NomicBERT fast path: padding-free layers, per-sequence attention and the two-activation SwiGLU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from transformers import NomicBertModel

from st_plus.models import build_nomic_bert, disable_nomic_fast_path, enable_nomic_fast_path, nomic_bert_config
from st_plus.models.nomic_fast_path import swiglu_down, varlen_attention

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
TEXTS = ["a cat sat on the mat", "stock markets fell sharply on monday after the report", "hello", "b"]


def _encoder(seed: int = 0) -> NomicBertModel:
    torch.manual_seed(seed)
    config = nomic_bert_config(TINY, vocab_size=100, max_position_embeddings=64)
    config._attn_implementation = "sdpa"
    return NomicBertModel(config).eval()


def _stock_and_fast_for_training() -> tuple[NomicBertModel, NomicBertModel]:
    """Two encoders with the same weights in training mode: the stock forward, then the fast path."""
    fast = _encoder().train()
    enable_nomic_fast_path(fast)
    return _encoder().train(), fast


def _batch(lengths: list[int], width: int, *, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 100, (len(lengths), width), generator=generator)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        if left:
            mask[row, width - n :] = 1
        else:
            mask[row, :n] = 1
    return ids.masked_fill(mask == 0, 0), mask


def test_swiglu_down_matches_the_stock_expression_and_its_gradients():
    generator = torch.Generator().manual_seed(0)
    gate, up = (torch.randn(3, 5, 8, generator=generator, dtype=torch.float64, requires_grad=True) for _ in range(2))
    weight = torch.randn(4, 8, generator=generator, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(swiglu_down(gate, up, weight), F.linear(F.silu(gate) * up, weight))
    assert torch.autograd.gradcheck(swiglu_down, (gate, up, weight))
    with torch.no_grad():  # no autograd function without gradients
        torch.testing.assert_close(swiglu_down(gate, up, weight), F.linear(F.silu(gate) * up, weight))


def test_varlen_attention_matches_a_naive_softmax_loop():
    generator = torch.Generator().manual_seed(0)
    lengths, heads, dim = [3, 1, 5], 2, 4
    q, k, v = (torch.randn(sum(lengths), heads, dim, generator=generator) for _ in range(3))
    cu = [0, 3, 4, 9]
    got = varlen_attention(q, k, v, lengths, scale=dim**-0.5)
    expected = torch.zeros(sum(lengths), heads * dim)
    for start, end in zip(cu[:-1], cu[1:], strict=True):
        for i in range(start, end):
            for h in range(heads):
                scores = [float(q[i, h] @ k[j, h]) / math.sqrt(dim) for j in range(start, end)]
                weights = torch.softmax(torch.tensor(scores), dim=0)
                keys = range(start, end)
                expected[i, h * dim : (h + 1) * dim] = sum(w * v[j, h] for w, j in zip(weights, keys, strict=True))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("left", [False, True])
def test_fast_path_equals_the_stock_forward_on_valid_tokens_and_zeros_padding(left):
    model = _encoder()
    ids, mask = _batch([7, 3, 12, 1], 12, left=left)
    with torch.no_grad():
        stock = model(input_ids=ids, attention_mask=mask).last_hidden_state
        assert enable_nomic_fast_path(model) == 1 + TINY["num_hidden_layers"]
        fast = model(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    torch.testing.assert_close(fast[valid], stock[valid], atol=1e-5, rtol=1e-5)
    assert fast[~valid].abs().max() == 0


def test_fast_path_gradients_equal_the_stock_gradients():
    ids, mask = _batch([9, 4, 12], 12)
    grads = []
    for model in _stock_and_fast_for_training():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # mean pooling, as ST's Pooling
        (pooled * torch.linspace(-1, 1, pooled.shape[-1])).sum().backward()  # LayerNorm'd outputs: not a norm
        grads.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, atol=1e-5, rtol=1e-4, msg=name)
        assert torch.isfinite(grad).all()


def test_calls_it_cannot_serve_go_to_the_stock_forward():
    model = _encoder()
    enable_nomic_fast_path(model)
    ids, mask = _batch([5, 2], 6)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        assert len(out.hidden_states) == TINY["num_hidden_layers"] + 1  # the stock forward answered
        model.config.output_hidden_states = True  # as sentence-transformers' AdaptiveLayerLoss sets it
        assert len(model(input_ids=ids, attention_mask=mask).hidden_states) == TINY["num_hidden_layers"] + 1
        model.config.output_hidden_states = False
        no_mask = model(input_ids=ids).last_hidden_state
        assert disable_nomic_fast_path(model) == 1 + TINY["num_hidden_layers"]
        assert type(model) is NomicBertModel
        torch.testing.assert_close(no_mask, model(input_ids=ids).last_hidden_state)


def test_the_switch_survives_pickle_deepcopy_and_data_parallel_replicas():
    import copy
    import pickle

    model = _encoder()
    enable_nomic_fast_path(model)
    ids, mask = _batch([5, 2], 6)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).last_hidden_state
        for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), model._replicate_for_data_parallel()):
            assert type(twin) is type(model) and type(twin.layers[0].mlp) is type(model.layers[0].mlp)
            torch.testing.assert_close(twin(input_ids=ids, attention_mask=mask).last_hidden_state, expected)


def test_sentence_transformer_encodes_the_same_and_saves_a_stock_model(tiny_bert_dir, tmp_path):
    stock = build_nomic_bert(str(tiny_bert_dir), TINY, projection_dim=16, seed=0, device="cpu", fast_path=False)
    fast = build_nomic_bert(str(tiny_bert_dir), TINY, projection_dim=16, seed=0, device="cpu")
    assert type(fast[0].auto_model) is not NomicBertModel and type(stock[0].auto_model) is NomicBertModel
    before = stock.encode(TEXTS, batch_size=4)
    np.testing.assert_allclose(fast.encode(TEXTS, batch_size=4), before, atol=1e-5)
    stock.save(str(tmp_path / "stock"))
    fast.save(str(tmp_path / "fast"))
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        assert (tmp_path / "fast" / name).read_text() == (tmp_path / "stock" / name).read_text(), name
    assert '"NomicBertModel"' in (tmp_path / "fast" / "config.json").read_text()
    reloaded = SentenceTransformer(str(tmp_path / "fast"), device="cpu")
    assert type(reloaded[0].auto_model) is NomicBertModel
    np.testing.assert_allclose(reloaded.encode(TEXTS), before, atol=1e-5)
    assert disable_nomic_fast_path(fast) == 1 + TINY["num_hidden_layers"]
    assert disable_nomic_fast_path(fast) == 0
    np.testing.assert_allclose(fast.encode(TEXTS, batch_size=4), before, atol=1e-6)


def test_a_model_without_nomic_bert_is_refused(tiny_model):
    with pytest.raises(ValueError, match="holds no NomicBertModel"):
        enable_nomic_fast_path(tiny_model)


def test_fast_path_under_bf16_autocast_stays_close_to_the_stock_forward():
    ids, mask = _batch([9, 4, 12], 12)
    results = []
    for model in _stock_and_fast_for_training():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))  # a loss with real gradients
        (out.float() * probe)[mask.bool()].sum().backward()
        results.append((out.float()[mask.bool()], model.layers[0].mlp.down_proj.weight.grad.clone()))
    (stock_out, stock_grad), (fast_out, fast_grad) = results
    torch.testing.assert_close(fast_out, stock_out, atol=0.05, rtol=0.05)
    assert F.cosine_similarity(fast_grad.flatten(), stock_grad.flatten(), dim=0) > 0.99
    assert fast_grad.dtype == torch.float32


def test_an_adapter_on_the_mlp_or_gradient_checkpointing_keeps_the_stock_computation():
    from peft import LoraConfig, get_peft_model

    ids, mask = _batch([9, 4], 12)
    stock = _encoder()
    lora = LoraConfig(r=2, target_modules=["down_proj", "q_proj"], init_lora_weights=False)
    stock = get_peft_model(stock, lora)
    with torch.no_grad():
        expected = stock(input_ids=ids, attention_mask=mask).last_hidden_state
        enable_nomic_fast_path(stock)
        got = stock(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)  # adapters applied

    model = _encoder().train()
    model.gradient_checkpointing_enable()
    enable_nomic_fast_path(model)
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert out[~mask.bool()].abs().sum() > 0  # the stock forward ran (it leaves values at padding)


def test_builders_and_load_model_switch_it_on_by_default(tiny_bert_dir, tmp_path):
    from st_plus.models import load_model

    built = build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, device="cpu")
    assert type(built[0].auto_model) is not NomicBertModel  # switched on by the builder
    assert type(build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, fast_path=False)[0].auto_model) is NomicBertModel
    built.save(str(tmp_path / "saved"))
    assert type(load_model(str(tmp_path / "saved"), device="cpu")[0].auto_model) is not NomicBertModel
    plain = load_model(str(tmp_path / "saved"), device="cpu", nomic_fast_path=False)
    assert type(plain[0].auto_model) is NomicBertModel
    eager = build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, attn_implementation="eager")
    np.testing.assert_allclose(eager.encode(TEXTS), built.encode(TEXTS), atol=1e-5)  # eager runs the stock forward
