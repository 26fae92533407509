"""Absolute paths made relative to a base folder, for what a trained model folder carries to other machines."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# A candidate absolute POSIX path inside a message: "/" after a space, quote or bracket (so not "https://", "1/2",
# "and/or", "~/x"), up to a space, quote, colon, semicolon, comma or bracket. Only candidates that name an existing
# file or folder are rewritten, so "/s" in "12 samples /s" or "/imagine" in a prompt stay as they are.
_CANDIDATE = re.compile(r"(?<![^\s'\"(\[{=])/[^\s:;'\"(),\[\]{}]+")


def _relative(path: str, base: str) -> str:
    rel = os.path.relpath(path, base)
    return rel if rel == "." or rel.startswith("..") else f"./{rel}"  # "./x": never read as a Hub id "org/name"


def _in_message(match: re.Match[str], base: str) -> str:
    text = match.group(0)
    path = text.rstrip(".,;")  # a path at the end of a sentence
    return _relative(path, base) + text[len(path) :] if os.path.lexists(path) else text


def relative_paths(value: Any, base: str | Path) -> Any:
    """A copy of ``value`` whose absolute paths are written relative to ``base``.

    A string that is an absolute path as a whole (a recipe's data, corpus or model path; with a space in it only
    where it exists) becomes
    ``os.path.relpath(path, base)``, with ``./`` in front where it does not start with ``..`` (so that
    ``./models/tiny`` is never taken for the Hub id ``models/tiny``). Inside other strings (log messages,
    warnings) an absolute path is rewritten only where that file or folder exists on this machine, so prompts,
    licences, URLs and units stay as they are. Lists, tuples and dictionary values are walked (keys never change);
    other values are returned unchanged.

    The published model folder holds its resolved recipe and run record this way: paths inside the recipe's own
    tree lose the builder's folder layout; a path outside it still shows its layout below the common parent
    (``../../data/x``). POSIX paths only: a Windows path is left as it is.

    Args:
        value: A string, number, ``None``, or nested lists / tuples / dictionaries of them.
        base: A folder, e.g. the folder of the recipe file.
    """
    base = os.path.abspath(base)
    if isinstance(value, str):
        whole = value.startswith("/") and not value.startswith("//")
        if whole and (not any(c.isspace() for c in value) or os.path.lexists(value)):  # not a message that starts so
            return _relative(value, base)
        return _CANDIDATE.sub(lambda match: _in_message(match, base), value)
    if isinstance(value, dict):
        return {key: relative_paths(item, base) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [relative_paths(item, base) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value
