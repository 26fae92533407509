"""Augmented positives as extra stage-2 rows: cutoff, word repetition and EDA vs no augmentation (issue 18).

    python benchmarks/make_dev_suite.py --output runs/dev_suite         # the development tasks (once)
    B=benchmarks/bench_augment_stage2.py; R=runs/augment_stage2
    python $B run --arm start --out $R/start                            # the bundled model, no training
    for s in 42 43 44; do for a in none none_2ep cutoff repeat eda; do
      OMP_NUM_THREADS=1 python $B run --arm $a --seed $s --out $R/$a-$s
    done; done
    python $B rescore $R/start $R/none-42 ...   # only if the scorer changed while the runs went on (see SCORER)
    python $B report $R            # -> benchmarks/results/augment_stage2.json: mean, std, paired per-seed differences
    python $B table                # the README table, from the results file

Every arm is stage 2 of ``benchmarks/recipes/augment_stage2.yaml`` through :func:`st_plus.training.run_recipe`
(as ``st-plus train`` runs it) from the bundled all-MiniLM-L6-v2: 768 Debian title -> description pairs (drawn
with the seed), one hybrid hard negative per row mined from the task's descriptions, MNRL, batch 32, lr 2e-5.

- ``none``: the rows, one epoch.
- ``none_2ep``: the rows, two epochs: as many steps as an augmented arm, so that "more steps" and "augmented
  positives" are told apart.
- ``cutoff`` / ``repeat`` / ``eda``: the rows plus one augmented copy of each (``augment: {method: M}``: the positive
  augmented, anchor and group kept, so a row's copy is never its mined negative), one epoch (twice the steps of
  ``none``).
- ``start``: no training.

Scored on four development tasks (``runs/dev_suite/en`` or ``$ST_PLUS_DEV_SUITE``): STS-B, MRPC, Debian and
man-page retrieval (the last is out of the training domain), with the scorer of ``bench_recipe_vs_st.py`` (bf16
encoding at 256 tokens). Never the shipped test slices.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recipe_vs_st import _score  # noqa: E402 - the same dev scorer as the recipe-vs-ST benchmark

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "benchmarks" / "recipes" / "augment_stage2.yaml"
RESULTS = REPO / "benchmarks" / "results" / "augment_stage2.json"
ARMS = ("start", "none", "none_2ep", "cutoff", "repeat", "eda")
METHODS = ("cutoff", "repeat", "eda")
#: Every run must be scored by the same encoder path (the report refuses a mix): st_plus's bf16 evaluation encodes
#: with token-budget batches on bfloat16 weights since this benchmark was added.
SCORER = "evaluate_suite bf16: encode_by_token_budget on bfloat16 weights"
#: The shipped English test slices of the same task types (scored once, at the end, for the arms that decide).
TEST_TASKS = ["sts_stsbenchmark_en", "pairclf_banking77_en", "retrieval_debian_en", "retrieval_xquad_en"]
TASKS = ["sts_stsb_dev_en", "pairclf_mrpc_dev_en", "retrieval_debian_dev_en", "retrieval_manpages_dev_en"]


def _variant(recipe, arm: str, seed: int):
    from st_plus.training.recipe import AugmentSpec

    stage = recipe.stages.multitask
    task = stage.tasks[0]
    if arm in METHODS:
        task = dataclasses.replace(task, data=dataclasses.replace(task.data, augment=AugmentSpec(method=arm)))
    stage = dataclasses.replace(stage, tasks=[task], epochs=2 if arm == "none_2ep" else stage.epochs)
    return dataclasses.replace(recipe, seed=seed, stages=dataclasses.replace(recipe.stages, multitask=stage))


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from sentence_transformers import SentenceTransformer

    from st_plus import load_model
    from st_plus.training import load_recipe, run_recipe

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe(args.recipe)
    start = time.perf_counter()
    record: dict = {"arm": args.arm, "seed": args.seed, "recipe": str(Path(args.recipe).resolve())}
    if args.arm == "start":
        model = load_model(recipe.model.base)
    else:
        result = run_recipe(_variant(recipe, args.arm, args.seed), output_dir=out / "run", overwrite=True,
                            show_progress_bar=False)  # fmt: skip
        done = json.loads((out / "run" / "pipeline_state.json").read_text(encoding="utf-8"))["done"]["multitask"]
        record.update(steps=done["steps"], train_seconds=done["seconds"], rows=done["datasets"][0]["rows"],
                      mining=done.get("mining", {}))  # fmt: skip
        model = SentenceTransformer(str(result.model_path), device="cpu")
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["scores"] = _score(model, TASKS)
    record["scorer"] = SCORER
    record["threads"] = torch.get_num_threads()
    (out / "result.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("arm", "seed", "seconds", "scores")}))


def _finished_runs(folders: list[str]):
    """(folder, result record, model) of finished runs: the run's saved model, or the bundled one for ``start``."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from sentence_transformers import SentenceTransformer

    from st_plus import load_model

    for folder in map(Path, folders):
        record = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        start = record["arm"] == "start"
        model = load_model("default") if start else SentenceTransformer(str(folder / "run" / "model"), device="cpu")
        yield folder, record, model


def _save(folder: Path, record: dict, key: str) -> None:
    (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(folder, json.dumps(record[key]))


def rescore(args: argparse.Namespace) -> None:
    """Scores the saved model of finished runs again with the current scorer (``scorer`` records which)."""
    for folder, record, model in _finished_runs(args.runs):
        record["scores"] = _score(model, TASKS)
        record["scorer"] = SCORER
        _save(folder, record, "scores")


def score_test(args: argparse.Namespace) -> None:
    """Scores the saved models of finished runs once on the shipped English test slices (``test_scores``)."""
    from st_plus.evaluation import evaluate_suite

    tasks = [REPO / "examples" / "data" / name for name in TEST_TASKS]
    for folder, record, model in _finished_runs(args.runs):
        model.max_seq_length = 256  # as `_score` reads the dev tasks
        results = evaluate_suite(model, tasks, batch_size=64, dtype="bfloat16", show_progress_bar=False)
        record["test_scores"] = {r.task_name: 100 * r.main_score for r in results}
        _save(folder, record, "test_scores")


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def report(args: argparse.Namespace) -> None:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(args.folder).glob("*/result.json"))]
    mixed = sorted({str(r.get("scorer")) for r in runs} - {SCORER})
    if mixed:
        raise SystemExit(f"runs scored with another scorer ({mixed}): `rescore` them first")
    start = next((r for r in runs if r["arm"] == "start"), None)
    if start is None:
        raise SystemExit(f"no `start` run under {args.folder}")
    by_arm: dict[str, dict[int, dict]] = {}
    for r in runs:
        if r["arm"] != "start":
            by_arm.setdefault(r["arm"], {})[r["seed"]] = r

    def mean_score(r: dict, only: list[str]) -> float:
        return statistics.fmean(r["scores"][t] for t in only)

    retrieval = [t for t in TASKS if t.startswith("retrieval")]
    arms = {}
    for arm, seeds in by_arm.items():
        rs = [seeds[s] for s in sorted(seeds)]
        arms[arm] = {
            "seeds": sorted(seeds), "steps": [r["steps"] for r in rs], "rows": rs[0]["rows"],
            "train_seconds": round(statistics.fmean(r["train_seconds"] for r in rs), 1),
            "per_task": {t: round(statistics.fmean(r["scores"][t] for r in rs), 2) for t in TASKS},
            "dev_mean": round(statistics.fmean(mean_score(r, TASKS) for r in rs), 2),
            "dev_mean_std": round(_std([mean_score(r, TASKS) for r in rs]), 2),
        }  # fmt: skip

    def paired(a: str, b: str) -> dict | None:
        common = sorted(set(by_arm.get(a, {})) & set(by_arm.get(b, {})))
        if not common:
            return None
        diffs = {name: [mean_score(by_arm[a][s], only) - mean_score(by_arm[b][s], only) for s in common]
                 for name, only in (("all", TASKS), ("retrieval", retrieval))}  # fmt: skip
        per_task = {t: round(statistics.fmean(by_arm[a][s]["scores"][t] - by_arm[b][s]["scores"][t]
                                              for s in common), 2) for t in TASKS}  # fmt: skip
        return {"seeds": common, **{f"{k}_per_seed": [round(x, 2) for x in v] for k, v in diffs.items()},
                **{f"{k}_mean": round(statistics.fmean(v), 2) for k, v in diffs.items()},
                **{f"{k}_std": round(_std(v), 2) for k, v in diffs.items()}, "per_task": per_task}  # fmt: skip

    def paired_test(a: str, b: str) -> dict | None:
        common = sorted(s for s in set(by_arm.get(a, {})) & set(by_arm.get(b, {}))
                        if "test_scores" in by_arm[a][s] and "test_scores" in by_arm[b][s])  # fmt: skip
        if not common:
            return None
        diffs = [statistics.fmean(by_arm[a][s]["test_scores"].values()) - statistics.fmean(
            by_arm[b][s]["test_scores"].values()) for s in common]  # fmt: skip
        per_task = {t: round(statistics.fmean(by_arm[a][s]["test_scores"][t] - by_arm[b][s]["test_scores"][t]
                                              for s in common), 2) for t in TEST_TASKS}  # fmt: skip
        return {"seeds": common, "per_seed": [round(x, 2) for x in diffs], "mean": round(statistics.fmean(diffs), 2),
                "std": round(_std(diffs), 2), "per_task": per_task}  # fmt: skip

    pairs = [(m, "none_2ep") for m in METHODS] + [(m, "none") for m in METHODS] + [("none_2ep", "none")]
    data = {
        "what": "stage-2 augmented positives as extra rows vs none (benchmarks/bench_augment_stage2.py)",
        "recipe": "benchmarks/recipes/augment_stage2.yaml", "tasks": TASKS,
        "start": {"scores": {t: round(start["scores"][t], 2) for t in TASKS},
                  "dev_mean": round(mean_score(start, TASKS), 2)},
        "arms": arms,
        "paired": {f"{a} - {b}": paired(a, b) for a, b in pairs if paired(a, b)},
        "test_tasks": TEST_TASKS,
        "paired_test": {f"{a} - {b}": paired_test(a, b) for a, b in pairs if paired_test(a, b)},
    }  # fmt: skip
    Path(args.output).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    print(_table(data))


def _table(data: dict) -> str:
    head = ["arm", "seeds", "steps", *data["tasks"], "dev mean ± std"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    start = " | ".join(f"{data['start']['scores'][t]:.2f}" for t in data["tasks"])
    lines.append(f"| start (bundled) | - | 0 | {start} | {data['start']['dev_mean']:.2f} |")
    for arm in ARMS[1:]:
        a = data["arms"].get(arm)
        if a:
            lines.append(f"| {arm} | {len(a['seeds'])} | {a['steps'][0]} | "
                         + " | ".join(f"{a['per_task'][t]:.2f}" for t in data["tasks"])
                         + f" | {a['dev_mean']:.2f} ± {a['dev_mean_std']:.2f} |")  # fmt: skip
    lines += ["", "| paired difference | seeds | dev mean: mean ± std (per seed) | retrieval: mean ± std (per seed) |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for name, p in data["paired"].items():
        cells = [f"{p[f'{k}_mean']:+.2f} ± {p[f'{k}_std']:.2f} ("
                 + ", ".join(f"{x:+.2f}" for x in p[f"{k}_per_seed"]) + ")" for k in ("all", "retrieval")]  # fmt: skip
        lines.append(f"| {name} | {len(p['seeds'])} | {cells[0]} | {cells[1]} |")
    if data.get("paired_test"):
        lines += ["", "| paired difference, shipped test slices | seeds | test mean: mean ± std (per seed) |",
                  "|---|---:|---:|"]  # fmt: skip
        for name, p in data["paired_test"].items():
            per_seed = ", ".join(f"{x:+.2f}" for x in p["per_seed"])
            lines.append(f"| {name} | {len(p['seeds'])} | {p['mean']:+.2f} ± {p['std']:.2f} ({per_seed}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="Train one arm (or score the start model) and score it on dev")
    p.add_argument("--arm", choices=ARMS, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    p.add_argument("--recipe", default=str(RECIPE))
    p = sub.add_parser("rescore", help="Score the saved models of finished runs again with the current scorer")
    p.add_argument("runs", nargs="+")
    p = sub.add_parser("test", help="Score the saved models of finished runs on the shipped English test slices")
    p.add_argument("runs", nargs="+")
    p = sub.add_parser("report", help="Combine the runs of a folder into the results file")
    p.add_argument("folder")
    p.add_argument("--output", default=str(RESULTS))
    p = sub.add_parser("table", help="The README table from the results file")
    p.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "rescore":
        rescore(args)
    elif args.command == "test":
        score_test(args)
    elif args.command == "report":
        report(args)
    else:
        print(_table(json.loads(Path(args.results).read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
