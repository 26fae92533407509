"""tests_helpers.launch_two_cpu_processes: a hung two-process run fails at its timeout and leaves no worker behind."""

from __future__ import annotations

import os
import time

import pytest
from tests_helpers import launch_two_cpu_processes


def test_a_hung_run_is_killed_with_its_workers(tmp_path):
    pids = tmp_path / "pids"
    script = tmp_path / "hang.py"
    script.write_text(f"import os, time\nopen({str(pids)!r} + str(os.getpid()), 'w').close()\ntime.sleep(600)\n")
    with pytest.raises(AssertionError, match="timed out after 20 s"):
        launch_two_cpu_processes(script, timeout=20)
    started = [int(p.name[len("pids"):]) for p in tmp_path.iterdir() if p.name.startswith("pids")]
    assert len(started) == 2  # both workers had started ...
    time.sleep(2)
    for pid in started:  # ... and none is left
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
