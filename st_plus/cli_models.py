"""Model commands: ``convert-nomic`` (BERT -> NomicBERT-style), ``merge`` (LM-Cocktail), ``extend-vocab``.

``convert-nomic`` maps a BERT-family model onto NomicBERT-style and recovers it by distillation; ``merge`` averages
the parameters of models of one architecture with given weights; ``extend-vocab`` adds the CJK characters a corpus
needs to a model's WordPiece vocabulary and teaches them by continued masked-LM training.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


class ModelsCliError(Exception):
    """An error shown to the user as one line, with exit code 2."""


def cmd_convert_nomic(args: argparse.Namespace) -> int:
    """Converts SOURCE, recovers it on ``--recover-data`` for ``--max-minutes`` and saves it to OUT_DIR."""
    from st_plus.models import convert_bert_to_nomic, load_model, read_texts, recover_by_distillation

    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise ModelsCliError(f"{out} exists and is not empty (pass --overwrite)")
    if args.max_minutes < 0:
        raise ModelsCliError(f"--max-minutes must be >= 0, got {args.max_minutes}")
    if args.max_minutes > 0 and not args.recover_data:
        raise ModelsCliError("recovery needs --recover-data FILE ... (or --max-minutes 0 to skip it)")
    try:
        texts = read_texts(args.recover_data, limit=args.max_texts) if args.max_minutes > 0 else []
    except (FileNotFoundError, ValueError) as exc:
        raise ModelsCliError(str(exc)) from None
    start = time.perf_counter()
    try:
        source = load_model(args.source, device="cpu")
        model = convert_bert_to_nomic(
            source,
            max_seq_length=args.max_seq_length,
            rope_scaling=args.rope_scaling,
            attn_implementation=args.attn_implementation,
            device="cpu",
        )
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ModelsCliError(f"cannot convert {args.source!r}: {exc}") from None
    stats: dict = {"converted_seconds": round(time.perf_counter() - start, 1)}
    if args.max_minutes > 0:
        stats.update(
            recover_by_distillation(
                model,
                source,
                texts,
                max_minutes=args.max_minutes,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                max_seq_length=args.recover_seq_length,
                seed=args.seed,
            )
        )
    model.save(str(out))
    (out / "st_plus_conversion.json").write_text(
        json.dumps({"source": str(args.source), **stats}, indent=2) + "\n", encoding="utf-8"
    )
    stats["saved"] = f"{out} (plain SentenceTransformer folder, max_seq_length {model.max_seq_length})"
    print(json.dumps(stats))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Merges MODEL ... with ``--weights`` into ``--output`` (a plain sentence-transformers folder)."""
    from st_plus.models.merging import merge_models

    if len(args.models) < 2:
        raise ModelsCliError(f"merge needs at least two models, got {len(args.models)}")
    weights = args.weights if args.weights is not None else [1.0] * len(args.models)
    if len(weights) != len(args.models):
        raise ModelsCliError(f"--weights needs one weight per model ({len(args.models)}), got {len(weights)}")
    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise ModelsCliError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    try:
        merge_models(args.models, weights, output=out, overwrite=args.overwrite)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ModelsCliError(str(exc)) from None
    total = sum(weights)
    shares = ", ".join(f"{model} x {weight / total:.4g}" for model, weight in zip(args.models, weights, strict=True))
    print(f"Merged {shares} -> {out}  (loads with SentenceTransformer(path); the merge is in st_plus_run.json)")
    return 0


def cmd_extend_vocab(args: argparse.Namespace) -> int:
    """Extends MODEL's vocabulary with the characters of ``--texts``, continues MLM, saves to ``--output``."""
    from st_plus.models import continue_mlm, extend_vocabulary, load_model, read_texts
    from st_plus.precision import cpu_supports_bf16
    from st_plus.training.checkpoints import atomic_save_model

    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise ModelsCliError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    for name in ("min_count", "batch_size", "max_seq_length"):
        if getattr(args, name) < 1:
            raise ModelsCliError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.new_rows_steps < 0 or args.steps < 0:
        raise ModelsCliError("--new-rows-steps and --steps must be >= 0")
    try:
        texts = read_texts(args.texts, limit=args.max_texts, seed=args.seed)
        model = load_model(args.model, device="cpu")
        extension = extend_vocabulary(model, texts, min_count=args.min_count, init=args.init, seed=args.seed)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ModelsCliError(str(exc)) from None
    bf16 = {"auto": cpu_supports_bf16(), "bf16": True, "fp32": False}[args.precision]
    run = continue_mlm(
        model, texts, new_token_ids=extension.new_token_ids,
        new_rows_steps=args.new_rows_steps if extension.added else 0, steps=args.steps, batch_size=args.batch_size,
        learning_rate=args.learning_rate, new_rows_learning_rate=args.new_rows_learning_rate,
        mask_rate=args.mask_rate, max_seq_length=args.max_seq_length, seed=args.seed, bf16=bf16,
    )  # fmt: skip
    atomic_save_model(model, out)  # an --overwrite target is replaced only once the new folder is complete
    record = {"source": str(args.model), "texts": len(texts), "vocabulary": extension.summary(),
              "new_rows_steps": run.new_rows_steps, "steps": run.steps, "seconds": run.seconds,
              "new_rows_losses_every_10": run.new_rows_losses, "mlm_losses_every_10": run.losses}  # fmt: skip
    (out / "st_plus_vocabulary.json").write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps({k: record[k] for k in ("vocabulary", "new_rows_steps", "steps", "seconds")}, ensure_ascii=False))
    print(f"Saved {out} (plain SentenceTransformer folder; the run is in st_plus_vocabulary.json)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``convert-nomic``, ``merge`` and ``extend-vocab`` to the ``st-plus`` parser."""
    conv = commands.add_parser(
        "convert-nomic",
        help="Convert a BERT-family model to a NomicBERT-style one (RoPE, SwiGLU) and recover it by distillation",
        description="Map a BERT-family sentence-transformers model onto transformers' NomicBertModel, then train it "
        "to reproduce the source's embeddings (MSE distillation) on --recover-data for at most --max-minutes.",
    )
    conv.add_argument("source", metavar="SOURCE", help="'default' (bundled all-MiniLM-L6-v2) or a model folder")
    conv.add_argument("out_dir", metavar="OUT_DIR", help="Where to save the converted model")
    conv.add_argument("--recover-data", nargs="+", metavar="FILE", default=[],
                      help="Recovery text: .jsonl[.gz] (anchor/positive/text/... fields) or .txt")  # fmt: skip
    conv.add_argument("--max-minutes", type=float, default=20.0, help="Recovery budget, wall clock (0: no recovery)")
    conv.add_argument("--max-texts", type=int, default=None, help="Read at most this many texts")
    conv.add_argument("--max-seq-length", type=int, default=2048, help="Token limit of the converted model")
    conv.add_argument("--rope-scaling", choices=("dynamic",), default=None, help="Dynamic NTK beyond the limit")
    conv.add_argument("--recover-seq-length", type=int, default=128, help="Token limit during recovery")
    conv.add_argument("--batch-size", type=int, default=64)
    conv.add_argument("--learning-rate", type=float, default=2e-4)
    conv.add_argument("--attn-implementation", choices=("sdpa", "eager", "flash_attention_2"), default="sdpa")
    conv.add_argument("--seed", type=int, default=0)
    conv.add_argument("--overwrite", action="store_true")
    conv.set_defaults(func=cmd_convert_nomic)

    merge = commands.add_parser(
        "merge",
        help="Merge models of one architecture by weighted parameter averaging (LM-Cocktail; keeps general ability)",
        description="Average the parameters of models that share an architecture and tokenizer, e.g. a fine-tuned "
        "model and its base (LM-Cocktail): `st-plus merge runs/quickstart/model default --weights 0.7 0.3 "
        "--output runs/quickstart-merged`. Weights are normalised to sum to 1. The output is a plain "
        "sentence-transformers folder; st_plus_run.json records the ingredients and weights.",
    )
    merge.add_argument(
        "models", nargs="+", metavar="MODEL",
        help="'default' (bundled all-MiniLM-L6-v2) or model folders; the first one's settings are kept",
    )  # fmt: skip
    merge.add_argument(
        "--weights", type=float, nargs="+", metavar="W",
        help="One positive weight per model, normalised to sum to 1 (default: equal weights)",
    )  # fmt: skip
    merge.add_argument("--output", required=True, metavar="DIR", help="Where to save the merged model")
    merge.add_argument("--overwrite", action="store_true", help="Replace a non-empty --output folder")
    merge.set_defaults(func=cmd_merge)

    ext = commands.add_parser(
        "extend-vocab",
        help="Add the CJK characters a corpus needs to a model's WordPiece vocabulary and teach them by MLM",
        description="Add every CJK character seen --min-count times in --texts that MODEL's tokenizer maps to [UNK] "
        "to its WordPiece vocabulary (size kept a multiple of 64), start the new embedding rows with --init, then "
        "continue masked-LM training: --new-rows-steps on the new rows only, --steps on every weight (a fresh MLM "
        "head, discarded at the end). The output is a plain sentence-transformers folder: `st-plus extend-vocab "
        "default --texts runs/chinese_training/texts_zh.jsonl --output runs/minilm-zh`.",
    )
    ext.add_argument("model", metavar="MODEL", help="'default' (bundled all-MiniLM-L6-v2) or a model folder")
    ext.add_argument("--texts", nargs="+", required=True, metavar="FILE",
                     help="Corpus: .jsonl[.gz] (text/anchor/positive/... fields) or one text per line")  # fmt: skip
    ext.add_argument("--output", required=True, metavar="DIR", help="Where to save the extended model")
    ext.add_argument("--min-count", type=int, default=2, help="Add a character seen at least this often")
    ext.add_argument("--init", choices=("mean", "cjk", "unk", "random"), default="random",
                     help="How the new embedding rows start (see the README's Chinese section)")  # fmt: skip
    ext.add_argument("--new-rows-steps", type=int, default=600, help="MLM steps training only the new rows")
    ext.add_argument("--steps", type=int, default=600, help="MLM steps training every weight (0: skip)")
    ext.add_argument("--batch-size", type=int, default=32)
    ext.add_argument("--learning-rate", type=float, default=5e-5, help="Peak learning rate of --steps")
    ext.add_argument("--new-rows-learning-rate", type=float, default=1e-3, help="Peak learning rate of the rows")
    ext.add_argument("--mask-rate", type=float, default=0.3)
    ext.add_argument("--max-seq-length", type=int, default=128)
    ext.add_argument("--max-texts", type=int, default=None, help="Read at most this many texts")
    ext.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    ext.add_argument("--seed", type=int, default=0)
    ext.add_argument("--overwrite", action="store_true", help="Replace a non-empty --output folder")
    ext.set_defaults(func=cmd_extend_vocab)
