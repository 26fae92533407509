"""BERT -> NomicBERT warm start: constant readers, tensor-by-tensor mapping, exactness, validation, recovery."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from tests_helpers import CORPUS, encode_in_plain_subprocess
from transformers import BertConfig, BertModel, NomicBertModel

from st_plus.models import (
    bert_to_nomic_state_dict,
    constant_reader,
    convert_bert_to_nomic,
    nomic_bert_config,
    read_texts,
    recover_by_distillation,
)

SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def random_bert(hidden_act: str) -> BertModel:
    """A tiny BERT whose biases and LayerNorm weights are far from their init, so folding them matters."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_act=hidden_act, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **SIZES
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.5)
            elif "LayerNorm" in name:
                param.uniform_(0.5, 1.5)
    return model


def converted(bert: BertModel, gate_scale: float, mean_tokens: int = 1) -> NomicBertModel:
    config = nomic_bert_config({**SIZES, "intermediate_size": 65}, vocab_size=100)
    state = bert_to_nomic_state_dict(
        bert.state_dict(), num_layers=2, vocab_size=128, gate_scale=gate_scale, position_mean_tokens=mean_tokens
    )
    model = NomicBertModel(config).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(key.endswith(("position_ids", "token_type_ids")) for key in missing)
    return model


def test_constant_reader_reads_one_from_any_layer_norm_output():
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(48)
    with torch.no_grad():
        norm.weight.uniform_(0.3, 2.0)
        norm.bias.normal_(0.0, 1.0)
    reader = constant_reader(norm.weight, norm.bias)
    values = norm(torch.randn(200, 48) * 5 + 3) @ reader
    torch.testing.assert_close(values, torch.ones(200), atol=1e-4, rtol=0)


def test_constant_reader_uses_a_dead_dimension():
    weight, bias = torch.ones(8), torch.linspace(-1, 1, 8)
    weight[3], bias[3] = 0.0, 2.0
    reader = constant_reader(weight, bias)
    assert reader.nonzero().flatten().tolist() == [3]
    norm = torch.nn.LayerNorm(8)
    with torch.no_grad():
        norm.weight.copy_(weight)
        norm.bias.copy_(bias)
    torch.testing.assert_close(norm(torch.randn(5, 8)) @ reader, torch.ones(5))


def test_zero_bias_layer_norm_has_no_constant_and_the_mlp_falls_back():
    assert constant_reader(torch.ones(8), torch.zeros(8)) is None
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **SIZES)
    fresh = BertModel(config, add_pooling_layer=False)  # LayerNorm biases are all 0
    out = bert_to_nomic_state_dict(fresh.state_dict(), num_layers=2, vocab_size=128)
    w1 = fresh.state_dict()["encoder.layer.0.intermediate.dense.weight"]
    assert torch.equal(out["layers.0.mlp.up_proj.weight"][:64], w1)  # (W1 x) silu(1.702 W1 x): not a dead MLP
    query = fresh.state_dict()["encoder.layer.0.attention.self.query.weight"]
    assert torch.equal(out["layers.0.self_attn.q_proj.weight"], query)  # bias dropped


def test_mapping_tensor_by_tensor():
    bert = random_bert("gelu")
    src = bert.state_dict()
    out = bert_to_nomic_state_dict(src, num_layers=2, vocab_size=128, gate_scale=1.702, position_mean_tokens=4)
    words = out["embeddings.word_embeddings.weight"]
    assert words.shape == (128, 32) and torch.equal(words[:100], src["embeddings.word_embeddings.weight"])
    assert not words[100:].any()
    expected_types = src["embeddings.token_type_embeddings.weight"] + src["embeddings.position_embeddings.weight"][
        :4
    ].mean(0)
    torch.testing.assert_close(out["embeddings.token_type_embeddings.weight"], expected_types)
    assert not any("position" in key for key in out)
    for i in range(2):
        s, t = f"encoder.layer.{i}.", f"layers.{i}."
        assert torch.equal(out[t + "self_attn.k_proj.weight"], src[s + "attention.self.key.weight"])
        assert torch.equal(out[t + "self_attn.o_proj.weight"], src[s + "attention.output.dense.weight"])
        assert torch.equal(out[t + "post_attention_layernorm.weight"], src[s + "attention.output.LayerNorm.weight"])
        assert torch.equal(out[t + "post_mlp_layernorm.bias"], src[s + "output.LayerNorm.bias"])
        assert torch.equal(out[t + "mlp.down_proj.weight"][:, :64], src[s + "output.dense.weight"])
        # Folded biases: on LayerNorm outputs, the bias-free projection equals the source's W x + b.
        ln_in = bert.embeddings.LayerNorm if i == 0 else bert.encoder.layer[i - 1].output.LayerNorm
        x = ln_in(torch.randn(50, 32) * 3)
        query = bert.encoder.layer[i].attention.self.query
        torch.testing.assert_close(x @ out[t + "self_attn.q_proj.weight"].T, query(x), atol=1e-4, rtol=0)
        ln_mid = bert.encoder.layer[i].attention.output.LayerNorm
        x = ln_mid(torch.randn(50, 32) * 3)
        z = bert.encoder.layer[i].intermediate.dense(x)
        torch.testing.assert_close(x @ out[t + "mlp.gate_proj.weight"][:64].T, 1.702 * z, atol=1e-3, rtol=0)
        up = x @ out[t + "mlp.up_proj.weight"].T
        torch.testing.assert_close(up[:, :64], torch.full((50, 64), 1 / 1.702), atol=1e-4, rtol=0)


def test_silu_source_is_reproduced_exactly_at_position_zero():
    # With every position id 0, RoPE is the identity and BERT adds position embedding 0, which the mapping folded
    # into the token-type embeddings: the only difference left would be the MLP, exact for a SiLU source.
    bert = random_bert("silu")
    nomic = converted(bert, gate_scale=1.0)
    ids = torch.randint(1, 100, (3, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    zeros = torch.zeros_like(ids)
    with torch.no_grad():
        expected = bert(input_ids=ids, attention_mask=mask, position_ids=zeros).last_hidden_state
        actual = nomic(input_ids=ids, attention_mask=mask, position_ids=zeros).last_hidden_state
    torch.testing.assert_close(actual, expected, atol=2e-4, rtol=0)


def test_gelu_source_differs_only_by_the_sigmoid_approximation():
    bert = random_bert("gelu")
    nomic = converted(bert, gate_scale=1.702)
    ids = torch.randint(1, 100, (2, 12), generator=torch.Generator().manual_seed(0))  # not the global RNG: order-proof
    zeros = torch.zeros_like(ids)
    with torch.no_grad():
        expected = bert(input_ids=ids, position_ids=zeros).last_hidden_state
        actual = nomic(input_ids=ids, position_ids=zeros).last_hidden_state
    error = (actual - expected).abs().max().item()
    assert 1e-5 < error < 0.05  # not exact (z σ(1.702 z) is not GELU), but close (0.021 at 1 thread, seed 0)


def test_non_bert_sources_are_rejected(tiny_model):
    with pytest.raises(ValueError, match=r"needs a BERT-family source .*got StaticEmbedding"):
        convert_bert_to_nomic(tiny_model)


def test_unsupported_activation_is_rejected(tiny_bert):
    tiny_bert[0].auto_model.config.hidden_act = "relu"
    with pytest.raises(ValueError, match=r"activation is one of .*got 'relu'"):
        convert_bert_to_nomic(tiny_bert)


def test_converted_tiny_bert_accepts_2048_tokens_and_loads_plainly(tiny_bert, tmp_path):
    nomic = convert_bert_to_nomic(tiny_bert, device="cpu")
    assert nomic.max_seq_length == 2048 and tiny_bert[0].auto_model.config.max_position_embeddings == 128
    long_text = " ".join(CORPUS) * 40
    assert nomic.preprocess([long_text])["input_ids"].shape[1] == 2048
    assert torch.isfinite(nomic.encode([long_text], convert_to_tensor=True)).all()
    nomic.save(str(tmp_path))
    texts = CORPUS[:3]
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path, texts), nomic.encode(texts), atol=1e-6)


def test_read_texts_dedups_reads_lists_and_names_bad_lines(tmp_path):
    good = tmp_path / "rows.jsonl.gz"
    with gzip.open(good, "wt") as handle:
        handle.write(json.dumps({"anchor": "a", "positive": "b", "package": "x"}) + "\n")
        handle.write(json.dumps({"query": "a", "positive": ["c", "d"]}) + "\n")
    plain = tmp_path / "lines.txt"
    plain.write_text("e\n\nf\n")
    assert sorted(read_texts([good, plain])) == ["a", "b", "c", "d", "e", "f"]
    assert len(read_texts([good], limit=2)) == 2
    assert sorted(read_texts([good, plain], fields=["positive"])) == ["b", "c", "d", "e", "f"]  # documents only
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: expected a JSON object"):
        read_texts([bad])


def test_recovery_moves_the_student_towards_the_teacher(tiny_bert):
    student = convert_bert_to_nomic(tiny_bert, device="cpu")
    texts = [f"{a} {b}" for a in CORPUS for b in CORPUS][:256]
    teacher = tiny_bert.encode(texts[:64], convert_to_tensor=True)

    def distance() -> float:
        return (student.encode(texts[:64], convert_to_tensor=True) - teacher).pow(2).sum(1).mean().item()

    before = distance()
    stats = recover_by_distillation(student, tiny_bert, texts, max_minutes=0.25, batch_size=16, learning_rate=1e-3)
    assert stats["steps"] > 0 and stats["texts"] >= 64 and stats["seconds"] < 60
    assert distance() < 0.7 * before
    assert student.max_seq_length == 2048  # restored after training at 128 tokens


def test_recovery_rejects_bad_budget(tiny_bert):
    with pytest.raises(ValueError, match="`max_minutes` must be > 0"):
        recover_by_distillation(tiny_bert, tiny_bert, ["a"], max_minutes=0)


@pytest.mark.real
def test_bundled_minilm_converts_and_keeps_its_similarity_structure_before_recovery(bundled_model):
    from scipy.stats import spearmanr

    nomic = convert_bert_to_nomic(bundled_model, device="cpu")
    texts = [
        "A man is playing a guitar.",
        "A person plays an instrument.",
        "The stock market fell on Monday.",
        "Shares dropped sharply at the start of the week.",
        "How do I reset my password?",
        "I forgot my login credentials.",
        "The cat sleeps on the sofa.",
        "A kitten is napping on the couch.",
    ]
    source = bundled_model.encode(texts, convert_to_tensor=True)
    target = nomic.encode(texts, convert_to_tensor=True)
    # Measured: mean cosine 0.65 and pairwise-similarity Spearman 0.63 with no training at all (RoPE replaced the
    # absolute positions); a random NomicBERT scores about 0 on both.
    assert torch.nn.functional.cosine_similarity(source, target).mean().item() > 0.5
    upper = np.triu_indices(len(texts), 1)
    assert spearmanr((source @ source.T)[upper].numpy(), (target @ target.T)[upper].numpy()).statistic > 0.5
    assert nomic.max_seq_length == 2048 and type(nomic[0].auto_model).__name__ == "NomicBertModel"
