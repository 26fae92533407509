"""The ``st-plus`` command. Thin: it parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from st_plus._version import __version__

if TYPE_CHECKING:
    from st_plus.data import Task

EXIT_USAGE = 2


class _CliError(Exception):
    """An error shown to the user as one line, with exit code 2."""


def _positive_ints(values: Sequence[int] | None) -> list[int]:
    for value in values or ():
        if value < 1:
            raise _CliError(f"--truncate-dims must be positive integers, got {value}")
    return list(values or ())


def _prompts(args: argparse.Namespace) -> dict[str, dict[str, str]] | None:
    if not (args.query_prompt or args.document_prompt or args.text_prompt):
        return None
    retrieval = {k: v for k, v in (("query", args.query_prompt), ("document", args.document_prompt)) if v is not None}
    symmetric = {"text": args.text_prompt} if args.text_prompt is not None else {}
    return {
        "Retrieval": retrieval,
        "Reranking": retrieval,
        **{kind: symmetric for kind in ("STS", "PairClassification", "Classification", "Clustering") if symmetric},
    }


def _check_flag_combinations(args: argparse.Namespace) -> None:
    """Refuses flags that the other flags would make no-ops (nothing is silently ignored)."""
    if args.chunking is None:
        for flag, value in (("--chunker", args.chunker), ("--window", args.window), ("--overlap", args.overlap)):
            if value is not None:
                raise _CliError(f"{flag} needs --chunking late|naive")
    elif args.chunking == "naive":
        for flag, value in (("--window", args.window), ("--overlap", args.overlap)):
            if value is not None:
                raise _CliError(f"{flag} applies to --chunking late only (naive chunking encodes each chunk alone)")
    if args.overwrite and not args.output:
        raise _CliError("--overwrite needs --output (it replaces result files there)")
    if args.max_docs is not None and args.max_docs < 1:
        raise _CliError(f"--max-docs must be a positive integer, got {args.max_docs}")


def _check_tasks_use_flags(args: argparse.Namespace, tasks: Sequence[Task]) -> None:
    """Refuses flags that none of the loaded tasks would use (e.g. --chunking for an STS folder)."""
    kinds = {task.task_type for task in tasks if not task.descriptor.prompts}  # task.json prompts win over flags
    for flag, needed in (("--chunking", args.chunking), ("--max-docs", args.max_docs)):
        if needed is None:
            continue
        others = [f"{task.folder} ({task.task_type})" for task in tasks if task.task_type != "Retrieval"]
        if others:
            raise _CliError(f"{flag} applies to Retrieval tasks only, got {', '.join(others)}")
    if args.eval_seeds is not None:
        from st_plus.evaluation import EVALUATORS

        if not any(EVALUATORS[task.task_type].seed_dependent for task in tasks):
            raise _CliError("--eval-seeds applies to Classification and Clustering tasks only; none was given")
    uses = {
        "--query-prompt": ("Retrieval", "Reranking"),
        "--document-prompt": ("Retrieval", "Reranking"),
        "--text-prompt": ("STS", "PairClassification", "Classification", "Clustering"),
    }
    for flag, task_types in uses.items():
        if getattr(args, flag[2:].replace("-", "_")) is not None and not kinds & set(task_types):
            raise _CliError(
                f"{flag} applies to {', '.join(task_types)} tasks without their own task.json prompts; none was given"
            )


def _cmd_eval(args: argparse.Namespace) -> int:
    from st_plus.data import DataValidationError, load_task, normalize_task_type

    task_type = None
    if args.task_type is not None:
        try:
            task_type = normalize_task_type(args.task_type)
        except ValueError as exc:
            raise _CliError(str(exc)) from None
    dims = _positive_ints(args.truncate_dims)
    _check_flag_combinations(args)
    from st_plus.evaluation.seed_average import check_eval_seeds

    try:
        check_eval_seeds(args.eval_seeds)
    except ValueError as exc:
        raise _CliError(f"--eval-seeds: {exc}") from None
    if args.chunking:
        from st_plus.chunking import parse_chunker

        try:  # the spec's syntax, before the model loads (the real chunker needs the model's tokenizer)
            parse_chunker(args.chunker or "sentences:5", tokenizer=object(), model=object())
        except ValueError as exc:
            raise _CliError(str(exc)) from None
    # Validate every folder before the model is loaded: a bad file fails in a second, not after encoding.
    tasks = []
    for folder in args.data_dirs:
        try:
            tasks.append(load_task(folder, task_type=task_type, split=args.split))
        except DataValidationError as exc:
            raise _CliError(f"{folder}: " + str(exc).replace("\n  - ", " | ").replace("\n", " ")) from None
        except (FileNotFoundError, ValueError) as exc:
            raise _CliError(str(exc)) from None
    _check_tasks_use_flags(args, tasks)
    if args.max_docs is not None:
        from st_plus.data import judged_subset

        try:
            tasks = [replace(task, data=judged_subset(task.data, args.max_docs)) for task in tasks]
        except ValueError as exc:
            raise _CliError(f"--max-docs {args.max_docs}: {exc}") from None

    from st_plus.evaluation import evaluate_suite, results_table
    from st_plus.models import load_model

    try:
        model = load_model(args.model, device=args.device)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise _CliError(f"cannot load model {args.model!r}: {exc}") from None
    chunking = None
    if args.chunking:
        from st_plus.chunking import parse_chunker

        chunker = parse_chunker(args.chunker or "sentences:5", tokenizer=model.tokenizer, model=model)
        chunking = {"chunker": chunker, "mode": args.chunking, "window": args.window, "overlap": args.overlap or 0}
    try:
        results = evaluate_suite(
            model,
            tasks,
            batch_size=args.batch_size,
            truncate_dims=dims,
            prompts=_prompts(args),
            output_dir=args.output,
            show_progress_bar=not args.json and not args.quiet,
            dtype=args.dtype,
            model_name="default" if args.model == "default" else Path(str(args.model)).name,
            overwrite=args.overwrite,
            chunking=chunking,
            eval_seeds=args.eval_seeds,
        )
    except (ValueError, FileExistsError) as exc:
        raise _CliError(str(exc)) from None
    if args.json:
        for task, result in zip(tasks, results, strict=False):
            print(json.dumps({"data": str(task.folder), **result.to_dict()}, ensure_ascii=False))
    else:
        print(results_table(results))
        if args.output:
            print(f"\nResults written to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``st-plus``."""
    parser = argparse.ArgumentParser(prog="st-plus", description="st_plus: sentence-transformers, plus the recipe.")
    parser.add_argument("--version", action="version", version=f"st-plus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    ev = commands.add_parser(
        "eval",
        help="Evaluate a model on local task folders with MTEB's protocol",
        description="Evaluate a model on local task folders (MTEB 2 protocol for the six task types).",
    )
    ev.add_argument(
        "data_dirs", nargs="+", metavar="DATA_DIR", help="Task folders (with task.json, or use --task-type)"
    )
    ev.add_argument("--model", default="default", help="'default' (bundled all-MiniLM-L6-v2), a folder or a Hub id")
    ev.add_argument("--task-type", help="STS, PairClassification, Classification, Clustering, Retrieval or Reranking")
    ev.add_argument("--split", help="Split to evaluate (default: task.json's, else test/validation/dev)")
    ev.add_argument("--truncate-dims", type=int, nargs="+", metavar="DIM", help="Matryoshka dimensions to score too")
    ev.add_argument("--output", help="Write MTEB-layout result files and results.md here")
    ev.add_argument(
        "--overwrite", action="store_true", help="Replace result files in --output that st_plus did not write"
    )
    ev.add_argument("--json", action="store_true", help="Print one JSON object per task instead of the table")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--device", default=None, help="e.g. cpu, cuda (default: best available)")
    ev.add_argument("--dtype", choices=("float32", "bfloat16", "auto"), default="float32",
                    help="Encoding precision (auto: bfloat16 where the CPU or GPU has it natively, else float32)")
    ev.add_argument("--query-prompt", help="Prompt for retrieval/reranking queries, e.g. 'search_query: '")
    ev.add_argument("--document-prompt", help="Prompt for documents, e.g. 'search_document: '")
    ev.add_argument("--text-prompt", help="Prompt for the symmetric task types")
    ev.add_argument(
        "--eval-seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="Score Classification and Clustering tasks once per seed and report the mean (less noise for "
        "development decisions; not MTEB's single-seed number, which uses 42)",
    )
    ev.add_argument("--quiet", action="store_true", help="No progress bars")
    ev.add_argument(
        "--chunking",
        choices=("late", "naive"),
        help="Retrieval over chunked long documents: late chunking or each chunk alone (chunk-level metrics too "
        "when the folder has spans.jsonl)",
    )
    ev.add_argument(
        "--chunker", help="sentences:N (default sentences:5), lines:N, tokens:SIZE[:OVERLAP] or semantic[:QUANTILE]"
    )
    ev.add_argument(
        "--window", type=int, help="Late chunking: tokens per forward pass (default: the model's limit; late only)"
    )
    ev.add_argument(
        "--overlap", type=int, help="Long late chunking: context tokens shared by windows (default 0; late only)"
    )
    ev.add_argument(
        "--max-docs",
        type=int,
        metavar="N",
        help="Retrieval: keep the first N documents the split judges (corpus order) and the queries they answer "
        "alone (a quick look at a large long-document corpus)",
    )
    ev.set_defaults(func=_cmd_eval)

    from st_plus.cli_mining import add_commands as add_mining_commands

    add_mining_commands(commands)
    from st_plus.cli_models import add_commands as add_model_commands

    add_model_commands(commands)
    from st_plus.cli_train import add_commands as add_train_commands

    add_train_commands(commands)
    from st_plus.cli_hub import add_commands as add_hub_commands

    add_hub_commands(commands)
    from st_plus.cli_distill import add_commands as add_distill_commands

    add_distill_commands(commands)
    from st_plus.cli_data import add_commands as add_data_commands

    add_data_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``st-plus``; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from st_plus.cli_data import DataCliError
    from st_plus.cli_distill import DistillCliError
    from st_plus.cli_hub import HubCliError
    from st_plus.cli_mining import MiningCliError
    from st_plus.cli_models import ModelsCliError
    from st_plus.cli_train import TrainCliError

    try:
        return args.func(args)
    except (
        _CliError, MiningCliError, ModelsCliError, TrainCliError, HubCliError, DistillCliError, DataCliError
    ) as exc:
        print(f"st-plus {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
