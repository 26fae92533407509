"""The shipped training slices stay clear of the evaluation and development data they could leak into."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "examples" / "training_data"


def _rows(path: Path) -> list[dict]:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _bucket(source: str) -> int:  # make_training_slices.debian_bucket / make_dev_suite.debian_bucket
    return int(hashlib.blake2b(source.encode(), digest_size=4).hexdigest(), 16) % 20


def test_extra_debian_pairs_avoid_the_test_and_dev_sources_and_the_first_slice():
    extra = _rows(TRAINING / "debian_pairs_extra_en.jsonl.gz")
    first = _rows(TRAINING / "debian_pairs_en.jsonl.gz")
    assert len(extra) == 10_000
    assert not {_bucket(r["source"]) for r in extra} & {0, 1}
    assert not {(r["anchor"], r["positive"]) for r in extra} & {(r["anchor"], r["positive"]) for r in first}
    test = REPO / "examples" / "data" / "retrieval_debian_en"
    held_texts = {r["text"] for r in _rows(next(test.glob("corpus.jsonl*")))} | {
        r["text"] for r in _rows(test / "queries.jsonl")}  # fmt: skip
    assert not held_texts & ({r["positive"] for r in extra} | {r["anchor"] for r in extra})


def test_full_stsb_train_has_no_test_or_development_pair():
    full = {(r["sentence1"], r["sentence2"]) for r in _rows(TRAINING / "stsb_train_full_en.jsonl")}
    test = _rows(REPO / "examples" / "data" / "sts_stsbenchmark_en" / "test.jsonl")
    assert len(full) > 5000
    assert not full & {(r["sentence1"], r["sentence2"]) for r in test}
    validation = REPO.parent / "shared" / "data" / "sts_stsbenchmark_en" / "validation.jsonl"  # the dev suite's
    if validation.is_file():
        assert not full & {(r["sentence1"], r["sentence2"]) for r in _rows(validation)}


def test_the_slices_readme_lists_every_slice_with_its_row_count_and_digest():
    readme = (TRAINING / "README.md").read_text(encoding="utf-8")
    for path in sorted(TRAINING.glob("*.jsonl*")):
        data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{path.name}` |")), None)
        assert row is not None, path.name
        rows = data.count(b"\n")
        assert f"| {rows:,} |" in row and hashlib.sha256(data).hexdigest() in row, path.name
