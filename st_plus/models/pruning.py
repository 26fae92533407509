"""Layer pruning: a shallower copy of a sentence-transformers model, the usual start of a distilled student.

Keeping every other layer of the teacher (e.g. 0, 2, 4 of 6) and distilling the rest away is how the small
sentence-transformers models were made (all-MiniLM-L6 -> paraphrase-MiniLM-L3; Sanh et al., 2019, DistilBERT,
https://arxiv.org/abs/1910.01108, initialise from every second layer the same way).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from sentence_transformers import SentenceTransformer
from torch import nn

# Where the layer list lives in the encoders sentence-transformers wraps (BERT / RoBERTa / MPNet, NomicBERT,
# ModernBERT).
_LAYER_PATHS = ("encoder.layer", "encoder.layers", "layers")


def _layer_list(encoder: nn.Module) -> tuple[nn.Module, str, nn.ModuleList]:
    for path in _LAYER_PATHS:
        parent_path, _, name = path.rpartition(".")
        try:
            parent = encoder.get_submodule(parent_path) if parent_path else encoder
        except AttributeError:
            continue
        layers = getattr(parent, name, None)
        if isinstance(layers, nn.ModuleList):
            return parent, name, layers
    raise ValueError(
        f"prune_layers cannot find the layers of {type(encoder).__name__} (looked for {', '.join(_LAYER_PATHS)})."
    )


def prune_layers(model: SentenceTransformer, keep: Sequence[int]) -> SentenceTransformer:
    """A copy of ``model`` whose transformer keeps only the layers ``keep`` (in that order), as a plain ST model.

    ``config.num_hidden_layers`` follows (and per-layer config lists such as ModernBERT's ``layer_types`` are cut to
    the kept layers), so the copy saves and loads with ``SentenceTransformer(path)``. ``model`` is unchanged.

    Args:
        model: A model whose first module is sentence-transformers' ``Transformer``.
        keep: Indices of the layers to keep, e.g. ``[0, 2, 4]`` (any order; negative indices count from the end).

    Raises:
        ValueError: An empty or repeated ``keep``, an index out of range, or a model without a known layer list.

    Example:
        ::

            from st_plus.models import load_model, prune_layers

            student = prune_layers(load_model("default"), keep=[0, 2, 4])  # 6 -> 3 layers
            student.save("minilm-l3")
    """
    if not model.has_peft_compatible_model():
        raise ValueError("prune_layers needs a model whose first module is sentence-transformers' `Transformer`.")
    _, _, layers = _layer_list(model.transformers_model)
    count = len(layers)
    if not keep:
        raise ValueError("`keep` must name at least one layer, e.g. [0, 2, 4].")
    indices = [k + count if k < 0 else k for k in keep]
    if any(not 0 <= k < count for k in indices):
        raise ValueError(f"`keep` indices must be in [-{count}, {count}) for this {count}-layer model, got {keep}.")
    if len(set(indices)) != len(indices):
        raise ValueError(f"`keep` repeats a layer: {list(keep)}.")
    student = copy.deepcopy(model)
    encoder = student.transformers_model
    parent, name, layers = _layer_list(encoder)
    setattr(parent, name, nn.ModuleList([layers[k] for k in indices]))
    for position, layer in enumerate(getattr(parent, name)):
        for module in layer.modules():  # attention caches are indexed by position, not by the teacher's index
            if isinstance(getattr(module, "layer_idx", None), int):
                module.layer_idx = position
    config = encoder.config
    for field in ("layer_types",):
        value = getattr(config, field, None)
        if isinstance(value, list) and len(value) == count:
            setattr(config, field, [value[k] for k in indices])
    config.num_hidden_layers = len(indices)
    return student
