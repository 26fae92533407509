"""A distilled half-depth student vs its teacher: English dev scores and CPU encoding speed.

    # 1. the student (layers 0, 2, 4 of the bundled all-MiniLM-L6-v2), distilled on shipped text
    st-plus distill --teacher default --student-layers 0,2,4 \
        --texts examples/training_data/debian_pairs_en.jsonl.gz examples/training_data/stsb_train_en.jsonl \
                examples/training_data/csl_title_abstract_zh.jsonl \
        --max-texts 8000 --max-minutes 15 --max-seq-length 128 --output runs/minilm-l3
    # 2. this script
    python benchmarks/bench_distill.py --student runs/minilm-l3 --dev-suite /work/dev_suite

Quality: teacher and student are scored on every English task of the development suite (``DEV/en``;
``benchmarks/make_dev_suite.py``) with the same settings (max_seq_length 256, bf16 encoding, batch 64; the
teacher's scores may come from an ``st-plus eval`` folder with those settings, ``--teacher-results``); the goal is a
student mean >= 95% of the teacher's. Speed: both encode the same texts (dev STS sentences and Debian dev documents)
with ``torch`` limited to ``--threads`` threads, alternating teacher / student, ``--reps`` times; the ratio of the
median times is reported (goal >= 1.8x) with the load average before and after (the machine may be shared: only the
ratio within one run means anything). Writes ``benchmarks/results/distill.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dev_scores(model, tasks: list[Path], cache: Path | None, results: Path | None = None) -> dict[str, float]:
    """Main scores of ``model`` on ``tasks``: from ``results`` (an ``st-plus eval --output`` folder of this model
    with the same settings), from ``cache``, or evaluated now."""
    from st_plus.evaluation import evaluate_suite

    if results is not None:
        return {t.name: json.loads((results / f"{t.name}.json").read_text())["scores"]["dev"][0]["main_score"]
                for t in tasks}  # fmt: skip
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    results = evaluate_suite(model, tasks, batch_size=64, dtype="bfloat16", show_progress_bar=False)
    scores = {r.task_name: round(r.main_score, 5) for r in results}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(scores, indent=1))
    return scores


def speed_texts(dev: Path, n: int) -> list[str]:
    """``n`` texts: dev STS sentences and Debian dev documents, alternating (short and long)."""
    sts = [json.loads(line) for line in (dev / "en" / "sts_stsb_dev_en" / "dev.jsonl").open(encoding="utf-8")]
    docs = [json.loads(line)["text"] for line in (dev / "en" / "retrieval_debian_dev_en" / "corpus.jsonl").open()]
    short = [row["sentence1"] for row in sts]
    return [text for pair in zip(short, docs, strict=False) for text in pair][:n]


def encoding_speed(models: dict, texts: list[str], reps: int) -> dict[str, list[float]]:
    """Seconds per full pass of each model over ``texts``, alternating models (and their order) each repetition."""
    names = list(models)
    for model in models.values():  # warm-up
        model.encode(texts[:64], batch_size=32)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            models[name].encode(texts, batch_size=32)
            times[name].append(round(time.perf_counter() - start, 3))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", default="default")
    parser.add_argument("--student", required=True)
    parser.add_argument("--dev-suite", default="/work/dev_suite")
    parser.add_argument("--max-seq-length", type=int, default=256, help="Both models (256: the teacher's own)")
    parser.add_argument("--tasks", nargs="*", default=None, help="Only these en dev task folders (default: all)")
    parser.add_argument("--teacher-results", default=None,
                        help="The teacher's scores from an `st-plus eval --dtype bfloat16 --batch-size 64 --output` "
                        "folder (same settings) instead of evaluating it again")  # fmt: skip
    parser.add_argument("--speed-texts", type=int, default=512)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="Where the dev scores are computed (speed is always CPU)")
    parser.add_argument("--cache-dir", default=None, help="Keep per-model dev scores here (reruns skip them)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "distill.json"))
    args = parser.parse_args()

    import torch

    from st_plus import load_model

    torch.set_num_threads(args.threads)
    dev = Path(args.dev_suite)
    tasks = sorted(p for p in (dev / "en").iterdir() if (p / "task.json").is_file())
    tasks = [p for p in tasks if not args.tasks or p.name in args.tasks]
    models = {"teacher": load_model(args.teacher, device="cpu"), "student": load_model(args.student, device="cpu")}
    for model in models.values():
        model.max_seq_length = args.max_seq_length
    cache = Path(args.cache_dir) if args.cache_dir else None
    load_before = os.getloadavg()
    texts = speed_texts(dev, args.speed_texts) if args.speed_texts else []  # 0: no speed measurement
    times = encoding_speed(models, texts, args.reps) if texts else {name: [] for name in models}
    load_after = os.getloadavg()
    medians = {name: statistics.median(values) if values else None for name, values in times.items()}
    speedup = round(medians["teacher"] / medians["student"], 3) if texts else None
    given = {"teacher": Path(args.teacher_results) if args.teacher_results else None, "student": None}
    for model in models.values():
        model.to(args.device)
    scores = {
        name: dev_scores(model, tasks, cache / f"{name}_{Path(str(getattr(args, name))).name}.json" if cache else None,
                         given[name])
        for name, model in models.items()
    }  # fmt: skip
    means = {name: round(statistics.mean(s.values()), 5) for name, s in scores.items()}
    record_path = Path(args.student) / "st_plus_distill.json"
    layers = {n: m.transformers_model.config.num_hidden_layers for n, m in models.items()}
    result = {
        "teacher": args.teacher,
        "student": str(args.student),
        "layers": layers,
        "parameters": {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()},
        "distillation": json.loads(record_path.read_text()) if record_path.is_file() else None,
        "dev_suite": str(dev / "en"),
        "max_seq_length": args.max_seq_length,
        "score_device": args.device,
        "teacher_results": args.teacher_results,
        "dev_scores": scores,
        "dev_mean": means,
        "student_share_of_teacher_mean": round(means["student"] / means["teacher"], 4),
        "speed": {
            "texts": len(texts),
            "threads": args.threads,
            "reps": args.reps,
            "seconds": times,
            "median_seconds": medians,
            "speedup": speedup,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "note": "shared machine: only the ratio within this run is meaningful",
        },  # fmt: skip
        "goals": {
            "share >= 0.95": means["student"] / means["teacher"] >= 0.95,
            "speedup >= 1.8": speedup >= 1.8 if speedup is not None else None,
        },  # fmt: skip
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'task':36} {'teacher':>8} {'student':>8}")
    for task in scores["teacher"]:
        print(f"{task:36} {scores['teacher'][task]:8.4f} {scores['student'].get(task, float('nan')):8.4f}")
    print(f"{'mean':36} {means['teacher']:8.4f} {means['student']:8.4f}  "
          f"(student keeps {result['student_share_of_teacher_mean']:.1%})")  # fmt: skip
    print(f"encoding speed-up {result['speed']['speedup']}x (median of {args.reps}; load {load_before[0]:.1f})")


if __name__ == "__main__":
    main()
