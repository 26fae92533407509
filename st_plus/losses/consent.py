"""Consent: the CoSENT ranking loss for scored pairs, graded lists and tuples, with optional in-batch negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, util
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.util import all_gather, all_gather_with_grad, similarity_fct_name
from torch import Tensor, nn

from st_plus.losses._functional import consent_loss

# sentence-transformers' matrix similarities and their row-wise (pairwise) forms, as CoSENTLoss takes them.
_PAIRWISE = {
    util.cos_sim: util.pairwise_cos_sim,
    util.dot_score: util.pairwise_dot_score,
    util.euclidean_sim: util.pairwise_euclidean_sim,
    util.manhattan_sim: util.pairwise_manhattan_sim,
}
_MATRIX = {pairwise: matrix for matrix, pairwise in _PAIRWISE.items()}


class ConsentLoss(nn.Module):
    r"""Consent: the CoSENT ranking loss for data with graded or ranking labels.

    Every candidate document is scored against its query, ``s_{b,k} = scale * sim(q_b, d_{b,k})``, and
    the loss asks the scores to follow the labels ``r_{b,k}``:

    ``L = log(1 + sum exp(s_{b',j} - s_{b,i}))`` over comparable pairs with ``r_{b,i} > r_{b',j}``,

    where comparable means ``b = b'`` (the same query's list) unless ``cross_group`` is on (any two
    candidates of the batch). For scored pairs with ``cross_group`` this is exactly sentence-transformers'
    :class:`~sentence_transformers.sentence_transformer.losses.CoSENTLoss`. The sum is computed as one
    log-sum-exp (stable at large ``scale`` and in bf16/fp16 autocast, scores upcast to float32).

    With ``in_batch_negatives=True``, every document of the other groups of the (gathered) batch joins
    group ``b``'s list below all of ``b``'s candidates and is compared with ``b``'s highest-labelled
    candidates; for plain (anchor, positive) pairs this is uniem's ``PairInBatchNegCoSentLoss``.

    Args:
        model: The SentenceTransformer model.
        scale: Inverse temperature applied to the similarities (CoSENT: 20).
        similarity_fct: A matrix similarity ``(n, d), (m, d) -> (n, m)`` such as ``util.cos_sim``, or one of
            sentence-transformers' pairwise similarities ``(n, d), (n, d) -> (n,)`` (``util.pairwise_cos_sim``,
            ``pairwise_dot_score``, ``pairwise_euclidean_sim``, ``pairwise_manhattan_sim``; what ``CoSENTLoss``
            takes), which stands for its matrix form. Another function must return the ``(n, m)`` matrix.
        in_batch_negatives: Add every other group's documents as negatives of each group.
        cross_group: Compare candidates across groups. Default: ``True`` for scored pairs, ``False`` for
            graded lists and (anchor, positive, negative...) tuples.
        gather_across_devices: Gather embeddings and labels from all processes first (with gradients),
            so the comparisons and in-batch negatives span the global batch. Every process computes the
            loss of the global batch, so training equals one process on the concatenated batch. All
            processes must have the same batch size (use ``dataloader_drop_last=True``).

    References:
        - CoSENT: https://penghao-bdsc.github.io/papers/CoSENT_TASLP2024.pdf
        - uniem (M3E) PairInBatchNegCoSentLoss: https://github.com/wangyuxinwhy/uniem
        - Conan-embedding (CoSENT in multi-task training): https://arxiv.org/abs/2408.15710

    Requirements:
        - Labels on any scale where higher means more relevant (ties are never compared).

    Inputs:
        +------------------------------------------------+---------------------------------+----------------+
        | Texts                                          | Labels                          | cross_group    |
        +================================================+=================================+================+
        | (text_a, text_b) scored pairs                  | float per row (or a 1-list)     | True (CoSENT)  |
        +------------------------------------------------+---------------------------------+----------------+
        | (query, doc_1, ..., doc_K) graded lists        | list of K floats per row        | False          |
        +------------------------------------------------+---------------------------------+----------------+
        | (anchor, positive, negative_1, ..., negative_n)| none (graded list [1, 0, ...])  | False          |
        +------------------------------------------------+---------------------------------+----------------+

    Relations:
        - :class:`CachedConsentLoss` computes the same loss with GradCache, for large batches.
        - With ``in_batch_negatives=True`` on (anchor, positive) pairs it is an alternative to
          :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss`.
        - Works inside :class:`~sentence_transformers.sentence_transformer.losses.MatryoshkaLoss`.

    Example:
        ::

            from datasets import Dataset
            from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
            from st_plus.losses import ConsentLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train_dataset = Dataset.from_dict({
                "query": ["how do I reset my password?", "my card was declined"],
                "doc_1": ["Reset your password from the login page.", "Why a card payment is declined."],
                "doc_2": ["Passwords must have 8 characters.", "How to order a new card."],
                "doc_3": ["Our office opens at 9.", "Weather forecast for today."],
                "label": [[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]],
            })
            loss = ConsentLoss(model)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train_dataset, loss=loss)
            trainer.train()
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
    ) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"`scale` must be > 0, got {scale}.")
        if not callable(similarity_fct):
            raise ValueError(f"`similarity_fct` must be callable, got {similarity_fct!r}.")
        self.model = model
        self.scale = scale
        self.similarity_fct = _MATRIX.get(similarity_fct, similarity_fct)
        self.in_batch_negatives = in_batch_negatives
        self.cross_group = cross_group
        self.gather_across_devices = gather_across_devices

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:  # noqa: D102
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss from the per-column embeddings ``[queries, doc_1, ..., doc_K]`` and the labels."""
        if len(embeddings) < 2:
            raise ValueError(
                f"{type(self).__name__} needs a query column and at least one document column, "
                f"got {len(embeddings)} column(s)."
            )
        queries, documents = embeddings[0], torch.stack(embeddings[1:], dim=1)  # (batch, k, dim)
        grades, scored_pairs = self._grades(labels, queries.size(0), documents.size(1), queries.device)
        cross_group = scored_pairs if self.cross_group is None else self.cross_group
        if grades.size(1) == 1 and not cross_group and not self.in_batch_negatives:
            raise ValueError(
                f"{type(self).__name__} has nothing to compare: one document per row, cross_group=False and no "
                "in-batch negatives, so the loss would be 0. Give scored pairs a float label, add negatives, or "
                "set in_batch_negatives=True (plain pairs) or cross_group=True."
            )
        if self.gather_across_devices:
            queries, documents = all_gather_with_grad(queries), all_gather_with_grad(documents)
            grades = all_gather(grades)
        batch, k = grades.shape
        if self.in_batch_negatives:
            flat = documents.reshape(batch * k, -1)
            all_scores = self._scaled(self.similarity_fct(queries, flat))  # (batch, batch * k)
            rows = torch.arange(batch, device=queries.device)
            scores = all_scores.view(batch, batch, k)[rows, rows]  # (batch, k): own candidates
            other_groups = ~torch.eye(batch, dtype=torch.bool, device=queries.device).repeat_interleave(k, dim=1)
            return consent_loss(
                scores, grades, cross_group=cross_group, negative_scores=all_scores, negative_mask=other_groups
            )
        return consent_loss(self._own_scores(queries, documents), grades, cross_group=cross_group)

    def _own_scores(self, queries: Tensor, documents: Tensor) -> Tensor:
        """``scale * sim(q_b, d_{b,k})`` as a ``(batch, k)`` matrix."""
        batch, k, dim = documents.shape
        pairwise = _PAIRWISE.get(self.similarity_fct)
        if pairwise is not None:
            scores = pairwise(queries.repeat_interleave(k, dim=0), documents.reshape(batch * k, dim))
            return self._scaled(scores.view(batch, k))
        rows = torch.arange(batch, device=queries.device)
        needs = (
            f"`similarity_fct` must return a (queries, documents) matrix, here ({batch}, {batch * k}); give a matrix "
            "similarity such as util.cos_sim, or one of sentence-transformers' pairwise functions "
            "(util.pairwise_cos_sim, ...)"
        )
        try:
            full = self.similarity_fct(queries, documents.reshape(batch * k, dim))
        except RuntimeError as exc:  # e.g. a row-wise function given rows of different counts
            if isinstance(exc, torch.OutOfMemoryError):
                raise
            raise ValueError(f"{needs}; it failed with: {exc}") from exc
        if full.shape != (batch, batch * k):
            raise ValueError(f"{needs}; it returned shape {tuple(full.shape)}.")
        return self._scaled(full.view(batch, batch, k)[rows, rows])

    def _scaled(self, similarities: Tensor) -> Tensor:
        if similarities.dtype in (torch.float16, torch.bfloat16):
            similarities = similarities.float()  # scale after upcasting, as CoSENTLoss
        return similarities * self.scale

    def _grades(self, labels: Tensor | None, batch: int, k: int, device: torch.device) -> tuple[Tensor, bool]:
        """Labels as a ``(batch, k)`` grid, and whether the input is scored pairs."""
        if labels is None:
            grades = torch.zeros(batch, k, device=device)
            grades[:, 0] = 1.0
            return grades, False
        labels = labels.to(device)
        if labels.dtype == torch.bool:
            labels = labels.float()
        if labels.numel() == batch and (labels.ndim <= 1 or (labels.ndim == 2 and labels.shape[1] == 1)):
            if k != 1:
                raise ValueError(
                    f"{type(self).__name__} got one label per row but {k} document columns: scored pairs take "
                    f"exactly 2 text columns; for graded lists give a list of {k} labels per row."
                )
            return labels.reshape(batch, 1).float(), True
        if labels.shape == (batch, k):
            return labels.float(), False
        raise ValueError(
            f"{type(self).__name__} expects no label, one label per row (scored pairs) or a list of {k} labels "
            f"per row (graded lists), got labels of shape {tuple(labels.shape)} for a batch of {batch} rows "
            f"with {k} document column(s)."
        )

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            "scale": self.scale,
            "similarity_fct": similarity_fct_name(self.similarity_fct),
            "in_batch_negatives": self.in_batch_negatives,
            "cross_group": self.cross_group,
            "gather_across_devices": self.gather_across_devices,
        }

    @property
    def citation(self) -> str:  # noqa: D102
        return """
@article{10531646,
    author={Huang, Xiang and Peng, Hao and Zou, Dongcheng and Liu, Zhiwei and Li, Jianxin and Liu, Kay
            and Wu, Jia and Su, Jianlin and Yu, Philip S.},
    journal={IEEE/ACM Transactions on Audio, Speech, and Language Processing},
    title={CoSENT: Consistent Sentence Embedding via Similarity Ranking},
    year={2024},
    doi={10.1109/TASLP.2024.3402087}
}
"""
