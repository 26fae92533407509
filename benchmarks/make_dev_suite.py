"""Builds the development suite: the task folders that defaults and settings are tuned on.

    python benchmarks/make_dev_suite.py [--shared ../shared/data] [--output runs/dev_suite]
    python benchmarks/make_dev_suite.py --chinese-training runs/chinese_training   # chinese.yaml's rows
    python benchmarks/make_dev_suite.py --debian-bucket 2 --output runs/fresh_debian  # one more Debian split

Every comparison that chooses a default is scored on these folders; the shipped slices in ``examples/data`` are the
held-out test sets, reported once at the end and never tuned on. The suite is built from ``../shared/data`` and is
not shipped (several sources state no licence); the build is deterministic (seed 13), so every machine with the
shared data gets the same folders.

English (``OUTPUT/en``), all six task types:

| folder | source | split / carving |
|---|---|---|
| sts_stsb_dev_en | STS Benchmark | validation (1,500 pairs; the shipped slice is test) |
| pairclf_mrpc_dev_en | MRPC | validation (500 pairs) |
| classification_banking77_dev_en | Banking77 | 2,000 train rows scored; probe on 4,000 other train rows |
| clustering_banking77_dev_en | Banking77 | the same 2,000 rows, clustered by intent (the shipped slice is test) |
| reranking_trecqa_dev_en | TrecQA | validation (65 queries) |
| retrieval_debian_dev_en | Debian descriptions | sources hashing to 1 mod 20 (test: 0), in no shipped training row |
| retrieval_manpages_dev_en | man pages (NAME -> DESCRIPTION) | all (an unseen domain) |

Chinese (``OUTPUT/zh``), five types (no Chinese reranking source exists here):

| folder | source | split / carving |
|---|---|---|
| sts_stsb_dev_zh | STS-B-zh | validation (1,458 pairs) |
| sts_lcqmc_dev_zh | LCQMC | 2,000 validation pairs scored as STS with cosine Spearman (C-MTEB's convention) |
| pairclf_bq_dev_zh | BQ | 2,000 validation pairs |
| classification_waimai_dev_zh | Waimai reviews | 2,000 train rows scored, probe on 2,000 others (32 per label) |
| classification_tnews_dev_zh | TNEWS | 2,000 validation rows, MTEB's 5-fold CV (no train split; 32 per label) |
| clustering_csl_dev_zh | CSL titles | validation (1,000 titles, 13 disciplines; the shipped slice is test) |
| retrieval_manpages_dev_zh | man pages zh | all |

"32 per label": the probe's training rows per label and experiment are C-MTEB's for these two tasks (MTEB's
``TNews`` and ``Waimai`` set ``samples_per_label = 32``; every other classification task keeps MTEB's 8). Suites
built before stop 52 scored them with 8 (``settings`` in each ``task.json`` says which).

Chinese training rows (``--chinese-training DIR``; what ``examples/recipes/chinese.yaml`` trains on, not shipped:
several sources state no licence or a non-commercial one) are what the dev carving leaves of each source; a pair
that shares a sentence with a dev pair, and a text that is a dev text, is dropped:

| file | source | rows |
|---|---|---|
| lcqmc_zh.jsonl | LCQMC validation minus the 2,000 dev pairs | ``sentence1, sentence2, score`` (0 / 1) |
| bq_zh.jsonl | BQ validation minus the 2,000 dev pairs | ``sentence1, sentence2, score`` (0 / 1) |
| stsb_train_zh.jsonl | STS-B-zh train | ``sentence1, sentence2, score`` (0-5) |
| ocnli_zh.jsonl | OCNLI train triplets (CC BY-NC 2.0) | ``anchor, positive, negative`` |
| tnews_zh.jsonl | TNEWS validation minus the 2,000 dev rows | ``text, label`` |
| waimai_zh.jsonl | Waimai train minus the 4,000 dev rows | ``text, label`` |
| debian_zh.jsonl | Debian descriptions zh (DDTP) | ``anchor, positive, source`` |
| texts_zh.jsonl | every distinct text above, plus the shipped CSL titles and abstracts | ``text`` (MLM, vocabulary) |

The Chinese man pages (all of them dev) and every other dev text are in none of these files.

Known contamination: recipes that train on Banking77 label triplets draw from the same train split (the quickstart
uses 480 of 10,003 rows: about 5% of the dev rows may have been trained on).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 13
# C-MTEB's TNews and Waimai: 32 training rows per label and experiment (MTEB's default is 8)
CMTEB_CLASSIFICATION = {"samples_per_label": 32}


def read_jsonl(path: Path) -> list[dict]:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_task(folder: Path, task_type: str, language: str, **extra) -> None:
    descriptor = {"task_type": task_type, "name": folder.name, "language": language, "eval_split": "dev", **extra}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def sample(rows: list, n: int, seed: int = SEED) -> list:
    return rows if len(rows) <= n else random.Random(seed).sample(rows, n)


def debian_bucket(source: str) -> int:
    """The hash bucket of ``examples/data/make_slices.py``'s ``debian_held_out`` (0: test; 1: dev)."""
    return int(hashlib.blake2b(source.encode(), digest_size=4).hexdigest(), 16) % 20


def pairs(out: Path, rows: list[dict], task_type: str, language: str, **extra) -> None:
    write_jsonl(out / "dev.jsonl", rows)
    write_task(out, task_type, language, **extra)


def labelled(out: Path, scored: list[dict], probe: list[dict] | None, task_type: str, language: str, **extra) -> None:
    write_jsonl(out / "dev.jsonl", [{"text": r["text"], "label": r["label"]} for r in scored])
    if probe is not None:
        write_jsonl(out / "train.jsonl", [{"text": r["text"], "label": r["label"]} for r in probe])
    if task_type == "Classification":
        extra = {"train_split": "train" if probe is not None else None, **extra}
    write_task(out, task_type, language, **extra)


def copy_retrieval(src: Path, out: Path, language: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("queries.jsonl", "corpus.jsonl", "corpus.jsonl.gz"):
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    (out / "qrels").mkdir(exist_ok=True)
    shutil.copyfile(src / "qrels" / "test.tsv", out / "qrels" / "dev.tsv")
    write_task(out, "Retrieval", language)


def debian_dev(shared: Path, out: Path, n_queries: int = 1000, bucket: int = 1) -> None:
    """Debian title -> description retrieval over the sources of one hash bucket, none in a shipped training row."""
    rows = read_jsonl(shared / "train_debian_descriptions_en" / "train.jsonl.gz")
    shipped = read_jsonl(ROOT / "examples" / "training_data" / "debian_pairs_en.jsonl.gz")
    trained_sources = {r["source"] for r in shipped}
    trained_texts = {r["positive"] for r in shipped} | {r["anchor"] for r in shipped}
    dev = [r for r in rows if debian_bucket(r["source"]) == bucket and r["source"] not in trained_sources
           and r["positive"] not in trained_texts]  # fmt: skip
    docs = sorted({r["positive"] for r in dev})
    doc_id = {text: f"d{i}" for i, text in enumerate(docs)}
    by_anchor: dict[str, set[str]] = {}
    for r in dev:
        by_anchor.setdefault(r["anchor"], set()).add(doc_id[r["positive"]])
    anchors = sample(sorted(by_anchor), n_queries)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "corpus.jsonl", [{"_id": doc_id[t], "title": "", "text": t} for t in docs])
    write_jsonl(out / "queries.jsonl", [{"_id": f"q{i}", "text": a} for i, a in enumerate(anchors)])
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"q{i}\t{d}\t1" for i, a in enumerate(anchors) for d in sorted(by_anchor[a])]
    (out / "qrels").mkdir(exist_ok=True)
    (out / "qrels" / "dev.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_task(out, "Retrieval", "en")


def build(shared: Path, output: Path) -> None:
    en, zh = output / "en", output / "zh"
    # English
    pairs(en / "sts_stsb_dev_en", read_jsonl(shared / "sts_stsbenchmark_en" / "validation.jsonl"), "STS", "en",
          score_range=[0, 5])  # fmt: skip
    pairs(en / "pairclf_mrpc_dev_en", read_jsonl(shared / "pairclf_mrpc_en" / "validation.jsonl"),
          "PairClassification", "en")  # fmt: skip
    banking = read_jsonl(shared / "classification_banking77_en" / "train.jsonl")
    order = list(range(len(banking)))
    random.Random(SEED).shuffle(order)
    scored, probe = [banking[i] for i in order[:2000]], [banking[i] for i in order[2000:6000]]
    labelled(en / "classification_banking77_dev_en", scored, probe, "Classification", "en")
    labelled(en / "clustering_banking77_dev_en", scored, None, "Clustering", "en")
    trec = read_jsonl(shared / "reranking_trecqa_en" / "validation.jsonl")
    write_jsonl(en / "reranking_trecqa_dev_en" / "dev.jsonl", trec)
    write_task(en / "reranking_trecqa_dev_en", "Reranking", "en")
    debian_dev(shared, en / "retrieval_debian_dev_en")
    copy_retrieval(shared / "retrieval_manpages_en", en / "retrieval_manpages_dev_en", "en")
    # Chinese
    pairs(zh / "sts_stsb_dev_zh", read_jsonl(shared / "sts_stsb_zh" / "validation.jsonl"), "STS", "zh",
          score_range=[0, 5])  # fmt: skip
    lcqmc = sample(read_jsonl(shared / "pairclf_lcqmc_zh" / "validation.jsonl"), 2000)
    pairs(zh / "sts_lcqmc_dev_zh", [{"sentence1": r["sentence1"], "sentence2": r["sentence2"],
                                     "score": float(r["label"])} for r in lcqmc], "STS", "zh",
          score_range=[0, 1])  # fmt: skip
    pairs(zh / "pairclf_bq_dev_zh", sample(read_jsonl(shared / "pairclf_bq_zh" / "validation.jsonl"), 2000),
          "PairClassification", "zh")  # fmt: skip
    waimai = read_jsonl(shared / "classification_waimai_zh" / "train.jsonl")
    order = list(range(len(waimai)))
    random.Random(SEED).shuffle(order)
    labelled(zh / "classification_waimai_dev_zh", [waimai[i] for i in order[:2000]],
             [waimai[i] for i in order[2000:4000]], "Classification", "zh", settings=CMTEB_CLASSIFICATION)  # fmt: skip
    tnews = sample(read_jsonl(shared / "classification_tnews_zh" / "validation.jsonl"), 2000)
    labelled(zh / "classification_tnews_dev_zh", tnews, None, "Classification", "zh", settings=CMTEB_CLASSIFICATION)
    csl = read_jsonl(shared / "clustering_csl_titles_zh" / "validation.jsonl")
    labelled(zh / "clustering_csl_dev_zh", csl, None, "Clustering", "zh")
    copy_retrieval(shared / "retrieval_manpages_zh", zh / "retrieval_manpages_dev_zh", "zh")


def _pairs_outside(rows: list[dict], dev: list[dict]) -> list[dict]:
    seen = {r["sentence1"] for r in dev} | {r["sentence2"] for r in dev}
    return [{"sentence1": r["sentence1"], "sentence2": r["sentence2"], "score": float(r["label"])} for r in rows
            if r["sentence1"] not in seen and r["sentence2"] not in seen]  # fmt: skip


def chinese_training(shared: Path, output: Path) -> dict[str, int]:
    """Writes the Chinese training rows the dev carving leaves (see the module docstring); returns rows per file."""
    files: dict[str, list[dict]] = {}
    for name, folder in (("lcqmc_zh", "pairclf_lcqmc_zh"), ("bq_zh", "pairclf_bq_zh")):
        rows = read_jsonl(shared / folder / "validation.jsonl")
        files[name] = _pairs_outside(rows, sample(rows, 2000))
    dev_sts = read_jsonl(shared / "sts_stsb_zh" / "validation.jsonl")
    files["stsb_train_zh"] = [dict(r, score=float(r["score"])) for r in _pairs_outside(
        [dict(r, label=r["score"]) for r in read_jsonl(shared / "sts_stsb_zh" / "train.jsonl")], dev_sts)]
    files["ocnli_zh"] = read_jsonl(shared / "train_ocnli_nli_zh" / "train.jsonl")
    tnews = read_jsonl(shared / "classification_tnews_zh" / "validation.jsonl")
    dev_tnews = {r["text"] for r in sample(tnews, 2000)}
    files["tnews_zh"] = [{"text": r["text"], "label": r["label"]} for r in tnews if r["text"] not in dev_tnews]
    waimai = read_jsonl(shared / "classification_waimai_zh" / "train.jsonl")
    order = list(range(len(waimai)))
    random.Random(SEED).shuffle(order)
    dev_waimai = {waimai[i]["text"] for i in order[:4000]}
    files["waimai_zh"] = [{"text": waimai[i]["text"], "label": waimai[i]["label"]} for i in order[4000:]
                          if waimai[i]["text"] not in dev_waimai]  # fmt: skip
    files["debian_zh"] = [{"anchor": r["anchor"], "positive": r["positive"], "source": r["source"]}
                          for r in read_jsonl(shared / "train_debian_descriptions_zh" / "train.jsonl.gz")]
    dev_texts = {r["text"] for r in tnews if r["text"] in dev_tnews} | dev_waimai
    for name in ("sts_stsb_zh/validation.jsonl",):
        dev_texts |= {t for r in read_jsonl(shared / name) for t in (r["sentence1"], r["sentence2"])}
    csl = ROOT / "examples" / "training_data"
    texts: dict[str, None] = {}
    for rows in [*files.values(), read_jsonl(csl / "csl_titles_labelled_zh.jsonl"),
                 read_jsonl(csl / "csl_title_abstract_zh.jsonl")]:  # fmt: skip
        for row in rows:
            for key in ("sentence1", "sentence2", "anchor", "positive", "negative", "text"):
                if isinstance(row.get(key), str) and row[key] not in dev_texts:
                    texts[row[key]] = None
    files["texts_zh"] = [{"text": t} for t in texts]
    output.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        write_jsonl(output / f"{name}.jsonl", rows)
    return {name: len(rows) for name, rows in files.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "dev_suite")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing suite folder")
    parser.add_argument("--chinese-training", type=Path, default=None, metavar="DIR",
                        help="Only write the Chinese training rows the carving leaves into DIR (see the docstring)")
    parser.add_argument("--debian-bucket", type=int, default=None, metavar="N",
                        help="Only write a Debian retrieval folder (retrieval_debian_bN_en) from the sources of hash "
                        "bucket N (2-19; 0 is the test slice's, 1 the suite's) into OUTPUT: a fresh split for a "
                        "confirmation; it leaves out every source and description of debian_pairs_en.jsonl.gz, "
                        "not those of debian_pairs_extra_en.jsonl.gz (full_en.yaml's extra rows), so it is fresh only "
                        "for models that did not train on those")  # fmt: skip
    args = parser.parse_args()
    if args.debian_bucket is not None:
        if not 2 <= args.debian_bucket <= 19:
            raise SystemExit("--debian-bucket: 2-19 (0 is the shipped test slice's, 1 the development suite's)")
        folder = args.output / f"retrieval_debian_b{args.debian_bucket}_en"
        if folder.exists() and not args.overwrite:
            raise SystemExit(f"{folder} exists; pass --overwrite to rebuild it")
        debian_dev(args.shared, folder, bucket=args.debian_bucket)
        print(folder)
        return
    if args.chinese_training is not None:
        if args.chinese_training.exists() and any(args.chinese_training.iterdir()) and not args.overwrite:
            raise SystemExit(f"{args.chinese_training} exists; pass --overwrite to rebuild it")
        for name, n in chinese_training(args.shared, args.chinese_training).items():
            print(f"{args.chinese_training / name}.jsonl: {n} rows")
        return
    if args.output.exists() and any(args.output.iterdir()):
        if not args.overwrite:
            raise SystemExit(f"{args.output} exists; pass --overwrite to rebuild it")
        if not (args.output / "en").is_dir():
            raise SystemExit(f"{args.output} is not a dev suite folder (no en/); refusing to delete it")
        shutil.rmtree(args.output)
    build(args.shared, args.output)
    for folder in sorted(args.output.glob("*/*/")):
        print(folder.relative_to(args.output))


if __name__ == "__main__":
    main()
