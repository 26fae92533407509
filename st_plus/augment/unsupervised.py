"""Stage-1 pairs from text alone: SimCSE dropout positives, or an augmented copy of each text as its positive."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset

from st_plus.augment.rows import build_augmenter
from st_plus.data.texts import load_texts

__all__ = ["UNSUPERVISED_METHODS", "unsupervised_pairs"]

logger = logging.getLogger(__name__)

UNSUPERVISED_METHODS = ("simcse", "repeat", "cutoff", "eda")


def unsupervised_pairs(
    path: str | Path, method: str, *, seed: int = 42, keep_columns: Sequence[str] = (), **opts: Any
) -> Dataset:
    """(anchor, positive) pairs from a text-only file (:func:`~st_plus.data.texts.load_texts`).

    * ``simcse``: the positive is the text itself. Under an in-batch-negatives loss the two copies are encoded in
      separate forward passes in training mode, so dropout (0.1 in the bundled model) makes the two embeddings
      differ: SimCSE's unsupervised objective (Gao et al., 2021). A model without dropout learns nothing from it.
    * ``repeat`` / ``cutoff`` / ``eda``: the positive is the text augmented by
      :class:`~st_plus.augment.WordRepetitionAugmenter` (ESimCSE), :class:`~st_plus.augment.CutoffAugmenter` or
      :class:`~st_plus.augment.EdaAugmenter` (without synonyms: swaps and deletions), seeded with ``seed``; dropout
      still applies on top.

    Repeated texts are kept once (a text twice in a batch would be its own in-batch negative).

    Args:
        path: The text-only file.
        method: One of :data:`UNSUPERVISED_METHODS`.
        seed: Seed of the augmentation.
        keep_columns: Extra JSONL columns to keep (e.g. a group column).
        **opts: Options of the augmentation (``dup_rate=...``, ``rate=...``).

    Returns:
        Columns ``anchor``, ``positive`` and the kept columns.

    References:
        Gao et al., "SimCSE: Simple Contrastive Learning of Sentence Embeddings", EMNLP 2021.
        https://arxiv.org/abs/2104.08821
    """
    if method not in UNSUPERVISED_METHODS:
        raise ValueError(f"`method` must be one of {list(UNSUPERVISED_METHODS)}, got {method!r}.")
    rows = load_texts(path, keep_columns=keep_columns)
    texts = rows["text"]
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        seen.setdefault(text, i)
    if len(seen) < len(texts):
        logger.info("%s: %d repeated texts kept once", path, len(texts) - len(seen))
        rows = rows.select(sorted(seen.values()))
        texts = rows["text"]
    if method == "simcse":
        positives = list(texts)
    else:
        augmenter = build_augmenter(method, **opts)
        positives = augmenter.augment(texts, seed=seed)
    rows = rows.rename_column("text", "anchor").add_column("positive", positives)
    return rows.select_columns(["anchor", "positive", *keep_columns])
