"""Span-pooling InfoNCE plus late-chunking-aware distillation toward a teacher reading each chunk alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer, util
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from st_plus.losses._functional import info_nce_loss
from st_plus.losses.span_pooling import SpanPoolingLoss, span_mean_pool


def token_blocks(length: int, block_tokens: int, min_tokens: int) -> list[tuple[int, int]]:
    """Consecutive ``[first, last)`` blocks of ``block_tokens`` over positions ``1..length-2``.

    Those are the content between the first and last special tokens; a last block shorter than ``min_tokens`` is
    dropped.
    """
    blocks = [(s, min(s + block_tokens, length - 1)) for s in range(1, length - 1, block_tokens)]
    return [(s, e) for s, e in blocks if e - s >= min_tokens]


class LateChunkDistillationLoss(SpanPoolingLoss):
    """:class:`SpanPoolingLoss` plus a distillation term that keeps each late chunk close to the chunk read alone.

    The student reads each whole document window once (as late chunking does at inference); the window's content
    is cut into consecutive blocks of ``chunk_tokens`` tokens, and each block's span-pooled embedding is pulled
    toward the ``teacher``'s embedding of that block read alone (``[CLS] block [SEP]``, no gradient):

    ``L = CE(scale * sim(q_i, s_j), i) + weight * mean_k (1 - cos(late_k, teacher(chunk_k)))``

    The first term teaches the chunk embeddings to use their context; the second keeps them about their own text,
    so that the context does not blur neighbouring chunks into one embedding (the late-chunking-aware distillation
    suggested for long-context models trained from a short-context teacher).

    Args:
        model: The student (``Transformer`` + mean ``Pooling`` [+ ``Normalize``]); documents run one at a time.
        teacher: A frozen model with the same tokenizer (e.g. the student before its positions were extended); kept
            out of the module tree, so it is neither trained, saved nor switched to training mode.
        weight: Weight of the distillation term (0: plain span pooling).
        chunk_tokens: Block length in tokens (about the chunker's chunk length at inference).
        scale: Inverse temperature of the InfoNCE term.
        similarity_fct: Similarity of queries and spans.

    References:
        Günther et al., "Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models",
        https://arxiv.org/abs/2409.04701

    Requirements:
        :class:`~st_plus.chunking.SpanPoolingDataCollator` as the trainer's ``data_collator``; the tokenizer adds one
        special token at each end (BERT, RoBERTa, MPNet).

    Inputs:
        +---------------------------------------------------+-----------------------------------+
        | Texts                                             | Labels                            |
        +===================================================+===================================+
        | (query, document) + ``span_start``, ``span_end``  | token span ``(batch, 2)``         |
        +---------------------------------------------------+-----------------------------------+
    """

    def __init__(
        self,
        model: SentenceTransformer,
        teacher: SentenceTransformer,
        weight: float = 1.0,
        chunk_tokens: int = 96,
        scale: float = 20.0,
        similarity_fct: Callable = util.cos_sim,
    ) -> None:
        super().__init__(model, scale=scale, similarity_fct=similarity_fct, document_batch_size=1)
        if weight < 0:
            raise ValueError(f"`weight` must be >= 0, got {weight}.")
        if chunk_tokens < 4:
            raise ValueError(f"`chunk_tokens` must be >= 4, got {chunk_tokens}.")
        self.weight = weight
        self.chunk_tokens = chunk_tokens
        teacher.eval()
        teacher.requires_grad_(False)
        self._teacher = [teacher]  # a list: not a submodule (no training mode, no optimiser, no checkpoint)
        self.last_terms: dict[str, float] = {}
        self.history: list[dict[str, float]] = []  # the terms of every call, for the run's record

    @property
    def teacher(self) -> SentenceTransformer:  # noqa: D102
        return self._teacher[0]

    def _teacher_embeddings(self, input_ids: Tensor, blocks: list[tuple[int, int]]) -> Tensor:
        """The teacher's embeddings of each block read alone, between the document's own end tokens."""
        first, last = input_ids[:1], input_ids[-1:]
        rows = [torch.cat([first, input_ids[s:e], last]) for s, e in blocks]
        ids = pad_sequence(rows, batch_first=True)
        mask = pad_sequence([torch.ones_like(row) for row in rows], batch_first=True)
        with torch.no_grad():
            return self.teacher({"input_ids": ids, "attention_mask": mask})["sentence_embedding"]

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:  # noqa: D102
        query_features, document_features = list(sentence_features)[:2]
        queries = self.model(query_features)["sentence_embedding"]
        spans, students, targets = [], [], []
        for start, part, tokens in self.document_groups(document_features):
            spans.append(span_mean_pool(tokens, labels[start : start + 1].to(tokens.device)))
            if self.weight > 0:
                blocks = token_blocks(tokens.shape[1], self.chunk_tokens, min_tokens=max(4, self.chunk_tokens // 4))
                if blocks:
                    students.append(torch.stack([tokens[0, s:e].mean(dim=0) for s, e in blocks]))
                    targets.append(self._teacher_embeddings(part["input_ids"][0], blocks))
        scores = self.similarity_fct(queries, self.finish_pooled(torch.cat(spans))) * self.scale
        contrastive = info_nce_loss(scores, torch.arange(scores.size(0), device=scores.device))
        distill = scores.new_zeros(())
        if students:
            late = self.finish_pooled(torch.cat(students))
            distill = (1 - F.cosine_similarity(late.float(), torch.cat(targets).float(), dim=-1)).mean()
        self.last_terms = {"contrastive": float(contrastive.detach()), "distill": float(distill.detach())}
        self.history.append(self.last_terms)
        return contrastive + self.weight * distill

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {**super().get_config_dict(), "weight": self.weight, "chunk_tokens": self.chunk_tokens}
