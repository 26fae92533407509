"""YAML loading that remembers the line of every key, so recipe errors can name it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


class RecipeError(ValueError):
    """A recipe problem, shown as ``file:line: key: message``."""


def load_yaml_with_lines(path: str | Path) -> tuple[Any, dict[KeyPath, int]]:
    """Parses a YAML file; returns the data and ``{key path: 1-based line}`` for every mapping key and list item.

    Raises:
        RecipeError: The file is missing, is not valid YAML (with the parser's line), or holds several documents.
    """
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RecipeError(f"{path}:1: the recipe is empty")
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise RecipeError(f"{path}:{line}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*prefix, key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, (*prefix, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _collect_lines(item, (*prefix, index), lines)


def line_of(lines: dict[KeyPath, int], key: KeyPath) -> int | None:
    """The line of ``key``, else of its nearest ancestor present in the file."""
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return lines.get(())


def dotted(key: KeyPath) -> str:
    """``("stages", "multitask", "tasks", 0, "data")`` -> ``stages.multitask.tasks[0].data``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
