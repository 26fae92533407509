"""ConsentLoss with GradCache: the same loss and gradients, with the memory of one mini-batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, util
from sentence_transformers.base.losses.gradcache import (
    CachedLossMixin,
    _validate_mini_batch_num_tokens,
    has_static_embedding_input,
)
from torch import Tensor

from st_plus.losses.consent import ConsentLoss


class CachedConsentLoss(CachedLossMixin, ConsentLoss):
    """:class:`ConsentLoss` computed with gradient caching (GradCache, Gao et al. 2021).

    The batch is embedded in mini-batches without gradients, the loss of the whole batch is computed and
    back-propagated to the embeddings, then each mini-batch is embedded again with gradients and the
    cached embedding gradients are pushed through it (sentence-transformers' ``CachedLossMixin``). Loss
    and gradients equal :class:`ConsentLoss` on the full batch; the activation memory is that of one
    mini-batch, so batches of thousands fit on a CPU, at the cost of a second forward pass.

    Args:
        model: The SentenceTransformer model (not a ``StaticEmbedding`` one: its inputs cannot be split).
        scale: See :class:`ConsentLoss`.
        similarity_fct: See :class:`ConsentLoss`.
        in_batch_negatives: See :class:`ConsentLoss`.
        cross_group: See :class:`ConsentLoss`.
        gather_across_devices: See :class:`ConsentLoss`.
        mini_batch_size: Texts embedded per forward pass; bounds the memory, not the result.
        mini_batch_num_tokens: Instead of a fixed count, pack mini-batches up to this many tokens.
        show_progress_bar: Progress bar over the mini-batches.

    References:
        - GradCache: https://arxiv.org/abs/2101.06983

    Inputs:
        As :class:`ConsentLoss`.

    Relations:
        - Same loss as :class:`ConsentLoss`, as ``CachedMultipleNegativesRankingLoss`` is to
          ``MultipleNegativesRankingLoss``. Works inside ``MatryoshkaLoss``.

    Example:
        ::

            from st_plus.losses import CachedConsentLoss

            loss = CachedConsentLoss(model, in_batch_negatives=True, mini_batch_size=64)
            # with per_device_train_batch_size=1024 in SentenceTransformerTrainingArguments
    """

    def __init__(
        self,
        model: SentenceTransformer,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = util.cos_sim,
        *,
        in_batch_negatives: bool = False,
        cross_group: bool | None = None,
        gather_across_devices: bool = False,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        super().__init__(
            model,
            scale,
            similarity_fct,
            in_batch_negatives=in_batch_negatives,
            cross_group=cross_group,
            gather_across_devices=gather_across_devices,
        )
        if has_static_embedding_input(model):
            raise ValueError(
                "CachedConsentLoss cannot split the inputs of a StaticEmbedding model into mini-batches; "
                "use ConsentLoss instead."
            )
        if mini_batch_size < 1:
            raise ValueError(f"`mini_batch_size` must be >= 1, got {mini_batch_size}.")
        _validate_mini_batch_num_tokens(mini_batch_num_tokens)
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:  # noqa: D102
        return self.forward_cached(list(sentence_features), labels)

    def calculate_loss(
        self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False
    ) -> Tensor:
        """The loss of the whole batch from the per-mini-batch embeddings (see ``CachedLossMixin``)."""
        embeddings = [torch.cat(column) for column in reps]
        loss = self.compute_loss_from_embeddings(embeddings, labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            **super().get_config_dict(),
            "mini_batch_size": self.mini_batch_size,
            "mini_batch_num_tokens": self.mini_batch_num_tokens,
        }

    @property
    def citation(self) -> str:  # noqa: D102
        return (
            super().citation
            + """
@misc{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    year={2021},
    eprint={2101.06983},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""
        )
