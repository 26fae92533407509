"""Presets and validation for NomicBERT-style encoders (transformers' native ``NomicBertConfig``).

Nomic Embed (Nussbaum et al., 2024, https://arxiv.org/abs/2402.01613) changes BERT in five ways: rotary position
embeddings (RoPE, base 1000), a SwiGLU MLP, no biases in the projections, no dropout and a vocabulary padded to a
multiple of 64. transformers 5.x ships that architecture as ``NomicBertConfig`` / ``NomicBertModel``
(``model_type="nomic_bert"``), so a model built from these configs saves and loads with plain transformers and
sentence-transformers.
"""

from __future__ import annotations

from typing import Any

from transformers import NomicBertConfig

VOCAB_MULTIPLE = 64

#: Named sizes. ``nomic-embed-text-v1`` is Nomic's released encoder; the others are for CPU experiments and tests.
NOMIC_BERT_PRESETS: dict[str, dict[str, Any]] = {
    "nomic-embed-text-v1": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "max_position_embeddings": 2048,
    },
    "small": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 6,
        "intermediate_size": 1536,
        "max_position_embeddings": 2048,
    },
    "mini": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
        "max_position_embeddings": 2048,
    },
    "micro": {  # the Chinese recipe's encoder: pre-trains in minutes on 2 CPU cores
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "max_position_embeddings": 512,
    },
    "tiny": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
    },
}

ROPE_THETA = 1000.0


def pad_vocab_size(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that holds ``vocab_size`` tokens (30522 -> 30528)."""
    if vocab_size < 1:
        raise ValueError(f"`vocab_size` must be >= 1, got {vocab_size}.")
    return -(-vocab_size // multiple) * multiple


def rope_parameters(theta: float = ROPE_THETA, *, scaling: str | None = None, factor: float = 2.0) -> dict[str, Any]:
    """``rope_parameters`` for ``NomicBertConfig``: plain RoPE, or ``scaling="dynamic"`` (dynamic NTK).

    Dynamic NTK (as Nomic used to reach 8,192 tokens from 2,048 trained positions) leaves inputs up to
    ``max_position_embeddings`` unchanged and raises the rotary base for longer ones.
    """
    if scaling is None:
        return {"rope_type": "default", "rope_theta": float(theta)}
    if scaling != "dynamic":
        raise ValueError(f"`rope_scaling` must be None or 'dynamic', got {scaling!r}.")
    if factor <= 1.0:
        raise ValueError(f"the dynamic NTK `factor` must be > 1, got {factor}.")
    return {"rope_type": "dynamic", "rope_theta": float(theta), "factor": float(factor)}


def validate_nomic_bert_config(config: NomicBertConfig) -> None:
    """Checks the sizes that NomicBERT's attention and RoPE need.

    Raises:
        ValueError: ``hidden_size`` not divisible by ``num_attention_heads``, an odd head dimension (RoPE rotates
            pairs of dimensions), non-zero dropout, or a vocabulary that is not a multiple of 64.
    """
    hidden, heads = config.hidden_size, config.num_attention_heads
    if heads < 1 or hidden % heads:
        raise ValueError(
            f"`hidden_size` ({hidden}) must be divisible by `num_attention_heads` ({heads}); "
            f"accepted head counts for {hidden}: {_divisors(hidden)}."
        )
    head_dim = config.head_dim or hidden // heads
    if head_dim % 2:
        raise ValueError(
            f"the head dimension `hidden_size / num_attention_heads` = {hidden}/{heads} = {head_dim} must be even: "
            "rotary embeddings rotate pairs of dimensions."
        )
    if config.hidden_dropout_prob or config.attention_probs_dropout_prob:
        raise ValueError(
            "NomicBERT-style models use no dropout: `hidden_dropout_prob` and `attention_probs_dropout_prob` "
            f"must be 0, got {config.hidden_dropout_prob} and {config.attention_probs_dropout_prob}."
        )
    if config.vocab_size % VOCAB_MULTIPLE:
        raise ValueError(
            f"`vocab_size` must be a multiple of {VOCAB_MULTIPLE}, got {config.vocab_size}; "
            f"use {pad_vocab_size(config.vocab_size)} (pad_vocab_size)."
        )


def nomic_bert_config(
    preset_or_config: str | dict[str, Any] | NomicBertConfig,
    *,
    vocab_size: int | None = None,
    pad_token_id: int | None = None,
    rope_scaling: str | None = None,
    rope_factor: float = 2.0,
    **overrides: Any,
) -> NomicBertConfig:
    """A validated ``NomicBertConfig`` from a preset name, a dict of config fields, or a config.

    Args:
        preset_or_config: One of :data:`NOMIC_BERT_PRESETS`, a dict of ``NomicBertConfig`` fields, or a config.
        vocab_size: The tokenizer's vocabulary size; padded to a multiple of 64.
        pad_token_id: The tokenizer's padding id.
        rope_scaling: ``None`` or ``"dynamic"`` (dynamic NTK with ``rope_factor``) for inputs beyond
            ``max_position_embeddings``.
        rope_factor: The dynamic NTK factor (Nomic: 2 for 8,192 tokens from 2,048).
        **overrides: Further ``NomicBertConfig`` fields (e.g. ``num_hidden_layers=2``).

    Raises:
        ValueError: An unknown preset (the accepted names are listed) or inconsistent sizes.
    """
    if isinstance(preset_or_config, NomicBertConfig):
        fields = preset_or_config.to_dict()
        for key in ("model_type", "transformers_version", "architectures"):
            fields.pop(key, None)
    elif isinstance(preset_or_config, dict):
        fields = dict(preset_or_config)
    elif isinstance(preset_or_config, str):
        if preset_or_config not in NOMIC_BERT_PRESETS:
            raise ValueError(
                f"Unknown NomicBERT preset {preset_or_config!r}; accepted: {sorted(NOMIC_BERT_PRESETS)}, "
                "a dict of NomicBertConfig fields, or a NomicBertConfig."
            )
        fields = dict(NOMIC_BERT_PRESETS[preset_or_config])
    else:
        raise ValueError(
            f"`preset_or_config` must be a preset name, a dict or a NomicBertConfig, got {type(preset_or_config)}."
        )
    fields.update(overrides)
    if vocab_size is not None:
        fields["vocab_size"] = pad_vocab_size(vocab_size)
    if pad_token_id is not None:
        fields["pad_token_id"] = pad_token_id
    fields["hidden_dropout_prob"] = fields.get("hidden_dropout_prob", 0.0)
    fields["attention_probs_dropout_prob"] = fields.get("attention_probs_dropout_prob", 0.0)
    if rope_scaling is not None or "rope_parameters" not in fields:
        theta = (fields.get("rope_parameters") or {}).get("rope_theta", ROPE_THETA)
        fields["rope_parameters"] = rope_parameters(theta, scaling=rope_scaling, factor=rope_factor)
    hidden, heads = int(fields.get("hidden_size", 768)), int(fields.get("num_attention_heads", 12))
    if heads < 1 or hidden % heads:  # before NomicBertConfig derives head_dim by floor division
        raise ValueError(
            f"`hidden_size` ({hidden}) must be divisible by `num_attention_heads` ({heads}); "
            f"accepted head counts for {hidden}: {_divisors(hidden)}."
        )
    fields["head_dim"] = hidden // heads
    config = NomicBertConfig(**fields)
    validate_nomic_bert_config(config)
    return config


def _divisors(number: int) -> list[int]:
    return [h for h in range(1, min(number, 64) + 1) if number % h == 0]
