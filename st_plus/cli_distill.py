"""``st-plus distill``: a smaller or cross-lingual student trained on a teacher's embeddings."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path


class DistillCliError(Exception):
    """An error shown to the user as one line, with exit code 2."""


def _layers(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer indices like 0,2,4, got {value!r}") from None


def _dims(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated dimensions like 256,128, got {value!r}") from None


def cmd_distill(args: argparse.Namespace) -> int:
    """Builds the student from ``--teacher``, distills it on ``--texts`` / ``--parallel`` and saves it."""
    from st_plus.models import NOMIC_BERT_PRESETS, add_characters, load_model, read_texts
    from st_plus.training.distill import build_student, distill_model, read_parallel
    from st_plus.training.recipe import DistillStage

    out = Path(args.output)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise DistillCliError(f"{out} exists and is not empty (pass --overwrite)")
    if not args.texts and not args.parallel:
        raise DistillCliError("give training text: --texts FILE ... and/or --parallel FILE ...")
    if args.student_preset is not None and args.student_preset not in NOMIC_BERT_PRESETS:
        raise DistillCliError(f"--student-preset {args.student_preset!r}: choose from {sorted(NOMIC_BERT_PRESETS)}")
    for name in ("max_steps", "max_minutes", "max_texts", "batch_size", "learning_rate"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise DistillCliError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    stage = DistillStage(
        data=list(args.texts), parallel=list(args.parallel), student_layers=args.student_layers,
        student_preset=args.student_preset, max_texts=args.max_texts, epochs=args.epochs, max_steps=args.max_steps,
        max_minutes=args.max_minutes, batch_size=args.batch_size, learning_rate=args.learning_rate,
        matryoshka_dims=args.matryoshka_dims, extend_vocab=args.extend_vocab, save_steps=10**9,
    )  # fmt: skip
    try:
        texts = read_texts(args.texts, limit=args.max_texts, seed=args.seed) if args.texts else []
        parallel = read_parallel(args.parallel) if args.parallel else []
        teacher = load_model(args.teacher, device=args.device)
        if args.max_seq_length:
            teacher.max_seq_length = args.max_seq_length
        student = build_student(teacher, layers=args.student_layers, preset=args.student_preset, seed=args.seed)
        added = add_characters(student, texts + [t for _, t in parallel]) if args.extend_vocab else []
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise DistillCliError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="st_plus_distill_") as folder:
        info = distill_model(student, teacher, stage, folder, texts=texts, parallel=parallel, seed=args.seed)
    info.pop("log_history", None)
    info["extra"]["added_characters"] = len(added)
    if out.exists():
        shutil.rmtree(out)
    student.save(str(out))
    record = {"teacher": str(args.teacher), "student_layers": args.student_layers,
              "student_preset": args.student_preset, "seed": args.seed, "learning_rate": args.learning_rate,
              "max_seq_length": args.max_seq_length, **info}  # fmt: skip
    (out / "st_plus_distill.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"saved": str(out), "steps": info["steps"], "seconds": info["seconds"], **info["extra"]}))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``distill`` to the ``st-plus`` parser."""
    cmd = commands.add_parser(
        "distill",
        help="Distill a teacher into a layer-pruned, smaller or cross-lingual student (MSE + cosine)",
        description="Train a student to reproduce the teacher's embeddings of --texts (MSE + cosine). The student "
        "keeps --student-layers of the teacher, is a new --student-preset encoder with the teacher's tokenizer, or "
        "(neither) is a copy of the teacher; with --parallel rows {source, translation} both sides learn the "
        "teacher's embedding of the source (cross-lingual distillation). The output is a plain "
        "sentence-transformers folder.",
    )
    cmd.add_argument("--teacher", default="default", help="'default' (bundled all-MiniLM-L6-v2) or a model folder")
    group = cmd.add_mutually_exclusive_group()
    group.add_argument("--student-layers", type=_layers, metavar="I,J,...", help="Teacher layers to keep, e.g. 0,2,4")
    group.add_argument("--student-preset", metavar="PRESET", help="A new NomicBERT-style encoder (small, mini, ...)")
    cmd.add_argument("--texts", nargs="+", metavar="FILE", default=[],
                     help="Training text: .jsonl[.gz] (anchor/positive/text/... fields) or .txt")  # fmt: skip
    cmd.add_argument("--parallel", nargs="+", metavar="FILE", default=[],
                     help="JSONL rows {source, translation} for cross-lingual distillation")  # fmt: skip
    cmd.add_argument("--extend-vocab", action="store_true",
                     help="Add the CJK characters (seen twice or more) that the tokenizer maps to [UNK]")  # fmt: skip
    cmd.add_argument("--output", required=True, metavar="DIR", help="Where to save the student")
    cmd.add_argument("--max-texts", type=int, help="Read at most this many texts (shuffled with --seed)")
    cmd.add_argument("--epochs", type=float, default=1.0)
    cmd.add_argument("--max-steps", type=int, help="Optimiser steps (default: --epochs over the texts)")
    cmd.add_argument("--max-minutes", type=float, help="Stop after this many minutes (learning rate decays in time)")
    cmd.add_argument("--batch-size", type=int, default=64)
    cmd.add_argument("--learning-rate", type=float, default=1e-4)
    cmd.add_argument("--matryoshka-dims", type=_dims, metavar="D,...", help="Also match these embedding prefixes")
    cmd.add_argument("--max-seq-length", type=int, help="Token limit of teacher and student")
    cmd.add_argument("--device", default=None, help="cpu, cuda, ... (default: what sentence-transformers picks)")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--overwrite", action="store_true", help="Replace a non-empty --output folder")
    cmd.set_defaults(func=cmd_distill)
