"""Builds the small training slices shipped in ``examples/training_data`` from the project's ``shared/data`` folder.

Deterministic, stdlib only. Each slice avoids the texts of the evaluation slices it could leak into.

Usage:
    python examples/training_data/make_training_slices.py [--shared-data PATH] [--force]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE
EVAL = HERE.parent / "data"
DEFAULT_SHARED = HERE.parents[1].parent / "shared" / "data"


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> str:
    """Writes the rows (gzip with mtime 0 for ``.gz``); returns the sha256 of the uncompressed content."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return hashlib.sha256(data).hexdigest()


def stsb_train(shared: Path) -> list[dict]:
    """1,000 STS-B train pairs (seed 13); the STS-B test split (shipped for evaluation) is not touched."""
    rows = read_jsonl(shared / "sts_stsbenchmark_en" / "train.jsonl")
    test = {(r["sentence1"], r["sentence2"]) for r in read_jsonl(shared / "sts_stsbenchmark_en" / "test.jsonl")}
    rows = [r for r in rows if (r["sentence1"], r["sentence2"]) not in test]
    return [{k: r[k] for k in ("sentence1", "sentence2", "score")} for r in random.Random(13).sample(rows, 1000)]


def csl_pairs(shared: Path) -> list[dict]:
    """CSL title -> abstract pairs whose abstract is not in the shipped CSL retrieval slice's corpus."""
    rows = read_jsonl(shared / "train_csl_title_abstract_zh" / "train.jsonl")
    corpus = {r["text"] for r in read_jsonl(EVAL / "retrieval_csl_title2abstract_zh" / "corpus.jsonl")}
    titles = {r["text"] for r in read_jsonl(EVAL / "retrieval_csl_title2abstract_zh" / "queries.jsonl")}
    kept = [r for r in rows if r["positive"] not in corpus and r["anchor"] not in titles]
    return [{"anchor": r["anchor"], "positive": r["positive"]} for r in kept]


def debian_pairs(shared: Path, n_rows: int = 6000) -> list[dict]:
    """Debian title -> description pairs from the source packages that are not held out for evaluation."""
    sys.path.insert(0, str(EVAL))
    from make_slices import debian_held_out  # the split of the shipped retrieval_debian_en evaluation slice

    rows = read_jsonl(shared / "train_debian_descriptions_en" / "train.jsonl.gz")
    held_docs = {r["positive"] for r in rows if debian_held_out(r["source"])}
    kept = [r for r in rows if not debian_held_out(r["source"]) and r["positive"] not in held_docs]
    chosen = sorted(random.Random(13).sample(range(len(kept)), n_rows))
    return [{key: kept[i][key] for key in ("anchor", "positive", "package", "source")} for i in chosen]


def stsb_train_full(shared: Path) -> list[dict]:
    """Every STS-B train pair that is neither a test pair (shipped) nor a validation pair (the dev suite's)."""
    rows = read_jsonl(shared / "sts_stsbenchmark_en" / "train.jsonl")
    held = {(r["sentence1"], r["sentence2"]) for split in ("test", "validation")
            for r in read_jsonl(shared / "sts_stsbenchmark_en" / f"{split}.jsonl")}  # fmt: skip
    return [{k: r[k] for k in ("sentence1", "sentence2", "score")} for r in rows
            if (r["sentence1"], r["sentence2"]) not in held]  # fmt: skip


def debian_pairs_extra(shared: Path, n_rows: int = 10000) -> list[dict]:
    """More Debian pairs for ``examples/recipes/full_en.yaml``, none from a test or development source.

    Left out: sources in the test (0) or development (1) hash bucket, any title or description of theirs, and the
    rows of ``debian_pairs_en.jsonl.gz``.
    """
    sys.path.insert(0, str(EVAL))
    from make_slices import debian_bucket  # 0: the shipped test slice's sources, 1: the development suite's

    rows = read_jsonl(shared / "train_debian_descriptions_en" / "train.jsonl.gz")
    held = [r for r in rows if debian_bucket(r["source"]) in (0, 1)]
    held_texts = {r["positive"] for r in held} | {r["anchor"] for r in held}
    shipped = {(r["anchor"], r["positive"]) for r in read_jsonl(OUT / "debian_pairs_en.jsonl.gz")}
    kept = [r for r in rows if debian_bucket(r["source"]) not in (0, 1) and r["positive"] not in held_texts
            and r["anchor"] not in held_texts and (r["anchor"], r["positive"]) not in shipped]  # fmt: skip
    chosen = sorted(random.Random(17).sample(range(len(kept)), n_rows))
    return [{key: kept[i][key] for key in ("anchor", "positive", "package", "source")} for i in chosen]


def csl_titles_labelled(shared: Path) -> list[dict]:
    """CSL cls_ctg train titles with their category (train split only: the test split is the shipped clustering slice).

    Titles that also occur in a shipped evaluation slice (clustering test, retrieval queries) are left out.
    """
    rows = read_jsonl(shared / "clustering_csl_titles_zh" / "train.jsonl")
    held_out = {r["text"] for r in read_jsonl(EVAL / "clustering_csl_titles_zh" / "test.jsonl")}
    held_out |= {r["text"] for r in read_jsonl(EVAL / "retrieval_csl_title2abstract_zh" / "queries.jsonl")}
    seen: set[str] = set()
    kept = []
    for r in rows:
        if r["text"] not in held_out and r["text"] not in seen:
            seen.add(r["text"])
            kept.append({"text": r["text"], "label": r["label"]})
    return kept


def banking77_train_nodev(shared: Path) -> list[dict]:
    """Banking77 train rows that the development suite never scores or probes, and no test text.

    ``benchmarks/make_dev_suite.py`` shuffles the 10,003 train rows with seed 13 and takes the first 6,000 (2,000
    scored, 4,000 for the classifier's probe); these are the other rows, minus any whose text is one of those 6,000
    or a test text (Banking77 repeats a few utterances).
    """
    rows = read_jsonl(shared / "classification_banking77_en" / "train.jsonl")
    order = list(range(len(rows)))
    random.Random(13).shuffle(order)  # the dev suite's SEED and shuffle
    dev_texts = {rows[i]["text"] for i in order[:6000]}
    dev_texts |= {r["text"] for r in read_jsonl(shared / "classification_banking77_en" / "test.jsonl")}
    return [{"text": rows[i]["text"], "label": rows[i]["label"]} for i in sorted(order[6000:])
            if rows[i]["text"] not in dev_texts]  # fmt: skip


SLICES = {
    "stsb_train_en.jsonl": (
        stsb_train,
        "STS-B train (sentence-transformers' stsbenchmark via text2vec), 1,000 "
        "pairs sampled with seed 13; scores CC BY-SA 4.0, sentences under their sources' terms",
    ),
    "csl_title_abstract_zh.jsonl": (
        csl_pairs,
        "CSL ts/dev title -> abstract pairs (Apache-2.0, "
        "https://github.com/ydli-ai/CSL), minus every pair whose abstract or title is in "
        "the shipped retrieval_csl_title2abstract_zh slice",
    ),
    "debian_pairs_en.jsonl.gz": (
        debian_pairs,
        "Debian 12 package short -> long descriptions (weakly supervised stage-1 pairs), 6,000 rows sampled with "
        "seed 13 from the source packages *not* held out for `examples/data/retrieval_debian_en` (the split "
        "`debian_held_out` in `examples/data/make_slices.py`); each row keeps its `package` and `source` "
        "(attribution; and rows of one source share paragraphs, so batches should group by it). Terms: each "
        "package's DFSG-free licence (Debian main), see `examples/data/LICENSES.md`",
    ),
    "stsb_train_full_en.jsonl": (
        stsb_train_full,
        "STS-B train (as `stsb_train_en.jsonl`), every pair that is neither a test pair nor a validation pair (the "
        "development suite's); for `full_en.yaml`; scores CC BY-SA 4.0, sentences under their sources' terms",
    ),
    "debian_pairs_extra_en.jsonl.gz": (
        debian_pairs_extra,
        "10,000 more Debian 12 short -> long description pairs for `full_en.yaml` (seed 17), disjoint from "
        "`debian_pairs_en.jsonl.gz`: no source package of the test (`examples/data/retrieval_debian_en`) or "
        "development (`benchmarks/make_dev_suite.py`) hash buckets, and no title or description of theirs; "
        "`package` and `source` kept. Terms: as `debian_pairs_en.jsonl.gz`",
    ),
    "banking77_train_nodev_en.jsonl.gz": (
        banking77_train_nodev,
        "Banking77 train utterances with their 77 intents (CC BY 4.0, PolyAI, "
        "https://github.com/PolyAI-LDN/task-specific-datasets), the 4,003 rows that the development suite "
        "(`benchmarks/make_dev_suite.py`: 6,000 rows, seed 13) neither scores nor probes, minus any text of those "
        "rows or of the test split; label triplets for `benchmarks/recipes/recipe_vs_st_x4_banking.yaml` and (since "
        "stop 49) `examples/recipes/full_en.yaml`",
    ),
    "csl_titles_labelled_zh.jsonl": (
        csl_titles_labelled,
        "CSL cls_ctg train titles with their 13 categories (Apache-2.0, https://github.com/ydli-ai/CSL), "
        "deduplicated, minus any title in the shipped clustering_csl_titles_zh (cls_ctg test) or "
        "retrieval_csl_title2abstract_zh slices; pre-training text and label triplets for the Chinese recipe",
    ),
}


def digest_and_rows(path: Path) -> tuple[str, int]:
    """The sha256 of a slice's uncompressed content and its row count."""
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    return hashlib.sha256(data).hexdigest(), data.count(b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--only", nargs="+", choices=sorted(SLICES), help="build only these slices")
    args = parser.parse_args()
    for name in args.only or SLICES:
        path = OUT / name
        if path.exists() and not args.force:
            raise SystemExit(f"{path} exists; pass --force to rebuild it")
        write_jsonl(path, SLICES[name][0](args.shared_data))
    lines = ["# Training slices", "", "Small training sets for tests and examples (built by "
             "`examples/training_data/make_training_slices.py`).", "", "| file | rows | source and licence | sha256 |",
             "|---|---|---|---|"]  # fmt: skip
    for name, (_, note) in SLICES.items():  # the table from the files on disk
        if (OUT / name).is_file():
            digest, rows = digest_and_rows(OUT / name)
            lines.append(f"| `{name}` | {rows:,} | {note} | `{digest}` |")
    readme = OUT / "README.md"
    old = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    rest = old[old.index("\n## ") :] if "\n## " in old else "\n"  # sections other scripts wrote (parallel text)
    readme.write_text("\n".join(lines) + "\n" + rest, encoding="utf-8")


if __name__ == "__main__":
    main()
