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


def test_seeds_summary_means_spreads_and_pairs_arms_by_seed_order(tmp_path):
    bench = load_script(SCRIPT, "bench_late_chunking")
    gold = [[_row("sentences:2", "naive", n, 0.1), _row("sentences:2", "late", late, 0.1)]
            for n, late in ((0.70, 0.71), (0.72, 0.70), (0.68, 0.69))]  # fmt: skip
    chunk = [[_row("sentences:2", "naive", n, 0.1), _row("sentences:2", "late", late, 0.1)]
             for n, late in ((0.69, 0.73), (0.70, 0.74), (0.71, 0.72))]  # fmt: skip
    gold[0].append(_row("sentences:5", "naive", 0.5, 0.1))  # scored for one seed only: left out
    named = [("gold", f) for f in gold] + [("chunk", f) for f in chunk]
    summary = bench.seeds_summary(named)
    late = summary["arms"]["chunk"]["sentences:2"]["late"]
    assert late["ndcg_at_10"] == {"mean": 73.0, "sd": 1.0, "seeds": [73.0, 74.0, 72.0]}
    assert late["minus_naive"]["seeds"] == [4.0, 4.0, 1.0] and late["minus_naive"]["mean"] == 3.0
    assert summary["arms"]["gold"]["sentences:2"]["late"]["minus_naive"]["seeds"] == [1.0, -2.0, 1.0]
    assert "minus_naive" not in summary["arms"]["gold"]["sentences:2"]["naive"]
    assert late["chunk_recall_at_10"] == {"mean": 10.0, "sd": 0.0, "seeds": [10.0, 10.0, 10.0]}
    assert list(summary["arms"]["gold"]) == ["sentences:2"] and summary["left_out"] == {"gold": ["sentences:5 naive"]}
    paired = summary["paired"]["chunk - gold"]["sentences:2"]
    assert paired["late"]["seeds"] == [2.0, 4.0, 3.0] and paired["late"]["sd"] == 1.0
    assert paired["naive"]["seeds"] == [-1.0, -2.0, 3.0]
    table = bench.seeds_table(summary).splitlines()
    row = "| chunk | sentences:2 | late | 73.00 ± 1.00 (73.00, 74.00, 72.00) | 3.00 ± 1.73 (4.00, 4.00, 1.00) |"
    assert row in table
    assert "| paired: chunk - gold | sentences:2 | late | 3.00 ± 1.00 (2.00, 4.00, 3.00) | |" in table
    assert table[-1] == "Left out of gold (not in every seed file): sentences:5 naive"
    for i, rows in enumerate(gold[:2]):
        (tmp_path / f"g{i}.json").write_text(json.dumps(rows))
    out = tmp_path / "summary.json"
    args = [sys.executable, str(SCRIPT), "--seeds", f"g={tmp_path / 'g0.json'}", f"g={tmp_path / 'g1.json'}",
            "--json", str(out)]  # fmt: skip
    subprocess.run(args, capture_output=True, text=True, check=True)
    assert json.loads(out.read_text())["arms"]["g"]["sentences:2"]["naive"]["ndcg_at_10"]["mean"] == 71.0
    uneven = subprocess.run([*args[:5], f"c={tmp_path / 'g0.json'}"], capture_output=True, text=True)
    assert uneven.returncode == 2 and "same number of seed files" in uneven.stderr
    (tmp_path / "t.json").write_text(json.dumps([{**r, "split": "test"} for r in gold[1]]))
    mixed = subprocess.run([*args[:4], f"g={tmp_path / 't.json'}"], capture_output=True, text=True)
    assert mixed.returncode == 2 and "differ in split" in mixed.stderr  # dev and test never averaged
    both = subprocess.run([*args[:4], "--table", f"g={tmp_path / 'g0.json'}"], capture_output=True, text=True)
    assert both.returncode == 2 and "exclude each other" in both.stderr
