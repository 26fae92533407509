"""A padding-free, lower-memory forward for transformers' ``NomicBertModel``, switched on per model instance.

Two changes to how a NomicBERT-style encoder runs, none to what it computes or how it is saved:

* **Padding-free layers** (as Nomic Embed and FlashAttention-2's ``varlen`` kernels run them, Nussbaum et al., 2024,
  https://arxiv.org/abs/2402.01613): the valid tokens of a padded batch are packed into one ``(tokens, hidden)``
  matrix, so the projections, the MLP and the layer norms never touch padding; attention runs per sequence on its
  own tokens (no mask, no padded keys or queries). On CPU this is exact ``varlen`` attention through PyTorch's SDPA.
* **A SwiGLU MLP that keeps two activations for backward** instead of four: ``down(silu(gate) * up)`` is one autograd
  function that saves ``gate`` and ``up`` and recomputes the product in the backward pass (Shazeer, 2020,
  https://arxiv.org/abs/2002.05202 for SwiGLU), so training memory per MLP matches BERT's GELU MLP at equal
  parameters.

The weights, the ``state_dict``, ``save_pretrained`` and what ``SentenceTransformer(path)`` loads stay stock: the
switch moves the model's ``NomicBertModel`` and ``NomicBertMLP`` instances to subclasses of the same name that
change only ``forward`` (so pickling, ``deepcopy`` and ``DataParallel`` replicas keep it), and
:func:`disable_nomic_fast_path` moves them back.
Outputs at valid positions equal the stock forward's (up to float rounding); padded positions of
``last_hidden_state`` are zeros (the stock forward leaves values there that every pooling masks out).

Example:
    >>> from st_plus.models import build_nomic_bert, enable_nomic_fast_path
    >>> model = build_nomic_bert("bert-base-uncased", "small")  # doctest: +SKIP
    >>> enable_nomic_fast_path(model)  # doctest: +SKIP
    7
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from transformers import NomicBertModel as _StockNomicBertModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.nomic_bert.modeling_nomic_bert import NomicBertMLP as _StockNomicBertMLP
from transformers.models.nomic_bert.modeling_nomic_bert import rotate_half

try:  # transformers' registry of the outputs each model class can record, keyed by class name
    from transformers.utils.output_capturing import _CAN_RECORD_REGISTRY
except ImportError:  # a transformers without it records outputs without it
    _CAN_RECORD_REGISTRY = None

# outputs that the padding-free forward cannot give (as keyword arguments or config flags): the stock forward does
_STOCK_ONLY = ("output_attentions", "output_hidden_states", "past_key_values", "cache")


class _SwiGLUDown(torch.autograd.Function):
    """``F.linear(silu(gate) * up, weight)`` saving ``gate`` and ``up`` only; backward recomputes the product."""

    @staticmethod
    def forward(ctx: Any, gate: torch.Tensor, up: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(gate, up, weight)
        return F.linear(F.silu(gate) * up, weight.to(gate.dtype))

    @staticmethod
    @once_differentiable  # silu_backward has no derivative of its own: a double backward gets a clear error
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gate, up, weight = ctx.saved_tensors
        silu = F.silu(gate)
        hidden = silu * up  # recomputed: the forward kept only gate and up
        grad_weight = grad_out.flatten(0, -2).t() @ hidden.flatten(0, -2)  # (hidden, intermediate)
        del hidden
        grad_hidden = grad_out @ weight.to(grad_out.dtype)  # (..., intermediate)
        grad_up = grad_hidden * silu
        del silu
        # d loss / d silu(gate) in place, then silu's own backward kernel (one pass, no temporaries): at most three
        # activation-sized tensors live at once
        grad_gate = torch.ops.aten.silu_backward(grad_hidden.mul_(up), gate)
        return grad_gate, grad_up, grad_weight.to(weight.dtype)


def swiglu_down(gate: torch.Tensor, up: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.linear(F.silu(gate) * up, weight)``; under autograd it keeps only ``gate`` and ``up`` for backward."""
    if torch.is_grad_enabled() and (gate.requires_grad or up.requires_grad or weight.requires_grad):
        return _SwiGLUDown.apply(gate, up, weight)
    return F.linear(F.silu(gate) * up, weight.to(gate.dtype))


def varlen_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, seqlens: list[int], *, scale: float
) -> torch.Tensor:
    """Bidirectional attention of packed sequences, each over its own tokens only.

    Args:
        query: ``(tokens, heads, head_dim)``, the sequences one after another; ``key``, ``value`` likewise.
        seqlens: The sequences' lengths, in order (they sum to ``tokens``).
        scale: The softmax scale (``head_dim ** -0.5``).

    Returns:
        ``(tokens, heads * head_dim)``: each token's attention output over the tokens of its sequence.
    """
    outputs = []
    # split, not slicing: its backward concatenates the pieces' gradients once, where each slice's backward
    # would fill a zero tensor of the whole batch
    for q, k, v in zip(query.split(seqlens), key.split(seqlens), value.split(seqlens), strict=True):
        q, k, v = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))  # (1, heads, len, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)
        outputs.append(out.squeeze(0).transpose(0, 1).flatten(1))  # (len, heads * head_dim)
    return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


class NomicBertMLP(_StockNomicBertMLP):
    """transformers' ``NomicBertMLP``, keeping two activations for backward; set by :func:`enable_nomic_fast_path`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``down_proj(silu(gate_proj(x)) * up_proj(x))`` through :func:`swiglu_down`."""
        down = self.down_proj
        # an adapter (peft) or a bias on the down projection: the stock forward, which calls the module
        if self.config.hidden_act not in ("silu", "swish") or type(down) is not nn.Linear or down.bias is not None:
            return super().forward(x)
        return swiglu_down(self.gate_proj(x), self.up_proj(x), down.weight)


class NomicBertModel(_StockNomicBertModel):
    """transformers' ``NomicBertModel``, run padding-free; set by :func:`enable_nomic_fast_path`.

    The class keeps the stock name, so ``save_pretrained`` writes ``"architectures": ["NomicBertModel"]`` as before.
    """

    def _needs_stock_forward(self, input_ids, attention_mask, inputs_embeds, kwargs: dict[str, Any]) -> bool:
        config = self.config
        return (
            input_ids is None
            or inputs_embeds is not None
            or attention_mask is None
            or attention_mask.dim() != 2
            or input_ids.device.type != "cpu"  # measured on CPU only; GPUs keep transformers' kernels
            or any(kwargs.get(name, getattr(config, name, False)) for name in _STOCK_ONLY)
            or bool(config.attention_probs_dropout_prob)
            or config._attn_implementation != "sdpa"  # eager (the reference) and flash attention keep their kernels
            or (self.training and any(getattr(layer, "gradient_checkpointing", False) for layer in self.layers))
            or getattr(self, "hf_device_map", None) is not None  # accelerate hooks live on the layers
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        """The stock forward's outputs at valid positions, zeros at padding; calls it cannot serve go to the stock."""
        args = (input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        if self._needs_stock_forward(input_ids, attention_mask, inputs_embeds, kwargs):
            return super().forward(*args, **kwargs)
        batch, length = input_ids.shape
        mask = attention_mask.bool()
        seqlens = mask.sum(dim=1).tolist()
        if min(seqlens) == 0:  # an all-padding row: the stock forward defines what it gets
            return super().forward(*args, **kwargs)
        flat = mask.flatten().nonzero().squeeze(1)  # (tokens,) row-major: each sequence's tokens stay together
        if position_ids is None:
            position_ids = torch.arange(length, device=input_ids.device)
        position_ids = position_ids.expand(batch, length).flatten()[flat]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)

        emb = self.embeddings
        hidden = emb.word_embeddings(input_ids.flatten()[flat])
        hidden = hidden + emb.token_type_embeddings(token_type_ids.flatten()[flat])
        hidden = emb.dropout(emb.LayerNorm(hidden))  # (tokens, hidden)
        cos, sin = self.rotary_emb(hidden, position_ids[None])
        cos, sin = cos[0, :, None, :], sin[0, :, None, :]  # (tokens, 1, head_dim): one angle per token, all heads

        for layer in self.layers[: self.config.num_hidden_layers]:
            attn = layer.self_attn
            shape = (hidden.shape[0], -1, attn.head_dim)
            query = attn.q_proj(hidden).view(shape)  # (tokens, heads, head_dim)
            key = attn.k_proj(hidden).view(shape)
            value = attn.v_proj(hidden).view(shape)
            query = torch.addcmul(query * cos, rotate_half(query), sin)  # RoPE: q cos + rotate_half(q) sin
            key = torch.addcmul(key * cos, rotate_half(key), sin)
            attended = attn.o_proj(varlen_attention(query, key, value, seqlens, scale=attn.scaling))
            hidden = layer.post_attention_layernorm(hidden + layer.post_attention_dropout(attended))
            hidden = layer.post_mlp_layernorm(hidden + layer.post_mlp_dropout(layer.mlp(hidden)))

        padded = hidden.new_zeros(batch * length, hidden.shape[-1]).index_copy(0, flat, hidden)
        sequence_output = padded.view(batch, length, -1)
        pooled = self.pooler(sequence_output) if self.pooler is not None else None
        output = BaseModelOutputWithPooling(last_hidden_state=sequence_output, pooler_output=pooled)
        return output if kwargs.get("return_dict", True) else output.to_tuple()


def _register_output_capturing(encoder: NomicBertModel) -> None:
    """Registers the subclass for the stock forward's hidden-state and attention capture (keyed by class name)."""
    if _CAN_RECORD_REGISTRY is not None and not _CAN_RECORD_REGISTRY.get(encoder):
        _CAN_RECORD_REGISTRY[encoder] = encoder._can_record_outputs


def enable_nomic_fast_path(model: nn.Module, *, unpad: bool = True, fused_mlp: bool = True) -> int:
    """Switches every ``NomicBertModel`` inside ``model`` (a ``SentenceTransformer`` or any module) to the fast path.

    Args:
        model: The model; its ``NomicBertModel`` (and ``NomicBertMLP``) instances are changed in place to the
            subclasses above, nothing else is.
        unpad: Padding-free layers and per-sequence SDPA attention, on CPU. The stock forward runs for: no
            ``attention_mask``, ``inputs_embeds``, attentions or all hidden states asked for (argument or config),
            gradient checkpointing, a ``device_map``, eager or flash attention, and inputs on a GPU.
        fused_mlp: The SwiGLU MLP that keeps two activations for backward (an MLP whose down projection carries an
            adapter or a bias runs the stock forward).

    Returns:
        The number of modules switched (encoders plus MLPs).

    Raises:
        ValueError: ``model`` holds no ``NomicBertModel``.
    """
    encoders = [module for module in model.modules() if isinstance(module, _StockNomicBertModel)]
    if not encoders:
        raise ValueError(f"`model` holds no NomicBertModel (got {type(model).__name__}); nothing to switch.")
    switched = 0
    for encoder in encoders:
        if unpad and type(encoder) is _StockNomicBertModel:
            encoder.__class__ = NomicBertModel
            _register_output_capturing(encoder)
            switched += 1
        if fused_mlp:
            for module in encoder.modules():
                if type(module) is _StockNomicBertMLP:
                    module.__class__ = NomicBertMLP
                    switched += 1
    return switched


def disable_nomic_fast_path(model: nn.Module) -> int:
    """Moves every fast-path module in ``model`` back to transformers' class; returns how many were switched."""
    restored = 0
    for module in model.modules():
        if type(module) is NomicBertModel:
            module.__class__ = _StockNomicBertModel
            restored += 1
        elif type(module) is NomicBertMLP:
            module.__class__ = _StockNomicBertMLP
            restored += 1
    return restored
