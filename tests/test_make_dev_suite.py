"""benchmarks/make_dev_suite.py: the Debian retrieval split of one hash bucket (the dev one, or a fresh one)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "make_dev_suite.py"


@pytest.fixture(scope="module")
def suite():
    return load_script(SCRIPT, "make_dev_suite")


def _shared(tmp_path, suite, shipped_rows):
    sources = [f"src{i}" for i in range(400)]
    rows = [{"anchor": f"title {s} {k}", "positive": f"description of {s} package {k}", "source": s}
            for s in sources for k in range(2)]  # fmt: skip
    shipped_sources = {r["source"] for r in shipped_rows}
    # a shipped bucket-2 source, and a shipped description under a new bucket-2 source name: both must stay out
    shipped = next(r for r in shipped_rows if suite.debian_bucket(r["source"]) == 2)
    renamed = next(s for s in (f"new{i}" for i in range(1000)) if suite.debian_bucket(s) == 2)
    rows += [dict(shipped), {**shipped, "source": renamed, "anchor": "a title seen nowhere"}]
    folder = tmp_path / "shared" / "train_debian_descriptions_en"
    folder.mkdir(parents=True)
    with gzip.open(folder / "train.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    return tmp_path / "shared", {s for s in sources if suite.debian_bucket(s) == 2} - shipped_sources


def test_a_bucket_split_holds_only_that_buckets_unshipped_sources(suite, tmp_path):
    shipped = suite.read_jsonl(suite.ROOT / "examples" / "training_data" / "debian_pairs_en.jsonl.gz")
    shared, expected = _shared(tmp_path, suite, shipped)
    out = tmp_path / "fresh" / "retrieval_debian_b2_en"
    suite.debian_dev(shared, out, n_queries=10, bucket=2)
    corpus = [json.loads(line)["text"] for line in (out / "corpus.jsonl").read_text().splitlines()]
    # every description of every unshipped bucket-2 source, and nothing else (no shipped source or description)
    assert corpus and {text.split()[2] for text in corpus if text.startswith("description of")} == expected
    assert all(text.startswith("description of") for text in corpus)
    queries = [json.loads(line)["text"] for line in (out / "queries.jsonl").read_text().splitlines()]
    assert len(queries) == 10 and all(q.split()[1] in expected for q in queries)
    qrels = (out / "qrels" / "dev.tsv").read_text().splitlines()
    assert qrels[0] == "query-id\tcorpus-id\tscore" and len(qrels) == 11  # one description per title here
    assert json.loads((out / "task.json").read_text())["task_type"] == "Retrieval"


@pytest.mark.parametrize("bucket", ["0", "1", "20"])
def test_the_test_and_dev_buckets_are_refused(suite, tmp_path, monkeypatch, bucket):
    monkeypatch.setattr(sys, "argv", ["make_dev_suite.py", "--debian-bucket", bucket, "--output", str(tmp_path)])
    with pytest.raises(SystemExit, match="--debian-bucket: 2-19"):
        suite.main()


def test_the_chinese_classification_tasks_are_scored_with_c_mtebs_32_rows_per_label(suite, tmp_path, monkeypatch):
    from st_plus.data.tasks import load_task
    from st_plus.evaluation.suite import build_evaluator

    def rows(path):  # every source read by build(): 6,000 rows carrying every column a task type needs
        return [{"text": f"{path.parent.name} text {i}", "label": i % 3, "sentence1": f"a {i}", "sentence2": f"b {i}",
                 "score": float(i % 2), "query": f"q {i}", "positive": [f"p {i}"], "negative": [f"n {i}"]}
                for i in range(6000)]  # fmt: skip

    monkeypatch.setattr(suite, "read_jsonl", rows)
    monkeypatch.setattr(suite, "debian_dev", lambda shared, out: None)
    monkeypatch.setattr(suite, "copy_retrieval", lambda src, out, language: None)
    suite.build(tmp_path / "shared", tmp_path / "suite")
    descriptors = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "suite").glob("*/*/task.json")}
    with_settings = {name: d["settings"] for name, d in descriptors.items() if "settings" in d}
    assert with_settings == {"classification_tnews_dev_zh": {"samples_per_label": 32},
                             "classification_waimai_dev_zh": {"samples_per_label": 32}}  # fmt: skip
    assert descriptors["classification_tnews_dev_zh"]["train_split"] is None  # still MTEB's cross-validation
    for name, expected in (("classification_tnews_dev_zh", 32), ("classification_waimai_dev_zh", 32),
                           ("classification_banking77_dev_en", 8)):  # fmt: skip
        folder = next((tmp_path / "suite").glob(f"*/{name}"))
        assert build_evaluator(load_task(folder)).samples_per_label == expected
