"""Resident memory through a recipe run: ``st-plus train ARGS`` with VmRSS / VmHWM (MB) printed at every log record.

    python benchmarks/trace_memory.py examples/recipes/quickstart.yaml --output-dir runs/memtrace --quiet \
        > runs/memtrace.log 2>&1
    grep MEM runs/memtrace.log

Each ``MEM`` line (on stderr) gives the seconds since start, the process's resident memory (VmRSS) and its peak so
far (VmHWM) from ``/proc/self/status`` (Linux only), then the log record: which step of the recipe holds or raises
the memory. The last line is ``MEM END`` with the run's peak. Memory is not timing: this may run beside other jobs.
"""

from __future__ import annotations

import logging
import sys
import time

_START = time.time()


def _memory_mb() -> dict[str, int]:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) // 1024
    return values


class _MemoryHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 - logging.Handler hook
        mb = _memory_mb()
        sys.stderr.write(f"MEM t={time.time() - _START:6.1f} rss={mb['VmRSS']} hwm={mb['VmHWM']} | "
                         f"{record.name}: {record.getMessage()[:110]}\n")  # fmt: skip


def main() -> None:
    from st_plus.cli import main as st_plus_main

    logging.getLogger().addHandler(_MemoryHandler(level=logging.INFO))
    logging.getLogger().setLevel(logging.INFO)
    try:
        st_plus_main(["train", *sys.argv[1:]])
    finally:
        mb = _memory_mb()
        sys.stderr.write(f"MEM END rss={mb['VmRSS']} hwm={mb['VmHWM']}\n")


if __name__ == "__main__":
    main()
