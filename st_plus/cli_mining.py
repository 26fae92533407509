"""``st-plus mine`` and ``st-plus filter``: thin wrappers over :mod:`st_plus.mining`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


class MiningCliError(Exception):
    """Shown as one line with exit code 2 by :mod:`st_plus.cli`."""


def _check_output(path: str, overwrite: bool) -> Path:
    out = Path(path)
    if out.exists() and not overwrite:
        raise MiningCliError(f"{out} exists; pass --overwrite to replace it")
    return out


def _distinct(output: Path, dropped: Path, data: Path) -> None:
    paths = [p.resolve() for p in (output, dropped, data)]
    if len(set(paths)) != 3:
        raise MiningCliError("--output, --dropped and --data must be three different files")


def _write_jsonl(path: Path, rows: Any) -> None:
    from st_plus.data import write_jsonl

    write_jsonl(path, rows)  # atomic; gzip for a .gz name (st_plus's readers read both)


def _load_rows(path: str, keep: list[str], *, all_columns: bool = False):
    from st_plus.data import DataValidationError, load_training_rows

    try:
        rows = load_training_rows(path, keep_columns=keep)
    except DataValidationError as exc:
        raise MiningCliError(str(exc).replace("\n  - ", " | ").replace("\n", " ")) from None
    except (FileNotFoundError, ValueError) as exc:
        raise MiningCliError(str(exc)) from None
    if "anchor" not in rows.column_names:
        raise MiningCliError(f"{path}: mining needs (anchor, positive) rows, got columns {rows.column_names}")
    return rows if all_columns else rows.select_columns(["anchor", "positive", *keep])


def _load_corpus(path: str | None) -> list[str] | None:
    """Documents from a JSONL file of ``{"text"[, "title"]}`` objects (BEIR corpus.jsonl works)."""
    if path is None:
        return None
    from st_plus.data import IssueCollector, iter_jsonl

    issues = IssueCollector(path)
    texts = []
    try:
        for line, record in iter_jsonl(path, issues):
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                issues.add(line, "text", "missing or empty text")
                continue
            title = record.get("title") or ""
            texts.append(f"{title} {text}".strip() if isinstance(title, str) else text)
        issues.raise_if_any()
    except FileNotFoundError as exc:
        raise MiningCliError(str(exc)) from None
    except ValueError as exc:
        raise MiningCliError(str(exc).replace("\n  - ", " | ").replace("\n", " ")) from None
    if not texts:
        raise MiningCliError(f"{path}: the corpus is empty")
    return texts


def _load_model(name: str, device: str | None):
    from st_plus.models import load_model

    try:
        return load_model(name, device=device)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise MiningCliError(f"cannot load model {name!r}: {exc}") from None


def cmd_mine(args: argparse.Namespace) -> int:
    """``st-plus mine``."""
    from st_plus.mining import CorpusEmbeddingStore, mine_hybrid_negatives

    start = time.perf_counter()
    out = _check_output(args.output, args.overwrite)
    dropped_path = _check_output(args.dropped or f"{args.output}.dropped.jsonl", args.overwrite)
    _distinct(out, dropped_path, Path(args.data))
    rows = _load_rows(args.data, [args.group_column] if args.group_column else [])
    corpus = _load_corpus(args.corpus)
    ratio = None if args.no_positive_guard else args.max_positive_ratio
    model = None if args.method == "bm25" and ratio is None else _load_model(args.model, args.device)
    try:
        result = mine_hybrid_negatives(
            rows, model, corpus=corpus, method=args.method, range_min=args.range_min, range_max=args.range_max,
            num_negatives=args.num_negatives, sampling=args.sampling, max_positive_ratio=ratio,
            group_column=args.group_column, group_negatives=args.group_negatives, output_format=args.format,
            output_scores=args.scores, too_few=args.too_few, seed=args.seed,
            store=CorpusEmbeddingStore(dtype=args.dtype),
        )  # fmt: skip
    except ValueError as exc:
        raise MiningCliError(str(exc)) from None
    groups = rows[args.group_column] if args.group_column else None
    records = _mined_rows(result.dataset, args.format)
    if groups is not None:  # kept as a bookkeeping key (training readers drop it unless asked to keep it)
        records = ({**record, args.group_column: groups[i]} for record, i in zip(records, result.rows, strict=True))
    _write_jsonl(out, records)
    _write_jsonl(dropped_path, result.dropped)
    print(f"{result.summary()}; total {time.perf_counter() - start:.1f}s")
    print(f"wrote {out} ({len(result.dataset):,} rows) and {dropped_path} ({len(result.dropped):,} dropped rows)")
    return 0


def _mined_rows(dataset, layout: str):
    """Rows in the training-file layout that ``load_training_rows`` reads back."""
    negatives = sorted((c for c in dataset.column_names if c.startswith("negative_") and not c.endswith("_score")),
                       key=lambda c: int(c.split("_")[1]))  # fmt: skip
    if "negative" in dataset.column_names:  # a single-negative (triplet) file
        negatives = ["negative"]
    docs = sorted((c for c in dataset.column_names if c.startswith("doc_")), key=lambda c: int(c.split("_")[1]))
    for row in dataset:
        if layout == "graded-list":
            yield {"query": row["query"], "docs": [row[c] for c in docs], "labels": row["label"]}
            continue
        record = {"anchor": row["anchor"], "positive": row["positive"]}
        if negatives:
            record["negative"] = [row[c] for c in negatives]
        if "positive_score" in row:
            record["positive_score"] = row["positive_score"]
            record["negative_scores"] = [row[f"{c}_score"] for c in negatives]
        yield record


def cmd_filter(args: argparse.Namespace) -> int:
    """``st-plus filter``."""
    from st_plus.mining import CorpusEmbeddingStore, consistency_filter

    start = time.perf_counter()
    out = _check_output(args.output, args.overwrite)
    dropped_path = _check_output(args.dropped or f"{args.output}.dropped.jsonl", args.overwrite)
    _distinct(out, dropped_path, Path(args.data))
    rows = _load_rows(args.data, [], all_columns=True)
    corpus = _load_corpus(args.corpus)
    model = _load_model(args.model, args.device)
    try:
        top_k = args.top_k or None  # 0 turns the rank rule off
        result = consistency_filter(
            rows, model, top_k=top_k, min_score=args.min_score, corpus=corpus, group_column=args.group_column,
            store=CorpusEmbeddingStore(dtype=args.dtype),
        )
    except ValueError as exc:
        raise MiningCliError(str(exc)) from None
    _write_jsonl(out, _mined_rows(result.dataset, "n-tuple"))  # every column kept, negatives included
    if dropped_path.exists():
        dropped_path.unlink()  # --overwrite was given (checked above)
    result.write_dropped(dropped_path)
    print(f"{result.summary()}; total {time.perf_counter() - start:.1f}s")
    print(f"wrote {out} ({len(result.dataset):,} rows) and {dropped_path} ({len(result.dropped):,} dropped rows)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``mine`` and ``filter`` to the ``st-plus`` parser."""
    mine = commands.add_parser(
        "mine",
        help="Mine hard negatives for (anchor, positive) training rows",
        description="Mine hard negatives (dense, BM25 or hybrid) from a rank band, with a false-negative guard.",
    )
    _common(mine)
    mine.add_argument("--method", choices=("dense", "bm25", "hybrid"), default="hybrid")
    mine.add_argument("--range-min", type=int, default=10, help="First usable rank after the guard (default 10)")
    mine.add_argument("--range-max", type=int, default=100, help="End of the rank band (default 100)")
    mine.add_argument("--num-negatives", type=int, default=7)
    mine.add_argument("--sampling", choices=("random", "top"), default="random")
    mine.add_argument("--max-positive-ratio", type=float, default=0.95,
                      help="Drop candidates scored >= this x the positive's score (default 0.95)")  # fmt: skip
    mine.add_argument("--no-positive-guard", action="store_true", help="Disable the positive-aware guard")
    mine.add_argument("--group-column", help="Rows sharing this key are never each other's negatives")
    mine.add_argument("--group-negatives", type=int, default=0,
                      help="Up to this many negatives per row from the other rows of its group whose positive text "
                      "differs (most similar first; needs --group-column; default 0)")  # fmt: skip
    mine.add_argument("--format", choices=("n-tuple", "graded-list"), default="n-tuple")
    mine.add_argument("--scores", action="store_true", help="Keep the dense scores (n-tuple)")
    mine.add_argument("--too-few", choices=("skip", "pad"), default="skip",
                      help="Rows with too few candidates: skip (recorded) or pad with random documents")  # fmt: skip
    mine.add_argument("--seed", type=int, default=42)
    mine.set_defaults(func=cmd_mine)

    flt = commands.add_parser(
        "filter",
        help="Consistency-filter weakly-supervised pairs with a trained model",
        description="Keep (anchor, positive) pairs whose positive ranks in the anchor's top-k and/or scores above a "
        "threshold; dropped rows go to a side file with reason and score.",
    )
    _common(flt)
    flt.add_argument("--top-k", type=int, default=2, help="The positive must rank in the top k (default 2; 0: off)")
    flt.add_argument("--min-score", type=float, default=None, help="Minimum cosine (Conan: 0.4)")
    flt.add_argument("--group-column", help="Rows sharing this key do not compete for each other's rank")
    flt.set_defaults(func=cmd_filter)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="'default' (bundled all-MiniLM-L6-v2) or a folder")
    parser.add_argument("--data", required=True, help="Training rows (anchor, positive), .jsonl or .jsonl.gz")
    parser.add_argument("--corpus", help="Extra documents: JSONL with text (and title)")
    parser.add_argument("--output", required=True, help="Output JSONL (never overwritten without --overwrite)")
    parser.add_argument("--dropped", help="Side file of dropped rows (default: OUTPUT.dropped.jsonl)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "auto"), default="float32",
                        help="Encoding precision: float32 (sentence-transformers' encode), bfloat16 (token-budget "
                             "batches on bfloat16 weights: faster on CPUs with AMX / AVX512-BF16) or auto "
                             "(bfloat16 where native)")  # fmt: skip
