"""MSE + cosine embedding distillation: sentence-transformers' ``EmbedDistillLoss`` with both distances at once."""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss
from torch import Tensor, nn


def mse_cosine_distance(student: Tensor, teacher: Tensor, *, mse_weight: float, cosine_weight: float) -> Tensor:
    """``mse_weight * mean((s - t)^2) + cosine_weight * mean(1 - cos(s, t))`` over a batch of embeddings."""
    teacher = teacher.to(device=student.device, dtype=student.dtype)
    loss = student.new_zeros(())
    if mse_weight:
        loss = loss + mse_weight * nn.functional.mse_loss(student, teacher)
    if cosine_weight:
        loss = loss + cosine_weight * (1 - nn.functional.cosine_similarity(student, teacher, dim=-1)).mean()
    return loss


class MSECosineDistillLoss(EmbedDistillLoss):
    r"""Trains a student to reproduce pre-computed teacher embeddings with MSE plus a cosine term.

    .. math::

        L = w_{mse} \frac{1}{d} \lVert s - t \rVert^2 + w_{cos} (1 - \cos(s, t))

    averaged over the batch and over the input columns. The MSE term (Reimers & Gurevych, 2020) pins the vectors
    themselves; the cosine term (Jasper/Stella, 2024) weighs every text the same whatever the embedding norms, and on
    unit-length embeddings it carries most of the gradient (MSE on unit vectors is ``2 (1 - cos) / d``).
    A subclass of sentence-transformers' ``EmbedDistillLoss`` that changes only the distance, so 2-D labels broadcast
    over several columns (cross-lingual distillation: source and translation both target the teacher's embedding of
    the source) and ``MatryoshkaLoss`` truncates labels with the embeddings.

    Args:
        model: The student.
        mse_weight: Weight of the MSE term (>= 0).
        cosine_weight: Weight of the ``1 - cosine`` term (>= 0; not both 0).

    References:
        - Reimers & Gurevych, Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation,
          EMNLP 2020: https://arxiv.org/abs/2004.09813
        - Zhang et al., Jasper and Stella: distillation of SOTA embedding models, 2024: https://arxiv.org/abs/2412.19048

    Requirements:
        1. Teacher embeddings in a ``label`` column, of the student's embedding size.

    Inputs:
        +-----------------------------------------+-----------------------------------------------------+
        | Texts                                   | Labels                                              |
        +=========================================+=====================================================+
        | text                                    | teacher embeddings ``(batch, dim)``                 |
        +-----------------------------------------+-----------------------------------------------------+
        | source, translation                     | teacher embeddings of the source ``(batch, dim)``   |
        +-----------------------------------------+-----------------------------------------------------+

    Relations:
        - ``MSELoss`` is this loss with ``cosine_weight=0`` (up to the per-column averaging, which is the same).
        - ``EmbedDistillLoss(distance_metric="cosine")`` is this loss with ``mse_weight=0``.

    Example:
        ::

            from datasets import Dataset
            from sentence_transformers import SentenceTransformerTrainer
            from st_plus.losses import MSECosineDistillLoss
            from st_plus.models import load_model, prune_layers

            teacher = load_model("default")
            student = prune_layers(teacher, keep=[0, 2, 4])
            texts = ["A man is playing a flute.", "The cat sat on the mat."]
            dataset = Dataset.from_dict({"text": texts, "label": teacher.encode(texts).tolist()})
            trainer = SentenceTransformerTrainer(model=student, train_dataset=dataset,
                                                 loss=MSECosineDistillLoss(student))
            trainer.train()
    """

    def __init__(self, model: SentenceTransformer, *, mse_weight: float = 1.0, cosine_weight: float = 1.0) -> None:
        if mse_weight < 0 or cosine_weight < 0:
            raise ValueError(f"`mse_weight` and `cosine_weight` must be >= 0, got {mse_weight}, {cosine_weight}.")
        if mse_weight == 0 and cosine_weight == 0:
            raise ValueError("`mse_weight` and `cosine_weight` are both 0: set at least one > 0.")
        super().__init__(model, distance_metric="mse")
        self.mse_weight = mse_weight
        self.cosine_weight = cosine_weight

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], teacher_embeddings: list[Tensor]) -> Tensor:
        """The mean over input columns of :func:`mse_cosine_distance`."""
        losses = [
            mse_cosine_distance(s, t, mse_weight=self.mse_weight, cosine_weight=self.cosine_weight)
            for s, t in zip(embeddings, teacher_embeddings, strict=True)
        ]
        return torch.stack(losses).mean()

    def get_config_dict(self) -> dict[str, Any]:
        """The loss settings (for the model card)."""
        return {"mse_weight": self.mse_weight, "cosine_weight": self.cosine_weight}

    @property
    def citation(self) -> str:
        """BibTeX of the method."""
        return """
@inproceedings{reimers-2020-multilingual-sentence-bert,
    title = "Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing",
    year = "2020",
    url = "https://arxiv.org/abs/2004.09813",
}
"""
