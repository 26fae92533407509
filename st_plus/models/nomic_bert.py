"""Builds NomicBERT-style sentence-transformers models from stock modules only."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Dense, Normalize, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling
from transformers import AutoTokenizer, NomicBertConfig, NomicBertModel, PreTrainedTokenizerBase

from st_plus.models.nomic_bert_config import nomic_bert_config
from st_plus.models.nomic_fast_path import enable_nomic_fast_path

POOLING_MODES = ("mean", "cls", "max", "lasttoken")
ATTN_IMPLEMENTATIONS = ("sdpa", "eager", "flash_attention_2")


def _tokenizer_of(tokenizer: str | Path | PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return tokenizer
    return AutoTokenizer.from_pretrained(str(tokenizer))


def sentence_transformer_from_nomic_bert(
    model: NomicBertModel,
    tokenizer: PreTrainedTokenizerBase,
    *,
    pooling: str = "mean",
    projection_dim: int | None = None,
    normalize: bool = True,
    max_seq_length: int | None = None,
    attn_implementation: str = "sdpa",
    device: str | None = None,
    extra_modules: list[torch.nn.Module] | None = None,
    fast_path: bool = True,
) -> SentenceTransformer:
    """Wraps an in-memory ``NomicBertModel`` and its tokenizer as ST ``Transformer`` + ``Pooling`` [+ ``Dense``].

    The model and tokenizer go through a temporary folder (``save_pretrained``, then ST's own ``Transformer``
    loader), so the result is exactly what ``SentenceTransformer(path)`` would load. ``extra_modules`` replace the
    Pooling / Dense / Normalize stack (used to keep a source model's own head when converting). ``fast_path`` (on by
    default) runs the encoder padding-free with the two-activation SwiGLU (:func:`enable_nomic_fast_path`); what is
    saved is unchanged.
    """
    if pooling not in POOLING_MODES:
        raise ValueError(f"`pooling` must be one of {POOLING_MODES}, got {pooling!r}.")
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"`attn_implementation` must be one of {ATTN_IMPLEMENTATIONS}, got {attn_implementation!r}.")
    if projection_dim is not None and projection_dim < 1:
        raise ValueError(f"`projection_dim` must be >= 1 or None, got {projection_dim}.")
    max_seq_length = max_seq_length or model.config.max_position_embeddings
    with tempfile.TemporaryDirectory(prefix="st_plus_nomic_") as folder:
        tokenizer.model_max_length = max_seq_length
        tokenizer.save_pretrained(folder)
        model.save_pretrained(folder)
        transformer = Transformer(
            folder,
            max_seq_length=max_seq_length,
            model_kwargs={"attn_implementation": attn_implementation, "use_safetensors": True},
        )
    if extra_modules is not None:
        modules = [transformer, *extra_modules]
    else:
        dim = transformer.get_embedding_dimension()
        modules = [transformer, Pooling(dim, pooling_mode=pooling)]
        if projection_dim is not None:
            modules.append(Dense(dim, projection_dim, bias=False, activation_function=torch.nn.Identity()))
        if normalize:
            modules.append(Normalize())
    st_model = SentenceTransformer(modules=modules, device=device)
    if fast_path:
        enable_nomic_fast_path(st_model)
    return st_model


def build_nomic_bert(
    tokenizer: str | Path | PreTrainedTokenizerBase,
    preset_or_config: str | dict[str, Any] | NomicBertConfig = "nomic-embed-text-v1",
    pooling: str = "mean",
    projection_dim: int | None = None,
    *,
    normalize: bool = True,
    max_seq_length: int | None = None,
    rope_scaling: str | None = None,
    rope_factor: float = 2.0,
    attn_implementation: str = "sdpa",
    seed: int | None = None,
    device: str | None = None,
    fast_path: bool = True,
) -> SentenceTransformer:
    """A randomly initialised NomicBERT-style encoder as a plain ``SentenceTransformer``.

    The modules are all stock: ST ``Transformer`` over transformers' native ``NomicBertModel`` (rotary position
    embeddings, SwiGLU MLP, no biases, no dropout), ``Pooling``, an optional bias-free ``Dense`` projection and
    ``Normalize``. A saved model therefore loads with ``SentenceTransformer(path)``: no ``trust_remote_code``, no
    st_plus import.

    The vocabulary of the embedding matrix is the tokenizer's size rounded up to a multiple of 64 (as Nomic, for
    matmul-friendly shapes); the tokenizer itself is unchanged, so the extra rows are never looked up.

    Args:
        tokenizer: A tokenizer or the folder / name of one (BERT WordPiece in Nomic's recipe).
        preset_or_config: A preset of :data:`~st_plus.models.NOMIC_BERT_PRESETS` (``"nomic-embed-text-v1"``:
            768 hidden, 12 layers, 12 heads, SwiGLU 3072, rotary base 1000, 2048 positions; ``"small"``, ``"mini"``,
            ``"tiny"`` for CPU), a dict of ``NomicBertConfig`` fields, or a ``NomicBertConfig``.
        pooling: ST pooling mode: ``"mean"`` (Nomic), ``"cls"``, ``"max"`` or ``"lasttoken"``.
        projection_dim: Adds a bias-free linear ``Dense`` to this size after pooling.
        normalize: Appends ``Normalize`` (unit-length embeddings).
        max_seq_length: Token limit of the ST ``Transformer`` (default: ``max_position_embeddings``). Beyond
            ``max_position_embeddings`` set ``rope_scaling="dynamic"``.
        rope_scaling: ``None`` or ``"dynamic"`` (dynamic NTK RoPE scaling for long inputs).
        rope_factor: The dynamic NTK factor.
        attn_implementation: ``"sdpa"`` (default; CPU and GPU), ``"eager"`` (reference) or ``"flash_attention_2"``
            (CUDA with flash-attn or ``kernels`` installed; ST then skips padding).
        seed: Seeds ``torch`` before the weights are initialised.
        device: Passed to ``SentenceTransformer``.
        fast_path: Run the encoder padding-free with the two-activation SwiGLU (:func:`enable_nomic_fast_path`;
            same outputs, nothing saved changes).

    Raises:
        ValueError: An unknown preset, inconsistent sizes (hidden not divisible by heads, odd head dimension),
            or an unknown pooling / attention implementation. Each message lists what is accepted.

    Example:
        ::

            from st_plus.models import build_nomic_bert

            model = build_nomic_bert("bert-base-uncased", "nomic-embed-text-v1")  # or a local tokenizer folder
            model.save("my-nomic")
            # elsewhere, without st_plus: SentenceTransformer("my-nomic")
    """
    tok = _tokenizer_of(tokenizer)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    config = nomic_bert_config(
        preset_or_config, vocab_size=len(tok), pad_token_id=pad_id, rope_scaling=rope_scaling, rope_factor=rope_factor
    )
    if seed is not None:
        torch.manual_seed(seed)
    head = {"pooling": pooling, "projection_dim": projection_dim, "normalize": normalize}
    return sentence_transformer_from_nomic_bert(
        NomicBertModel(config), tok, max_seq_length=max_seq_length, attn_implementation=attn_implementation,
        device=device, fast_path=fast_path, **head,
    )  # fmt: skip
