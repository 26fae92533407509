"""Hands the memory a finished pipeline step freed back to the operating system.

PyTorch's CPU tensors come from the C allocator. Freed activations stay resident in glibc's heap, fragmented by
the many batch shapes: the quickstart's resident memory grows step after step within a stage and stays high
between the steps of a recipe (a stage, an evaluation).
:func:`release_memory` collects unreachable objects (a finished trainer and its callbacks form reference cycles)
and asks glibc to return its free pages (``malloc_trim``). Elsewhere (another C library, macOS, Windows) only the
collection runs. Both act on host memory only (not on GPU memory, which PyTorch's CUDA allocator manages).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys

from transformers import TrainerCallback


@functools.cache
def _malloc_trim():
    """The C library's ``malloc_trim`` (glibc), or ``None`` where it has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already runs on
    except (OSError, AttributeError):  # musl and other C libraries
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_heap() -> bool:
    """Returns glibc's free heap pages to the system (``malloc_trim(0)``); whether it ran."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def release_memory() -> bool:
    """Collects garbage, then returns glibc's free heap pages to the system; whether the trim ran."""
    gc.collect()
    return trim_heap()


class ReleaseMemoryCallback(TrainerCallback):
    """Trims the C heap after every ``every_steps`` optimizer steps (see the module's docstring).

    Batches of different lengths leave differently sized holes in the heap; without a trim the resident memory
    of a length-grouped stage grows step after step above what any one step needs.
    """

    def __init__(self, every_steps: int = 1) -> None:
        if every_steps < 1:
            raise ValueError(f"`every_steps` must be >= 1, got {every_steps}.")
        self.every_steps = every_steps

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102 - TrainerCallback hook
        if state.global_step % self.every_steps == 0:
            trim_heap()
