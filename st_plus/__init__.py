"""st_plus: the recipe of the best published embedding models, as a plugin for sentence-transformers."""

from st_plus._version import __version__
from st_plus.models import load_model

__all__ = ["__version__", "load_model"]
