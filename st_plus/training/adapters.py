"""LoRA adapters on sentence-transformers models, through ST's own peft integration (``model.add_adapter``).

LoRA (Hu et al., 2021, https://arxiv.org/abs/2106.09685) freezes the encoder and trains a low-rank update
``W + (alpha / r) * B @ A`` of chosen linear layers. sentence-transformers hands ``add_adapter`` to the transformers
model inside its ``Transformer`` module (``PeftAdapterMixin``), so:

- ``model.save(path)`` writes the adapter only (``adapter_config.json`` + ``adapter_model.safetensors``, next to
  ST's ``modules.json`` and the tokenizer); ``SentenceTransformer(path)`` loads the base model named in
  ``adapter_config.json`` and the adapter on top, where ``peft`` is installed;
- :func:`merge_adapter` folds the update into the weights: a plain folder that needs no peft.

The training pipeline applies :func:`apply_adapter` to the model of stages 1 and 2 (a model reloaded from a stage's
saved adapter gets its adapter trainable again, not a second one), so one adapter is trained through both stages.

Example::

    from st_plus import load_model
    from st_plus.training import AdapterSpec, apply_adapter, merge_adapter

    model = load_model("default")
    apply_adapter(model, AdapterSpec(r=16, alpha=32))  # ~2.9% of the parameters train
    ...                                                # train with SentenceTransformerTrainer
    model.save("lora-model")                           # adapter only; SentenceTransformer("lora-model") loads it
    merge_adapter(model).save("merged-model")          # plain weights
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import torch
import transformers.integrations.peft as integration
from packaging import version
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer
from sentence_transformers import SentenceTransformer

from st_plus.training.recipe import DEFAULT_TARGETS, AdapterSpec

logger = logging.getLogger(__name__)

ADAPTER_NAME = "default"  # peft's and transformers' default adapter name
_TESTED_PEFT = "0.21"  # the oldest peft whose LoRA save / load round trip st_plus tests with transformers 5.x


def lora_config(spec: AdapterSpec) -> Any:
    """The ``peft.LoraConfig`` of a spec (default targets: every linear layer of a BERT block).

    Raises:
        ValueError: An unknown ``method``.
    """
    if spec.method != "lora":
        raise ValueError(f"`method` must be 'lora', got {spec.method!r}.")
    targets = list(spec.target_modules or DEFAULT_TARGETS)
    return LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets)


def _transformers_model(model: SentenceTransformer) -> Any:
    if not model.has_peft_compatible_model():
        raise ValueError("adapters need a model whose first module is sentence-transformers' `Transformer`.")
    return model.transformers_model


def has_adapter(model: SentenceTransformer) -> bool:
    """Whether the model's transformer carries a peft adapter."""
    return bool(getattr(model.transformers_model, "_hf_peft_config_loaded", False))


def _allow_installed_peft() -> None:
    """Lets transformers' adapter methods run with a peft release older than transformers asks for.

    transformers 5.x refuses peft < 0.22 in ``add_adapter`` and when saving (a version check), although LoRA on
    encoder models saves and loads the same with peft 0.21 (loading never checks). Where the installed peft is at
    least ``_TESTED_PEFT`` this relaxes that check to ``_TESTED_PEFT`` (with a warning); older peft still fails.
    """
    check = integration.check_peft_version
    if getattr(check, "_st_plus_relaxed", False):
        return
    try:
        check(min_version=integration.MIN_PEFT_VERSION)
        return
    except ValueError:
        installed = importlib.metadata.version("peft")
        if version.parse(installed) < version.parse(_TESTED_PEFT):
            raise ValueError(
                f"LoRA adapters need peft >= {_TESTED_PEFT} (installed: {installed}); pip install -U peft"
            ) from None
    logger.warning(
        "transformers asks for peft >= %s; using the installed peft %s for LoRA (tested by st_plus). "
        "Upgrade peft to silence this.",
        integration.MIN_PEFT_VERSION,
        importlib.metadata.version("peft"),
    )

    def relaxed(min_version: str) -> None:
        check(min_version=_TESTED_PEFT)

    relaxed._st_plus_relaxed = True
    integration.check_peft_version = relaxed


def apply_adapter(model: SentenceTransformer, spec: AdapterSpec) -> SentenceTransformer:
    """Adds a LoRA adapter (``model.add_adapter``), or makes the adapter of a reloaded adapter model trainable.

    Only the adapter's parameters train afterwards. Returns ``model`` (changed in place).

    Raises:
        ValueError: A model without a ``Transformer`` module, or a loaded adapter whose rank differs from ``spec``.
    """
    inner = _transformers_model(model)
    _allow_installed_peft()
    if has_adapter(model):
        loaded = inner.peft_config[ADAPTER_NAME]
        if loaded.r != spec.r:
            raise ValueError(f"the model's adapter has r={loaded.r}, the spec r={spec.r}: use the same `r`.")
        for name, parameter in inner.named_parameters():
            parameter.requires_grad_(".lora_" in name)
    else:
        model.add_adapter(lora_config(spec), adapter_name=ADAPTER_NAME)
    counts = parameter_counts(model)
    logger.info("LoRA r=%d: %d of %d parameters train (%.2f%%)", spec.r, counts["trainable"], counts["total"],
                100 * counts["trainable_share"])  # fmt: skip
    return model


def parameter_counts(model: torch.nn.Module) -> dict[str, Any]:
    """``{"trainable", "total", "trainable_share"}`` (parameters with ``requires_grad``)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total, "trainable_share": round(trainable / max(total, 1), 5)}


def adapter_summary(model: SentenceTransformer, spec: AdapterSpec) -> dict[str, Any]:
    """The run record's adapter entry: the settings and the parameter counts."""
    targets = list(spec.target_modules or DEFAULT_TARGETS)
    return {"method": spec.method, "r": spec.r, "alpha": spec.alpha, "dropout": spec.dropout,
            "target_modules": targets, "merge": spec.merge, **parameter_counts(model)}  # fmt: skip


def merge_adapter(model: SentenceTransformer) -> SentenceTransformer:
    """Folds the LoRA update into the weights and removes the adapter layers (in place); returns ``model``.

    Afterwards ``model.save`` writes a plain folder (``config.json`` + ``model.safetensors``) that loads without
    peft; the embeddings are those of the adapter model up to float rounding.
    """
    inner = _transformers_model(model)
    if not has_adapter(model):
        return model
    for name, module in list(inner.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge(adapter_names=[ADAPTER_NAME])
            parent_name, _, child = name.rpartition(".")
            setattr(inner.get_submodule(parent_name) if parent_name else inner, child, module.get_base_layer())
    inner._hf_peft_config_loaded = False
    del inner.peft_config
    if getattr(inner, "_weight_conversions", None) is not None:
        # a model loaded with its adapter remembers the adapter's key renaming (``base_model.model.``) and would
        # save its plain weights under those names: forget it, as for a model built in memory
        inner._weight_conversions = None
    for parameter in inner.parameters():
        parameter.requires_grad_(True)
    return model
