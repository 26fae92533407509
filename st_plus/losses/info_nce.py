"""InfoNCE variants of MultipleNegativesRankingLoss: decoupled (DCL), explicit-negatives-only, label-masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, util
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.util import all_gather, all_gather_with_grad, get_rank
from torch import Tensor

from st_plus.losses._functional import info_nce_loss


class InfoNCELoss(MultipleNegativesRankingLoss):
    r"""sentence-transformers' MNRL with three InfoNCE options: decoupled, explicit negatives only, label-masked.

    For query ``q_b`` with positive ``p_b`` and candidate set ``C_b``:
    ``L = mean_b [ -s(q_b, p_b) + log sum_{c in C_b} exp(s(q_b, c)) ]`` with ``s = scale * sim``.

    - ``decoupled=True`` removes the positive from ``C_b`` (Decoupled Contrastive Learning, Yeh et al. 2022):
      the loss no longer saturates once the positive dominates the softmax.
    - ``in_batch_negatives=False`` keeps only the row's own explicit negatives in ``C_b`` (and its positive
      unless decoupled). Use it for data built from labels (classification, clustering triplets), where other
      rows' documents are often of the same class and would be false negatives (sentence-transformers #3072).
    - ``mask_same_label=True`` keeps the in-batch candidates but drops every other row's document whose label is
      the query's: no false negatives from labels, and many more true negatives than the row's own. The batch's
      ``label`` column holds, per row, the label of its anchor (and positive) then one per negative column
      (``(batch, 1 + n)`` integers, as :func:`~st_plus.training.triplets_from_labels` writes with
      ``keep_labels=True``). A row's own negatives are always kept, whatever their label. There is no cached
      (gradient-caching) form of this option.

    With all three left at their defaults the loss is exactly
    :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss` (all its options
    apply). The three options take the default ``directions=("query_to_doc",)`` and no hardness weighting.

    Args:
        model: The SentenceTransformer model.
        scale: Inverse temperature (MNRL: 20; BGE: 50).
        similarity_fct: Matrix similarity, default ``util.cos_sim``.
        decoupled: Leave the positive out of the denominator.
        in_batch_negatives: Use the other rows' documents as negatives.
        mask_same_label: Leave out in-batch candidates whose label is the query's (needs in-batch negatives and
            the per-column labels).
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
        | (anchor, positive, negative_1, ..., negative_n)| labels |
        | with ``mask_same_label=True``                  | (1+n)  |
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
        mask_same_label: bool = False,
        gather_across_devices: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model, scale=scale, similarity_fct=similarity_fct, gather_across_devices=gather_across_devices, **kwargs
        )
        if mask_same_label and not in_batch_negatives:
            raise ValueError("`mask_same_label=True` masks in-batch candidates: it needs `in_batch_negatives=True`.")
        if (decoupled or not in_batch_negatives or mask_same_label) and (
            self.directions != ("query_to_doc",) or self.hardness_mode is not None
        ):
            raise ValueError(
                "`decoupled=True`, `in_batch_negatives=False` and `mask_same_label=True` take "
                "directions=('query_to_doc',) and no "
                f"hardness_mode, got directions={self.directions}, hardness_mode={self.hardness_mode!r}."
            )
        self.decoupled = decoupled
        self.in_batch_negatives = in_batch_negatives
        self.mask_same_label = mask_same_label

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss from ``[anchors, positives, negatives_1, ...]`` embeddings."""
        if not self.decoupled and self.in_batch_negatives and not self.mask_same_label:
            return super().compute_loss_from_embeddings(embeddings, labels)
        if len(embeddings) < 2 or (not self.in_batch_negatives and len(embeddings) < 3):
            raise ValueError(
                f"{type(self).__name__}(in_batch_negatives={self.in_batch_negatives}) needs (anchor, positive"
                f"{'' if self.in_batch_negatives else ', negative_1, ...'}) columns, got {len(embeddings)}."
            )
        queries, documents = embeddings[0], embeddings[1:]
        batch = queries.size(0)
        if self.mask_same_label:
            labels = self._column_labels(labels, batch, len(documents), queries.device)
        offset = 0
        if self.gather_across_devices:
            queries = all_gather_with_grad(queries)
            documents = [all_gather_with_grad(column) for column in documents]
            if self.mask_same_label:
                labels = all_gather(labels)
            offset = get_rank() * batch
        world_batch = queries.size(0)
        local = torch.arange(offset, offset + batch, device=queries.device)
        # (batch, columns * world_batch): candidate c of row r sits at c * world_batch + r
        scores = self.similarity_fct(queries[local], torch.cat(documents)) * self.scale
        mask = None
        if not self.in_batch_negatives or self.mask_same_label:
            mask = torch.eye(world_batch, dtype=torch.bool, device=queries.device)[local].repeat(1, len(documents))
        if self.mask_same_label:
            # column c of the labels is the label of document column c (positives: the anchors'), in the order of
            # the candidates; a candidate is kept when it is the row's own or of another label than the query's
            mask |= labels.t().reshape(1, -1) != labels[local, 0].unsqueeze(1)
        return info_nce_loss(scores, local, candidate_mask=mask, decoupled=self.decoupled)

    @staticmethod
    def _column_labels(labels: Tensor | None, batch: int, documents: int, device: torch.device) -> Tensor:
        if labels is not None and labels.dim() == 1 and documents == 1:  # (anchor, positive) pairs: one label a row
            labels = labels.unsqueeze(1)
        if labels is not None and labels.is_floating_point():
            raise ValueError(f"`mask_same_label=True` compares labels: they must be integers, got {labels.dtype}.")
        if labels is None or labels.dim() != 2 or tuple(labels.shape) != (batch, documents):
            shape = None if labels is None else tuple(labels.shape)
            raise ValueError(
                f"`mask_same_label=True` needs a `label` column of {documents} integers per row (the anchor's label "
                f"then one per negative column), got labels of shape {shape} for a batch of {batch}."
            )
        return labels.to(device=device, dtype=torch.long)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            **super().get_config_dict(),
            "decoupled": self.decoupled,
            "in_batch_negatives": self.in_batch_negatives,
            "mask_same_label": self.mask_same_label,
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
