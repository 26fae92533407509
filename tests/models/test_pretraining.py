"""Stage 0: WordPiece tokenizer (Chinese included, vocab padded to 64) and NomicBertForMaskedLM pre-training."""

from __future__ import annotations

import pytest
import torch
from tests_helpers import CORPUS

from st_plus.models import WallClockCallback, encoder_from_mlm, pretrain_mlm, train_wordpiece_tokenizer

ZH = ["今天天气很好", "股票市场周一大幅下跌", "我的银行卡还没有收到"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer((CORPUS + ZH) * 4, vocab_size=200)


def test_wordpiece_tokenizer_splits_chinese_into_characters(tokenizer):
    assert len(tokenizer) <= 256  # 200 rounded up to 256, the trainer stops when the corpus runs out
    tokens = tokenizer.tokenize("今天 stock markets")
    assert tokens[:2] == ["今", "天"] and "stock" in tokens
    ids = tokenizer("今天")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_mlm_loss_falls_and_the_encoder_is_a_plain_st_model(tokenizer):
    texts = (CORPUS + ZH) * 8
    run = pretrain_mlm(
        tokenizer, texts, "tiny", max_steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=4, max_minutes=2
    )
    model, losses = run.model, run.losses
    assert run.steps == 40
    assert model.config.vocab_size % 64 == 0 and len(losses) == 5  # steps 1, 10, 20, 30, 40
    assert losses[-1] < 0.9 * losses[0] and losses == sorted(losses, reverse=True), losses  # from ~ln(256)
    encoder = encoder_from_mlm(model, tokenizer, device="cpu")
    assert type(encoder[0].auto_model).__name__ == "NomicBertModel"
    torch.testing.assert_close(
        encoder[0].auto_model.embeddings.word_embeddings.weight, model.nomic_bert.embeddings.word_embeddings.weight
    )
    assert encoder.encode(["今天天气很好"]).shape == (1, 32)


def test_mlm_losses_are_logged_when_the_budget_ends_before_the_first_logging_step(tokenizer):
    # Regression: losses were logged every 10 steps only, so a short budget returned [] (and losses[0] failed).
    run = pretrain_mlm(
        tokenizer, CORPUS * 2, "tiny", max_steps=5, batch_size=8, max_minutes=1e-4, group_by_length=True
    )
    assert len(run.losses) >= 1 and all(loss > 0 for loss in run.losses)
    assert run.steps < 5  # the steps run, not the configured count


def test_without_a_time_budget_the_learning_rate_warms_up_then_decays_linearly_to_zero_at_max_steps(tokenizer):
    from transformers import TrainerCallback

    seen = []

    class Spy(TrainerCallback):
        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            seen.append(optimizer.param_groups[0]["lr"])

    import st_plus.models.pretraining as pretraining

    original = pretraining.Trainer

    class SpyTrainer(original):
        def __init__(self, *args, callbacks=None, **kwargs):
            super().__init__(*args, callbacks=[*(callbacks or []), Spy()], **kwargs)

    pretraining.Trainer = SpyTrainer
    try:
        run = pretrain_mlm(tokenizer, CORPUS * 4, "tiny", max_steps=20, batch_size=4, learning_rate=1e-3,
                           warmup_steps=4, max_minutes=None)  # fmt: skip
    finally:
        pretraining.Trainer = original
    assert run.steps == 20 and len(seen) == 20
    peak = seen.index(max(seen))
    assert 2 <= peak <= 5 and max(seen) <= 1e-3
    assert all(a >= b for a, b in zip(seen[peak:], seen[peak + 1 :], strict=False))  # decays every step
    assert seen[-1] < 0.1 * max(seen)


def test_mask_rate_is_validated(tokenizer):
    with pytest.raises(ValueError, match="`mask_rate` must be in"):
        pretrain_mlm(tokenizer, CORPUS, "tiny", mask_rate=1.5)


def test_wall_clock_callback_decays_the_learning_rate_and_stops():
    class State:
        global_step = 9

    class Control:
        should_training_stop = False

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    callback = WallClockCallback(1000.0, peak_lr=0.5, warmup_steps=20)
    callback.on_step_begin(None, State(), Control(), optimizer=optimizer)
    assert 0.249 < optimizer.param_groups[0]["lr"] <= 0.25  # half-way through warm-up, budget barely used
    callback.start -= 750.0
    callback.on_step_begin(None, State(), Control(), optimizer=optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.25 * 0.25, rel=1e-3)
    callback.start -= 250.0
    control = callback.on_step_end(None, State(), Control())
    assert control.should_training_stop and control.should_log
