"""Longer inputs for a BERT-family model with learned absolute positions: the position table extended by copying.

A model such as all-MiniLM-L6-v2 has 512 learned position embeddings, so it cannot read a longer input at all.
Longformer (Beltagy et al., 2020) extends such a table by *copying* it: row ``i`` of the new table is row
``i mod n`` of the old one (``n`` = the old table's size), so the first ``n`` positions behave exactly as before
(short texts embed identically) and every later position starts from a position the model knows, which a short
long-input training then adapts. The model stays a stock transformers ``BertModel`` inside stock
sentence-transformers modules: saved models load with plain ``SentenceTransformer(path)``, no remote code.

The alternative, RoPE (relative positions, no table), is :func:`~st_plus.models.convert_bert_to_nomic`; it has to
re-learn positions from scratch (README, "Long documents").
"""

from __future__ import annotations

import logging

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Transformer

logger = logging.getLogger(__name__)


def copied_position_table(table: torch.Tensor, max_positions: int) -> torch.Tensor:
    """Rows ``i mod len(table)`` for ``i < max_positions``: ``(n, dim) -> (max_positions, dim)``."""
    n = table.shape[0]
    if max_positions < n:
        raise ValueError(f"`max_positions` ({max_positions}) is smaller than the current table ({n} positions).")
    return table[torch.arange(max_positions, device=table.device) % n].clone()


def _position_table(model: SentenceTransformer) -> tuple[torch.nn.Module, torch.nn.Embedding]:
    first = model[0] if len(model) else None
    if not isinstance(first, Transformer):
        raise ValueError("Extending positions needs a sentence-transformers Transformer as the first module.")
    backbone = first.auto_model
    embeddings = getattr(backbone, "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    if not isinstance(table, torch.nn.Embedding) or getattr(backbone.config, "position_embedding_type",
                                                            "absolute") != "absolute":  # fmt: skip
        raise ValueError(
            f"{type(backbone).__name__} has no learned absolute position table to extend "
            "(RoPE models read any length up to their max_seq_length; see convert_bert_to_nomic)."
        )
    return embeddings, table


def position_count(model: SentenceTransformer) -> int:
    """The number of learned absolute positions of ``model`` (raises ``ValueError`` for a model without them)."""
    return _position_table(model)[1].num_embeddings


def readable_positions(model: SentenceTransformer) -> int:
    """The longest input, in tokens, that ``model``'s learned position table reads.

    Its rows less those a RoBERTa-style table keeps before the first position (up to ``padding_idx``). Raises
    ``ValueError`` for a model without learned absolute positions.
    """
    embeddings, table = _position_table(model)
    padding_idx = getattr(embeddings, "padding_idx", None)
    return table.num_embeddings - (padding_idx + 1 if padding_idx is not None else 0)


def extend_positions(model: SentenceTransformer, max_positions: int) -> SentenceTransformer:
    """Extends the absolute position embeddings of ``model`` (in place) to ``max_positions`` by copying.

    Sets the config's ``max_position_embeddings``, the tokenizer's ``model_max_length`` and the model's
    ``max_seq_length`` to ``max_positions`` minus the positions a RoBERTa-style table reserves for padding
    (those up to ``padding_idx`` in RoBERTa and MPNet; none for BERT). A no-op when the table already has
    ``max_positions`` rows.

    Args:
        model: A sentence-transformers model whose first module is a ``Transformer`` over a BERT-family model
            with learned absolute positions (``embeddings.position_embeddings``).
        max_positions: The new number of positions.

    Returns:
        The same model.

    Raises:
        ValueError: No ``Transformer`` first module, no learned absolute position table (e.g. a RoPE model, which
            needs no extension), or a smaller ``max_positions``.
    """
    embeddings, table = _position_table(model)
    config = model[0].auto_model.config
    old = table.num_embeddings
    padding_idx = getattr(embeddings, "padding_idx", None)  # RoBERTa, MPNet, ...: positions start after it
    reserved = padding_idx + 1 if padding_idx is not None else 0
    if max_positions != old:
        weight = table.weight.data
        if reserved:  # RoBERTa: positions start after the padding index; copy the real positions only
            head, body = weight[:reserved], weight[reserved:]
            new = torch.cat([head, copied_position_table(body, max_positions - reserved)])
        else:
            new = copied_position_table(weight, max_positions)
        embeddings.position_embeddings = torch.nn.Embedding(
            max_positions, new.shape[1], padding_idx=table.padding_idx, device=new.device, dtype=new.dtype
        )
        embeddings.position_embeddings.weight.data.copy_(new)
        embeddings.position_embeddings.weight.requires_grad_(table.weight.requires_grad)
        buffers = {"position_ids": torch.arange(max_positions, device=new.device).expand((1, -1))}
        if hasattr(embeddings, "token_type_ids"):
            buffers["token_type_ids"] = torch.zeros((1, max_positions), dtype=torch.long, device=new.device)
        for name, value in buffers.items():
            if hasattr(embeddings, name):
                embeddings.register_buffer(name, value, persistent=False)
        config.max_position_embeddings = max_positions
        logger.info("Position table extended by copying: %d -> %d positions", old, max_positions)
    length = max_positions - reserved
    model.tokenizer.model_max_length = length
    model.tokenizer.init_kwargs["model_max_length"] = length  # what save_pretrained writes
    model.max_seq_length = length
    return model
