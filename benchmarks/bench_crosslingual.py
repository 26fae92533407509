"""Cross-lingual distillation (Reimers & Gurevych, 2020) of the bundled model onto Chinese: zh and en dev scores.

    # the students: a copy of the bundled all-MiniLM-L6-v2 trained so that each Chinese DDTP translation and its
    # English Debian description land on the teacher's embedding of the English text (+ English texts, so English
    # stays where it was); --extend-vocab first gives the [UNK] CJK characters tokens of their own
    python examples/training_data/make_parallel_en_zh.py       # -> examples/training_data/debian_parallel_en_zh.jsonl
    st-plus distill --teacher default --parallel examples/training_data/debian_parallel_en_zh.jsonl \
        --texts examples/training_data/stsb_train_en.jsonl examples/training_data/debian_pairs_en.jsonl.gz \
        --max-texts 2000 --extend-vocab --epochs 3 --max-minutes 12 --max-seq-length 128 --batch-size 32 \
        --output runs/xling/ext
    # the comparison
    python benchmarks/bench_crosslingual.py --student runs/xling/ext --dev-suite /work/dev_suite \
        --baseline-results runs/dev_suite_baseline/default/no_revision_available

Scored on the development suite's Chinese retrieval task (``zh/retrieval_manpages_dev_zh``: man page NAME line ->
DESCRIPTION) and its English tasks (``--en-tasks``, default all; the English mean must not collapse), with the
bundled model's settings (max_seq_length 256, bf16 encoding, batch 64). The baseline's scores come from an
``st-plus eval --dtype bfloat16 --batch-size 64 --output`` folder of the bundled model (``--baseline-results``) or
are computed. Writes ``benchmarks/results/crosslingual.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZH_RETRIEVAL = "retrieval_manpages_dev_zh"


def scores(model, tasks: list[Path], results: Path | None) -> dict[str, float]:
    """Main scores on ``tasks``, read from an ``st-plus eval --output`` folder when given, else evaluated."""
    from st_plus.evaluation import evaluate_suite

    if results is not None:
        return {t.name: json.loads((results / f"{t.name}.json").read_text())["scores"]["dev"][0]["main_score"]
                for t in tasks}  # fmt: skip
    found = evaluate_suite(model, tasks, batch_size=64, dtype="bfloat16", show_progress_bar=False)
    return {r.task_name: round(r.main_score, 5) for r in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", nargs="+", required=True, help="One or more student folders")
    parser.add_argument("--baseline", default="default")
    parser.add_argument("--baseline-results", default=None)
    parser.add_argument("--dev-suite", default="/work/dev_suite")
    parser.add_argument("--en-tasks", nargs="*", default=None, help="English dev task folders (default: all)")
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "crosslingual.json"))
    args = parser.parse_args()

    from st_plus import load_model

    dev = Path(args.dev_suite)
    en = sorted(p for p in (dev / "en").iterdir() if (p / "task.json").is_file())
    en = [p for p in en if not args.en_tasks or p.name in args.en_tasks]
    tasks = [dev / "zh" / ZH_RETRIEVAL, *en]
    rows = {}
    for name in [args.baseline, *args.student]:
        model = load_model(name, device="cpu")
        model.max_seq_length = args.max_seq_length
        given = Path(args.baseline_results) if name == args.baseline and args.baseline_results else None
        found = scores(model, tasks, given)
        record = Path(name) / "st_plus_distill.json"
        rows[str(name)] = {
            "zh_retrieval_ndcg_at_10": found[ZH_RETRIEVAL],
            "en_mean": round(statistics.mean(found[t.name] for t in en), 5),
            "scores": found,
            "vocabulary": len(model.tokenizer),
            "distillation": json.loads(record.read_text()) if record.is_file() else None,
        }
    base = rows[args.baseline]
    for row in rows.values():
        row["zh_gain_points"] = round(100 * (row["zh_retrieval_ndcg_at_10"] - base["zh_retrieval_ndcg_at_10"]), 2)
        row["en_mean_change_points"] = round(100 * (row["en_mean"] - base["en_mean"]), 2)
    result = {
        "dev_suite": str(dev), "zh_task": ZH_RETRIEVAL, "en_tasks": [t.name for t in en],
        "max_seq_length": args.max_seq_length, "baseline_results": args.baseline_results, "models": rows,
        "note": "one seed per student; the zh man pages are a dev task, so they are not training data",
    }  # fmt: skip
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    for name, row in rows.items():
        print(f"{name:50} zh nDCG@10 {row['zh_retrieval_ndcg_at_10']:.4f} ({row['zh_gain_points']:+.2f}) "
              f"en mean {row['en_mean']:.4f} ({row['en_mean_change_points']:+.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
