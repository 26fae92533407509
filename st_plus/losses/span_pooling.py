"""InfoNCE over span embeddings pooled from the full document's token embeddings (late-chunking-aware training)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, util
from torch import Tensor, nn

from st_plus.chunking import run_modules, split_at_pooling
from st_plus.losses._functional import info_nce_loss


def span_mean_pool(token_embeddings: Tensor, token_spans: Tensor) -> Tensor:
    """Mean of ``token_embeddings[b, first_b:last_b]``: ``(batch, seq, dim), (batch, 2) -> (batch, dim)``."""
    positions = torch.arange(token_embeddings.shape[1], device=token_embeddings.device)
    mask = (positions >= token_spans[:, :1]) & (positions < token_spans[:, 1:])  # (batch, seq)
    mask = mask.unsqueeze(-1).to(token_embeddings.dtype)
    return (token_embeddings * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class SpanPoolingLoss(nn.Module):
    """In-batch InfoNCE between queries and document *spans* embedded by late chunking.

    The span embedding is the mean of the span's token embeddings from one pass over the whole document (then the
    model's modules after Pooling, e.g. Normalize), exactly what :class:`~st_plus.chunking.LateChunkingEncoder`
    computes at inference, so the model learns to put the document's context into each chunk (the span-pooling
    training of Günther et al., 2024). ``L = CE(scale * sim(q_i, s_j), i)`` over the batch's spans.

    Args:
        model: A stock model (``Transformer`` + mean ``Pooling`` [+ ``Normalize``]).
        scale: Inverse temperature (20 = 1 / 0.05).
        similarity_fct: Similarity of queries and spans.
        document_batch_size: Run the documents through the model this many at a time, each group cut to its
            longest document (``None``: the whole batch at once, padded to its longest). ``1`` never computes a
            padding token and lets attention use its memory-efficient kernel (no mask): the way to train on
            thousands of tokens per document on a CPU.

    References:
        Günther et al., "Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models",
        https://arxiv.org/abs/2409.04701

    Requirements:
        :class:`~st_plus.chunking.SpanPoolingDataCollator` as the trainer's ``data_collator`` (it makes the label).

    Inputs:
        +---------------------------------------------------+-----------------------------------+
        | Texts                                             | Labels                            |
        +===================================================+===================================+
        | (query, document) + ``span_start``, ``span_end``  | token span ``(batch, 2)`` (made   |
        |                                                   | by the collator)                  |
        +---------------------------------------------------+-----------------------------------+

    Example:
        ::

            collator = SpanPoolingDataCollator(preprocess_fn=model.preprocess, tokenizer=model.tokenizer,
                                               max_seq_length=model.max_seq_length)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=rows, loss=SpanPoolingLoss(model),
                                                 data_collator=collator)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        scale: float = 20.0,
        similarity_fct: Callable = util.cos_sim,
        document_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"`scale` must be > 0, got {scale}.")
        if document_batch_size is not None and document_batch_size < 1:
            raise ValueError(f"`document_batch_size` must be >= 1, got {document_batch_size}.")
        self.document_batch_size = document_batch_size
        self.model = model
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.token_modules, self.post_pooling_modules = split_at_pooling(model)

    def document_groups(self, features: dict[str, Tensor]) -> Iterator[tuple[int, dict[str, Tensor], Tensor]]:
        """``(first row, features, token embeddings)`` per group of ``document_batch_size`` documents.

        One forward per group, cut to the group's longest document.
        """
        rows = len(features["input_ids"])
        size = self.document_batch_size or rows
        for start in range(0, rows, size):
            part = {k: v[start : start + size] if isinstance(v, Tensor) else v for k, v in features.items()}
            if self.document_batch_size is not None and "attention_mask" in part:
                longest = int(part["attention_mask"].sum(dim=1).max())
                if part["attention_mask"][:, longest:].any():  # left padding: keep the batch as it is
                    longest = part["attention_mask"].shape[1]
                part = {k: v[:, :longest] if isinstance(v, Tensor) and v.dim() == 2 else v for k, v in part.items()}
            yield start, part, run_modules(self.token_modules, part)["token_embeddings"]

    def finish_pooled(self, pooled: Tensor) -> Tensor:
        """The model's modules after Pooling (e.g. Normalize) over pooled embeddings ``(n, dim)``."""
        return run_modules(self.post_pooling_modules, {"sentence_embedding": pooled})["sentence_embedding"]

    def embed_spans(self, features: dict[str, Tensor], token_spans: Tensor) -> Tensor:
        """Span embeddings ``(batch, dim)`` from one forward over each (tokenised) document."""
        pooled = [span_mean_pool(tokens, token_spans[start : start + len(tokens)].to(tokens.device))
                  for start, _, tokens in self.document_groups(features)]  # fmt: skip
        return self.finish_pooled(torch.cat(pooled))

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:  # noqa: D102
        query_features, document_features = list(sentence_features)[:2]
        queries = self.model(query_features)["sentence_embedding"]
        spans = self.embed_spans(document_features, labels)
        scores = self.similarity_fct(queries, spans) * self.scale
        return info_nce_loss(scores, torch.arange(scores.size(0), device=scores.device))

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            "scale": self.scale,
            "similarity_fct": getattr(self.similarity_fct, "__name__", "custom"),
            "document_batch_size": self.document_batch_size,
        }

    @property
    def citation(self) -> str:  # noqa: D102
        return """
@article{gunther2024late,
    title={Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models},
    author={G{\\"u}nther, Michael and Mohr, Isabelle and Williams, Daniel James and Wang, Bo and Xiao, Han},
    journal={arXiv preprint arXiv:2409.04701},
    year={2024}
}
"""
