"""Attention-probability dropout of a transformers encoder, set for the length of a training run.

BERT-family models drop 10% of the attention probabilities while training. On CPU that dropout costs much of a
training step: PyTorch's scaled-dot-product attention draws a Bernoulli mask of ``batch x heads x length x length``
per layer, on its unfused ("math") kernel. Nomic Embed trains with no dropout at all, and st_plus's NomicBERT-style
encoder has none. The hidden-state dropout is left alone.

Without the dropout PyTorch switches to its fused flash kernel on CPU. Forward and backward passes of
all-MiniLM-L6-v2 in bfloat16 autocast on shipped Debian descriptions, one core of an AVX512-BF16 CPU
(``benchmarks/bench_attention_dropout.py``; ``benchmarks/results/attention_dropout_{64,160,256,512}.json``), ran,
against BERT's dropout: at 128 tokens 1.08-1.15x as fast on the flash kernel and 1.32-1.33x on the unfused one; at
256 and 512 tokens 1.85x and 2.80x on the flash kernel and 1.45x and 1.64x on the unfused one. So on a machine
without CUDA, for a model read at up to ``UNFUSED_MAX_TOKENS`` tokens, the block keeps attention on the unfused
kernel; at longer inputs it lets PyTorch pick.

Usage (plain sentence-transformers as well)::

    from st_plus.models import attention_dropout

    with attention_dropout(model, 0.0):
        trainer.train()

The model's configuration is not changed, so a saved model is the same as one trained with the default, apart from
its weights. The kernel choice holds for everything inside the block, including encodings that callbacks run
during training (e.g. dynamic-negative refreshes).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

logger = logging.getLogger(__name__)

#: The longest ``max_seq_length`` at which the unfused kernel was measured faster than the flash kernel on CPU.
UNFUSED_MAX_TOKENS = 128


def attention_dropout_sites(model: nn.Module) -> list[tuple[object, str]]:
    """Where ``model`` keeps its attention-probability dropout: ``(object, attribute)`` pairs.

    Two forms cover transformers' encoders: a float ``attention_dropout`` attribute on the attention module (NomicBERT,
    ModernBERT and most newer models) and an ``nn.Dropout`` named ``dropout`` on a ``*SelfAttention`` module (BERT,
    RoBERTa, XLM-R, MiniLM), whose ``p`` the attention reads. Other forms are not found (the block then warns).
    """
    sites: list[tuple[object, str]] = []
    for module in model.modules():
        if isinstance(getattr(module, "attention_dropout", None), float):
            sites.append((module, "attention_dropout"))
        elif type(module).__name__.endswith("SelfAttention"):
            if isinstance(getattr(module, "dropout", None), nn.Dropout):
                sites.append((module.dropout, "p"))
    return sites


@contextlib.contextmanager
def attention_dropout(model: nn.Module, p: float | None, *, keep_cpu_kernel: bool = True) -> Iterator[int]:
    """Sets every attention-probability dropout of ``model`` to ``p`` inside the block, then restores it.

    Args:
        model: A ``SentenceTransformer`` or any module holding a transformers encoder.
        p: The dropout probability in [0, 1); ``None`` changes nothing.
        keep_cpu_kernel: When ``p`` is 0, the model had dropout, runs on a machine without CUDA and reads at most
            ``UNFUSED_MAX_TOKENS`` tokens (its ``max_seq_length``), run attention on PyTorch's unfused ("math")
            scaled-dot-product kernel inside the block (``torch.nn.attention.sdpa_kernel``), the one it runs with
            dropout; ``False``, or longer inputs, let PyTorch pick (on CPU: its fused flash kernel).

    Yields:
        The number of dropout sites set (0 with ``p=None``, or when the model has no such dropout: logged as a warning,
        since the setting then has no effect).

    Raises:
        ValueError: ``p`` outside [0, 1).
    """
    if p is None:
        yield 0
        return
    if not 0 <= p < 1:
        raise ValueError(f"attention dropout must be in [0, 1), got {p}")
    sites = attention_dropout_sites(model)
    if not sites:
        logger.warning("attention_dropout=%s has no effect: no attention dropout found in %s", p, type(model).__name__)
    before = [getattr(obj, name) for obj, name in sites]
    short = (getattr(model, "max_seq_length", None) or UNFUSED_MAX_TOKENS + 1) <= UNFUSED_MAX_TOKENS
    keep = keep_cpu_kernel and p == 0 and any(before) and short and not torch.cuda.is_available() and _on_cpu(model)
    for obj, name in sites:
        setattr(obj, name, float(p))
    try:
        with sdpa_kernel(SDPBackend.MATH) if keep else contextlib.nullcontext():
            yield len(sites)
    finally:
        for (obj, name), value in zip(sites, before, strict=True):
            setattr(obj, name, value)


def _on_cpu(model: nn.Module) -> bool:
    parameter = next(model.parameters(), None)
    return parameter is None or parameter.device.type == "cpu"
