"""Builds the small evaluation slices shipped in ``examples/data`` from the project's ``shared/data`` folder.

Every output is a pure function of the input files: samples use ``random.Random(42)`` (a fresh generator per
sampling step), rows keep their source order unless stated otherwise, and ``.jsonl.gz`` files are written with
``mtime=0``. The script also writes each folder's ``task.json`` and ``README.md`` and the top-level
``README.md`` and ``LICENSES.md``. It needs only the standard library.

Usage::

    python examples/data/make_slices.py                        # build (or confirm) everything
    python examples/data/make_slices.py --check                # exit 1 if any output is missing or differs
    python examples/data/make_slices.py --shared-data PATH --out DIR [--force]

An existing output whose content differs is never overwritten without ``--force`` (``.gz`` files are compared
by their decompressed content, so a different zlib build does not count as a change).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

SEED = 42
GZIP_ABOVE_BYTES = 500_000
HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[1].parent / "shared" / "data"
SCRIPT = "examples/data/make_slices.py"

# --------------------------------------------------------------------------------------------- sources / licences

CC_BY = ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/")
CC_BY_SA = ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/")
APACHE = ("Apache-2.0", "https://www.apache.org/licenses/LICENSE-2.0")
MIT = ("MIT", "https://opensource.org/license/mit")

SOURCES = {
    "stsb": {
        "url": "https://github.com/shibing624/text2vec",
        "commit": "8e90a0f171286ac9a47b5bf492612a3b38c2d3f5",
        "paths": "examples/data/English-STS-B/stsbenchmark.tsv.gz",
        "home": "http://ixa2.si.ehu.eus/stswiki",
        "license": "CC BY-SA 4.0 (similarity scores); sentences: terms of their original sources",
        "attribution": (
            "STS Benchmark, Cer et al. (2017), http://ixa2.si.ehu.eus/stswiki, as redistributed by "
            "sentence-transformers (`stsbenchmark.tsv.gz`) and text2vec. The benchmark's LICENSE notes release the "
            "similarity scores under [Creative Commons Attribution-ShareAlike 4.0 International]"
            "(https://creativecommons.org/licenses/by-sa/4.0/); the sentences are drawn from the SemEval STS "
            "2012-2017 sources (news headlines, image and video captions, forum posts), which keep their own terms "
            "(see the LICENSE notes at http://ixa2.si.ehu.eus/stswiki). Rows are unchanged."
        ),
        "bibtex": """@inproceedings{cer-etal-2017-semeval,
  title = {{S}em{E}val-2017 Task 1: Semantic Textual Similarity Multilingual and Crosslingual Focused Evaluation},
  author = {Cer, Daniel and Diab, Mona and Agirre, Eneko and Lopez-Gazpio, I{\\~n}igo and Specia, Lucia},
  booktitle = {Proceedings of the 11th International Workshop on Semantic Evaluation (SemEval-2017)},
  year = {2017},
  url = {https://aclanthology.org/S17-2001},
}""",
    },
    "banking77": {
        "url": "https://github.com/PolyAI-LDN/task-specific-datasets",
        "commit": "57ec275d8078af65b7731c2a98be812d844a6d6b",
        "paths": "banking_data/{train,test}.csv",
        "license": "CC BY 4.0",
        "attribution": (
            "BANKING77 by PolyAI (Casanueva et al., 2020), "
            "https://github.com/PolyAI-LDN/task-specific-datasets, licensed under "
            "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/) (repository LICENSE)."
        ),
        "bibtex": """@inproceedings{casanueva-etal-2020-efficient,
  title = {Efficient Intent Detection with Dual Sentence Encoders},
  author = {Casanueva, I{\\~n}igo and Tem{\\v{c}}inas, Tadas and Gerz, Daniela and
    Henderson, Matthew and Vuli{\\'c}, Ivan},
  booktitle = {Proceedings of the 2nd Workshop on Natural Language Processing for Conversational AI},
  year = {2020},
  url = {https://aclanthology.org/2020.nlp4convai-1.5},
}""",
    },
    "xquad": {
        "url": "https://github.com/google-deepmind/xquad",
        "commit": "7d30520c717524000f0d9d2f9c10a069acd9d285",
        "paths": "xquad.en.json",
        "license": "CC BY-SA 4.0",
        "attribution": (
            "XQuAD by Google DeepMind (Artetxe et al., 2020), https://github.com/google-deepmind/xquad, licensed "
            "under [CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/) (CC-BY-SA4.0.txt in the "
            "repository). Its English part is a subset of the SQuAD v1.1 development set (Rajpurkar et al., 2016), "
            "whose paragraphs are taken from English Wikipedia articles (CC BY-SA)."
        ),
        "bibtex": """@inproceedings{artetxe-etal-2020-cross,
  title = {On the Cross-lingual Transferability of Monolingual Representations},
  author = {Artetxe, Mikel and Ruder, Sebastian and Yogatama, Dani},
  booktitle = {Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics},
  year = {2020},
  url = {https://aclanthology.org/2020.acl-main.421},
}

@inproceedings{rajpurkar-etal-2016-squad,
  title = {{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text},
  author = {Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy},
  booktitle = {Proceedings of the 2016 Conference on Empirical Methods in Natural Language Processing},
  year = {2016},
  url = {https://aclanthology.org/D16-1264},
}""",
    },
    "csl": {
        "url": "https://github.com/ydli-ai/CSL",
        "commit": "0f1ac0626d584cd3c72f8be26d329eb4f967cfd0",
        "paths": "benchmark/ts/{test,dev}.tsv, benchmark/cls_ctg/test.tsv",
        "license": "Apache-2.0",
        "attribution": (
            "CSL: Chinese Scientific Literature dataset (Li et al., 2022), https://github.com/ydli-ai/CSL, "
            "released under the [Apache License 2.0](https://www.apache.org/licenses/LICENSE-2.0) (CSL README)."
        ),
        "bibtex": """@inproceedings{li-etal-2022-csl,
  title = {{CSL}: A Large-scale {C}hinese Scientific Literature Dataset},
  author = {Li, Yudong and Zhang, Yuqing and Zhao, Zhe and Shen, Linlin and Liu, Weijie and
    Mao, Weiquan and Zhang, Hui},
  booktitle = {Proceedings of the 29th International Conference on Computational Linguistics},
  year = {2022},
  url = {https://aclanthology.org/2022.coling-1.344},
}""",
    },
    "debian": {
        "url": "https://deb.debian.org/debian",
        "commit": "bookworm 12.15 (InRelease 2026-07-11)",
        "paths": "dists/bookworm/main/i18n/Translation-en, dists/bookworm/main/binary-amd64/Packages",
        "license": "DFSG-free licences of the described packages (Debian main)",
        "attribution": (
            "the Debian 12 (bookworm) archive, https://www.debian.org: the short and long package descriptions of "
            "Debian main, written by each package's maintainers and upstream authors and distributed with the "
            "packages under their DFSG-free licences (see each package's `/usr/share/doc/PACKAGE/copyright`; "
            "every row keeps its `package` name so it can be traced). The archive's index files carry no licence "
            "of their own."
        ),
        "bibtex": """@misc{debian-bookworm,
  title = {Debian 12 ``bookworm'' package descriptions (main, Translation-en)},
  author = {{The Debian Project}},
  year = {2023},
  url = {https://www.debian.org/releases/bookworm/},
}""",
    },
    "qmsum": {
        "url": "https://github.com/Yale-LILY/QMSum",
        "commit": "83d7768c1f2b4dfeb091385d3dc7e239b8e5bb7e",
        "paths": "data/ALL/val/*.json",
        "license": "MIT",
        "attribution": (
            "QMSum by Yale LILY (Zhong et al., 2021), https://github.com/Yale-LILY/QMSum, released under the "
            "[MIT License](https://opensource.org/license/mit) (repository LICENSE); its README asks users to cite "
            "the paper and to use the data for research. The meetings of this slice are transcripts of the ICSI "
            "Meeting Corpus (Janin et al., 2003) as QMSum distributes them; each transcript is QMSum's turns "
            "joined as 'Speaker: utterance' lines, with no text changed."
        ),
        "bibtex": """@inproceedings{zhong-etal-2021-qmsum,
  title = {{QMS}um: A New Benchmark for Query-based Multi-domain Meeting Summarization},
  author = {Zhong, Ming and Yin, Da and Yu, Tao and Zaidi, Ahmad and Mutuma, Mutethia and Jha, Rahul and
    Awadallah, Ahmed Hassan and Celikyilmaz, Asli and Liu, Yang and Qiu, Xipeng and Radev, Dragomir},
  booktitle = {Proceedings of the 2021 Conference of the North American Chapter of the Association for
    Computational Linguistics: Human Language Technologies},
  pages = {5905--5921},
  year = {2021},
  url = {https://aclanthology.org/2021.naacl-main.472},
}

@inproceedings{janin-etal-2003-icsi,
  title = {The {ICSI} Meeting Corpus},
  author = {Janin, Adam and Baron, Don and Edwards, Jane and Ellis, Dan and Gelbart, David and Morgan, Nelson and
    Peskin, Barbara and Pfau, Thilo and Shriberg, Elizabeth and Stolcke, Andreas and Wooters, Chuck},
  booktitle = {2003 IEEE International Conference on Acoustics, Speech, and Signal Processing (ICASSP)},
  year = {2003},
}""",
    },
}

# Debian sources held out of every training slice (about 1 in 20, by a hash of the source package name). The
# shipped training slice (examples/training_data) and the benchmarks use the same split.


def debian_bucket(source: str) -> int:
    """The source package's hash bucket (0-19): 0 is this test slice's, 1 the development suite's."""
    return int(hashlib.blake2b(source.encode(), digest_size=4).hexdigest(), 16) % 20


def debian_held_out(source: str) -> bool:
    return debian_bucket(source) == 0


# ------------------------------------------------------------------------------------------------------- helpers


def read_jsonl(path: Path) -> list[dict]:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> tuple[str, list[list[str]]]:
    """Returns the header line and the rows (query-id, corpus-id, score) of a qrels TSV, in file order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t")[0] != "query-id":
        raise SystemExit(f"{path}: expected a 'query-id\\tcorpus-id\\tscore' header line")
    return lines[0], [line.split("\t") for line in lines[1:] if line.strip()]


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def count_rows(data: bytes) -> int:
    return sum(1 for line in data.decode("utf-8").splitlines() if line.strip())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"make_slices: unexpected input: {message}")


def sample_sorted(population_size: int, k: int) -> list[int]:
    """``k`` distinct indices drawn with a fresh ``random.Random(SEED)``, returned in source order."""
    return sorted(random.Random(SEED).sample(range(population_size), k))


# ------------------------------------------------------------------------------------------------------ builders
# Each builder returns ({relative file name: uncompressed bytes}, {label: count}, how-it-was-made text).


def build_stsb(shared: Path):
    data = (shared / "sts_stsbenchmark_en" / "test.jsonl").read_bytes()
    expect(count_rows(data) == 1379, "STS-B test should have 1,379 rows")
    how = "Copied byte for byte from the converted STS-B test split (no sampling)."
    return {"test.jsonl": data}, {"test pairs": 1379}, how


def build_banking_classification(shared: Path):
    test = (shared / "classification_banking77_en" / "test.jsonl").read_bytes()
    train = (shared / "classification_banking77_en" / "train.jsonl").read_bytes()
    expect(count_rows(test) == 3080 and count_rows(train) == 10003, "Banking77 should have 10,003 / 3,080 rows")
    how = (
        "Copied from the converted Banking77 splits (no sampling); `train` is gzip-compressed "
        "(`mtime=0`) because it is larger than 500 KB. The rows are unchanged."
    )
    return {"test.jsonl": test, "train.jsonl": train}, {"train": 10003, "test": 3080, "labels": 77}, how


def build_banking_clustering(shared: Path):
    test = (shared / "clustering_banking77_en" / "test.jsonl").read_bytes()
    expect(count_rows(test) == 3080, "Banking77 clustering test should have 3,080 rows")
    how = "Copied byte for byte from the converted Banking77 test split (intent label = cluster label)."
    return {"test.jsonl": test}, {"test texts": 3080, "clusters": 77}, how


def build_banking_pairs(shared: Path, n_pairs: int = 1000):
    rows = read_jsonl(shared / "classification_banking77_en" / "test.jsonl")
    by_label: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row["text"])
    labels = list(by_label)  # first-appearance order
    rng = random.Random(SEED)
    seen: set[frozenset[str]] = set()
    pairs: list[dict] = []

    def add(text1: str, text2: str, label: int) -> bool:
        key = frozenset((text1, text2))
        if text1 == text2 or key in seen:
            return False
        seen.add(key)
        pairs.append({"sentence1": text1, "sentence2": text2, "label": label})
        return True

    positives = 0
    while positives < n_pairs // 2:
        label = rng.choice(labels)
        text1, text2 = rng.sample(by_label[label], 2)
        positives += add(text1, text2, 1)
    negatives = 0
    while negatives < n_pairs - n_pairs // 2:
        label1, label2 = rng.sample(labels, 2)
        negatives += add(rng.choice(by_label[label1]), rng.choice(by_label[label2]), 0)
    rng.shuffle(pairs)
    how = (
        f"Derived from the Banking77 test split (3,080 utterances, 77 intents) with one `random.Random({SEED})`: "
        f"{n_pairs // 2} positive pairs (label 1: pick an intent uniformly, then two different utterances of it) "
        f"and {n_pairs - n_pairs // 2} negative pairs (label 0: pick two different intents uniformly, then one "
        "utterance of each); a pair already drawn (in either order) or an utterance paired with itself is "
        "redrawn; the 1,000 pairs are then shuffled with the same generator."
    )
    counts = {"pairs": len(pairs), "label 1": positives, "label 0": negatives}
    return {"test.jsonl": jsonl_bytes(pairs)}, counts, how


def build_xquad_reranking(shared: Path, n_queries: int = 400):
    folder = shared / "retrieval_xquad_en"
    corpus = read_jsonl(folder / "corpus.jsonl")
    queries = {row["_id"]: row["text"] for row in read_jsonl(folder / "queries.jsonl")}
    _, qrels = read_qrels(folder / "qrels" / "test.tsv")
    gold = {}
    for query_id, doc_id, _score in qrels:
        expect(query_id not in gold, f"XQuAD query {query_id} has more than one relevant paragraph")
        gold[query_id] = doc_id
    by_id = {doc["_id"]: doc for doc in corpus}
    by_title: dict[str, list[dict]] = defaultdict(list)
    for doc in corpus:
        by_title[doc["title"]].append(doc)
    expect(all(len(docs) == 5 for docs in by_title.values()), "every XQuAD article should have 5 paragraphs")
    query_ids = list(gold)  # qrels order
    out = []
    for index in sample_sorted(len(query_ids), n_queries):
        query_id = query_ids[index]
        positive = by_id[gold[query_id]]
        negative = [doc["text"] for doc in by_title[positive["title"]] if doc["_id"] != positive["_id"]]
        out.append({"query": queries[query_id], "positive": [positive["text"]], "negative": negative})
    how = (
        f"Derived from `retrieval_xquad_en`: {n_queries} query ids drawn from `qrels/test.tsv` (file order, "
        f"{len(query_ids):,} queries) with `random.Random({SEED}).sample`, kept in qrels order. For each, "
        "`positive` = [the text of its relevant paragraph] and `negative` = the texts of the other paragraphs "
        "of the same Wikipedia article (same corpus `title`), in corpus order (4 per query). Gzip-compressed "
        "(`mtime=0`) because it is larger than 500 KB."
    )
    counts = {"queries": len(out), "candidates per query": 5, "articles": len(by_title)}
    return {"test.jsonl": jsonl_bytes(out)}, counts, how


def build_xquad_retrieval(shared: Path):
    folder = shared / "retrieval_xquad_en"
    files = {name: (folder / name).read_bytes() for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")}
    expect(count_rows(files["corpus.jsonl"]) == 240, "XQuAD corpus should have 240 paragraphs")
    expect(count_rows(files["queries.jsonl"]) == 1187, "XQuAD should have 1,187 queries")
    how = "Copied byte for byte from the converted XQuAD (en) retrieval folder (no sampling)."
    return files, {"corpus": 240, "queries": 1187, "qrels/test": 1187}, how


def build_csl_retrieval(shared: Path, n_queries: int = 300, n_distractors: int = 300):
    folder = shared / "retrieval_csl_title2abstract_zh"
    corpus = read_jsonl(folder / "corpus.jsonl")
    queries = read_jsonl(folder / "queries.jsonl")
    header, qrels = read_qrels(folder / "qrels" / "test.tsv")
    query_ids = list(dict.fromkeys(row[0] for row in qrels))  # qrels order
    chosen = {query_ids[i] for i in sample_sorted(len(query_ids), n_queries)}
    kept_qrels = [row for row in qrels if row[0] in chosen]
    relevant = {row[1] for row in kept_qrels}
    pool = [doc["_id"] for doc in corpus if doc["_id"] not in relevant]  # corpus order
    distractors = {pool[i] for i in sample_sorted(len(pool), n_distractors)}
    kept_corpus = [doc for doc in corpus if doc["_id"] in relevant or doc["_id"] in distractors]
    kept_queries = [query for query in queries if query["_id"] in chosen]
    expect(len(kept_queries) == n_queries, "every sampled CSL query id should be in queries.jsonl")
    expect(len(kept_corpus) == len(relevant) + n_distractors, "every relevant CSL abstract should be in the corpus")
    qrels_text = "\n".join([header] + ["\t".join(row) for row in kept_qrels]) + "\n"
    how = (
        f"Subset of `retrieval_csl_title2abstract_zh` (1,000 test queries, 2,000 abstracts): {n_queries} query ids "
        f"drawn from `qrels/test.tsv` (file order) with `random.Random({SEED}).sample`; their {len(relevant)} "
        f"relevant abstracts; plus {n_distractors} distractor abstracts drawn with a fresh "
        f"`random.Random({SEED}).sample` from the {len(pool):,} other corpus documents (corpus order: the other "
        "test abstracts and the dev abstracts). Every file keeps the source order of its rows; text and ids "
        "are unchanged."
    )
    files = {"corpus.jsonl": jsonl_bytes(kept_corpus), "queries.jsonl": jsonl_bytes(kept_queries)}
    files["qrels/test.tsv"] = qrels_text.encode("utf-8")
    counts = {"corpus": len(kept_corpus), "queries": len(kept_queries), "qrels/test": len(kept_qrels)}
    return files, counts, how


def build_csl_clustering(shared: Path):
    data = (shared / "clustering_csl_titles_zh" / "test.jsonl").read_bytes()
    expect(count_rows(data) == 1000, "CSL cls_ctg test should have 1,000 rows")
    how = "Copied byte for byte from the converted CSL `cls_ctg` test split (no sampling)."
    return {"test.jsonl": data}, {"test titles": 1000, "clusters": 13}, how


def build_debian_retrieval(shared: Path, n_queries: int = 1000):
    rows = read_jsonl(shared / "train_debian_descriptions_en" / "train.jsonl.gz")
    held = [row for row in rows if debian_held_out(row["source"])]
    expect(len(held) > 2 * n_queries, "the held-out Debian sources should have more than 2,000 rows")
    docs = list(dict.fromkeys(row["positive"] for row in held))  # file order
    doc_id = {text: f"d{i}" for i, text in enumerate(docs)}
    anchors = Counter(row["anchor"] for row in held)
    unique = [row for row in held if anchors[row["anchor"]] == 1]  # a shared short description is ambiguous
    chosen = [unique[i] for i in sample_sorted(len(unique), n_queries)]
    queries = [{"_id": f"q{i}", "text": row["anchor"]} for i, row in enumerate(chosen)]
    corpus = [{"_id": doc_id[text], "title": "", "text": text} for text in docs]
    qrels = ["query-id\tcorpus-id\tscore"]
    qrels += [f"q{i}\t{doc_id[row['positive']]}\t1" for i, row in enumerate(chosen)]
    sources = len({row["source"] for row in held})
    how = (
        f"Held-out split of `train_debian_descriptions_en`: the rows of the {sources:,} source packages whose "
        "name hashes to 0 mod 20 (`blake2b`, 4 bytes; `debian_held_out` in the script), which no shipped training "
        f"slice contains. Queries: {n_queries:,} short descriptions (among those no other held-out row shares) "
        f"drawn with `random.Random({SEED}).sample` (file "
        f"order); corpus: every distinct long description of the held-out rows ({len(docs):,}, file order); each "
        "query's only relevant document is its own package's long description. Text is unchanged."
    )
    files = {"corpus.jsonl": jsonl_bytes(corpus), "queries.jsonl": jsonl_bytes(queries)}
    files["qrels/test.tsv"] = ("\n".join(qrels) + "\n").encode("utf-8")
    return files, {"corpus": len(corpus), "queries": len(queries), "qrels/test": n_queries}, how


def build_qmsum_longdoc(shared: Path, n_meetings: int = 8, split: str = "dev"):
    folder = shared / "retrieval_qmsum_longdoc_en"
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle if line.strip()]
    header, qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    expect(len(corpus) == 232 and len(qrels) == 237, "QMSum should have 232 meetings and 237 dev judgements")
    # the same selection as st_plus.data.judged_subset (`st-plus eval --max-docs`, the late-chunking benchmark):
    # the first judged meetings in corpus order, then the queries whose relevant meetings are all kept
    judged = {doc_id for _query_id, doc_id, _score in qrels}
    kept_ids = [doc["_id"] for doc in corpus if doc["_id"] in judged][:n_meetings]
    relevant: dict[str, set[str]] = defaultdict(set)
    for query_id, doc_id, _score in qrels:
        relevant[query_id].add(doc_id)
    chosen = {query_id for query_id, docs in relevant.items() if docs <= set(kept_ids)}
    kept_corpus = [doc for doc in corpus if doc["_id"] in kept_ids]
    expect(all(doc["split"] == split for doc in kept_corpus), f"every kept meeting should be a {split} meeting")
    kept_queries = [row for row in read_jsonl(folder / "queries.jsonl") if row["_id"] in chosen]
    kept_spans = [row for row in read_jsonl(folder / "spans.jsonl") if row["query-id"] in chosen]
    kept_qrels = [row for row in qrels if row[0] in chosen]
    expect(len(kept_queries) == len(chosen) == len(kept_spans), "one query and one spans row per kept query")
    qrels_text = "\n".join([header] + ["\t".join(row) for row in kept_qrels]) + "\n"
    how = (
        f"Subset of `retrieval_qmsum_longdoc_en`, **{split} split only** (QMSum's validation meetings; no test "
        f"query or meeting is shipped): the first {n_meetings} of the {len(judged)} meetings judged in "
        f"`qrels/{split}.tsv`, in corpus order ({', '.join(kept_ids)}), and the {len(chosen)} {split} queries whose "
        "relevant meeting is among them, with their `qrels` and `spans.jsonl` rows (gold answer turns: line i of a "
        "transcript is turn i). The same selection as `st-plus eval --max-docs "
        f"{n_meetings}` and `benchmarks/bench_late_chunking.py --split {split} --max-docs {n_meetings}` "
        "(`st_plus.data.judged_subset`). Rows, ids and text are unchanged; `corpus.jsonl` is gzip-compressed "
        "(`mtime=0`) because it is larger than 500 KB. The transcripts are long (median ~12k tokens): evaluate "
        "them with `st-plus eval --chunking late|naive`; a plain evaluation truncates every meeting to the model's "
        "`max_seq_length`, as MTEB does."
    )
    files = {
        "corpus.jsonl": jsonl_bytes(kept_corpus),
        "queries.jsonl": jsonl_bytes(kept_queries),
        f"qrels/{split}.tsv": qrels_text.encode("utf-8"),
        "spans.jsonl": jsonl_bytes(kept_spans),
    }
    counts = {"corpus": len(kept_corpus), "queries": len(kept_queries), f"qrels/{split}": len(kept_qrels)}
    counts["spans"] = len(kept_spans)
    return files, counts, how


# -------------------------------------------------------------------------------------------------- the folders

SLICES = [
    {
        "folder": "sts_stsbenchmark_en",
        "build": build_stsb,
        "source": "stsb",
        "task": {"task_type": "STS", "language": "en", "score_range": [0, 5]},
        "license": "CC BY-SA 4.0 (scores); sentences under their sources' terms",
        "licenses": [CC_BY_SA],
        "mteb": "STSBenchmark (test), exactly",
        "description": "The full STS Benchmark test split (1,379 English sentence pairs, gold scores 0-5); "
        "exactly MTEB's STSBenchmark test.",
    },
    {
        "folder": "classification_banking77_en",
        "build": build_banking_classification,
        "source": "banking77",
        "task": {"task_type": "Classification", "language": "en", "train_split": "train"},
        "license": "CC BY 4.0",
        "licenses": [CC_BY],
        "mteb": "Banking77Classification (train + test), exactly",
        "description": "Banking77 online-banking queries with 77 intents (full train 10,003 / test 3,080); exactly "
        "MTEB's Banking77Classification data.",
    },
    {
        "folder": "clustering_banking77_en",
        "paths": "banking_data/test.csv",
        "build": build_banking_clustering,
        "source": "banking77",
        "task": {"task_type": "Clustering", "language": "en"},
        "license": "CC BY 4.0",
        "licenses": [CC_BY],
        "mteb": "none (same texts as Banking77Classification test)",
        "description": "The 3,080 Banking77 test queries clustered by their 77 intent labels, derived from the "
        "Banking77 test split (no MTEB equivalent).",
    },
    {
        "folder": "pairclf_banking77_en",
        "paths": "banking_data/test.csv",
        "build": build_banking_pairs,
        "source": "banking77",
        "task": {"task_type": "PairClassification", "language": "en"},
        "license": "CC BY 4.0",
        "licenses": [CC_BY],
        "mteb": "none (derived)",
        "description": "1,000 same-intent (1) / different-intent (0) utterance pairs derived from the Banking77 test "
        "split (seed 42; no MTEB equivalent).",
        "derived": True,
    },
    {
        "folder": "reranking_xquad_en",
        "build": build_xquad_reranking,
        "source": "xquad",
        "gzip": {"test.jsonl"},
        "task": {"task_type": "Reranking", "language": "en"},
        "license": "CC BY-SA 4.0",
        "licenses": [CC_BY_SA],
        "mteb": "none (derived from XQuADRetrieval eng)",
        "description": "400 English questions, each ranking its gold Wikipedia paragraph against the 4 other "
        "paragraphs of the same article, derived from XQuAD (en) retrieval (seed 42; no MTEB equivalent).",
        "derived": True,
    },
    {
        "folder": "retrieval_xquad_en",
        "build": build_xquad_retrieval,
        "source": "xquad",
        "task": {"task_type": "Retrieval", "language": "en"},
        "license": "CC BY-SA 4.0",
        "licenses": [CC_BY_SA],
        "mteb": "XQuADRetrieval (eng; MTEB calls the split `validation`; 1,187 vs 1,185 queries)",
        "description": "XQuAD English questions retrieving their paragraph from 240 Wikipedia paragraphs; "
        "equivalent to MTEB's XQuADRetrieval (eng).",
    },
    {
        "folder": "retrieval_csl_title2abstract_zh",
        "paths": "benchmark/ts/{test,dev}.tsv",
        "build": build_csl_retrieval,
        "source": "csl",
        "task": {"task_type": "Retrieval", "language": "zh"},
        "license": "Apache-2.0",
        "licenses": [APACHE],
        "mteb": "none (derived subset; not an MTEB task)",
        "description": "Chinese paper titles retrieving their abstract among 600 abstracts, derived from CSL "
        "title-to-abstract retrieval (300 test queries + 300 distractors, seed 42; no MTEB equivalent).",
        "derived": True,
    },
    {
        "folder": "clustering_csl_titles_zh",
        "paths": "benchmark/cls_ctg/test.tsv",
        "build": build_csl_clustering,
        "source": "csl",
        "task": {"task_type": "Clustering", "language": "zh"},
        "license": "Apache-2.0",
        "licenses": [APACHE],
        "mteb": "similar to CLSClusteringS2S (different sample)",
        "description": "The CSL cls_ctg test split (1,000 Chinese paper titles, 13 disciplines); similar to C-MTEB's "
        "CLSClusteringS2S, whose sample differs.",
    },
    {
        "folder": "retrieval_debian_en",
        "paths": "dists/bookworm/main/i18n/Translation-en",
        "build": build_debian_retrieval,
        "source": "debian",
        "gzip": {"corpus.jsonl"},
        "task": {"task_type": "Retrieval", "language": "en"},
        "license": "the DFSG-free licences of the described Debian packages",
        "licenses": [("Debian main (DFSG-free)", "https://www.debian.org/social_contract#guidelines")],
        "mteb": "none (held-out split of the weakly supervised stage-1 pairs)",
        "description": "Debian package short descriptions retrieving their long description among every long "
        "description of the held-out source packages (1,000 queries; no MTEB equivalent). The held-out packages "
        "are kept out of the shipped training pairs: it measures stage-1 training on unseen packages.",
        "derived": True,
    },
    {
        "folder": "retrieval_qmsum_longdoc_en",
        "build": build_qmsum_longdoc,
        "source": "qmsum",
        "gzip": {"corpus.jsonl"},
        "task": {"task_type": "Retrieval", "language": "en", "eval_split": "dev"},
        "license": "MIT",
        "licenses": [MIT],
        "mteb": "none (8 QMSum dev meetings; LongEmbed's LEMBQMSumRetrieval uses the same source, other selection)",
        "description": "Long documents: 39 QMSum questions retrieving their meeting among 8 ICSI meeting transcripts "
        "(dev split, median ~12k tokens) with gold answer turns (spans.jsonl) for chunk-level metrics; made for "
        "`st-plus eval --chunking late|naive` (a plain evaluation truncates each meeting to the model's limit).",
        "derived": True,
    },
]

# ------------------------------------------------------------------------------------------------ documentation


def task_json(spec: dict) -> bytes:
    source = SOURCES[spec["source"]]
    task = {
        "task_type": spec["task"]["task_type"],
        "name": spec["folder"],
        "language": spec["task"]["language"],
        "eval_split": spec["task"].get("eval_split", "test"),
    }
    for key in ("train_split", "score_range"):
        if key in spec["task"]:
            task[key] = spec["task"][key]
    task["source"] = f"{source['url']} @ {source['commit']}"
    task["license"] = spec["license"]
    task["description"] = spec["description"]
    return (json.dumps(task, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def folder_readme(spec: dict, files: dict[str, bytes], counts: dict[str, int], how: str) -> bytes:
    source = SOURCES[spec["source"]]
    derived = "derived from" if spec.get("derived") else "taken from"
    licence_links = ", ".join(url for _name, url in spec["licenses"])
    lines = [
        f"# {spec['folder']}",
        "",
        spec["description"],
        "",
        "| | |",
        "|---|---|",
        f"| Task type | {spec['task']['task_type']} |",
        f"| Language | {spec['task']['language']} |",
        f"| Evaluated split | {spec['task'].get('eval_split', 'test')} |",
        f"| MTEB equivalent | {spec['mteb']} |",
        f"| Source | {source['url']} @ `{source['commit']}` (`{spec.get('paths', source['paths'])}`) |",
        f"| Licence | {spec['license']}; licence text: {licence_links} |",
        f"| Counts | {', '.join(f'{key}: {value:,}' for key, value in counts.items())} |",
        "",
        "## Files",
        "",
        "| file | rows | sha256 of the (uncompressed) content |",
        "|---|---|---|",
    ]
    for name, data in files.items():
        shipped = name + ".gz" if name in spec.get("gzip", ()) else name
        rows = count_rows(data) - (1 if name.endswith(".tsv") else 0)
        lines.append(f"| `{shipped}` | {rows:,} | `{sha256(data)}` |")
    lines += [
        "",
        "## How it was made",
        "",
        f"Built by `{SCRIPT}` (deterministic; stdlib only) from the project's converted copy of the source above "
        f"(`shared/data/{source_folder(spec)}`, whose text is unchanged from the source). {how}",
        "",
        f"Rebuild with `python {SCRIPT}`.",
        "",
        "## Licence and attribution",
        "",
        f"This slice is {derived} {source['attribution']}",
    ]
    if spec.get("derived"):
        lines += [
            "",
            "Changes: the rows were selected and/or rearranged as described above; no text was edited. "
            + (
                "As an adaptation of CC BY-SA 4.0 material, this slice is itself licensed under CC BY-SA 4.0 "
                "(ShareAlike)."
                if CC_BY_SA in spec["licenses"]
                else f"The slice is distributed under the source's licence ({spec['license']})."
            ),
        ]
    lines += ["", "## Citation", "", "```bibtex", source["bibtex"], "```", ""]
    return "\n".join(lines).encode("utf-8")


def source_folder(spec: dict) -> str:
    return {
        "pairclf_banking77_en": "classification_banking77_en",
        "reranking_xquad_en": "retrieval_xquad_en",
    }.get(spec["folder"], spec["folder"])


def top_readme(built: list[tuple[dict, dict[str, int]]]) -> bytes:
    lines = [
        "# Evaluation data shipped with st_plus",
        "",
        "Small, permissively licensed evaluation slices, one folder per task, covering all six MTEB task types, "
        "plus one long-document retrieval folder for late chunking (`retrieval_qmsum_longdoc_en`, dev split). "
        "The README's main example and the `real` / `mteb` tests evaluate on them; each folder has a `task.json` "
        "(read by `st_plus.data.load_task` and `st-plus eval DIR`) and a README with its source, licence, "
        "citation, exact construction and checksums.",
        "",
        "| folder | task type | lang | rows | licence | MTEB equivalent |",
        "|---|---|---|---|---|---|",
    ]
    for spec, counts in built:
        rows = ", ".join(f"{key}: {value:,}" for key, value in counts.items())
        lines.append(
            f"| [`{spec['folder']}`]({spec['folder']}/README.md) | {spec['task']['task_type']} | "
            f"{spec['task']['language']} | {rows} | {spec['license']} | {spec['mteb']} |"
        )
    lines += [
        "",
        "Formats: retrieval = BEIR (`corpus.jsonl` `{_id, title, text}`, `queries.jsonl` `{_id, text}`, "
        "`qrels/test.tsv` with a `query-id\\tcorpus-id\\tscore` header); STS = `{sentence1, sentence2, score}`; "
        "pair classification = `{sentence1, sentence2, label}` (int 0/1); classification and clustering = "
        "`{text, label}`; reranking = `{query, positive: [...], negative: [...]}`; long-document retrieval adds "
        "`spans.jsonl` (`{query-id, corpus-id, relevant_turn_spans, answer}`, gold answer turns for chunk-level "
        "metrics). Files above 500 KB are `.jsonl.gz`.",
        "",
        "`retrieval_qmsum_longdoc_en` holds meeting transcripts of ~12k tokens: `st-plus eval --chunking late "
        "--chunker sentences:5 examples/data/retrieval_qmsum_longdoc_en` (or `examples/late_chunking.py`) embeds "
        "every chunk; the main job (`st-plus eval examples/data/*/`, no `--chunking`) evaluates it as MTEB would, "
        "each meeting truncated to the model's `max_seq_length`, which costs a few seconds.",
        "",
        "## Attribution",
        "",
    ]
    for key in ("stsb", "banking77", "xquad", "csl", "qmsum"):
        lines.append(f"- {SOURCES[key]['attribution']} Source: {SOURCES[key]['url']} @ `{SOURCES[key]['commit']}`.")
    lines += [
        "",
        "Derived sets (`pairclf_banking77_en`, `reranking_xquad_en`, `retrieval_csl_title2abstract_zh`, "
        "`retrieval_qmsum_longdoc_en`) only select and rearrange source rows; no text is edited. See "
        "[LICENSES.md](LICENSES.md) and each folder's README for the citations (BibTeX).",
        "",
        "## Rebuilding",
        "",
        "The slices are made by a deterministic, stdlib-only script (seed 42) from the project's `shared/data` "
        "folder (the sources above, converted without changing any text):",
        "",
        "```bash",
        f"python {SCRIPT}                  # rebuild; refuses to overwrite a file whose content differs",
        f"python {SCRIPT} --check          # verify the shipped files (exit 1 on any difference)",
        f"python {SCRIPT} --shared-data /path/to/shared/data --out /tmp/slices --force",
        "```",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


DFSG_URL = "https://www.debian.org/social_contract#guidelines"


def licenses_md() -> bytes:
    by_licence: dict[str, list[str]] = defaultdict(list)
    for spec in SLICES:
        for name, _url in spec["licenses"]:
            by_licence[name].append(f"`{spec['folder']}`" + (" (derived)" if spec.get("derived") else ""))
    text = f"""# Licences of the shipped evaluation data

The code of st_plus is Apache-2.0; the data in this folder keeps the licence of its source. Each folder's README
gives the exact source commit, the attribution and how the slice was made.

| licence | folders | text |
|---|---|---|
| CC BY 4.0 | {", ".join(by_licence["CC BY 4.0"])} | {CC_BY[1]} |
| CC BY-SA 4.0 | {", ".join(by_licence["CC BY-SA 4.0"])} | {CC_BY_SA[1]} |
| Apache-2.0 | {", ".join(by_licence["Apache-2.0"])} | {APACHE[1]} |
| Debian main (DFSG-free) | {", ".join(by_licence["Debian main (DFSG-free)"])} | {DFSG_URL} |
| MIT | {", ".join(by_licence["MIT"])} | {MIT[1]} |

## CC BY 4.0: Banking77 (PolyAI)

Source: {SOURCES["banking77"]["url"]} (repository LICENSE). Reuse, including commercial, is allowed with
attribution and an indication of changes. `classification_banking77_en` and `clustering_banking77_en` are
unchanged copies; `pairclf_banking77_en` is an adaptation (pairs of test utterances, selected with seed 42) and
is distributed under CC BY 4.0 as well. Attribution: Casanueva et al. (2020), "Efficient Intent Detection with
Dual Sentence Encoders". (MTEB's metadata lists Banking77Classification as "mit"; the source repository states
CC BY 4.0, which is what applies here.)

## CC BY-SA 4.0: XQuAD (Google DeepMind) and the STS Benchmark scores

- XQuAD: {SOURCES["xquad"]["url"]} (CC-BY-SA4.0.txt in the repository); its English text comes from SQuAD v1.1
  / English Wikipedia (CC BY-SA). `retrieval_xquad_en` is an unchanged copy. **ShareAlike applies to the
  derived `reranking_xquad_en`**: it is an adaptation (questions regrouped with paragraphs of the same
  article) and is therefore licensed under CC BY-SA 4.0 too; anything further adapted from it must also be
  shared under CC BY-SA 4.0 (or a compatible licence), with attribution. Attribution: Artetxe et al. (2020),
  "On the Cross-lingual Transferability of Monolingual Representations"; Rajpurkar et al. (2016), SQuAD.
- STS Benchmark (`sts_stsbenchmark_en`, an unchanged copy of the test split): the benchmark's LICENSE notes
  release the similarity scores under CC BY-SA 4.0; the sentences come from the SemEval STS 2012-2017 sources
  (news headlines, image and video captions, forum posts), which keep their own terms, listed with the
  benchmark at {SOURCES["stsb"]["home"]}. Attribution: Cer et al. (2017), "SemEval-2017 Task 1: Semantic
  Textual Similarity Multilingual and Crosslingual Focused Evaluation". Obtained via
  {SOURCES["stsb"]["url"]} (which redistributes sentence-transformers' `stsbenchmark.tsv.gz`).

## Apache-2.0: CSL (Chinese Scientific Literature)

Source: {SOURCES["csl"]["url"]} (licence stated in the CSL README). `clustering_csl_titles_zh` is an unchanged
copy of the `cls_ctg` test split; `retrieval_csl_title2abstract_zh` is a subset (300 queries, their abstracts
and 300 distractor abstracts, seed 42) whose rows are unchanged. Apache-2.0 asks redistributors to give
recipients a copy of the licence ({APACHE[1]}; the project is itself Apache-2.0) and to state changes: the
only change is the selection of rows described in the folder README. Attribution: Li et al. (2022), "CSL: A
Large-scale Chinese Scientific Literature Dataset".

## Debian package descriptions (Debian main)

Source: the Debian 12 (bookworm) archive index files (`Translation-en`, `Packages`), through the project's
`shared/data/train_debian_descriptions_en`. Each description is written by a package's maintainers / upstream and
ships with the package in Debian main, whose every package is under a licence meeting the Debian Free Software
Guidelines (free redistribution and modification): the terms of each row are those of its package (see
`/usr/share/doc/PACKAGE/copyright` on a Debian system, or https://packages.debian.org/PACKAGE). The index files
themselves state no licence. `retrieval_debian_en` selects rows (held-out source packages) and rearranges them
into queries, corpus and qrels; no text is edited. Attribution: the Debian Project and the authors of each
package.

## MIT: QMSum (Yale LILY)

Source: {SOURCES["qmsum"]["url"]} @ `{SOURCES["qmsum"]["commit"]}` (MIT License, repository LICENSE, whose
copyright notice applies). `retrieval_qmsum_longdoc_en` is a subset (8 validation-split meetings, their 39
questions and gold answer turns) whose rows are unchanged. The MIT License permits use, copying, modification and
redistribution provided the copyright notice and this permission notice are included:

> Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
> documentation files (the "Software"), to deal in the Software without restriction, including without limitation
> the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
> to permit persons to whom the Software is furnished to do so, subject to the following conditions: The above
> copyright notice and this permission notice shall be included in all copies or substantial portions of the
> Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
> LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT
> SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
> OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
> DEALINGS IN THE SOFTWARE.

QMSum's README also asks users to limit the dataset to research purposes and to cite the paper: st_plus ships
the slice to evaluate embedding models, which is such a use; please honour the request in your own use.
Attribution: Zhong et al. (2021), "QMSum: A New Benchmark for Query-based Multi-domain Meeting Summarization";
the transcripts come from the ICSI Meeting Corpus (Janin et al., 2003), whose own terms are those its
distributors state.
"""
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------------------------- main


def build_all(shared: Path) -> dict[str, bytes]:
    """Everything to write, as {path relative to --out: uncompressed content} (``.gz`` paths get compressed)."""
    outputs: dict[str, bytes] = {}
    built = []
    for spec in SLICES:
        files, counts, how = spec["build"](shared)
        if spec["folder"] == "classification_banking77_en":
            spec = {**spec, "gzip": {name for name, data in files.items() if len(data) > GZIP_ABOVE_BYTES}}
        gz = spec.get("gzip", set())
        oversized = [name for name, data in files.items() if len(data) > GZIP_ABOVE_BYTES and name not in gz]
        expect(not oversized, f"{spec['folder']}: {oversized} exceed 500 KB but are not marked for gzip")
        for name, data in files.items():
            outputs[f"{spec['folder']}/{name}" + (".gz" if name in gz else "")] = data
        outputs[f"{spec['folder']}/task.json"] = task_json(spec)
        outputs[f"{spec['folder']}/README.md"] = folder_readme(spec, files, counts, how)
        built.append((spec, counts))
    outputs["README.md"] = top_readme(built)
    outputs["LICENSES.md"] = licenses_md()
    return outputs


def encode(name: str, data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0) if name.endswith(".gz") else data


def existing_content(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError):
            return b"\0<unreadable gzip>"
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED, help=f"default: {DEFAULT_SHARED}")
    parser.add_argument("--out", type=Path, default=HERE, help=f"default: {HERE}")
    parser.add_argument("--force", action="store_true", help="overwrite files whose content differs")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any output is missing/differs")
    args = parser.parse_args(argv)
    if not (args.shared_data / "README.md").is_file():
        parser.error(f"--shared-data {args.shared_data} does not look like the shared data folder (no README.md)")

    outputs = build_all(args.shared_data)
    status = {name: existing_content(args.out / name) for name in outputs}
    missing = [name for name, old in status.items() if old is None]
    changed = [name for name, old in status.items() if old is not None and old != outputs[name]]

    if args.check:
        for name in missing:
            print(f"missing: {name}")
        for name in changed:
            print(f"differs: {name}")
        print(f"{len(outputs) - len(missing) - len(changed)}/{len(outputs)} files up to date")
        return 1 if missing or changed else 0
    if changed and not args.force:
        print("refusing to overwrite files whose content differs (use --force):", file=sys.stderr)
        for name in changed:
            print(f"  {args.out / name}", file=sys.stderr)
        return 1
    for name in missing + changed:
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(name, outputs[name]))
        print(f"wrote {path}")
    print(f"{len(missing)} new, {len(changed)} overwritten, {len(outputs) - len(missing) - len(changed)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
