"""continue_mlm: BERT masking, phase 1 moves only the new rows, phase 2 every weight, the loss falls, errors."""

from __future__ import annotations

import pytest
import torch

from st_plus.models import continue_mlm, extend_vocabulary
from st_plus.models.continued_mlm import mask_tokens

TEXTS = ["古代战争游戏 the cat sat", "战争 game on the mat", "游戏 the cat", "the dog and the cat", "战争游戏"] * 8


def _naive_mask(input_ids, maskable, rate, mask_id, vocab_size, generator):
    """The obvious loop, drawing the same random numbers as mask_tokens."""
    chosen_draw = torch.rand(input_ids.shape, generator=generator)
    kind_draw = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs, labels = input_ids.clone(), torch.full_like(input_ids, -100)
    for i in range(input_ids.shape[0]):
        for j in range(input_ids.shape[1]):
            if maskable[i, j] and chosen_draw[i, j] < rate:
                labels[i, j] = input_ids[i, j]
                if kind_draw[i, j] < 0.8:
                    inputs[i, j] = mask_id
                elif kind_draw[i, j] < 0.9:
                    inputs[i, j] = random_ids[i, j]
    return inputs, labels


def test_masking_matches_a_naive_loop_and_never_touches_unmaskable_positions():
    ids = torch.randint(5, 100, (6, 40), generator=torch.Generator().manual_seed(0))
    maskable = torch.rand(6, 40, generator=torch.Generator().manual_seed(1)) > 0.2
    got = mask_tokens(ids, maskable, rate=0.3, mask_id=4, vocab_size=100, generator=torch.Generator().manual_seed(2))
    want = _naive_mask(ids, maskable, 0.3, 4, 100, torch.Generator().manual_seed(2))
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    assert (got[1][~maskable] == -100).all() and (got[0][~maskable] == ids[~maskable]).all()
    assert 0.15 < (got[1] != -100).float().sum() / maskable.sum() < 0.45


def test_phase_one_moves_only_the_new_rows(tiny_bert):
    extension = extend_vocabulary(tiny_bert, TEXTS, min_count=2, init="mean")
    before = {n: p.detach().clone() for n, p in tiny_bert.transformers_model.named_parameters()}
    run = continue_mlm(tiny_bert, TEXTS, new_token_ids=extension.new_token_ids, new_rows_steps=6, steps=0,
                       batch_size=8, seed=0, logging_steps=2)  # fmt: skip
    assert run.new_rows_steps == 6 and run.steps == 0 and len(run.new_rows_losses) == 3
    for name, parameter in tiny_bert.transformers_model.named_parameters():
        if name.endswith("word_embeddings.weight"):
            old = before[name].shape[0] - (extension.new_size - extension.old_size)
            changed = (parameter.detach() != before[name]).any(dim=1)
            assert not changed[: extension.old_size].any() and changed[extension.new_token_ids].all()
            assert old == extension.old_size
        else:
            torch.testing.assert_close(parameter.detach(), before[name], msg=name)
        assert parameter.requires_grad  # restored


def test_phase_two_trains_every_weight_and_the_loss_falls(tiny_bert):
    before = {n: p.detach().clone() for n, p in tiny_bert.transformers_model.named_parameters()}
    run = continue_mlm(tiny_bert, TEXTS, steps=40, batch_size=8, learning_rate=3e-3, seed=0, logging_steps=5,
                       eval_texts=TEXTS[:5])  # fmt: skip
    assert run.steps == 40 and run.losses[-1] < run.losses[0]
    assert set(run.held_out_losses) == {"all"} and run.held_out_losses["all"] > 0
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(tiny_bert.transformers_model.get_parameter(layer), before[layer])


def test_bad_arguments_are_refused(tiny_bert):
    with pytest.raises(ValueError, match="`mask_rate` must be in"):
        continue_mlm(tiny_bert, TEXTS, mask_rate=1.0)
    with pytest.raises(ValueError, match="`texts` is empty"):
        continue_mlm(tiny_bert, [])
    with pytest.raises(ValueError, match="needs `new_token_ids`"):
        continue_mlm(tiny_bert, TEXTS, new_rows_steps=3)
