"""NomicBERT-style builder: presets, validation, stock modules, plain loading, attention backends, long context."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Dense, Normalize, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling
from tests_helpers import encode_in_plain_subprocess

from st_plus.models import NOMIC_BERT_PRESETS, build_nomic_bert, nomic_bert_config, pad_vocab_size

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
TEXTS = ["a cat sat on the mat", "stock markets fell sharply on monday after the report", "hello"]


@pytest.fixture(scope="module")
def tiny_nomic(tiny_bert_dir):
    return build_nomic_bert(str(tiny_bert_dir), TINY, projection_dim=16, seed=0, device="cpu")


def test_nomic_embed_preset_has_the_released_sizes():
    config = nomic_bert_config("nomic-embed-text-v1", vocab_size=30522)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert config.intermediate_size == 3072 and config.hidden_act == "silu"
    assert config.rope_parameters == {"rope_type": "default", "rope_theta": 1000.0}
    assert config.vocab_size == 30528 and config.max_position_embeddings == 2048
    assert config.hidden_dropout_prob == 0.0 and config.attention_probs_dropout_prob == 0.0
    assert {"small", "mini", "tiny"} <= set(NOMIC_BERT_PRESETS)


def test_config_object_dict_and_overrides_are_accepted():
    from transformers import NomicBertConfig

    given = NomicBertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=128)
    config = nomic_bert_config(given, vocab_size=100, rope_scaling="dynamic", num_hidden_layers=3)
    assert (config.hidden_size, config.head_dim, config.num_hidden_layers, config.vocab_size) == (64, 16, 3, 128)
    assert config.rope_parameters == {"rope_type": "dynamic", "rope_theta": 1000.0, "factor": 2.0}
    with pytest.raises(ValueError, match=r"\(0\); accepted head counts for 64: \[1, 2, 4, 8, 16, 32, 64\]"):
        nomic_bert_config({"hidden_size": 64, "num_attention_heads": 0}, vocab_size=100)


def test_pad_vocab_size_rounds_up_to_64():
    assert [pad_vocab_size(n) for n in (1, 64, 65, 30522, 21128)] == [64, 64, 128, 30528, 21184]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset_or_config": "nomic-xl"}, "Unknown NomicBERT preset 'nomic-xl'; accepted"),
        ({"preset_or_config": {**TINY, "num_attention_heads": 5}}, r"divisible by `num_attention_heads` \(5\)"),
        ({"preset_or_config": {**TINY, "hidden_size": 12, "num_attention_heads": 4}}, "= 3 must be even"),
        ({"preset_or_config": {**TINY, "hidden_dropout_prob": 0.1}}, "use no dropout"),
        ({"preset_or_config": "tiny", "rope_scaling": "yarn"}, "must be None or 'dynamic'"),
    ],
)
def test_inconsistent_configs_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nomic_bert_config(vocab_size=100, **kwargs)


def test_bad_pooling_raises(tiny_bert_dir):
    with pytest.raises(ValueError, match="`pooling` must be one of"):
        build_nomic_bert(str(tiny_bert_dir), TINY, pooling="weighted")


def test_builder_uses_stock_modules_and_padded_vocab(tiny_nomic, tiny_bert_dir):
    assert [type(module) for module in tiny_nomic] == [Transformer, Pooling, Dense, Normalize]
    config = tiny_nomic[0].auto_model.config
    assert config.model_type == "nomic_bert" and type(tiny_nomic[0].auto_model).__name__ == "NomicBertModel"
    assert config.vocab_size % 64 == 0 and config.vocab_size >= len(tiny_nomic.tokenizer)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in tiny_nomic.modules())
    assert tiny_nomic[0].auto_model.config._attn_implementation == "sdpa"
    embeddings = tiny_nomic.encode(TEXTS, convert_to_tensor=True)
    assert embeddings.shape == (3, 16)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(3), atol=1e-5)


def test_saved_model_loads_with_plain_sentence_transformers(tiny_nomic, tmp_path):
    tiny_nomic.save(str(tmp_path))
    modules = json.loads((tmp_path / "modules.json").read_text())
    assert all(m["type"].startswith("sentence_transformers.") for m in modules)
    assert not list(tmp_path.glob("*.py")) and (tmp_path / "model.safetensors").is_file()
    assert "auto_map" not in json.loads((tmp_path / "config.json").read_text())
    expected = tiny_nomic.encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path, TEXTS), expected, atol=1e-6)


def _token_embeddings(model: SentenceTransformer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    features = model.preprocess(texts)
    with torch.no_grad():
        out = model[0](features)
    return out["token_embeddings"], features["attention_mask"]


def test_eager_and_sdpa_agree_on_padded_batches(tiny_nomic, tmp_path):
    tiny_nomic.save(str(tmp_path))
    eager = SentenceTransformer(str(tmp_path), device="cpu", model_kwargs={"attn_implementation": "eager"})
    sdpa = SentenceTransformer(str(tmp_path), device="cpu", model_kwargs={"attn_implementation": "sdpa"})
    assert eager[0].auto_model.config._attn_implementation == "eager"
    tokens_eager, mask = _token_embeddings(eager, TEXTS)
    tokens_sdpa, _ = _token_embeddings(sdpa, TEXTS)
    assert mask.sum(1).unique().numel() == 3  # three lengths: the batch is padded
    kept = mask.bool()
    torch.testing.assert_close(tokens_eager[kept], tokens_sdpa[kept], atol=1e-5, rtol=0)
    np.testing.assert_allclose(eager.encode(TEXTS), sdpa.encode(TEXTS), atol=1e-5)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padding_never_changes_unmasked_outputs(tiny_bert_dir, attn):
    model = build_nomic_bert(str(tiny_bert_dir), TINY, seed=1, attn_implementation=attn, device="cpu")
    hf = model[0].auto_model
    torch.manual_seed(0)
    ids = torch.randint(5, 100, (1, 9))
    with torch.no_grad():
        alone = hf(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        for _ in range(3):  # whatever sits in the padded positions
            padded = torch.cat([ids, torch.randint(0, 100, (1, 7))], dim=1)
            mask = torch.cat([torch.ones(1, 9), torch.zeros(1, 7)], dim=1).long()
            out = hf(input_ids=padded, attention_mask=mask).last_hidden_state
            torch.testing.assert_close(out[:, :9], alone, atol=1e-5, rtol=0)
    single = model.encode(TEXTS[2:], convert_to_tensor=True)
    batched = model.encode(TEXTS, convert_to_tensor=True)[2:]
    torch.testing.assert_close(single, batched, atol=1e-5, rtol=0)


def test_dynamic_ntk_encodes_8k_tokens_and_leaves_short_inputs_alone(tiny_bert_dir):
    small = {**TINY, "num_hidden_layers": 1, "max_position_embeddings": 256}
    plain = build_nomic_bert(str(tiny_bert_dir), small, seed=3, device="cpu")
    scaled = build_nomic_bert(
        str(tiny_bert_dir), small, seed=3, rope_scaling="dynamic", max_seq_length=8192, device="cpu"
    )
    assert scaled[0].auto_model.config.rope_parameters["rope_type"] == "dynamic"
    np.testing.assert_allclose(plain.encode(TEXTS), scaled.encode(TEXTS), atol=1e-6)
    long_text = " ".join(["stock markets fell sharply on monday"] * 1500)
    assert scaled.preprocess([long_text])["input_ids"].shape[1] == 8192
    embedding = scaled.encode([long_text], convert_to_tensor=True)
    assert embedding.shape == (1, 32) and torch.isfinite(embedding).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_flash_attention_matches_sdpa_on_cuda(tiny_bert_dir):
    pytest.importorskip("flash_attn", reason="needs the `gpu` extra: pip install 'st-plus[gpu]'")
    sdpa = build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, device="cuda")
    flash = build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, attn_implementation="flash_attention_2", device="cuda")
    sdpa.half()
    flash.half()
    np.testing.assert_allclose(sdpa.encode(TEXTS), flash.encode(TEXTS), atol=2e-3)


def test_trains_with_st_plus_loss(tiny_bert_dir, tmp_path):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    from st_plus.losses import InfoNCELoss

    model = build_nomic_bert(str(tiny_bert_dir), TINY, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.parameters()]
    data = Dataset.from_dict({"anchor": TEXTS * 2, "positive": list(reversed(TEXTS)) * 2})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=3, report_to="none", use_cpu=True
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=InfoNCELoss(model))
    trainer.train()
    losses = [entry["train_loss"] for entry in trainer.state.log_history if "train_loss" in entry]
    assert losses and np.isfinite(losses[0])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
