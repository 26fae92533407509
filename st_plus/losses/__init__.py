"""Losses: the Consent (CoSENT ranking) family, InfoNCE variants and MSE + cosine distillation, for ST's trainer."""

from __future__ import annotations

from st_plus.losses._functional import consent_loss, info_nce_loss
from st_plus.losses.cached_consent import CachedConsentLoss
from st_plus.losses.consent import ConsentLoss
from st_plus.losses.info_nce import InfoNCELoss
from st_plus.losses.late_chunk_distillation import LateChunkDistillationLoss, token_blocks
from st_plus.losses.mse_cosine_distill import MSECosineDistillLoss, mse_cosine_distance
from st_plus.losses.span_pooling import SpanPoolingLoss, span_mean_pool
from st_plus.losses.weighted import WeightedLoss

__all__ = [
    "CachedConsentLoss",
    "ConsentLoss",
    "InfoNCELoss",
    "LateChunkDistillationLoss",
    "MSECosineDistillLoss",
    "SpanPoolingLoss",
    "WeightedLoss",
    "consent_loss",
    "info_nce_loss",
    "mse_cosine_distance",
    "span_mean_pool",
    "token_blocks",
]
