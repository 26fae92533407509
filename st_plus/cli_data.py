"""``st-plus augment`` and ``st-plus synthesize``: thin wrappers over :mod:`st_plus.augment` / :mod:`.synthesis`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


class DataCliError(Exception):
    """Shown as one line with exit code 2 by :mod:`st_plus.cli`."""


def _outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """OUT and OUT.failed.jsonl, refused when they exist (without --overwrite) or when OUT is the input."""
    out = Path(args.output)
    failed = out.with_name(out.name + ".failed.jsonl")
    if out.resolve() == Path(args.data).resolve():
        raise DataCliError("--output must differ from --data")
    for path in (out, failed):
        if path.exists() and not args.overwrite:
            raise DataCliError(f"{path} exists; pass --overwrite to replace it")
    return out, failed


def _read(path: str) -> list[dict[str, Any]]:
    from st_plus.data import DataValidationError
    from st_plus.data.rows import read_rows

    try:
        return read_rows(path)
    except DataValidationError as exc:
        raise DataCliError(str(exc).replace("\n  - ", " | ").replace("\n", " ")) from None
    except (FileNotFoundError, ValueError) as exc:
        raise DataCliError(str(exc)) from None


def _write(out: Path, failed_path: Path, rows: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    from st_plus.data import write_jsonl

    write_jsonl(out, rows)
    if failed:
        write_jsonl(failed_path, failed)
    elif failed_path.exists():
        failed_path.unlink()  # a stale side file of an earlier run (--overwrite was given)
    note = f" and {failed_path} ({len(failed):,} failed input rows)" if failed else ""
    print(f"wrote {out} ({len(rows):,} rows){note}")


def _client(args: argparse.Namespace, out: Path):
    from st_plus.synthesis import ChatClient

    if not args.base_url or not args.model:
        raise DataCliError("--base-url and --model are required (an OpenAI-compatible chat endpoint)")
    params = {} if getattr(args, "temperature", None) is None else {"temperature": args.temperature}
    try:
        return ChatClient(
            args.base_url, args.model, cache=args.cache or out.with_name(out.name + ".cache"), timeout=args.timeout,
            max_attempts=args.max_attempts, max_requests=args.max_requests, params=params,
        )  # fmt: skip
    except ValueError as exc:
        raise DataCliError(str(exc)) from None


_METHOD_FLAGS = {
    "eda": ("synonyms", "alpha_sr", "alpha_ri", "alpha_rs", "p_rd"),
    "repeat": ("dup_rate",),
    "cutoff": ("rate",),
    "backtranslate": ("base_url", "model", "pivot", "cache", "max_requests"),
}


def cmd_augment(args: argparse.Namespace) -> int:
    """``st-plus augment``."""
    from st_plus.augment import augment_rows
    from st_plus.synthesis import EndpointError

    start = time.perf_counter()
    for method, flags in _METHOD_FLAGS.items():
        for flag in flags:
            if method != args.method and getattr(args, flag) is not None:
                raise DataCliError(f"--{flag.replace('_', '-')} applies to --method {method} only")
    out, failed_path = _outputs(args)
    rows = _read(args.data)
    opts = {flag: getattr(args, flag) for flag in _METHOD_FLAGS[args.method] if getattr(args, flag) is not None}
    if args.method == "backtranslate":
        opts = {"client": _client(args, out), "concurrency": args.concurrency,
                **({"pivot": args.pivot} if args.pivot else {})}  # fmt: skip
    try:
        result = augment_rows(rows, method=args.method, seed=args.seed, columns=args.columns, into=args.into,
                              num=args.num, **opts)  # fmt: skip
    except (ValueError, FileNotFoundError, EndpointError) as exc:
        message = str(exc)
        if message.startswith("row "):  # "row N: ..." -> "FILE:N: ..."
            message = f"{args.data}:{message[4:]}"
        raise DataCliError(message) from None
    _write(out, failed_path, result.rows, result.failed)
    print(f"augment {args.method}: {len(rows):,} input rows x {args.num}; {time.perf_counter() - start:.1f}s")
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    """``st-plus synthesize``."""
    from st_plus.synthesis import EndpointError, synthesize

    start = time.perf_counter()
    out, failed_path = _outputs(args)
    rows = _read(args.data)
    client = _client(args, out)
    model = None
    if args.consistency_model:
        from st_plus.models import load_model

        try:
            model = load_model(args.consistency_model, device=args.device)
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise DataCliError(f"cannot load model {args.consistency_model!r}: {exc}") from None
    language = None if args.language == "auto" else args.language
    try:
        result = synthesize(
            rows, client, kind=args.kind, num=args.num, language=language, concurrency=args.concurrency,
            consistency_model=model, margin=args.margin, show_progress_bar=not args.quiet,
        )  # fmt: skip
    except (ValueError, EndpointError) as exc:
        raise DataCliError(str(exc)) from None
    _write(out, failed_path, result.rows, result.failed)
    hits = client.cache.hits if client.cache is not None else 0
    print(f"synthesize {args.kind}: {result.summary()}; {hits:,} cache hits; {time.perf_counter() - start:.1f}s")
    return 0


def _endpoint_flags(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--base-url",
        required=required,
        default=None,
        help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1 (key: $OPENAI_API_KEY)",
    )
    parser.add_argument("--model", required=required, default=None, help="The endpoint's model name")
    parser.add_argument("--cache", default=None, help="Response cache folder (default: OUTPUT.cache)")
    parser.add_argument("--concurrency", type=int, default=4, help="Requests in flight at once (default 4)")
    parser.add_argument("--max-requests", type=int, default=None, help="Budget of HTTP requests, retries included")
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds per request (default 60)")
    parser.add_argument("--max-attempts", type=int, default=6, help="Attempts per request (default 6)")  # fmt: skip


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``augment`` and ``synthesize`` to the ``st-plus`` parser."""
    aug = commands.add_parser(
        "augment",
        help="Augment training rows (EDA, word repetition, token cutoff, back-translation)",
        description="Augment the text columns of JSONL rows; every column is kept; seeded. Rows that cannot be "
        "augmented (back-translation errors) go to OUTPUT.failed.jsonl.",
    )
    aug.add_argument("--data", required=True, help="Input rows, .jsonl or .jsonl.gz")
    aug.add_argument("--output", required=True, help="Output rows (.jsonl.gz is compressed); never overwritten "
                     "without --overwrite")  # fmt: skip
    aug.add_argument("--method", required=True, choices=("eda", "repeat", "cutoff", "backtranslate"))
    aug.add_argument("--columns", nargs="+", help="Columns to augment (default: text, else positive)")
    aug.add_argument("--into", help="Write the augmented text of the one column here instead of replacing it")
    aug.add_argument("--num", type=int, default=1, help="Augmented copies per row (default 1)")
    aug.add_argument("--seed", type=int, default=42)
    aug.add_argument("--overwrite", action="store_true")
    aug.add_argument("--synonyms", help="eda: synonym file (JSON {word: [synonyms]} or one group per line)")
    for flag in ("alpha-sr", "alpha-ri", "alpha-rs", "p-rd"):
        aug.add_argument(f"--{flag}", type=float, help=f"eda: {flag} (default 0.1)")
    aug.add_argument("--dup-rate", type=float, help="repeat: largest share of repeated words (default 0.32)")
    aug.add_argument("--rate", type=float, help="cutoff: share of words in the removed span (default 0.1)")
    aug.add_argument("--pivot", help="backtranslate: pivot language (default zh for English, en for Chinese)")
    _endpoint_flags(aug, required=False)
    aug.set_defaults(func=cmd_augment)

    syn = commands.add_parser(
        "synthesize",
        help="Write positives, hard negatives or queries with an LLM (OpenAI-compatible endpoint)",
        description="Ask an OpenAI-compatible chat endpoint for new positives, hard negatives or queries, "
        "conditioned on each row's positive and negative documents, in the data's language. Cached (a repeated run "
        "sends no request), retried with backoff; failed rows go to OUTPUT.failed.jsonl with their reason.",
    )
    syn.add_argument("--data", required=True, help="Rows {anchor, positive[, negative]} or {text}, .jsonl(.gz)")
    syn.add_argument("--output", required=True, help="Output rows; never overwritten without --overwrite")
    syn.add_argument("--kind", required=True, choices=("positives", "hard_negatives", "queries"))
    syn.add_argument("--num", type=int, default=1, help="Texts asked for per row (default 1)")
    _endpoint_flags(syn, required=True)
    syn.add_argument("--temperature", type=float, default=0.7, help="Sampling temperature (default 0.7)")
    syn.add_argument("--language", choices=("auto", "en", "zh"), default="auto",
                     help="Prompt language (default: detected per row)")  # fmt: skip
    syn.add_argument("--consistency-model", help="Drop new texts that break positive > negatives under this model")
    syn.add_argument("--margin", type=float, default=0.0, help="Margin of the consistency check")
    syn.add_argument("--device", default=None)
    syn.add_argument("--overwrite", action="store_true")
    syn.add_argument("--quiet", action="store_true", help="No progress bar")
    syn.set_defaults(func=cmd_synthesize)
