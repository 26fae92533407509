"""Loss configurations and batches shared by the 2-process check and its single-process reference."""

from __future__ import annotations

import torch
from tests_helpers import CORPUS

from st_plus.losses import CachedConsentLoss, ConsentLoss, InfoNCELoss

CASES = {
    "consent_scored_pairs": lambda model, **kw: ConsentLoss(model, **kw),
    "consent_graded_in_batch": lambda model, **kw: ConsentLoss(model, in_batch_negatives=True, **kw),
    "consent_tuples_cross_group": lambda model, **kw: ConsentLoss(model, cross_group=True, **kw),
    "cached_consent_in_batch": lambda model, **kw: CachedConsentLoss(
        model, in_batch_negatives=True, mini_batch_size=3, **kw
    ),
    "info_nce_decoupled": lambda model, **kw: InfoNCELoss(model, decoupled=True, **kw),
    "info_nce_explicit_only": lambda model, **kw: InfoNCELoss(model, in_batch_negatives=False, **kw),
    "info_nce_label_masked": lambda model, **kw: InfoNCELoss(model, mask_same_label=True, **kw),
}


def batch_for(name: str) -> tuple[list[list[str]], torch.Tensor | None]:
    """Eight rows (four per process), with the columns and labels the case takes."""
    texts = CORPUS[:8]
    shifted = CORPUS[2:] + CORPUS[:2]
    other = CORPUS[5:] + CORPUS[:5]
    if name == "consent_scored_pairs":
        return [texts, shifted[:8]], torch.tensor([0.1, 0.9, 0.4, 0.4, 1.0, 0.0, 0.7, 0.2])
    if name in ("consent_graded_in_batch", "cached_consent_in_batch"):
        labels = torch.tensor([[2.0, 1.0], [1.0, 0.0], [0.0, 3.0], [1.0, 1.0]] * 2)
        return [texts, shifted[:8], other[:8]], labels
    if name == "info_nce_label_masked":  # the anchor's label, then the negative's; each rank its own pattern, label
        # 0 on both: a wrong rank offset or labels not gathered would give other gradients
        labels = [[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [0, 1], [2, 1], [0, 2]]
        return [texts, shifted[:8], other[:8]], torch.tensor(labels)
    return [texts, shifted[:8], other[:8]], None
