"""Warm start: a BERT-family checkpoint mapped onto a NomicBERT-style encoder (RoPE, SwiGLU, no biases).

The mapping (source BERT names on the left, transformers' ``NomicBertModel`` names on the right; ``x`` is the input
of a projection, always the output of a LayerNorm in a post-norm BERT):

===============================================  ==============================================================
BERT                                             NomicBERT
===============================================  ==============================================================
``embeddings.word_embeddings``                   ``embeddings.word_embeddings`` (rows padded to a multiple of 64)
``embeddings.token_type_embeddings``             ``embeddings.token_type_embeddings`` + mean of the first
                                                 ``position_mean_tokens`` absolute position embeddings
``embeddings.position_embeddings``               dropped: positions come from RoPE
``embeddings.LayerNorm``                         ``embeddings.LayerNorm``
``attention.self.query`` (W, b)                  ``self_attn.q_proj`` = W + b ⊗ c
``attention.self.key`` (W, b)                    ``self_attn.k_proj`` = W (b shifts every score of a query by the
                                                 same amount, which softmax ignores)
``attention.self.value`` (W, b) and              ``self_attn.v_proj`` = W + (b + W_o⁻¹ b_o) ⊗ c (attention
``attention.output.dense`` bias b_o              weights sum to 1, so a constant added to V passes through)
``attention.output.dense`` (W_o)                 ``self_attn.o_proj``
``attention.output.LayerNorm``                   ``post_attention_layernorm``
``intermediate.dense`` (W1, b1),                 ``mlp.gate_proj`` = s·(W1 + b1 ⊗ c), ``mlp.up_proj`` = c / s,
``output.dense`` (W2, b2)                        ``mlp.down_proj`` = W2; plus one unit with constant output
                                                 silu(1) whose ``down_proj`` column is b2 / silu(1)
``output.LayerNorm``                             ``post_mlp_layernorm``
===============================================  ==============================================================

``c`` is a *constant reader* of the LayerNorm that produced ``x``: a LayerNorm output is ``γ ⊙ n + β`` with
``Σ n_i = 0``, so ``c = (1/γ) / Σ(β/γ)`` gives ``c · x = 1`` for every input. That is how the biases NomicBERT does
not have are folded into bias-free weights exactly. The SwiGLU unit computes ``silu(g) · u``; with ``u = 1/s`` and
``g = s z`` it gives ``z σ(s z)``: exactly the source's SiLU MLP for ``s = 1`` and the sigmoid approximation of GELU
(``z σ(1.702 z)``, largest error 0.02) for ``s = 1.702``. With all positions at 0 (RoPE is then the identity and the
position mean is the first position) the converted model reproduces a SiLU source to float precision; a GELU
source differs by the sigmoid approximation. Where a LayerNorm has no readable constant (``Σ β/γ`` near 0,
e.g. a freshly initialised BERT with zero biases) the biases after it are dropped and the MLP falls back to
``(W1 x) · silu(s W1 x)``, an approximation. RoPE replaces absolute positions, which the recovery step
(:func:`~st_plus.models.recover_by_distillation`) re-learns from the source's embeddings.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Transformer
from transformers import NomicBertModel

from st_plus.models._loading import load_model
from st_plus.models.nomic_bert import sentence_transformer_from_nomic_bert
from st_plus.models.nomic_bert_config import ROPE_THETA, nomic_bert_config

logger = logging.getLogger(__name__)

BERT_FAMILY = ("bert", "roberta", "xlm-roberta", "camembert")
#: Source activation -> gate scale ``s`` of the SwiGLU init (``z σ(s z)``).
GATE_SCALES = {"silu": 1.0, "swish": 1.0, "gelu": 1.702, "gelu_new": 1.702, "gelu_pytorch_tanh": 1.702}


def constant_reader(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor | None:
    """A vector ``c`` with ``c · LayerNorm(h) = 1`` for every ``h``, for a LayerNorm with this weight and bias.

    The normalised vector ``n`` of a LayerNorm sums to 0, so ``(1/γ) · (γ ⊙ n + β) = Σ β/γ`` is constant. A
    dimension whose weight is (numerically) zero outputs its bias alone and is used directly instead. ``None``
    when neither exists (``Σ β/γ`` near 0, as in a freshly initialised LayerNorm with zero bias).
    """
    weight, bias = weight.detach().double(), bias.detach().double()
    dead = (weight.abs() < 1e-8 * weight.abs().max()) & (bias.abs() > 1e-3)
    if dead.any():
        index = int(torch.nonzero(dead)[0])
        reader = torch.zeros_like(weight)
        reader[index] = 1.0 / bias[index]
        return reader.float()
    inverse = 1.0 / weight
    total = float((bias * inverse).sum())
    if abs(total) < 1e-3:
        return None
    return (inverse / total).float()


def _fold(weight: torch.Tensor, bias: torch.Tensor, reader: torch.Tensor | None) -> torch.Tensor:
    """``W + b ⊗ c``: on LayerNorm outputs, a bias-free projection equal to ``W x + b`` (bias dropped without c)."""
    if reader is None:
        logger.warning("LayerNorm output has no readable constant (Σ β/γ ≈ 0): a projection bias is dropped")
        return weight.clone()
    return weight + bias[:, None] * reader


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in ("bert.", "roberta."):
        if any(key.startswith(prefix + "embeddings.") for key in state):
            return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
    return state


def bert_to_nomic_state_dict(
    state: dict[str, torch.Tensor],
    *,
    num_layers: int,
    vocab_size: int,
    gate_scale: float = 1.702,
    position_offset: int = 0,
    position_mean_tokens: int = 128,
) -> dict[str, torch.Tensor]:
    """Maps a BERT ``state_dict`` onto ``NomicBertModel`` names and shapes (see the module docstring).

    Args:
        state: The source ``BertModel`` state dict (a ``bert.`` / ``roberta.`` prefix is accepted).
        num_layers: Number of encoder layers.
        vocab_size: The padded vocabulary of the target (rows beyond the source's are zero).
        gate_scale: ``s`` in ``z σ(s z)``: 1.0 for a SiLU source, 1.702 for GELU.
        position_offset: First position id the source uses (RoBERTa: ``pad_token_id + 1``).
        position_mean_tokens: How many absolute position embeddings are averaged into the token-type embeddings.

    Returns:
        A state dict for ``NomicBertModel`` with ``intermediate_size`` = source intermediate size + 1.
    """
    src = _strip_prefix(state)
    out: dict[str, torch.Tensor] = {}
    words = src["embeddings.word_embeddings.weight"]
    padded = words.new_zeros(vocab_size, words.shape[1])
    padded[: words.shape[0]] = words
    out["embeddings.word_embeddings.weight"] = padded
    positions = src["embeddings.position_embeddings.weight"][position_offset : position_offset + position_mean_tokens]
    out["embeddings.token_type_embeddings.weight"] = src["embeddings.token_type_embeddings.weight"] + positions.mean(0)
    out["embeddings.LayerNorm.weight"] = src["embeddings.LayerNorm.weight"]
    out["embeddings.LayerNorm.bias"] = src["embeddings.LayerNorm.bias"]
    reader_in = constant_reader(src["embeddings.LayerNorm.weight"], src["embeddings.LayerNorm.bias"])
    for i in range(num_layers):
        s, t = f"encoder.layer.{i}.", f"layers.{i}."
        w_o, b_o = src[s + "attention.output.dense.weight"], src[s + "attention.output.dense.bias"]
        b_v = src[s + "attention.self.value.bias"] + torch.linalg.solve(w_o.double(), b_o.double()).float()
        out[t + "self_attn.q_proj.weight"] = _fold(
            src[s + "attention.self.query.weight"], src[s + "attention.self.query.bias"], reader_in
        )
        out[t + "self_attn.k_proj.weight"] = src[s + "attention.self.key.weight"].clone()
        out[t + "self_attn.v_proj.weight"] = _fold(src[s + "attention.self.value.weight"], b_v, reader_in)
        out[t + "self_attn.o_proj.weight"] = w_o.clone()
        ln_attn_w, ln_attn_b = src[s + "attention.output.LayerNorm.weight"], src[s + "attention.output.LayerNorm.bias"]
        out[t + "post_attention_layernorm.weight"] = ln_attn_w
        out[t + "post_attention_layernorm.bias"] = ln_attn_b
        reader_mid = constant_reader(ln_attn_w, ln_attn_b)
        w1, b1 = src[s + "intermediate.dense.weight"], src[s + "intermediate.dense.bias"]
        w2, b2 = src[s + "output.dense.weight"], src[s + "output.dense.bias"]
        if reader_mid is None:  # no constant to read: z σ(s z) becomes (W1 x) silu(s W1 x), biases dropped
            gate, up = torch.cat([gate_scale * w1, w1.new_zeros(1, w1.shape[1])]), torch.cat([w1, w1[:1] * 0])
        else:  # units 0..I-1: silu(s z) / s = z σ(s z) with z = W1 x + b1; unit I: constant silu(1), carrying b2
            gate = torch.cat([gate_scale * _fold(w1, b1, reader_mid), reader_mid[None, :]])
            up = torch.cat([reader_mid.expand_as(w1) / gate_scale, reader_mid[None, :]])
        down = torch.cat([w2, (b2 / torch.nn.functional.silu(torch.tensor(1.0)))[:, None]], dim=1)
        out[t + "mlp.gate_proj.weight"] = gate.contiguous()
        out[t + "mlp.up_proj.weight"] = up.contiguous()
        out[t + "mlp.down_proj.weight"] = down.contiguous()
        out[t + "post_mlp_layernorm.weight"] = src[s + "output.LayerNorm.weight"]
        out[t + "post_mlp_layernorm.bias"] = src[s + "output.LayerNorm.bias"]
        reader_in = constant_reader(src[s + "output.LayerNorm.weight"], src[s + "output.LayerNorm.bias"])
    return {key: value.detach().clone().contiguous() for key, value in out.items()}


def _source_transformer(source_model: SentenceTransformer) -> Transformer:
    first = source_model[0]
    model_type = getattr(getattr(getattr(first, "auto_model", None), "config", None), "model_type", None)
    if not isinstance(first, Transformer) or model_type not in BERT_FAMILY:
        raise ValueError(
            f"convert_bert_to_nomic needs a BERT-family source (an ST Transformer with model_type in {BERT_FAMILY}); "
            f"got {type(first).__name__} with model_type {model_type!r}."
        )
    config = first.auto_model.config
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            f"convert_bert_to_nomic accepts sources with absolute position embeddings, got "
            f"position_embedding_type={config.position_embedding_type!r}."
        )
    if config.hidden_act not in GATE_SCALES:
        raise ValueError(
            f"convert_bert_to_nomic accepts sources whose MLP activation is one of {sorted(GATE_SCALES)}, "
            f"got {config.hidden_act!r}."
        )
    return first


def convert_bert_to_nomic(
    source_model: SentenceTransformer | str | Path,
    *,
    max_seq_length: int = 2048,
    rope_theta: float = ROPE_THETA,
    rope_scaling: str | None = None,
    rope_factor: float = 2.0,
    position_mean_tokens: int = 128,
    attn_implementation: str = "sdpa",
    device: str | None = None,
) -> SentenceTransformer:
    """Converts a BERT-family sentence-transformers model into a NomicBERT-style one (before recovery).

    Weights are mapped as in this module's docstring: embeddings, attention projections and layer norms are
    carried over, the biases are folded into the bias-free projections exactly, the GELU MLP becomes a SwiGLU MLP
    computing ``z σ(1.702 z)`` (one extra unit carries the output bias), and absolute position embeddings are
    dropped for RoPE (their mean over the first ``position_mean_tokens`` positions joins the token-type
    embeddings). The source's Pooling / Dense / Normalize modules are copied. The result accepts
    ``max_seq_length`` tokens (2,048 by default; the source stops at 512) and is meant to be recovered with
    :func:`~st_plus.models.recover_by_distillation` before use.

    Args:
        source_model: A sentence-transformers model or its folder (``"default"``: the bundled all-MiniLM-L6-v2).
        max_seq_length: Token limit of the converted model; also its ``max_position_embeddings``.
        rope_theta: Rotary base (Nomic: 1000).
        rope_scaling: ``None`` or ``"dynamic"`` (dynamic NTK beyond ``max_seq_length``).
        rope_factor: The dynamic NTK factor.
        position_mean_tokens: Absolute positions averaged into the token-type embeddings.
        attn_implementation: ``"sdpa"``, ``"eager"`` or ``"flash_attention_2"``.
        device: Passed to ``SentenceTransformer``.

    Raises:
        ValueError: A source that is not BERT-family (``model_type`` other than bert / roberta / xlm-roberta /
            camembert, relative positions, or an MLP activation other than GELU / SiLU).

    Example:
        ::

            from st_plus.models import convert_bert_to_nomic, recover_by_distillation, read_texts

            nomic = convert_bert_to_nomic("default")
            recover_by_distillation(nomic, "default", read_texts(["train.jsonl.gz"]), max_minutes=20)
            nomic.save("minilm-nomic")
    """
    if not isinstance(source_model, SentenceTransformer):
        source_model = load_model(source_model, device="cpu")
    first = _source_transformer(source_model)
    source = first.auto_model
    config = source.config
    tokenizer = copy.deepcopy(first.tokenizer)
    position_offset = config.pad_token_id + 1 if config.model_type != "bert" else 0
    target = nomic_bert_config(
        {
            "hidden_size": config.hidden_size,
            "num_hidden_layers": config.num_hidden_layers,
            "num_attention_heads": config.num_attention_heads,
            "intermediate_size": config.intermediate_size + 1,
            "max_position_embeddings": max_seq_length,
            "type_vocab_size": config.type_vocab_size,
            "layer_norm_eps": config.layer_norm_eps,
            "rope_parameters": {"rope_type": "default", "rope_theta": float(rope_theta)},
        },
        vocab_size=config.vocab_size,
        pad_token_id=config.pad_token_id,
        rope_scaling=rope_scaling,
        rope_factor=rope_factor,
    )
    state = bert_to_nomic_state_dict(
        {key: value.float().cpu() for key, value in source.state_dict().items()},
        num_layers=config.num_hidden_layers,
        vocab_size=target.vocab_size,
        gate_scale=GATE_SCALES[config.hidden_act],
        position_offset=position_offset,
        position_mean_tokens=position_mean_tokens,
    )
    model = NomicBertModel(target)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [key for key in missing if not key.endswith(("position_ids", "token_type_ids"))]:
        raise RuntimeError(f"weight mapping incomplete: missing {missing}, unexpected {unexpected}")
    head = [copy.deepcopy(module).cpu() for module in list(source_model)[1:]]
    return sentence_transformer_from_nomic_bert(
        model,
        tokenizer,
        max_seq_length=max_seq_length,
        attn_implementation=attn_implementation,
        device=device,
        extra_modules=head,
    )
