"""Whether a device multiplies bfloat16 natively, and the ``"auto"`` encoding precision that follows from it.

bfloat16 encoding pays only where the hardware has bf16 arithmetic: AMX-BF16 or AVX512-BF16 on CPUs, a GPU that
reports bf16 support. Elsewhere PyTorch emulates it, and the "fast" precision becomes the slow one: on a 2-core AMD
EPYC with AVX2 only, one ``(256, 384) @ (384, 1536)`` product took 251 ms in bfloat16 against 6.3 ms in float32
(40x; stop 53). ``dtype="auto"`` therefore means bfloat16 where it is native and float32 elsewhere, and an explicit
``"bfloat16"`` on a device without it is kept (the user asked for it) with one warning naming the cost.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

import torch

__all__ = [
    "ENCODING_DTYPES", "EncodingDtype", "check_dtype", "cpu_supports_bf16", "device_supports_bf16", "resolve_dtype",
]

logger = logging.getLogger(__name__)

EncodingDtype = Literal["auto", "float32", "bfloat16"]
#: The encoding precisions st_plus's encoders accept (``auto`` resolves to one of the other two).
ENCODING_DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16")
_CPUINFO = Path("/proc/cpuinfo")
_warned_devices: set[str] = set()


@functools.cache
def _cpu_flags_have_bf16() -> bool:
    """``/proc/cpuinfo`` read once per process (encoders resolve ``auto`` at every call; the flags do not change)."""
    try:
        flags = _CPUINFO.read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AMX-BF16 or AVX512-BF16), where bf16 autocast pays off."""
    return _cpu_flags_have_bf16()


def check_dtype(dtype: str) -> None:
    """Raises ``ValueError`` naming the choices unless ``dtype`` is one of :data:`ENCODING_DTYPES`."""
    if dtype not in ENCODING_DTYPES:
        raise ValueError(f"`dtype` must be one of {', '.join(map(repr, ENCODING_DTYPES))}, got {dtype!r}.")


def device_supports_bf16(device: str | torch.device = "cpu") -> bool:
    """Native bf16 on ``device``: the CPU's flags (:func:`cpu_supports_bf16`) or CUDA's own report; else False."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_supports_bf16()
    return False


def resolve_dtype(dtype: str, device: str | torch.device = "cpu") -> Literal["float32", "bfloat16"]:
    """``auto`` -> ``bfloat16`` where ``device`` has native bf16, else ``float32``; the other two unchanged.

    An explicit ``bfloat16`` on a device without native bf16 logs one warning per device type (it is emulated, and
    on such CPUs many times slower than float32).

    Raises:
        ValueError: ``dtype`` is not one of :data:`ENCODING_DTYPES`.
    """
    check_dtype(dtype)
    if dtype == "float32":
        return "float32"
    device = torch.device(device)
    native = device_supports_bf16(device)
    if dtype == "auto":
        return "bfloat16" if native else "float32"
    if not native and device.type not in _warned_devices:
        _warned_devices.add(device.type)
        what = "this CPU has neither AMX-BF16 nor AVX512-BF16" if device.type == "cpu" else "no native bf16"
        logger.warning(
            "bfloat16 encoding on %s (%s): PyTorch emulates it, which can be many times slower than float32 "
            "(40x on an AVX2-only CPU); use dtype 'auto' (bfloat16 only where native) or 'float32'.",
            device.type, what,
        )  # fmt: skip
    return "bfloat16"
