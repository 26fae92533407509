"""add_characters: new CJK tokens start as [UNK] (nothing changes), are used afterwards, and load with plain ST."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests_helpers import encode_in_plain_subprocess

from st_plus.models import add_characters, extend_vocabulary, is_cjk_character, missing_characters

TEXTS = ["古代战争游戏", "战争 game", "游戏 the cat", "一"]


def test_cjk_characters_are_recognised():
    assert all(is_cjk_character(c) for c in "古代战争一龥")
    assert not any(is_cjk_character(c) for c in "a1。，ア한")


def test_missing_characters_are_counted_and_ordered_by_frequency(tiny_bert):
    found = missing_characters(tiny_bert, TEXTS, min_count=2)
    assert set(found) == {"战", "争", "游", "戏"} and "古" not in found  # 古, 代, 一 occur once
    assert len(missing_characters(tiny_bert, TEXTS, min_count=1)) == 7


def test_added_characters_change_nothing_until_trained_then_tell_texts_apart(tiny_bert, tmp_path):
    before = tiny_bert.encode(TEXTS)
    unk = tiny_bert.tokenizer.unk_token_id
    assert tiny_bert.tokenize(["战争"])["input_ids"].tolist()[0].count(unk) == 2
    added = add_characters(tiny_bert, TEXTS, min_count=2)
    assert sorted(added) == sorted(["战", "争", "游", "戏"])
    ids = tiny_bert.tokenize(["战争"])["input_ids"].tolist()[0]
    assert unk not in ids and tiny_bert.tokenizer.convert_ids_to_tokens(ids)[1:3] == ["战", "争"]
    np.testing.assert_allclose(tiny_bert.encode(TEXTS), before, atol=1e-6)  # new rows = the [UNK] row
    with torch.no_grad():  # a trained row: the text now differs from its [UNK] reading
        embeddings = tiny_bert.transformers_model.get_input_embeddings().weight
        row = tiny_bert.tokenizer.convert_tokens_to_ids("战")
        embeddings[row] += torch.randn(embeddings.shape[1], generator=torch.Generator().manual_seed(0))
    changed = tiny_bert.encode(TEXTS)
    assert not np.allclose(changed[0], before[0]) and np.allclose(changed[2], before[2], atol=1e-6)
    tiny_bert.save(str(tmp_path / "extended"))
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path / "extended", TEXTS), changed, atol=1e-6)
    assert add_characters(tiny_bert, TEXTS, min_count=2) == []  # idempotent


def test_bad_min_count_is_refused(tiny_bert):
    with pytest.raises(ValueError, match="`min_count` must be >= 1"):
        add_characters(tiny_bert, TEXTS, min_count=0)


# ---- extend_vocabulary: the characters join the WordPiece vocabulary itself, padded to a multiple of 64


def test_extension_appends_wordpiece_tokens_and_pads_to_a_multiple_of_64(tiny_bert):
    old_vocab = tiny_bert.tokenizer.get_vocab()
    extension = extend_vocabulary(tiny_bert, TEXTS, min_count=2, init="mean")
    vocab = tiny_bert.tokenizer.get_vocab()
    assert sorted(extension.added) == sorted("战争游戏") and extension.old_size == len(old_vocab)
    assert extension.new_size == len(vocab) and len(vocab) % 64 == 0
    assert len(old_vocab) + 4 <= len(vocab) < len(old_vocab) + 4 + 64  # 4 characters, then [unused…] padding
    assert all(vocab[token] == i for token, i in old_vocab.items())  # every old id keeps its meaning
    assert extension.new_token_ids == [vocab[c] for c in extension.added]
    assert not set(extension.added) & set(tiny_bert.tokenizer.get_added_vocab())  # vocabulary, not added tokens
    assert tiny_bert.transformers_model.get_input_embeddings().weight.shape[0] == len(vocab)
    assert tiny_bert.transformers_model.config.vocab_size == len(vocab)


@pytest.mark.parametrize("init", ["unk", "mean", "cjk", "random"])
def test_new_rows_start_as_documented(tiny_bert, init):
    weight = tiny_bert.transformers_model.get_input_embeddings().weight.detach().clone()
    unk = tiny_bert.tokenizer.unk_token_id
    extension = extend_vocabulary(tiny_bert, TEXTS, min_count=2, init=init, seed=3)
    new = tiny_bert.transformers_model.get_input_embeddings().weight.detach()
    torch.testing.assert_close(new[: weight.shape[0]], weight)  # old rows untouched
    rows = new[weight.shape[0] :]
    expected = {"unk": weight[unk], "mean": weight.mean(0), "cjk": weight.mean(0)}  # no CJK row in the fixture
    if init == "random":
        assert not torch.allclose(rows[0], rows[1])
        assert abs(rows.mean().item() - weight.mean().item()) < 0.1
    else:
        torch.testing.assert_close(rows, expected[init].expand_as(rows))
    assert len(extension.new_token_ids) == 4


def test_cjk_init_is_the_mean_of_the_cjk_rows_the_vocabulary_has(tiny_bert):
    extend_vocabulary(tiny_bert, ["战战"], min_count=1, init="random")
    weight = tiny_bert.transformers_model.get_input_embeddings().weight.detach().clone()
    cjk_row = weight[tiny_bert.tokenizer.convert_tokens_to_ids("战")]
    extend_vocabulary(tiny_bert, ["游游"], min_count=1, init="cjk")
    new = tiny_bert.transformers_model.get_input_embeddings().weight.detach()
    torch.testing.assert_close(new[tiny_bert.tokenizer.convert_tokens_to_ids("游")], cjk_row)


def test_extended_model_saves_as_a_plain_folder_and_loads_with_plain_st(tiny_bert, tmp_path):
    extend_vocabulary(tiny_bert, TEXTS, min_count=1, init="random", seed=1)
    expected = tiny_bert.encode(TEXTS)
    tiny_bert.save(str(tmp_path / "model"))
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path / "model", TEXTS), expected, atol=1e-6)


def test_bad_init_and_non_wordpiece_tokenizers_are_refused(tiny_bert, tiny_model):
    with pytest.raises(ValueError, match="`init` must be one of"):
        extend_vocabulary(tiny_bert, TEXTS, init="zeros")
    with pytest.raises(ValueError, match="WordPiece fast tokenizer"):
        extend_vocabulary(tiny_model, TEXTS)
