"""Scoring a row's negatives with the model's current weights, in the precision the trainer trains in."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from st_plus.mining.retrievers import CorpusEmbeddingStore, model_fingerprint

# (queries, negatives per query) -> scores (len(queries), negatives per query)
ScoreFn = Callable[[Sequence[str], Sequence[Sequence[str]]], np.ndarray]


def model_score_fn(model: SentenceTransformer, store: CorpusEmbeddingStore | None = None) -> ScoreFn:
    """Cosine of each query with each of its negatives, with the model's current weights."""
    store = store or CorpusEmbeddingStore(max_states=1)

    def score(queries: Sequence[str], negatives: Sequence[Sequence[str]]) -> np.ndarray:
        flat = [text for row in negatives for text in row]
        fingerprint = model_fingerprint(model)  # hash the weights once per refresh, not once per encode call
        q = store.encode(model, queries, role="query", fingerprint=fingerprint)
        d = store.encode(model, flat, role="document", fingerprint=fingerprint).reshape(len(queries), -1, q.shape[1])
        return np.einsum("bd,bkd->bk", q, d)

    return score


def training_precision(args: Any, model: SentenceTransformer) -> contextlib.AbstractContextManager:
    """Scores in the precision the trainer trains in (bf16 / fp16 autocast when ``args`` asks for it)."""
    if getattr(args, "bf16", False):
        return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16)
    if getattr(args, "fp16", False):
        return torch.autocast(device_type=model.device.type, dtype=torch.float16)
    return contextlib.nullcontext()
