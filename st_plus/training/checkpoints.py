"""Atomic checkpoints: a checkpoint counts only once a marker is written after everything else in it.

transformers' ``Trainer`` writes ``checkpoint-<step>/`` file by file, so a run killed mid-save leaves a folder that
looks like a checkpoint but is not one. :class:`CheckpointCommitCallback` (add it last, after every callback that
writes into checkpoints) writes ``st_plus_complete.json`` with a temporary file and ``os.replace`` once all
processes have finished saving; :func:`last_complete_checkpoint` only ever returns folders with that marker.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch.distributed as dist
from sentence_transformers.util import is_dist_initialized
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

COMPLETE_MARKER = "st_plus_complete.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Writes ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, payload: Any) -> Path:
    """:func:`atomic_write_text` of indented JSON."""
    return atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_save_model(model: Any, path: str | Path) -> Path:
    """``model.save`` into a temporary sibling folder, then renamed into place (an existing ``path`` is replaced)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp), safe_serialization=True)
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def last_complete_checkpoint(folder: str | Path) -> Path | None:
    """The highest ``checkpoint-<step>`` in ``folder`` that holds the completion marker, else ``None``."""
    complete = [p for _, p in _checkpoints(Path(folder)) if (p / COMPLETE_MARKER).is_file()]
    return complete[-1] if complete else None


def discard_incomplete_checkpoints(folder: str | Path) -> list[Path]:
    """Deletes checkpoint folders without the marker (half-written by a killed run); returns them."""
    removed = [p for _, p in _checkpoints(Path(folder)) if not (p / COMPLETE_MARKER).is_file()]
    for path in removed:
        logger.warning("Discarding the incomplete checkpoint %s (the run was interrupted while saving it).", path)
        shutil.rmtree(path)
    return removed


class CheckpointCommitCallback(TrainerCallback):
    """Marks each checkpoint complete once every process has saved its share (add it after all other callbacks)."""

    def on_save(self, args, state, control, **kwargs):  # noqa: D102 - TrainerCallback hook
        if is_dist_initialized():
            dist.barrier()  # every process has written its files (optimizer shards, RNG state, callback state)
        if args.should_save:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            for path in folder.rglob("*"):
                if path.is_file():
                    with open(path, "rb") as handle:
                        os.fsync(handle.fileno())
            atomic_write_json(folder / COMPLETE_MARKER, {"global_step": state.global_step})
        if is_dist_initialized():
            dist.barrier()
        return control
