"""Weighted parameter averaging of sentence-transformers models that share an architecture (LM-Cocktail).

A model fine-tuned on a narrow domain gains there and loses some general ability. LM-Cocktail (Xiao et al., 2023,
https://arxiv.org/abs/2311.13534; FlagEmbedding's ``LM_Cocktail``) merges it with its base model (and possibly
other models) by a weighted average of every parameter, ``theta = sum_i w_i * theta_i`` with ``sum_i w_i = 1``;
the weights are chosen on a few examples of the target tasks. Model soups (Wortsman et al., ICML 2022) average
fine-tuned runs of one start in the same way.

:func:`merge_models` checks that the models can be averaged (same modules, same parameter names and shapes, same
tokenizer vocabulary), averages them with :func:`weighted_average` and optionally saves a plain
sentence-transformers folder (stock modules, safetensors) with an ``st_plus_run.json`` that records the merge.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer

from st_plus._version import __version__
from st_plus.models._loading import DEFAULT_MODEL, load_model
from st_plus.portable_paths import relative_paths

__all__ = ["check_mergeable", "merge_models", "normalize_weights", "weighted_average"]

logger = logging.getLogger(__name__)

MERGE_RECORD_KEY = "merge"
_DEFAULT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
_ARCHITECTURE_KEYS = ("model_type", "hidden_act", "num_attention_heads", "position_embedding_type")


def normalize_weights(weights: Sequence[float], num_models: int) -> list[float]:
    """Checks the merge weights and scales them to sum to 1.

    Args:
        weights: One positive, finite weight per model (e.g. ``[0.7, 0.3]`` or ``[7, 3]``: the same merge).
        num_models: How many models are merged.

    Returns:
        The weights divided by their sum.

    Raises:
        ValueError: Wrong count, or a weight that is not a positive finite number.
    """
    if len(weights) != num_models:
        raise ValueError(f"`weights` needs one weight per model ({num_models}), got {len(weights)}: {list(weights)}.")
    for weight in weights:
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ValueError(f"`weights` must be positive finite numbers, got {weight!r} in {list(weights)}.")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def weighted_average(
    state_dicts: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
) -> dict[str, torch.Tensor]:
    """The weighted average of state dicts with equal keys and shapes: the pure maths of a merge.

    Floating-point tensors (parameters and buffers) become ``sum_i weights[i] * tensor_i``, accumulated in float32
    (float64 for float64 tensors) and cast back to the first state dict's dtype. Other tensors (integer buffers
    such as BERT's ``position_ids``) are taken from the first state dict.

    Args:
        state_dicts: The models' state dicts (checked by :func:`check_mergeable` when they come from models).
        weights: One weight per state dict, used as given (see :func:`normalize_weights`).

    Returns:
        A new state dict (no tensor is shared with the inputs).
    """
    if len(state_dicts) != len(weights) or not state_dicts:
        raise ValueError(
            f"need one weight per state dict, got {len(state_dicts)} state dicts, {len(weights)} weights."
        )
    merged = {}
    for key, first in state_dicts[0].items():
        if not first.is_floating_point():
            merged[key] = first.detach().clone()
            continue
        accumulate = torch.float64 if first.dtype == torch.float64 else torch.float32
        total = torch.zeros(first.shape, dtype=accumulate, device=first.device)
        for state, weight in zip(state_dicts, weights, strict=True):
            total.add_(state[key].detach().to(device=first.device, dtype=accumulate), alpha=float(weight))
        merged[key] = total.to(first.dtype)
    return merged


def _describe(model: SentenceTransformer) -> list[tuple[str, str]]:
    return [(name, type(module).__qualname__) for name, module in model.named_children()]


def _module_config(module: torch.nn.Module) -> dict[str, Any] | None:
    """What must agree between modules of one position: the architecture of a transformer, else its config."""
    auto_model = getattr(module, "auto_model", None)
    if auto_model is not None:
        config = auto_model.config
        return {key: getattr(config, key) for key in _ARCHITECTURE_KEYS if hasattr(config, key)}
    get_config = getattr(module, "get_config_dict", None)
    return dict(get_config()) if callable(get_config) else None


def _vocabulary(model: SentenceTransformer) -> dict[str, int] | None:
    tokenizer = getattr(model, "tokenizer", None)
    get_vocab = getattr(tokenizer, "get_vocab", None)
    return get_vocab() if callable(get_vocab) else None


def check_mergeable(models: Sequence[SentenceTransformer], names: Sequence[str]) -> None:
    """Raises a ``ValueError`` naming the first difference that makes ``models`` impossible to average.

    Checked against the first model: the module list (names and classes), each module's architecture settings
    (transformer model type and heads; the configuration of pooling and other modules), the parameter and buffer
    names, shapes and kinds (floating point or not), and the tokenizer vocabulary.

    Args:
        models: Loaded models.
        names: How each model is named in the messages (its path or ``"default"``).
    """
    first, first_name = models[0], names[0]
    structure, vocab, state = _describe(first), _vocabulary(first), first.state_dict()
    for model, name in zip(models[1:], names[1:], strict=True):
        other = _describe(model)
        if other != structure:
            raise ValueError(
                f"{name!r} has modules {other}, {first_name!r} has {structure}: only models of one architecture can "
                "be merged."
            )
        for (module_name, _), module_a, module_b in zip(structure, first.children(), model.children(), strict=True):
            config_a, config_b = _module_config(module_a), _module_config(module_b)
            if config_a != config_b:
                raise ValueError(
                    f"module {module_name} differs: {first_name!r} has {config_a}, {name!r} has {config_b}; "
                    "only models of one architecture can be merged."
                )
        other_state = model.state_dict()
        missing, extra = sorted(set(state) - set(other_state)), sorted(set(other_state) - set(state))
        if missing or extra:
            raise ValueError(
                f"parameter names differ: {name!r} lacks {missing[:5]} and has extra {extra[:5]} compared with "
                f"{first_name!r}; only models of one architecture can be merged."
            )
        for key, tensor in state.items():
            if tensor.shape != other_state[key].shape:
                raise ValueError(
                    f"parameter {key} has shape {tuple(other_state[key].shape)} in {name!r} but "
                    f"{tuple(tensor.shape)} in {first_name!r}; only models of one architecture can be merged."
                )
            if tensor.is_floating_point() != other_state[key].is_floating_point():
                raise ValueError(f"parameter {key} is floating point in one of {first_name!r} and {name!r} only.")
        other_vocab = _vocabulary(model)
        if other_vocab != vocab:
            diff = sorted(set((vocab or {}).items()) ^ set((other_vocab or {}).items()))[:5]
            raise ValueError(
                f"tokenizer vocabularies differ between {first_name!r} and {name!r} (e.g. {diff}); merged weights "
                "would map token ids to the wrong embeddings. Merge models that share a tokenizer."
            )


def _name_of(item: SentenceTransformer | str | Path, index: int) -> str:
    if isinstance(item, SentenceTransformer):
        return str(
            getattr(item.model_card_data, "model_id", None) or item.model_card_data.base_model or f"model {index}"
        )
    return str(item)


def _run_record(path: str | Path) -> dict[str, Any] | None:
    file = Path(path) / "st_plus_run.json"
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        logger.warning("%s is not valid JSON; the merge record does not use it", file)
        return None


def merge_record(names: Sequence[str], weights: Sequence[float], given: Sequence[float]) -> dict[str, Any]:
    """The ``extra.merge`` entry of ``st_plus_run.json``: method, ingredients and their (normalised) weights."""
    return {
        "method": "weighted parameter average (LM-Cocktail)",
        "ingredients": [
            {"model": name, "weight": round(weight, 6), "weight_given": given_weight}
            for name, weight, given_weight in zip(names, weights, given, strict=True)
        ],
    }


def _record_for_output(names: Sequence[str], weights: Sequence[float], given: Sequence[float]) -> dict[str, Any]:
    """A ``st_plus_run.json`` for the merged folder: the ingredients' training stages (for the card) and the merge.

    The ingredients' evaluation results describe the unmerged models, so they are not carried over.
    """
    records = [(name, _run_record(name)) for name in names if name != DEFAULT_MODEL and Path(name).is_dir()]
    base_models = [record.get("base_model") for _, record in records if record and record.get("base_model")]
    if DEFAULT_MODEL in names:
        base_models.append(_DEFAULT_HUB_ID)
    stages = [
        {**stage, "name": f"{Path(name).name}/{stage.get('name', 'stage')}"}
        for name, record in records
        if record
        for stage in record.get("stages") or []
    ]
    info: dict[str, Any] = {"st_plus_version": __version__}
    if base_models:
        info["base_model"] = base_models[0]
    if stages:
        info["stages"] = stages
    info["extra"] = {MERGE_RECORD_KEY: merge_record(names, weights, given)}
    # the folder may be published: absolute paths in the record (an ingredient named by one, a path in a carried
    # stage's messages) are written relative to the working directory the merge ran in, so the record does not
    # carry this machine's folder layout; the ingredients' own relative paths (to their recipes) stay as they are
    return relative_paths(info, os.getcwd())


def merge_models(
    models_or_paths: Sequence[SentenceTransformer | str | Path],
    weights: Sequence[float],
    *,
    output: str | Path | None = None,
    overwrite: bool = False,
) -> SentenceTransformer:
    """Merges models of one architecture and tokenizer by a weighted average of their parameters (LM-Cocktail).

    The weights are normalised to sum to 1, so ``[0.7, 0.3]`` and ``[7, 3]`` give the same model. The merged
    model has the first model's modules and settings (``max_seq_length``, prompts, integer buffers such as
    ``position_ids``); every floating-point parameter and buffer is averaged (:func:`weighted_average`).

    Args:
        models_or_paths: Two or more models: loaded ``SentenceTransformer`` objects, folders, or ``"default"``
            (the bundled all-MiniLM-L6-v2). Typically the fine-tuned model first, then its base.
        weights: One positive weight per model, e.g. ``[0.7, 0.3]``.
        output: Save the merged model here: a plain sentence-transformers folder (safetensors), with
            ``st_plus_run.json`` recording the ingredients and weights under ``extra.merge`` (an ingredient given
            by an absolute path is recorded relative to the working directory, e.g. ``./runs/a/model``).
        overwrite: Replace a non-empty ``output`` folder.

    Returns:
        The merged model (on the CPU).

    Raises:
        ValueError: Fewer than two models, bad weights, or models that cannot be averaged (the message names the
            first mismatch: modules, parameter names or shapes, or the tokenizer vocabulary).
        FileExistsError: ``output`` exists and is not empty, without ``overwrite``.

    Example::

        from st_plus.models import merge_models

        merged = merge_models(["runs/quickstart/model", "default"], [0.7, 0.3], output="runs/quickstart-merged")
    """
    if len(models_or_paths) < 2:
        raise ValueError(f"`models_or_paths` needs at least two models to merge, got {len(models_or_paths)}.")
    normalised = normalize_weights(weights, len(models_or_paths))
    if output is not None:
        out = Path(output)
        if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it.")
    names = [_name_of(item, i) for i, item in enumerate(models_or_paths)]
    models = [
        item if isinstance(item, SentenceTransformer) else load_model(item, device="cpu") for item in models_or_paths
    ]
    check_mergeable(models, names)
    merged_state = weighted_average([m.state_dict() for m in models], normalised)
    merged = copy.deepcopy(models[0]).to("cpu")
    merged.load_state_dict(merged_state)
    logger.info("Merged %s with weights %s", names, [round(w, 4) for w in normalised])
    if output is not None:
        _save(merged, Path(output), _record_for_output(names, normalised, list(weights)), overwrite=overwrite)
    return merged


def _save(model: SentenceTransformer, out: Path, record: dict[str, Any], *, overwrite: bool) -> None:
    if overwrite and out.exists():
        logger.warning("Replacing %s (overwrite)", out)
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    model.model_card_data.add_tags(["st-plus", "merged", "lm-cocktail"])
    model.save(str(out), safe_serialization=True)
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    (out / "st_plus_run.json").write_text(text, encoding="utf-8")
