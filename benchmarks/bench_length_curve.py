"""A length curve (LongEmbed-style): passkey and needle retrieval at 256 ... 8k tokens, and QMSum at each length.

Synthetic tasks, generated with a seed from shipped text (Zhu et al., 2024, "LongEmbed", arXiv 2404.12096):
    passkey   each document is filler text of the target length with one sentence "The pass key of NAME is
              12345. Remember it. 12345 is the pass key of NAME." inserted at a random depth; the query asks
              "What is the pass key of NAME?". Filler: shuffled XQuAD passages (examples/data/retrieval_xquad_en,
              CC BY-SA 4.0), different for every document.
    needle    the inserted sentence is a Debian package description (examples/training_data/debian_pairs_en,
              DFSG-free); the query is the package's title.
    Metric: accuracy@1 (LongEmbed's nDCG@1 with one relevant document) over --docs documents per length. A
    document longer than the model's max_seq_length is truncated (the LongEmbed protocol), so a needle placed
    beyond it is invisible: the curve falls to chance (1 / --docs) for a model that reads less.
QMSum: document nDCG@10 on ../shared/data/retrieval_qmsum_longdoc_en (--qmsum-split, never test while choosing
settings), each meeting read up to min(length, the model's limit) tokens.

Usage:
    python benchmarks/bench_length_curve.py --models default runs/long_context/model \
        --json benchmarks/results/length_curve.json --plot benchmarks/results/length_curve.png
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QMSUM = REPO.parent / "shared" / "data" / "retrieval_qmsum_longdoc_en"
FILLER = REPO / "examples" / "data" / "retrieval_xquad_en" / "corpus.jsonl"
NEEDLES = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena",
         "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara",
         "Zane", "Amara", "Bilal", "Chloe", "Dmitri", "Elif"]  # fmt: skip


def _filler_sentences(seed: int) -> list[str]:
    from st_plus.chunking import split_sentences

    passages = [json.loads(line)["text"] for line in FILLER.read_text(encoding="utf-8").splitlines()]
    sentences = [passage[s:e] for passage in passages for s, e in split_sentences(passage)]
    random.Random(seed).shuffle(sentences)
    return sentences


def _needles(n: int, seed: int) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in gzip.open(NEEDLES, "rt", encoding="utf-8")]
    rows = [r for r in rows if 40 <= len(r["positive"]) <= 400]
    random.Random(seed).shuffle(rows)
    return [(r["anchor"], r["positive"].split("\n")[0]) for r in rows[:n]]


def synthetic_task(kind: str, length: int, docs: int, tokenizer, sentences: list[str], seed: int):
    """``(queries, corpus, qrels)`` of ``docs`` documents of about ``length`` tokens (with [CLS] and [SEP]; joining
    sentences may merge or split a token or two) with one inserted sentence each."""
    rng = random.Random(f"{kind}-{length}-{seed}")
    if kind == "passkey":
        keys = [rng.randint(10000, 99999) for _ in range(docs)]
        items = [(f"What is the pass key of {name}?",
                  f"The pass key of {name} is {key}. Remember it. {key} is the pass key of {name}.")
                 for name, key in zip(NAMES[:docs], keys, strict=False)]  # fmt: skip
    else:
        items = _needles(docs, seed)
    queries, corpus, qrels = {}, {}, {}
    cursor = rng.randrange(len(sentences))
    for i, (query, needle) in enumerate(items):
        budget = length - 2 - len(tokenizer(needle, add_special_tokens=False)["input_ids"])
        filler, used = [], 0
        while used < budget:
            sentence = sentences[cursor % len(sentences)]
            cursor += 1
            offsets = tokenizer(sentence, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            if used + len(offsets) > budget:  # cut the last sentence at a token boundary: exactly `length` tokens
                sentence = sentence[: offsets[budget - used - 1][1]]
                offsets = offsets[: budget - used]
            used += len(offsets)
            filler.append(sentence)
        depth = rng.randint(0, len(filler))
        text = " ".join([*filler[:depth], needle, *filler[depth:]])
        queries[f"q{i}"], corpus[f"d{i}"], qrels[f"q{i}"] = query, text, {f"d{i}": 1}
    return queries, corpus, qrels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["default"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[256, 512, 1024, 2048, 4096, 8192])
    parser.add_argument("--docs", type=int, default=30, help="Documents (and queries) per length and task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--qmsum-split", default="dev")
    parser.add_argument("--qmsum-max-docs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()

    import torch

    from st_plus import load_model
    from st_plus.data import judged_subset, load_retrieval
    from st_plus.evaluation import EmbeddingCache, RetrievalEvaluator

    torch.manual_seed(0)
    sentences = _filler_sentences(args.seed)
    data = judged_subset(load_retrieval(QMSUM, split=args.qmsum_split), args.qmsum_max_docs)
    qm = ({r["_id"]: r["text"] for r in data.queries}, {r["_id"]: r["text"] for r in data.corpus}, data.qrels)
    rows = []
    for name in args.models:
        model = load_model(name, device="cpu")
        limit = model.max_seq_length
        for length in args.lengths:
            model.max_seq_length = min(length, limit)
            for kind in ("passkey", "needle", "qmsum"):
                if kind == "qmsum" and length > limit and rows and rows[-1]["model"] == name:
                    previous = [r for r in rows if r["model"] == name and r["task"] == "qmsum"]
                    if previous and previous[-1]["read_tokens"] == limit:  # same as the last length: reuse
                        rows.append({**previous[-1], "length": length})
                        print(f"{name:<32} {kind:<8} {length:>6} (reads {limit} tokens: as at {limit})", flush=True)
                        continue
                task = qm if kind == "qmsum" else synthetic_task(kind, length, args.docs, model.tokenizer,
                                                                  sentences, args.seed)  # fmt: skip
                evaluator = RetrievalEvaluator(*task, batch_size=args.batch_size, show_progress_bar=False)
                start = time.perf_counter()
                result = evaluator.evaluate(model, cache=EmbeddingCache(model, batch_size=args.batch_size,
                                                                        dtype=args.dtype))  # fmt: skip
                metric = "ndcg_at_10" if kind == "qmsum" else "ndcg_at_1"
                row = {"model": name, "max_seq_length": limit, "task": kind, "length": length,
                       "read_tokens": min(length, limit), "metric": metric, "score": 100 * result.scores[metric],
                       "seconds": round(time.perf_counter() - start, 1),
                       "num_queries": len(task[0]), "num_docs": len(task[1])}  # fmt: skip
                rows.append(row)
                print(f"{name:<32} {kind:<8} {length:>6} {metric:<11} {row['score']:6.2f} ({row['seconds']} s)",
                      flush=True)  # fmt: skip
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        _plot(rows, args)


def _plot(rows: list[dict], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, kind in zip(axes, ("passkey", "needle", "qmsum"), strict=True):
        for name in args.models:
            points = [(r["length"], r["score"]) for r in rows if r["model"] == name and r["task"] == kind]
            ax.plot(*zip(*points, strict=True), marker="o", label=Path(name).parent.name or name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(args.lengths, [str(x) for x in args.lengths])
        ax.set_title({"passkey": "passkey (nDCG@1)", "needle": "needle (nDCG@1)",
                      "qmsum": f"QMSum {args.qmsum_split} (nDCG@10)"}[kind])  # fmt: skip
        ax.set_xlabel("document length (tokens)")
    axes[0].legend()
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
