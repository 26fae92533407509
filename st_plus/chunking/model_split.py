"""Splits a stock sentence-transformers model at its mean Pooling: token modules before, sentence modules after.

Shared by late chunking (:class:`~st_plus.chunking.LateChunkingEncoder`) and span-pooling training
(:class:`~st_plus.losses.SpanPoolingLoss`).
"""

from __future__ import annotations

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from torch import nn


def split_at_pooling(model: SentenceTransformer) -> tuple[list[nn.Module], list[nn.Module]]:
    """The modules that produce token embeddings (up to the Pooling) and those applied after it.

    Raises:
        ValueError: The first module is not a text ``Transformer``, there is no ``Pooling``, or it is not a mean.
    """
    modules = list(model)
    if not modules or not isinstance(modules[0], Transformer) or modules[0].tokenizer is None:
        raise ValueError("Span pooling needs a model whose first module is a text `Transformer`.")
    pooling_at = next((i for i, module in enumerate(modules) if isinstance(module, Pooling)), None)
    if pooling_at is None:
        raise ValueError("Span pooling needs a `Pooling` module.")
    pooling_mode = modules[pooling_at].pooling_mode
    if pooling_mode not in ("mean", ("mean",)):
        raise ValueError(
            f"Late chunking pools chunk spans with a mean; the model's Pooling mode is {pooling_mode!r}. "
            "Use a mean-pooling model or naive chunking."
        )
    return modules[:pooling_at], modules[pooling_at + 1 :]


def run_modules(modules: list[nn.Module], features: dict) -> dict:
    """Applies ``modules`` in order to a features dict."""
    for module in modules:
        features = module(features)
    return features
