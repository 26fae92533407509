"""Training speed of st_plus vs plain sentence-transformers (fp32 and ``bf16=True``), same model, data and batch.

    python benchmarks/bench_training_speed.py                       # 3 rounds x 24 steps, both settings, 4 arms
    python benchmarks/bench_training_speed.py --steps 48 --rounds 5 --output /tmp/training_speed.json
    python benchmarks/bench_training_speed.py --steps 2 --rounds 1 --settings debian --output /tmp/smoke.json

Every arm trains the bundled all-MiniLM-L6-v2 (max_seq_length 128) from the same initial weights, with the same
rows, batch size and learning rate. The arms:

- ``plain fp32``: ``SentenceTransformerTrainer`` with default arguments (what a user writes without st_plus);
- ``plain bf16``: the same with ``SentenceTransformerTrainingArguments(bf16=True)`` (what a strong plain user writes);
- ``st_plus ungrouped``: the pipeline's own stage trainer with the recipe's defaults (``precision: auto``: bf16
  autocast where the CPU has AMX / AVX512-BF16; group-aware / rank-synchronised batches) but ``length_grouped:
  false`` (random batches). Results files written before length grouping became the default call it
  ``st_plus defaults``;
- ``st_plus length_grouped``: the recipe's defaults, ``length_grouped: true`` (batches of similar token length).

The settings:

- ``debian``: stage 1, MNRL on the shipped Debian title -> description pairs
  (examples/training_data/debian_pairs_en.jsonl.gz, ``steps x batch`` rows, group column ``source``), lr 5e-5;
  the st_plus arms run ``st_plus.training.stages.run_contrastive`` (no consistency filter).
- ``mix``: stage 2 of examples/recipes/quickstart.yaml (its tasks, rows, batch size, learning rate and Matryoshka
  dims) through the pipeline's multi-task trainer ``run_multitask``; the ``stage1`` task takes the recipe's stage-1
  pairs unfiltered. No task gets mined or dynamic hard negatives (plain sentence-transformers has no refresh, and
  mining is not training speed). The plain arms train the same ``DatasetDict`` (``build_multitask``'s rows: label
  triplets for classification) with sentence-transformers' own losses (MNRL; CoSENT for scored pairs;
  ``MatryoshkaLoss`` around each) and its default proportional multi-dataset sampler.

Each run is a subprocess, so its peak RSS (``ru_maxrss`` at the end of training) is its own. Each round runs every
arm once, in an order alternating between rounds (forward, then reversed) so that load on a shared machine hits
every arm; samples/s is ``steps x batch`` over the median of the rounds' ``trainer.train()`` seconds. Quality: each
arm's model from the last round is evaluated (float32) on two development tasks (never the shipped test slices):
Debian title -> description retrieval (nDCG@10) and STS-B validation (Spearman), from
``python benchmarks/make_dev_suite.py --output runs/dev_suite`` (or ``$ST_PLUS_DEV_SUITE``). Prints a table per
setting with the ratios to both plain arms (goals: st_plus >= 2.0x plain fp32 and >= 1.3x plain bf16, quality
within 0.2) and writes everything to ``--output``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
QUICKSTART = REPO / "examples" / "recipes" / "quickstart.yaml"
DEV_SUITE = Path(os.environ.get("ST_PLUS_DEV_SUITE", REPO / "runs" / "dev_suite"))  # benchmarks/make_dev_suite.py
EVAL = [DEV_SUITE / "en" / "retrieval_debian_dev_en", DEV_SUITE / "en" / "sts_stsb_dev_en"]
ARMS = ("plain fp32", "plain bf16", "st_plus ungrouped", "st_plus length_grouped")
SETTINGS = ("debian", "mix")
SEED = 42


def _model():
    from st_plus import load_model

    model = load_model("default", device="cpu")
    model.max_seq_length = 128
    for name, parameter in model.named_parameters():
        if ".pooler." in name:
            parameter.requires_grad_(False)
    return model


def _debian_spec(steps: int, batch: int):
    from st_plus.training.recipe import DataSpec

    return DataSpec(str(DATA), rows=steps * batch, group_column="source", columns=["anchor", "positive"])


def _plain_train(model, dataset, loss, *, steps: int, batch: int, lr: float, bf16: bool, folder: Path,
                 seed: int = SEED) -> float:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    args = SentenceTransformerTrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=batch, max_steps=steps, learning_rate=lr,
        warmup_steps=0.1, seed=seed, bf16=bf16, save_strategy="no", report_to="none", use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def _mix_stage(steps: int, length_grouped: bool, seed: int | None = None):
    """The quickstart's stage 2 without hard negatives, cut to ``steps``; its stage-1 pairs; ``seed`` (default: the
    recipe's)."""
    from st_plus.training.recipe import load_recipe
    from st_plus.training.stages import read_pairs

    recipe = load_recipe(QUICKSTART)
    stage = recipe.stages.multitask
    tasks = [dataclasses.replace(task, negatives=None) for task in stage.tasks]
    stage = dataclasses.replace(stage, tasks=tasks, max_steps=steps, save_steps=10**6, length_grouped=length_grouped)
    seed = recipe.seed if seed is None else seed
    return stage, read_pairs(recipe.stages.contrastive.data, seed), seed


def _plain_mix(model, stage, pairs, seed: int, *, steps: int, bf16: bool, folder: Path) -> float:
    from sentence_transformers.sentence_transformer.losses import (
        CoSENTLoss,
        MatryoshkaLoss,
        MultipleNegativesRankingLoss,
    )

    from st_plus.training.multitask import TrainingTask, build_multitask
    from st_plus.training.recipe_data import read_rows
    from st_plus.training.stages import sample_rows

    tasks = []
    for task in stage.tasks:  # the rows run_multitask trains on
        if task.data == "stage1":
            rows = sample_rows(pairs, task.rows, seed).remove_columns("group")
        else:
            rows = sample_rows(read_rows(task.data, task.type), task.data.rows, seed)
            if task.data.group_column in rows.column_names:
                rows = rows.remove_columns(task.data.group_column)
        tasks.append(TrainingTask(task.name, task.type, rows))
    dataset = build_multitask(model, tasks, seed=seed).train_dataset
    losses = {}
    for name, rows in dataset.items():
        scored = {"score", "label"} & set(rows.column_names)
        loss = CoSENTLoss(model) if scored else MultipleNegativesRankingLoss(model)
        losses[name] = MatryoshkaLoss(model, loss, stage.matryoshka_dims) if stage.matryoshka_dims else loss
    return _plain_train(model, dataset, losses, steps=steps, batch=stage.batch_size, lr=stage.learning_rate,
                        bf16=bf16, folder=folder, seed=seed)  # fmt: skip


def run_arm(setting: str, arm: str, *, steps: int, batch: int, evaluate: bool, folder: Path,
            seed: int | None = None) -> dict:
    """One arm in this process: its training seconds, peak RSS after training and (``evaluate``) dev scores.

    ``seed`` (default: 42 for ``debian``, the recipe's for ``mix``) draws the rows and seeds the trainer."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from st_plus.evaluation import evaluate_suite
    from st_plus.training.pipeline import resolve_precision
    from st_plus.training.recipe import ContrastiveStage
    from st_plus.training.stages import read_pairs, run_contrastive, run_multitask

    model = _model()
    plain, length_grouped = arm.startswith("plain"), arm.endswith("length_grouped")
    debian_seed = SEED if seed is None else seed
    if setting == "debian" and plain:
        rows = read_pairs([_debian_spec(steps, batch)], debian_seed).select_columns(["anchor", "positive"])
        seconds = _plain_train(model, rows, MultipleNegativesRankingLoss(model), steps=steps, batch=batch, lr=5e-5,
                               bf16=arm == "plain bf16", folder=folder, seed=debian_seed)  # fmt: skip
    elif setting == "debian":
        stage = ContrastiveStage(
            data=[_debian_spec(steps, batch)], batch_size=batch, max_steps=steps, save_steps=10**6, filter=None,
            length_grouped=length_grouped,
        )  # fmt: skip
        model, _, info = run_contrastive(stage, model, folder, seed=debian_seed, bf16=resolve_precision("auto"),
                                         resume=False)  # fmt: skip
        seconds = info["seconds"]
    else:
        stage, pairs, seed = _mix_stage(steps, length_grouped, seed)
        if plain:
            seconds = _plain_mix(model, stage, pairs, seed, steps=steps, bf16=arm == "plain bf16", folder=folder)
        else:
            model, info = run_multitask(stage, model, folder, seed=seed, bf16=resolve_precision("auto"),
                                        resume=False, stage1_pairs=pairs)  # fmt: skip
            seconds = info["seconds"]
    result = {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if evaluate:
        result["quality"] = {r.task_name: r.main_score for r in evaluate_suite(model, EVAL, show_progress_bar=False)}
    return result


def _child(setting: str, arm: str, args: argparse.Namespace, evaluate: bool, tmp: Path, *, seed: int | None = None,
           steps: int | None = None) -> dict:
    out = tmp / "result.json"
    command = [sys.executable, __file__, "--child", setting, arm, "--steps", str(steps or args.steps), "--batch-size",
               str(args.batch_size), "--child-result", str(out), *(["--evaluate"] if evaluate else []),
               *(["--seed", str(seed)] if seed is not None else [])]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    if completed.returncode != 0:
        raise SystemExit(f"{setting} / {arm} failed:\n{completed.stderr[-4000:]}")
    return json.loads(out.read_text())


def _summary(runs: dict[str, list[dict]], samples: int) -> dict[str, dict]:
    summary = {}
    for arm, results in runs.items():
        seconds = [r["seconds"] for r in results]
        summary[arm] = {
            "samples_per_s": samples / statistics.median(seconds),
            "seconds": seconds,
            "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
            **results[-1].get("quality", {}),
        }
    for arm, entry in summary.items():
        for base in ("plain fp32", "plain bf16"):
            if base in summary and arm != base:
                entry[f"x {base}"] = entry["samples_per_s"] / summary[base]["samples_per_s"]
    return summary


def _print_table(setting: str, summary: dict[str, dict]) -> None:
    print(f"\n{setting}\n| arm | samples/s | x plain fp32 | x plain bf16 | peak RSS MiB | Debian dev nDCG@10 | "
          "STS-B dev Spearman |\n|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for arm, r in summary.items():
        ratios = [f"{r[k]:.2f}" if k in r else "-" for k in ("x plain fp32", "x plain bf16")]
        scores = [f"{100 * r[k]:.2f}" if k in r else "-" for k in ("retrieval_debian_dev_en", "sts_stsb_dev_en")]
        print(f"| {arm} | {r['samples_per_s']:.2f} | {' | '.join(ratios)} | {r['peak_rss_mib']:.0f} | "
              f"{' | '.join(scores)} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32, help="debian setting (mix: the quickstart's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--no-quality", action="store_true", help="skip the dev quality check")
    parser.add_argument("--output", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--child", nargs=2, metavar=("SETTING", "ARM"), help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--quality-seeds", nargs="*", type=int, default=[],
                        help="after the timed rounds, train every arm once more per seed (--quality-steps steps) "
                        "and score it: the seeds' mean, spread and paired differences decide defaults")  # fmt: skip
    parser.add_argument("--quality-steps", type=int, default=None, help="steps of the quality runs (default --steps)")
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_arm(*args.child, steps=args.steps, batch=args.batch_size, evaluate=args.evaluate,
                             folder=Path(tmp), seed=args.seed)  # fmt: skip
        args.child_result.write_text(json.dumps(result))
        return

    from st_plus.precision import cpu_supports_bf16
    from st_plus.training.pipeline import resolve_precision

    shown = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
             if k not in ("child", "child_result", "evaluate")}  # fmt: skip
    report = {"args": shown,
              "bf16_autocast": resolve_precision("auto"), "cpu_bf16": cpu_supports_bf16(), "settings": {}}  # fmt: skip
    for setting in args.settings:
        batch = args.batch_size if setting == "debian" else _quickstart_batch()
        runs: dict[str, list[dict]] = {arm: [] for arm in args.arms}
        for r in range(args.rounds):
            order = args.arms if r % 2 == 0 else args.arms[::-1]
            for arm in order:
                evaluate = r == args.rounds - 1 and not args.no_quality
                with tempfile.TemporaryDirectory() as tmp:
                    runs[arm].append(_child(setting, arm, args, evaluate, Path(tmp)))
            line = ", ".join(f"{arm} {runs[arm][-1]['seconds']:.1f}s" for arm in args.arms)
            print(f"{setting} round {r + 1}: {line}", flush=True)
        report["settings"][setting] = {"batch_size": batch, "steps": args.steps}
        if args.rounds:  # --rounds 0: the quality seeds only
            summary = _summary(runs, args.steps * batch)
            report["settings"][setting]["arms"] = summary
            _print_table(setting, summary)
        if args.quality_seeds:
            report["settings"][setting]["quality_seeds"] = _quality_seeds(setting, args)
    print(f"\nbf16 autocast: {report['bf16_autocast']} (CPU bf16: {report['cpu_bf16']}); {args.steps} steps, "
          f"{args.rounds} round(s); goals: st_plus >= 2.0x plain fp32 and >= 1.3x plain bf16, quality within "
          "0.2")  # fmt: skip
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


def _quality_seeds(setting: str, args: argparse.Namespace) -> dict:
    """Every arm trained once per ``--quality-seeds`` seed and scored: per-seed scores, mean and spread of each arm,
    and each arm's paired per-seed differences against ``st_plus ungrouped`` and ``plain bf16`` (where run)."""
    scores: dict[str, dict[int, dict[str, float]]] = {arm: {} for arm in args.arms}
    for i, seed in enumerate(args.quality_seeds):
        for arm in args.arms if i % 2 == 0 else args.arms[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                result = _child(setting, arm, args, True, Path(tmp), seed=seed, steps=args.quality_steps)
            scores[arm][seed] = {**result["quality"], "seconds": result["seconds"]}
            print(f"{setting} quality seed {seed}: {arm} {scores[arm][seed]}", flush=True)
    return {"steps": args.quality_steps or args.steps, "seeds": args.quality_seeds, "scores": scores,
            "summary": quality_summary(scores)}  # fmt: skip


def quality_summary(scores: dict[str, dict[int, dict[str, float]]]) -> dict:
    """Mean and standard deviation of each arm's scores over seeds, and paired per-seed differences."""

    def stats(values: list[float]) -> dict:
        return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "values": values}  # fmt: skip

    out: dict = {"arms": {}, "paired": {}}
    for arm, by_seed in scores.items():
        tasks = [t for t in next(iter(by_seed.values())) if t != "seconds"] if by_seed else []
        out["arms"][arm] = {task: stats([by_seed[s][task] for s in by_seed]) for task in tasks}
        for base in ("st_plus ungrouped", "st_plus defaults", "plain bf16"):  # "defaults": files of before
            if base in scores and base != arm and scores[base]:
                seeds = [s for s in by_seed if s in scores[base]]
                out["paired"][f"{arm} - {base}"] = {
                    task: stats([by_seed[s][task] - scores[base][s][task] for s in seeds]) for task in tasks
                }
    return out


def _quickstart_batch() -> int:
    from st_plus.training.recipe import load_recipe

    return load_recipe(QUICKSTART).stages.multitask.batch_size


if __name__ == "__main__":
    main()
