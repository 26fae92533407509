"""Builds ``debian_parallel_en_zh.jsonl``: English Debian package descriptions and their DDTP Chinese translations.

Rows are ``{"source": English, "translation": Simplified Chinese, "package", "field"}`` for cross-lingual
distillation (``st-plus distill --parallel``). The short description (``field: short``) and the long description
(``field: long``) of each package are paired through the package name: ``shared/data/train_debian_descriptions_zh``
(the DDTP zh_CN translations, 600 rows) joined with ``shared/data/train_debian_descriptions_en``. Left out: every
source package of the held-out test and development buckets (``blake2b(source) % 20`` in {0, 1}, see
``examples/data/make_slices.py`` and ``benchmarks/make_dev_suite.py``) and any pair whose English text is a text of
the shipped or development Debian retrieval folders. Man pages are not used: the zh man pages are a dev task.

Usage:
    python examples/training_data/make_parallel_en_zh.py [--shared-data PATH] [--dev-suite PATH]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVAL = HERE.parent / "data"
OUT = HERE / "debian_parallel_en_zh.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def bucket(source: str) -> int:
    """The Debian split bucket (0: shipped test slice, 1: development suite)."""
    return int(hashlib.blake2b(source.encode(), digest_size=4).hexdigest(), 16) % 20


def held_out_texts(dev_suite: Path | None) -> set[str]:
    texts: set[str] = set()
    folders = [EVAL / "retrieval_debian_en"] + ([dev_suite / "en" / "retrieval_debian_dev_en"] if dev_suite else [])
    for folder in folders:
        for name in ("corpus.jsonl", "corpus.jsonl.gz", "queries.jsonl"):
            if (folder / name).is_file():
                texts |= {row["text"] for row in read_jsonl(folder / name)}
    return texts


def build(shared: Path, dev_suite: Path | None) -> list[dict]:
    english = {row["package"]: row for row in read_jsonl(shared / "train_debian_descriptions_en" / "train.jsonl.gz")}
    held = held_out_texts(dev_suite)
    rows, seen = [], set()
    for zh in read_jsonl(shared / "train_debian_descriptions_zh" / "train.jsonl.gz"):
        en = english.get(zh["package"])
        if en is None or bucket(en["source"]) in (0, 1) or bucket(zh["source"]) in (0, 1):
            continue
        for field, key in (("short", "anchor"), ("long", "positive")):
            pair = (en[key].strip(), zh[key].strip())
            if pair[0] in held or pair in seen:
                continue
            seen.add(pair)
            rows.append({"source": pair[0], "translation": pair[1], "package": zh["package"], "field": field})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", default=str(HERE.parents[1].parent / "shared" / "data"))
    parser.add_argument("--dev-suite", default="/work/dev_suite")
    args = parser.parse_args()
    dev = Path(args.dev_suite) if Path(args.dev_suite).is_dir() else None
    rows = build(Path(args.shared_data), dev)
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    OUT.write_bytes(data)
    print(f"{OUT.name}: {len(rows)} rows, {len(data) / 1e6:.2f} MB, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
