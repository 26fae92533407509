"""Dynamic negatives under torch.distributed: every process takes the same decisions from the same data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch.distributed as dist
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import get_rank, get_world_size

from st_plus.mining.candidates import EncodeFn
from st_plus.mining.retrievers import CorpusEmbeddingStore, model_fingerprint


def union_across_processes(rows: set[int]) -> set[int]:
    """The rows that any process trained on (under torch.distributed; else ``rows``).

    All processes then score the same rows with the same (DDP-synchronised) weights and take the same decisions,
    so their negatives stay identical.
    """
    if get_world_size() == 1:
        return set(rows)
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, sorted(rows))
    return {int(row) for part in gathered for row in part}


def sharded_encode_fn(model: SentenceTransformer, store: CorpusEmbeddingStore | None = None) -> EncodeFn:
    """Embeds texts with the current weights, the work shared across processes.

    Under torch.distributed each process encodes every world-size-th text and the parts are gathered, so every
    process gets the same full array for a 1/world-size share of the work.
    """
    store = store or CorpusEmbeddingStore(max_states=1)

    def encode(texts: Sequence[str], role: str) -> np.ndarray:
        fingerprint = model_fingerprint(model)
        if get_world_size() == 1:
            return store.encode(model, texts, role=role, fingerprint=fingerprint)
        world, rank = get_world_size(), get_rank()
        part = store.encode(model, list(texts)[rank::world], role=role, fingerprint=fingerprint)
        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, part)
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        for r, array in enumerate(parts):
            out[r::world] = array
        return out

    return encode
