"""The dynamic-negative files a checkpoint holds: the shared state, each process's reads, re-indexed candidates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from st_plus.mining.dynamic.state import DynamicNegatives

STATE_FILE = "dynamic_negatives.json"
CANDIDATES_FILE = "dynamic_negatives_candidates.safetensors"  # only once a reindex changed the candidates
LOCAL_STATE_FILE = "dynamic_negatives_rank{rank}.json"  # each process's reads (the batch in flight)


def file_names(name: str | None = None) -> tuple[str, str, str]:
    """``(state, local state, candidates)`` file names; a ``name`` (e.g. the task's) tells several states apart.

    Example: ``file_names("pairs")`` gives ``dynamic_negatives.pairs.json``,
    ``dynamic_negatives.pairs_rank{rank}.json`` and ``dynamic_negatives.pairs_candidates.safetensors``.
    """
    if name is None:
        return STATE_FILE, LOCAL_STATE_FILE, CANDIDATES_FILE
    tag = "." + re.sub(r"[^\w.-]+", "_", name)
    return f"dynamic_negatives{tag}.json", f"dynamic_negatives{tag}_rank{{rank}}.json", \
        f"dynamic_negatives{tag}_candidates.safetensors"  # fmt: skip


def write_json(path: Path, payload: Any) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def save_candidates(path: Path, candidates: list[list[int]], reindexes: int) -> None:
    """Ragged candidate lists as two int64 tensors (flat, offsets), written atomically with safetensors."""
    lengths = torch.tensor([len(c) for c in candidates], dtype=torch.int64)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
    flat = torch.tensor([doc for c in candidates for doc in c], dtype=torch.int64)
    tmp = path.with_name(path.name + ".tmp")
    save_file({"flat": flat, "offsets": offsets}, str(tmp), metadata={"reindexes": str(reindexes)})
    tmp.replace(path)


def load_candidates(path: Path, reindexes: int) -> list[list[int]]:
    """Reads :func:`save_candidates`'s file, checking it belongs to the state saved with ``reindexes`` re-indexes."""
    with safe_open(str(path), framework="pt") as f:
        if f.metadata().get("reindexes") != str(reindexes):
            raise ValueError(f"{path} is from another save than {STATE_FILE} (reindex count differs).")
        flat, offsets = f.get_tensor("flat").tolist(), f.get_tensor("offsets").tolist()
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def save_checkpoint_state(
    folder: Path, negatives: DynamicNegatives, history: list[dict[str, Any]], *, process_index: int, shared: bool,
    name: str | None = None,
) -> None:  # fmt: skip
    """Writes this process's reads into ``folder``, and with ``shared`` (one process) the state all processes share.

    ``name`` selects the :func:`file_names` (one set per dynamic-negative state trained at once).
    """
    state_file, local_file, candidates_file = file_names(name)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / local_file.format(rank=process_index), negatives.local_state_dict())
    if not shared:
        return
    payload = {"negatives": negatives.state_dict(), "history": history}
    candidates = payload["negatives"].pop("candidates", None)
    if candidates is not None:  # first the candidates, then the JSON that names their reindex count
        save_candidates(folder / candidates_file, candidates, negatives.reindexes)
    write_json(folder / state_file, payload)


def load_checkpoint_state(
    folder: Path, negatives: DynamicNegatives, *, process_index: int, name: str | None = None
) -> list[dict[str, Any]]:
    """Restores ``negatives`` from what :func:`save_checkpoint_state` wrote into ``folder``; returns the history.

    Raises:
        FileNotFoundError: A file is missing (e.g. resumed with another number of processes).
    """
    state_file, local_file, candidates_file = file_names(name)
    paths = [folder / state_file, folder / local_file.format(rank=process_index)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"Resuming from {folder} but {path} is missing (same number of processes?).")
    saved = json.loads(paths[0].read_text(encoding="utf-8"))
    reindexes = int(saved["negatives"].get("reindexes", 0))
    if reindexes:
        saved["negatives"]["candidates"] = load_candidates(folder / candidates_file, reindexes)
    negatives.load_state_dict(saved["negatives"])
    negatives.load_local_state_dict(json.loads(paths[1].read_text(encoding="utf-8")))
    return saved["history"]
