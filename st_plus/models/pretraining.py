"""Stage 0 of the Nomic recipe: a WordPiece tokenizer and masked-LM pre-training of a NomicBERT-style encoder.

Nomic Embed (https://arxiv.org/abs/2402.01613) pre-trains its encoder with masked language modelling at a 30% mask
rate (instead of BERT's 15%) before contrastive training. Here the model is transformers' native
``NomicBertForMaskedLM``; its encoder (``.nomic_bert``) then becomes a plain sentence-transformers model with
:func:`encoder_from_mlm`, ready for contrastive training with any ST or st_plus loss.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    DataCollatorForLanguageModeling,
    NomicBertForMaskedLM,
    NomicBertModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from st_plus.models.nomic_bert import sentence_transformer_from_nomic_bert
from st_plus.models.nomic_bert_config import VOCAB_MULTIPLE, nomic_bert_config, pad_vocab_size
from st_plus.models.recovery import WallClockCallback

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(
    texts: Sequence[str], *, vocab_size: int = 8192, lowercase: bool = True, max_length: int = 2048
) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer trained on ``texts`` (``tokenizers`` library).

    The normaliser splits CJK characters into single-character words (as BERT's Chinese handling), so Chinese text
    gets a character-level vocabulary next to English word pieces. ``vocab_size`` is rounded up to a multiple of 64.

    Raises:
        ValueError: No texts, or a vocabulary too small for the special tokens.
    """
    if not texts:
        raise ValueError("`texts` is empty: the tokenizer needs training text.")
    if vocab_size < 2 * VOCAB_MULTIPLE:
        raise ValueError(f"`vocab_size` must be >= {2 * VOCAB_MULTIPLE}, got {vocab_size}.")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase, handle_chinese_chars=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=pad_vocab_size(vocab_size), special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    roles = dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), SPECIAL_TOKENS, strict=True))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=max_length, **roles)


@dataclass
class MlmRun:
    """What :func:`pretrain_mlm` returns.

    Attributes:
        model: The pre-trained masked-LM model.
        losses: Logged training losses (step 1, then every ``logging_steps``).
        steps: Optimiser steps run (fewer than ``max_steps`` when the time budget ended first).
    """

    model: NomicBertForMaskedLM
    losses: list[float]
    steps: int


def pretrain_mlm(
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    preset_or_config: str | dict[str, Any] = "mini",
    *,
    mask_rate: float = 0.3,
    max_steps: int = 10_000,
    max_minutes: float | None = 10.0,
    seed: int = 0,
    max_seq_length: int = 128,
    batch_size: int = 32,
    learning_rate: float = 5e-4,
    warmup_steps: int = 50,
    logging_steps: int = 10,
    group_by_length: bool = False,
) -> MlmRun:
    """Masked-LM pre-training of a fresh ``NomicBertForMaskedLM`` on ``texts`` (Nomic: 30% masking).

    Masking is transformers' ``DataCollatorForLanguageModeling`` (80% ``[MASK]``, 10% random, 10% kept). The
    learning rate warms up over ``warmup_steps``, then decays linearly to 0: at the end of the ``max_minutes``
    wall-clock budget when one is given (training stops after ``max_steps`` or ``max_minutes``, whichever comes
    first), else at ``max_steps`` (transformers' linear schedule; reproducible). ``group_by_length`` batches texts
    of similar length (transformers' ``LengthGroupedSampler``): far less padding, hence many more steps in a budget,
    when short texts (titles) and long ones (abstracts) are mixed.

    Returns:
        An :class:`MlmRun`: the model, its logged training losses (at step 1, then every ``logging_steps`` steps,
        in order; never empty, even when the budget ends before ``logging_steps``) and the steps run.

    Raises:
        ValueError: A mask rate outside (0, 1) or no texts.
    """
    if not 0.0 < mask_rate < 1.0:
        raise ValueError(f"`mask_rate` must be in (0, 1), got {mask_rate}.")
    if not texts:
        raise ValueError("`texts` is empty: pre-training needs text.")
    config = nomic_bert_config(preset_or_config, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = NomicBertForMaskedLM(config)
    encoded = tokenizer(list(texts), truncation=True, max_length=max_seq_length)
    dataset = Dataset.from_dict({"input_ids": encoded["input_ids"]})
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mask_rate, seed=seed)
    with tempfile.TemporaryDirectory(prefix="st_plus_mlm_") as output_dir:
        args = TrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=batch_size,
            max_steps=max_steps,
            learning_rate=learning_rate,
            # with a time budget the callback warms up, then decays linearly in wall-clock time
            lr_scheduler_type="constant" if max_minutes is not None else "linear",
            warmup_steps=0 if max_minutes is not None else warmup_steps,
            logging_steps=logging_steps,
            logging_first_step=True,  # the untrained loss, and a loss even when the budget ends early
            train_sampling_strategy="group_by_length" if group_by_length else "random",
            save_strategy="no",
            report_to="none",
            seed=seed,
            use_cpu=not torch.cuda.is_available(),
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=dataset,
            data_collator=collator,
            callbacks=[WallClockCallback(max_minutes * 60.0, peak_lr=learning_rate, warmup_steps=warmup_steps)]
            if max_minutes is not None
            else [],
        )
        trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return MlmRun(model, losses, trainer.state.global_step)


def encoder_from_mlm(
    model: NomicBertForMaskedLM | NomicBertModel, tokenizer: PreTrainedTokenizerFast, **kwargs: Any
) -> SentenceTransformer:
    """The pre-trained encoder (without the MLM head) as a plain ST model; ``kwargs`` as for the builder's head."""
    encoder = model.nomic_bert if isinstance(model, NomicBertForMaskedLM) else model
    return sentence_transformer_from_nomic_bert(encoder, tokenizer, **kwargs)
