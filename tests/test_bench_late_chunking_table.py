"""benchmarks/bench_late_chunking.py --table: the markdown table of written rows, by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_late_chunking.py"


def _row(chunker: str, variant: str, ndcg: float, recall: float) -> dict:
    return {"split": "dev", "chunker": chunker, "variant": variant, "ndcg_at_10": ndcg, "chunk_recall_at_10": recall}


def test_the_table_pairs_each_late_mode_with_naive_of_the_same_chunker():
    rows = [_row("sentences:2", "naive", 0.6637, 0.0727), _row("sentences:2", "late", 0.6869, 0.0991),
            _row("sentences:5", "naive", 0.70, 0.1), _row("sentences:5", "late", 0.69, 0.2)]  # fmt: skip
    table = load_script(SCRIPT, "bench_late_chunking").chunker_table([("m", rows)]).splitlines()
    assert table[0] == "| model | split | chunker | naive | late | late - naive |"
    assert table[2] == "| m | dev | sentences:2 | 66.37 (7.27) | 68.69 (9.91) | +2.32 |"
    assert table[3] == "| m | dev | sentences:5 | 70.00 (10.00) | 69.00 (20.00) | -1.00 |"


def test_a_missing_mode_leaves_its_cells_empty_and_the_cli_reads_files(tmp_path):
    a = [_row("sentences:1", "naive", 0.5, 0.1), _row("sentences:1", "long-late", 0.53, 0.2)]
    b = [_row("sentences:1", "late", 0.6, 0.3)]  # no naive: no difference
    table = load_script(SCRIPT, "bench_late_chunking").chunker_table([("a", a), ("b", b)]).splitlines()
    assert table[0].endswith("| naive | late | long-late | late - naive | long-late - naive |")
    assert table[2] == "| a | dev | sentences:1 | 50.00 (10.00) |  | 53.00 (20.00) |  | +3.00 |"
    assert table[3] == "| b | dev | sentences:1 |  | 60.00 (30.00) |  |  |  |"
    (tmp_path / "a.json").write_text(json.dumps(a))
    out = subprocess.run([sys.executable, str(SCRIPT), "--table", f"a={tmp_path / 'a.json'}"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "| a | dev | sentences:1 | 50.00 (10.00) | 53.00 (20.00) | +3.00 |" in out
    bad = subprocess.run([sys.executable, str(SCRIPT), "--table", "nofile"], capture_output=True, text=True)
    assert bad.returncode == 2 and "NAME=FILE" in bad.stderr
    missing = subprocess.run([sys.executable, str(SCRIPT), "--table", f"a={tmp_path / 'none.json'}"],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "no file" in missing.stderr
