"""A loss times a constant weight, for weighting tasks in multi-task training."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn


class WeightedLoss(nn.Module):
    """``weight * loss``: weights one task's loss against the others (Conan-embedding: InfoNCE + 0.8 x CoSENT).

    Args:
        loss: The wrapped loss module (its ``model`` is shared).
        weight: The factor (> 0).

    Example:
        ::

            losses = {"retrieval": InfoNCELoss(model), "sts": WeightedLoss(ConsentLoss(model), 0.8)}
    """

    def __init__(self, loss: nn.Module, weight: float) -> None:
        super().__init__()
        if not weight > 0:
            raise ValueError(f"`weight` must be > 0, got {weight}.")
        self.loss = loss
        self.weight = weight

    @property
    def model(self):
        """The wrapped loss's model (read by the trainer, which then swaps a DDP-wrapped model into the child)."""
        return self.loss.model

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:  # noqa: D102
        return self.weight * self.loss(sentence_features, labels)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        inner = self.loss.get_config_dict() if hasattr(self.loss, "get_config_dict") else {}
        return {"loss": type(self.loss).__name__, "weight": self.weight, **inner}

    @property
    def citation(self) -> str | None:  # noqa: D102
        return getattr(self.loss, "citation", None)
