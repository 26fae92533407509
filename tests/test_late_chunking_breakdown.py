"""benchmarks/late_chunking_breakdown.py: per-query late - naive, bootstrap intervals and breakdowns, by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "late_chunking_breakdown.py"


@pytest.fixture(scope="module")
def breakdown():
    return load_script(SCRIPT, "late_chunking_breakdown")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Summarize the discussion about the remote", "summarize"),
        ("summarise what they said", "summarize"),
        ("What did Marketing think about the colour?", "what did X ..."),
        ("What was the decision on the budget?", "what (other)"),
        ("What’s the plan?", "what (other)"),
        ("Why did the team reject it?", "why"),
        ("How did B respond?", "how"),
        ("Which option won?", "other"),
        ("", "other"),
    ],
)
def test_query_type_reads_the_opening_words(breakdown, text, kind):
    assert breakdown.query_type(text) == kind


@pytest.mark.parametrize(
    ("meeting", "series"),
    [("ES2004a", "AMI (product design)"), ("TS3003c", "AMI (product design)"), ("IS1000a", "AMI (product design)"),
     ("Bed002", "ICSI (research)"), ("Bmr031", "ICSI (research)"), ("covid_4", "committee (parliament)"),
     ("education_12", "committee (parliament)")],
)  # fmt: skip
def test_meeting_series_from_the_id(breakdown, meeting, series):
    assert breakdown.meeting_series(meeting) == series


def test_cluster_bootstrap_draws_whole_groups(breakdown):
    values = np.array([1.0, 3.0, 10.0, 0.0, 2.0])
    groups = np.array(["a", "a", "b", "c", "c"])
    means = breakdown.bootstrap_means(values, groups, np.random.default_rng(5))
    # the same draws by hand: each resample picks 3 groups and averages all their members
    draws = np.random.default_rng(5).integers(0, 3, size=(breakdown.RESAMPLES, 3))
    members = {0: [1.0, 3.0], 1: [10.0], 2: [0.0, 2.0]}
    for row in (0, 1, 2, breakdown.RESAMPLES - 1):
        picked = [v for g in draws[row] for v in members[int(g)]]
        assert means[row] == pytest.approx(sum(picked) / len(picked))
    assert len(means) == breakdown.RESAMPLES
    constant = breakdown.bootstrap_means(np.full(4, 0.5), np.array([0, 0, 1, 2]), np.random.default_rng(0))
    assert np.allclose(constant, 0.5)


def _write_data(root: Path, split: str, queries: dict[str, tuple[str, str]]) -> None:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    meetings = sorted({meeting for meeting, _ in queries.values()})
    with (root / "corpus.jsonl").open("a", encoding="utf-8") as handle:
        for meeting in meetings:
            handle.write(json.dumps({"_id": meeting, "title": "", "text": f"A: words of {meeting}"}) + "\n")
    with (root / "queries.jsonl").open("a", encoding="utf-8") as handle:
        for query_id, (_, text) in queries.items():
            handle.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{m}\t1" for q, (m, _) in queries.items()]
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _per_query(path: Path, split: str, naive: dict[str, float], late: dict[str, float]) -> Path:
    rows = [{"chunker": "sentences:2", "variant": "naive", "ndcg_at_10": naive},
            {"chunker": "sentences:2", "variant": "late", "ndcg_at_10": late}]  # fmt: skip
    path.write_text(json.dumps({"split": split, "model": "m", "rows": rows}), encoding="utf-8")
    return path


def test_the_command_averages_seeds_per_query_and_compares_the_splits(tmp_path):
    data = tmp_path / "data"
    _write_data(data, "dev", {"d1": ("ES2004a", "What did A say?"), "d2": ("ES2004a", "Summarize it"),
                              "d3": ("Bed002", "Why did B leave?")})  # fmt: skip
    _write_data(data, "test", {"t1": ("covid_1", "How did C vote?"), "t2": ("Bmr001", "What did D think?")})
    files = [
        _per_query(tmp_path / "dev42.json", "dev",
                   {"d1": 0.5, "d2": 1.0, "d3": 0.2}, {"d1": 1.0, "d2": 1.0, "d3": 0.1}),
        _per_query(tmp_path / "dev43.json", "dev",
                   {"d1": 0.5, "d2": 0.8, "d3": 0.2}, {"d1": 0.7, "d2": 1.0, "d3": 0.2}),
        _per_query(tmp_path / "test42.json", "test", {"t1": 1.0, "t2": 0.4}, {"t1": 0.5, "t2": 0.4}),
        _per_query(tmp_path / "test43.json", "test", {"t1": 1.0, "t2": 0.4}, {"t1": 0.7, "t2": 0.6}),
    ]
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, str(SCRIPT), *map(str, files), "--chunker", "sentences:2", "--data",
                          str(data), "--json", str(out)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    dev, test = result["splits"]["dev"], result["splits"]["test"]
    # per query, mean over seeds: d1 (+0.5, +0.2) -> +0.35, d2 (0, +0.2) -> +0.1, d3 (-0.1, 0) -> -0.05
    assert dev["late_minus_naive"] == pytest.approx(100 * (0.35 + 0.1 - 0.05) / 3, abs=0.005)
    assert dev["per_seed"] == pytest.approx([100 * 0.4 / 3, 100 * 0.4 / 3], abs=0.005)
    assert (dev["queries_late_better"], dev["queries_naive_better"], dev["queries_tied"]) == (2, 1, 0)
    assert dev["meetings"] == 2 and dev["series"]["AMI (product design)"]["queries"] == 2
    assert dev["series"]["AMI (product design)"]["late_minus_naive"] == pytest.approx(22.5, abs=0.005)
    assert dev["query_type"]["why"] == {"queries": 1, "meetings": 1, "naive": 20.0, "late": 15.0,
                                        "late_minus_naive": -5.0}  # fmt: skip
    # test: t1 -> -0.4, t2 -> +0.1; mean -0.15
    assert test["late_minus_naive"] == pytest.approx(-15.0, abs=0.005)
    low, high = test["interval_95_meetings"]
    assert low == pytest.approx(-40.0, abs=0.005) and high == pytest.approx(10.0, abs=0.005)  # one meeting per draw x2
    assert result["difference"]["value"] == pytest.approx(dev["late_minus_naive_unrounded"] + 15.0, abs=0.005)
    # dev draws: {ES, ES} +0.225, {ES, Bed} +0.1333, {Bed, Bed} -0.05; test draws: -0.4, -0.15, +0.1. Each extreme
    # pair has probability 1/16 > 2.5%, so the interval ends are the extreme differences and pooled means
    assert result["difference"]["interval_95_meetings"] == pytest.approx([-15.0, 62.5], abs=0.005)
    assert result["pooled"]["queries"] == 5
    assert result["pooled"]["late_minus_naive"] == pytest.approx(100 * (0.35 + 0.1 - 0.05 - 0.4 + 0.1) / 5, abs=0.005)
    # pooled extremes: (2 x Bed -0.05 + 2 x t1 -0.4) / 4 and (2 x ES +0.45 + 2 x t2 +0.1) / 6
    assert result["pooled"]["interval_95_meetings"] == pytest.approx([-22.5, 100 * 1.1 / 6], abs=0.005)
    assert dev["seed_models"] == ["m", "m"]
    assert "| dev | 3 | 2 |" in run.stdout and "| pooled | 5 |" in run.stdout and "| 2 / 1 / 0 |" in run.stdout


def test_a_query_whose_seeds_cancel_or_tie_counts_as_tied(breakdown):
    files = [{"_path": "a", "rows": [{"chunker": "c", "variant": "naive", "ndcg_at_10": {"q1": 0.5, "q2": 0.4}},
                                     {"chunker": "c", "variant": "late", "ndcg_at_10": {"q1": 0.5, "q2": 0.6}}]},
             {"_path": "b", "rows": [{"chunker": "c", "variant": "naive", "ndcg_at_10": {"q1": 0.5, "q2": 0.6}},
                                     {"chunker": "c", "variant": "late", "ndcg_at_10": {"q1": 0.5, "q2": 0.4}}]}]
    diffs, scores = breakdown.load_differences(files, "c", "late")
    summary, _ = breakdown.split_summary(diffs, scores, {"q1": "ES2004a", "q2": "Bed002"},
                                         {"q1": "Why?", "q2": "How?"}, ["a", "b"], np.random.default_rng(0))
    assert (summary["queries_late_better"], summary["queries_naive_better"], summary["queries_tied"]) == (0, 0, 2)
    assert summary["queries_tied_at_top"] == 0
    assert summary["per_seed"] == [10.0, -10.0] and summary["late_minus_naive"] == 0.0
    top = [{"_path": "c", "rows": [{"chunker": "c", "variant": v, "ndcg_at_10": {"q1": 1.0, "q2": 1.0}}
                                   for v in ("naive", "late")]}]  # fmt: skip
    diffs, scores = breakdown.load_differences(top, "c", "late")
    summary, _ = breakdown.split_summary(diffs, scores, {"q1": "ES2004a", "q2": "Bed002"},
                                         {"q1": "Why?", "q2": "How?"}, ["c"], np.random.default_rng(0))
    assert summary["queries_tied"] == summary["queries_tied_at_top"] == 2


def test_seed_files_that_score_different_queries_are_refused(tmp_path):
    data = tmp_path / "data"
    _write_data(data, "dev", {"d1": ("ES2004a", "What did A say?"), "d2": ("Bed002", "Why?")})
    files = [_per_query(tmp_path / "a.json", "dev", {"d1": 0.5, "d2": 1.0}, {"d1": 1.0, "d2": 1.0}),
             _per_query(tmp_path / "b.json", "dev", {"d1": 0.5}, {"d1": 0.7})]  # fmt: skip
    run = subprocess.run([sys.executable, str(SCRIPT), *map(str, files), "--chunker", "sentences:2", "--data",
                          str(data)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and "score different queries" in run.stderr
    wrong = subprocess.run([sys.executable, str(SCRIPT), str(files[0]), "--chunker", "sentences:5", "--data",
                            str(data)], capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 2 and "no naive and late rows for chunker sentences:5" in wrong.stderr
    twice = subprocess.run([sys.executable, str(SCRIPT), str(files[0]), str(files[0]), "--chunker", "sentences:2",
                            "--data", str(data)], capture_output=True, text=True)  # fmt: skip
    assert twice.returncode == 2 and "a file is given twice" in twice.stderr


def test_bench_late_chunking_refuses_per_query_without_a_scoring_run(tmp_path):
    bench = SCRIPT.parent / "bench_late_chunking.py"
    run = subprocess.run([sys.executable, str(bench), "--table", "a=x.json", "--per-query", str(tmp_path / "q.json")],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and "--per-query needs a scoring run" in run.stderr


def test_bench_late_chunking_writes_each_querys_ndcg_and_the_breakdown_reads_it(tiny_bert, tmp_path):
    data = tmp_path / "data"
    _write_data(data, "dev", {"q1": ("ES2004a", "What did A say about the remote?"),
                              "q2": ("Bed002", "Why did B leave the lab?"),
                              "q3": ("ES2004a", "Summarize the budget")})  # fmt: skip
    for meeting in ("ES2004a", "Bed002"):  # longer meetings: one turn per line
        text = "\n".join(f"Speaker {i}: turn {i} of {meeting} about the remote and the lab budget" for i in range(6))
        rows = [json.loads(line) for line in (data / "corpus.jsonl").read_text().splitlines()]
        rows = [dict(r, text=text) if r["_id"] == meeting else r for r in rows]
        (data / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spans = [{"query-id": q, "corpus-id": m, "relevant_turn_spans": [[1, 2]]}
             for q, m in (("q1", "ES2004a"), ("q2", "Bed002"), ("q3", "ES2004a"))]  # fmt: skip
    (data / "spans.jsonl").write_text("".join(json.dumps(r) + "\n" for r in spans))
    model = tmp_path / "model"
    tiny_bert.save(str(model))
    bench = SCRIPT.parent / "bench_late_chunking.py"
    rows, per_query = tmp_path / "rows.json", tmp_path / "q.json"
    run = subprocess.run([sys.executable, str(bench), "--data", str(data), "--split", "dev", "--model", str(model),
                          "--chunkers", "lines:1", "--modes", "naive", "late", "--dtype", "float32",
                          "--json", str(rows), "--per-query", str(per_query)],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert run.returncode == 0, run.stderr
    written, aggregate = json.loads(per_query.read_text()), json.loads(rows.read_text())
    assert written["split"] == "dev" and written["model"] == str(model)
    for row, scored in zip(written["rows"], aggregate, strict=True):
        assert (row["chunker"], row["variant"]) == (scored["chunker"], scored["variant"])
        assert set(row["ndcg_at_10"]) == {"q1", "q2", "q3"}
        mean = sum(row["ndcg_at_10"].values()) / 3
        assert round(mean, 5) == pytest.approx(scored["ndcg_at_10"], abs=1e-5)  # the per-query scores average to it
    out = subprocess.run([sys.executable, str(SCRIPT), str(per_query), "--chunker", "lines:1", "--data", str(data)],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "| dev | 3 | 2 |" in out.stdout
