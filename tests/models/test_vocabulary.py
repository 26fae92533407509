"""add_characters: new CJK tokens start as [UNK] (nothing changes), are used afterwards, and load with plain ST."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests_helpers import encode_in_plain_subprocess

from st_plus.models import add_characters, is_cjk_character, missing_characters

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
