"""InfoNCE variants of MultipleNegativesRankingLoss: decoupled (DCL) and explicit-negatives-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, util
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.util import all_gather_with_grad, get_rank
from torch import Tensor

from st_plus.losses._functional import info_nce_loss


class InfoNCELoss(MultipleNegativesRankingLoss):
    r"""sentence-transformers' MNRL with two InfoNCE options: a decoupled denominator and explicit negatives only.

    For query ``q_b`` with positive ``p_b`` and candidate set ``C_b``:
    ``L = mean_b [ -s(q_b, p_b) + log sum_{c in C_b} exp(s(q_b, c)) ]`` with ``s = scale * sim``.

    - ``decoupled=True`` removes the positive from ``C_b`` (Decoupled Contrastive Learning, Yeh et al. 2022):
      the loss no longer saturates once the positive dominates the softmax.
    - ``in_batch_negatives=False`` keeps only the row's own explicit negatives in ``C_b`` (and its positive
      unless decoupled). Use it for data built from labels (classification, clustering triplets), where other
      rows' documents are often of the same class and would be false negatives (sentence-transformers #3072).

    With both left at their defaults the loss is exactly
    :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss` (all its options
    apply). The two options take the default ``directions=("query_to_doc",)`` and no hardness weighting.

    Args:
        model: The SentenceTransformer model.
        scale: Inverse temperature (MNRL: 20; BGE: 50).
        similarity_fct: Matrix similarity, default ``util.cos_sim``.
        decoupled: Leave the positive out of the denominator.
        in_batch_negatives: Use the other rows' documents as negatives.
        gather_across_devices: Gather candidates from all processes (as MNRL).
        **kwargs: Further :class:`MultipleNegativesRankingLoss` options (``directions``, ``partition_mode``,
            ``hardness_mode``, ``hardness_strength``), for the default (coupled, in-batch) form only.

    References:
        - InfoNCE: https://arxiv.org/abs/1807.03748
        - Decoupled Contrastive Learning: https://arxiv.org/abs/2110.06848

    Inputs:
        +------------------------------------------------+--------+
        | Texts                                          | Labels |
        +================================================+========+
        | (anchor, positive) pairs                       | none   |
        +------------------------------------------------+--------+
        | (anchor, positive, negative_1, ..., negative_n)| none   |
        +------------------------------------------------+--------+

    Relations:
        - Subclass of ``MultipleNegativesRankingLoss``; :class:`ConsentLoss` with ``in_batch_negatives=True``
          is the CoSENT-style alternative.

    Example:
        ::

            from st_plus.losses import InfoNCELoss

            # Banking77 triplets (anchor, same-intent text, other-intent text): explicit negatives only
            loss = InfoNCELoss(model, in_batch_negatives=False)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = util.cos_sim,
        *,
        decoupled: bool = False,
        in_batch_negatives: bool = True,
        gather_across_devices: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model, scale=scale, similarity_fct=similarity_fct, gather_across_devices=gather_across_devices, **kwargs
        )
        if (decoupled or not in_batch_negatives) and (
            self.directions != ("query_to_doc",) or self.hardness_mode is not None
        ):
            raise ValueError(
                "`decoupled=True` and `in_batch_negatives=False` take directions=('query_to_doc',) and no "
                f"hardness_mode, got directions={self.directions}, hardness_mode={self.hardness_mode!r}."
            )
        self.decoupled = decoupled
        self.in_batch_negatives = in_batch_negatives

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss from ``[anchors, positives, negatives_1, ...]`` embeddings."""
        if not self.decoupled and self.in_batch_negatives:
            return super().compute_loss_from_embeddings(embeddings, labels)
        if len(embeddings) < 2 or (not self.in_batch_negatives and len(embeddings) < 3):
            raise ValueError(
                f"{type(self).__name__}(in_batch_negatives={self.in_batch_negatives}) needs (anchor, positive"
                f"{'' if self.in_batch_negatives else ', negative_1, ...'}) columns, got {len(embeddings)}."
            )
        queries, documents = embeddings[0], embeddings[1:]
        batch = queries.size(0)
        offset = 0
        if self.gather_across_devices:
            queries = all_gather_with_grad(queries)
            documents = [all_gather_with_grad(column) for column in documents]
            offset = get_rank() * batch
        world_batch = queries.size(0)
        local = torch.arange(offset, offset + batch, device=queries.device)
        # (batch, columns * world_batch): candidate c of row r sits at c * world_batch + r
        scores = self.similarity_fct(queries[local], torch.cat(documents)) * self.scale
        mask = None
        if not self.in_batch_negatives:
            own = torch.eye(world_batch, dtype=torch.bool, device=queries.device)[local]
            mask = own.repeat(1, len(documents))
        return info_nce_loss(scores, local, candidate_mask=mask, decoupled=self.decoupled)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            **super().get_config_dict(),
            "decoupled": self.decoupled,
            "in_batch_negatives": self.in_batch_negatives,
        }

    @property
    def citation(self) -> str:  # noqa: D102
        if not self.decoupled:
            return super().citation
        return """
@inproceedings{yeh2022decoupled,
    title={Decoupled Contrastive Learning},
    author={Yeh, Chun-Hsiao and Hong, Cheng-Yao and Hsu, Yen-Chi and Liu, Tyng-Luh and Chen, Yubei and LeCun, Yann},
    booktitle={European Conference on Computer Vision (ECCV)},
    year={2022}
}
"""
