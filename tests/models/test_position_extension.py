"""Extending a learned absolute position table by copying (Longformer): short inputs unchanged, long ones readable."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers import SentenceTransformer

from st_plus.models import copied_position_table, extend_positions, position_count


def test_copied_table_repeats_the_rows_in_order():
    table = torch.arange(12.0).reshape(3, 4)
    new = copied_position_table(table, 7)
    expected = torch.stack([table[i % 3] for i in range(7)])  # naive reference
    torch.testing.assert_close(new, expected)
    with pytest.raises(ValueError, match="smaller"):
        copied_position_table(table, 2)


def test_short_inputs_embed_exactly_as_before_and_long_ones_run(tiny_bert):
    texts = ["the cat sat on the mat", "a dog chased the ball in the park"]
    before = tiny_bert.encode(texts, convert_to_tensor=True)
    old_rows = tiny_bert[0].auto_model.embeddings.position_embeddings.weight.detach().clone()
    extend_positions(tiny_bert, 300)
    assert position_count(tiny_bert) == 300
    assert tiny_bert.max_seq_length == 300 and tiny_bert.tokenizer.model_max_length == 300
    new_rows = tiny_bert[0].auto_model.embeddings.position_embeddings.weight
    torch.testing.assert_close(new_rows[:128], old_rows)
    torch.testing.assert_close(new_rows[128:256], old_rows)
    torch.testing.assert_close(tiny_bert.encode(texts, convert_to_tensor=True), before)
    long_text = " ".join(["the cat sat on the mat"] * 60)  # > 128 tokens: indexing error before the extension
    assert len(tiny_bert.tokenize([long_text])["input_ids"][0]) == 300
    assert torch.isfinite(tiny_bert.encode([long_text], convert_to_tensor=True)).all()


def test_saved_model_is_stock_and_reloads_with_the_new_length(tiny_bert, tmp_path):
    extend_positions(tiny_bert, 256)
    long_text = " ".join(["a dog chased the ball"] * 60)
    expected = tiny_bert.encode([long_text], convert_to_tensor=True)
    tiny_bert.save(str(tmp_path / "m"))
    reloaded = SentenceTransformer(str(tmp_path / "m"), device="cpu")  # plain ST, no remote code
    assert type(reloaded[0].auto_model).__name__ == "BertModel"
    assert reloaded.max_seq_length == 256 and position_count(reloaded) == 256
    torch.testing.assert_close(reloaded.encode([long_text], convert_to_tensor=True), expected)


def test_no_op_at_the_same_size_and_refusals(tiny_bert, tiny_model):
    weight = tiny_bert[0].auto_model.embeddings.position_embeddings.weight
    extend_positions(tiny_bert, 128)
    assert tiny_bert[0].auto_model.embeddings.position_embeddings.weight is weight
    with pytest.raises(ValueError, match="smaller"):
        extend_positions(tiny_bert, 64)
    with pytest.raises(ValueError, match="Transformer"):
        extend_positions(tiny_model, 256)  # a StaticEmbedding model has no position table


def test_a_roberta_table_keeps_its_padding_rows_and_copies_the_real_positions(tiny_bert_dir, tmp_path):
    import shutil

    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import RobertaConfig, RobertaModel

    folder = tmp_path / "roberta"
    shutil.copytree(tiny_bert_dir, folder)
    config = RobertaConfig(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=66, pad_token_id=1,
                           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    torch.manual_seed(0)
    RobertaModel(config).save_pretrained(folder)
    transformer = Transformer(str(folder), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode="mean")], device="cpu")
    old = model[0].auto_model.embeddings.position_embeddings.weight.detach().clone()
    before = model.encode(["the cat sat on the mat"], convert_to_tensor=True)
    extend_positions(model, 130)  # 2 reserved rows (padding_idx 1) + 128 positions
    new = model[0].auto_model.embeddings.position_embeddings
    assert new.padding_idx == 1 and model.max_seq_length == 128
    torch.testing.assert_close(new.weight[:66], old)
    torch.testing.assert_close(new.weight[66:130], old[2:66])  # the real positions again, not the padding rows
    torch.testing.assert_close(model.encode(["the cat sat on the mat"], convert_to_tensor=True), before)
    long_text = " ".join(["the cat sat on the mat"] * 40)
    assert torch.isfinite(model.encode([long_text], convert_to_tensor=True)).all()  # 128 tokens read


def test_readable_positions_leaves_out_a_roberta_style_padding_offset(tiny_bert):
    from st_plus.models import position_count, readable_positions

    assert readable_positions(tiny_bert) == position_count(tiny_bert)  # BERT: no reserved rows
    embeddings = tiny_bert[0].auto_model.embeddings
    embeddings.padding_idx = 1  # as RoBERTa's embeddings carry it: positions start at 2
    assert readable_positions(tiny_bert) == position_count(tiny_bert) - 2
