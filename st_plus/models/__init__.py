"""Model loading and (later) model builders."""

from st_plus.models._loading import DEFAULT_MODEL, default_model_path, load_model, resolve_model_path

__all__ = ["DEFAULT_MODEL", "default_model_path", "load_model", "resolve_model_path"]
