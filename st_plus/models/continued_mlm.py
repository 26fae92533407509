"""Continued masked-LM training of an existing sentence-transformers encoder (after a vocabulary extension).

A model whose vocabulary was just extended (:func:`st_plus.models.extend_vocabulary`) has new embedding rows that
mean nothing yet. :func:`continue_mlm` teaches them by masked language modelling on the corpus, in two phases
(the recipe of vocabulary-extension work such as Chinese-LLaMA, Cui et al., 2023, https://arxiv.org/abs/2304.08177):

1. ``new_rows_steps`` steps that train only the new rows (and a fresh MLM head), every other weight frozen, so the
   encoder is not bent towards meaningless inputs;
2. ``steps`` steps that train every weight at ``learning_rate``.

sentence-transformers models carry no MLM head, so a fresh BERT-style one is built (dense, GELU, LayerNorm, a
decoder tied to the input embeddings) and thrown away at the end: the model stays a plain sentence-transformers
model. Logits are computed at the masked positions only (a 30k-64k vocabulary over every position would dominate
the cost on a CPU). Masking is BERT's (80% ``[MASK]``, 10% a random token, 10% kept) over non-special tokens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from sentence_transformers import SentenceTransformer
from torch import nn

from st_plus.samplers.length_grouped import length_grouped_batches

logger = logging.getLogger(__name__)


class MlmHead(nn.Module):
    """BERT's masked-LM prediction head with its decoder tied to ``embeddings`` (a fresh, trainable head).

    Args:
        embeddings: The encoder's input embedding matrix (vocab, hidden): the decoder's weight.
        layer_norm_eps: LayerNorm epsilon (the encoder's own).
    """

    def __init__(self, embeddings: nn.Parameter, *, layer_norm_eps: float = 1e-12):
        super().__init__()
        vocab, hidden = embeddings.shape
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)
        self.embeddings = embeddings
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits (n, vocab) of hidden states (n, hidden)."""
        return self.norm(nn.functional.gelu(self.dense(hidden))) @ self.embeddings.T + self.bias


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    *,
    rate: float,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: ``rate`` of the ``maskable`` positions are targets; 80% ``[MASK]``, 10% random, 10% kept.

    Returns:
        ``(inputs, labels)``: labels hold the original id at target positions and -100 elsewhere.
    """
    chosen = (torch.rand(input_ids.shape, generator=generator) < rate) & maskable
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    draw = torch.rand(input_ids.shape, generator=generator)
    inputs = input_ids.clone()
    inputs[chosen & (draw < 0.8)] = mask_id
    swap = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[swap] = torch.randint(vocab_size, input_ids.shape, generator=generator)[swap]
    return inputs, labels


@dataclass
class ContinuedMlmRun:
    """What :func:`continue_mlm` returns.

    Attributes:
        new_rows_losses: Mean MLM loss of every ``logging_steps`` steps of phase 1 (new rows only).
        losses: The same for phase 2 (every weight).
        new_rows_steps: Phase-1 steps run.
        steps: Phase-2 steps run.
        seconds: Wall-clock time of both phases.
        held_out_losses: MLM loss on ``eval_texts`` (the same masking every time) after phase 1 and after phase 2.
    """

    new_rows_losses: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    new_rows_steps: int = 0
    steps: int = 0
    seconds: float = 0.0
    held_out_losses: dict[str, float] = field(default_factory=dict)


def _batches(tokenizer, texts: Sequence[str], batch_size: int, max_seq_length: int, seed: int) -> list:
    """Padded (input_ids, attention_mask) batches of texts of similar token length, in random order."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_seq_length)["input_ids"]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(encoded), generator=generator).tolist()
    grouped = length_grouped_batches(order, [len(ids) for ids in encoded], batch_size, pool_batches=50,
                                     generator=generator)  # fmt: skip
    batches = []
    for index in grouped:
        padded = tokenizer.pad({"input_ids": [encoded[i] for i in index]}, return_tensors="pt")
        batches.append((padded["input_ids"], padded["attention_mask"]))
    return batches


def _masked_lm_loss(
    encoder: nn.Module, head: MlmHead, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, rate: float,
    mask_id: int, special_ids: torch.Tensor, generator: torch.Generator, bf16: bool, **_: object,
) -> tuple[torch.Tensor, int]:
    """Summed MLM loss of one batch, masked from ``generator``, and its number of targets (logits at targets only)."""
    device = head.bias.device
    maskable = attention_mask.bool() & ~torch.isin(input_ids, special_ids)
    inputs, labels = mask_tokens(input_ids, maskable, rate=rate, mask_id=mask_id, vocab_size=head.bias.shape[0],
                                 generator=generator)  # fmt: skip
    labels = labels.to(device)
    targets = labels != -100
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        hidden = encoder(input_ids=inputs.to(device), attention_mask=attention_mask.to(device)).last_hidden_state
        logits = head(hidden[targets])  # masked positions only: (n_masked, vocab)
    return nn.functional.cross_entropy(logits.float(), labels[targets], reduction="sum"), int(targets.sum())


@torch.no_grad()
def _held_out_loss(encoder: nn.Module, head: MlmHead, batches: list, *, seed: int, **common) -> float:
    """Mean MLM loss per target token over ``batches``, masked with a fixed ``seed`` (comparable across calls)."""
    common = {**common, "generator": torch.Generator().manual_seed(seed)}
    was_training = encoder.training
    encoder.eval()
    total, count = 0.0, 0
    for input_ids, attention_mask in batches:
        loss, n = _masked_lm_loss(encoder, head, input_ids, attention_mask, **common)
        total, count = total + loss.item(), count + n
    encoder.train(was_training)
    return round(total / max(count, 1), 4)


def _phase(
    encoder: nn.Module,
    head: MlmHead,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    learning_rate: float,
    trainable: list[nn.Parameter],
    rate: float,
    mask_id: int,
    special_ids: torch.Tensor,
    generator: torch.Generator,
    bf16: bool,
    logging_steps: int,
    deadline: float | None,
) -> tuple[list[float], int]:
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.0)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    losses, window, step = [], [], 0
    while step < steps:
        for input_ids, attention_mask in batches:
            loss, n = _masked_lm_loss(encoder, head, input_ids, attention_mask, rate=rate, mask_id=mask_id,
                                      special_ids=special_ids, generator=generator, bf16=bf16)  # fmt: skip
            if n == 0:
                continue
            loss = loss / n
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            window.append(loss.item())
            step += 1
            if step % logging_steps == 0 or step == steps:
                losses.append(round(sum(window) / len(window), 4))
                window = []
            if step >= steps or (deadline is not None and time.monotonic() > deadline):
                return losses + ([round(sum(window) / len(window), 4)] if window else []), step
    return losses, step


def continue_mlm(
    model: SentenceTransformer,
    texts: Sequence[str],
    *,
    new_token_ids: Sequence[int] = (),
    new_rows_steps: int = 0,
    steps: int = 1000,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    new_rows_learning_rate: float = 1e-3,
    mask_rate: float = 0.3,
    max_seq_length: int = 128,
    seed: int = 0,
    bf16: bool = False,
    logging_steps: int = 10,
    max_minutes: float | None = None,
    eval_texts: Sequence[str] = (),
) -> ContinuedMlmRun:
    """Masked-LM training of ``model``'s encoder on ``texts``, in place (see the module docstring).

    Args:
        model: A sentence-transformers model whose first module wraps a transformers encoder (BERT-style input).
        texts: Training text.
        new_token_ids: The rows phase 1 trains (e.g. ``VocabularyExtension.new_token_ids``).
        new_rows_steps: Phase-1 steps (0: skip; needs ``new_token_ids`` otherwise).
        steps: Phase-2 steps (every weight; 0: skip).
        batch_size: Texts per step (batches of similar lengths).
        learning_rate: Phase-2 peak learning rate (warm-up 10%, linear decay).
        new_rows_learning_rate: Phase-1 peak learning rate.
        mask_rate: Share of the tokens that are prediction targets.
        max_seq_length: Truncation length.
        seed: Seed of the batch order, the masking and the head's initialisation.
        bf16: bf16 autocast.
        logging_steps: Loss logging interval.
        max_minutes: Stop each phase's share of this budget early (phase 1 gets its share of the steps).
        eval_texts: Held-out texts: their MLM loss after each phase goes into ``held_out_losses``.

    Returns:
        A :class:`ContinuedMlmRun`.

    Raises:
        ValueError: A mask rate outside (0, 1), no texts, non-positive sizes, or ``new_rows_steps`` without
            ``new_token_ids``.
    """
    if not 0.0 < mask_rate < 1.0:
        raise ValueError(f"`mask_rate` must be in (0, 1), got {mask_rate}.")
    if not texts:
        raise ValueError("`texts` is empty: MLM training needs text.")
    if batch_size < 1 or max_seq_length < 8 or steps < 0 or new_rows_steps < 0:
        raise ValueError("`batch_size` must be >= 1, `max_seq_length` >= 8 and the step counts >= 0.")
    if new_rows_steps and not new_token_ids:
        raise ValueError("`new_rows_steps` > 0 needs `new_token_ids` (the rows to train).")
    start = time.monotonic()
    tokenizer, encoder = model.tokenizer, model[0].auto_model
    device = next(encoder.parameters()).device
    batches = _batches(tokenizer, texts, batch_size, max_seq_length, seed)  # padded once; the masking differs
    held_out = _batches(tokenizer, eval_texts, 64, max_seq_length, 0) if eval_texts else []
    special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    torch.manual_seed(seed)
    embeddings = encoder.get_input_embeddings().weight
    head = MlmHead(embeddings, layer_norm_eps=getattr(encoder.config, "layer_norm_eps", 1e-12)).to(device)
    generator = torch.Generator().manual_seed(seed)
    total = new_rows_steps + steps
    budget = None if max_minutes is None else max_minutes * 60.0
    run = ContinuedMlmRun()
    common = {"rate": mask_rate, "mask_id": tokenizer.mask_token_id, "special_ids": special_ids,
              "generator": generator, "bf16": bf16, "logging_steps": logging_steps}  # fmt: skip
    was_training = encoder.training
    encoder.train()
    requires = {name: p.requires_grad for name, p in encoder.named_parameters()}
    try:
        if new_rows_steps:
            rows = torch.zeros(embeddings.shape[0], 1, device=device)
            rows[list(new_token_ids)] = 1.0
            hook = embeddings.register_hook(lambda grad: grad * rows)
            for parameter in encoder.parameters():
                parameter.requires_grad_(False)
            embeddings.requires_grad_(True)
            head_params = [p for n, p in head.named_parameters() if n != "embeddings"]
            deadline = None if budget is None else start + budget * new_rows_steps / total
            try:
                run.new_rows_losses, run.new_rows_steps = _phase(
                    encoder, head, batches, steps=new_rows_steps, learning_rate=new_rows_learning_rate,
                    trainable=[embeddings, *head_params], deadline=deadline, **common,
                )  # fmt: skip
            finally:
                hook.remove()
                for name, parameter in encoder.named_parameters():
                    parameter.requires_grad_(requires[name])
            if held_out:
                run.held_out_losses["new_rows"] = _held_out_loss(encoder, head, held_out, seed=seed, **common)
        if steps:
            trainable = [p for p in encoder.parameters() if p.requires_grad]
            trainable += [p for n, p in head.named_parameters() if n != "embeddings"]
            run.losses, run.steps = _phase(
                encoder, head, batches, steps=steps, learning_rate=learning_rate, trainable=trainable,
                deadline=None if budget is None else start + budget, **common,
            )  # fmt: skip
            if held_out:
                run.held_out_losses["all"] = _held_out_loss(encoder, head, held_out, seed=seed, **common)
    finally:
        encoder.train(was_training)
        encoder.zero_grad(set_to_none=True)
    run.seconds = round(time.monotonic() - start, 1)
    logger.info("Continued MLM: %d new-row steps (loss %s -> %s), %d steps (loss %s -> %s) in %.0f s",
                run.new_rows_steps, run.new_rows_losses[:1], run.new_rows_losses[-1:], run.steps, run.losses[:1],
                run.losses[-1:], run.seconds)  # fmt: skip
    return run
