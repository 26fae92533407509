"""How to start the rows of a vocabulary extension: ``unk`` / ``mean`` / ``cjk`` / ``random``, on dev, with seeds.

    python benchmarks/make_dev_suite.py --chinese-training runs/chinese_training     # once
    python benchmarks/bench_vocab_init.py --steps 200 --seeds 1 2 3 --output benchmarks/results/vocab_init.json
    python benchmarks/bench_vocab_init.py --table benchmarks/results/vocab_init.json     # the README table

For each initialisation and seed: the bundled all-MiniLM-L6-v2 gets the CJK characters of
``runs/chinese_training/texts_zh.jsonl`` (seen twice or more) as new WordPiece tokens
(:func:`st_plus.models.extend_vocabulary`), then ``--steps`` steps of masked-LM training of the new rows only
(phase 1 of :func:`st_plus.models.continue_mlm`, bf16 where the CPU has it). Scored: the MLM loss on 1,000 held-out
texts of the same file (never trained on; the same masking for every arm) and the two Chinese STS dev tasks of the
development suite (cosine Spearman x100), which read sentence embeddings straight after the phase. Prints mean,
standard deviation and the paired difference of each initialisation against ``unk`` (the model unchanged at step 0).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INITS = ("unk", "mean", "cjk", "random")


def run_arm(init: str, seed: int, texts: list[str], held_out: list[str], steps: int, tasks: list[Path]) -> dict:
    import torch

    from st_plus import load_model
    from st_plus.evaluation import evaluate_suite
    from st_plus.models import continue_mlm, extend_vocabulary
    from st_plus.precision import cpu_supports_bf16

    torch.manual_seed(seed)
    model = load_model("default", device="cpu")
    extension = extend_vocabulary(model, texts, init=init, seed=seed)
    run = continue_mlm(model, texts, new_token_ids=extension.new_token_ids, new_rows_steps=steps, steps=0,
                       seed=seed, bf16=cpu_supports_bf16(), eval_texts=held_out)  # fmt: skip
    results = evaluate_suite(model, tasks, batch_size=64, show_progress_bar=False, dtype="bfloat16")
    scores = {r.task_name: round(100 * r.main_score, 2) for r in results}
    return {"init": init, "seed": seed, "held_out_mlm_loss": run.held_out_losses["new_rows"],
            "last_train_loss": run.new_rows_losses[-1], "seconds": run.seconds, "dev": scores,
            "dev_mean": round(statistics.mean(scores.values()), 2)}  # fmt: skip


def summarise(arms: list[dict]) -> dict:
    out = {}
    base = {a["seed"]: a for a in arms if a["init"] == "unk"}
    for init in INITS:
        rows = [a for a in arms if a["init"] == init]
        if not rows:
            continue
        entry = {}
        for key in ("held_out_mlm_loss", "dev_mean"):
            values = [r[key] for r in rows]
            diffs = [r[key] - base[r["seed"]][key] for r in rows if r["seed"] in base]
            entry[key] = {"mean": round(statistics.mean(values), 4),
                          "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
                          "paired_vs_unk": [round(d, 4) for d in diffs]}  # fmt: skip
        out[init] = entry
    return out


def table(result: dict) -> str:
    """The README table: per initialisation, mean ± std over seeds and the paired differences to ``unk``."""
    lines = ["| init | held-out MLM loss | paired vs unk | STS-zh dev mean (x100) | paired vs unk |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for init, entry in result["summary"].items():
        loss, dev = entry["held_out_mlm_loss"], entry["dev_mean"]
        lines.append(f"| {init} | {loss['mean']:.3f} ± {loss['std']:.3f} | "
                     + ", ".join(f"{d:+.3f}" for d in loss["paired_vs_unk"])
                     + f" | {dev['mean']:.2f} ± {dev['std']:.2f} | "
                     + ", ".join(f"{d:+.2f}" for d in dev["paired_vs_unk"]) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=Path, default=REPO / "runs" / "chinese_training" / "texts_zh.jsonl")
    parser.add_argument("--dev-suite", type=Path, default=REPO / "runs" / "dev_suite")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--inits", nargs="+", default=list(INITS), choices=INITS)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--table", type=Path, default=None, metavar="RESULTS", help="Print the README table only")
    args = parser.parse_args()
    if args.table is not None:
        print(table(json.loads(args.table.read_text(encoding="utf-8"))))
        return
    texts = [json.loads(line)["text"] for line in args.texts.read_text(encoding="utf-8").splitlines() if line]
    random.Random(0).shuffle(texts)
    held_out, train = texts[:1000], texts[1000:]
    tasks = [args.dev_suite / "zh" / "sts_stsb_dev_zh", args.dev_suite / "zh" / "sts_lcqmc_dev_zh"]
    arms = []
    for seed in args.seeds:  # the arms of one seed side by side: load drifts hit every init alike
        for init in args.inits:
            arms.append(run_arm(init, seed, train, held_out, args.steps, tasks))
            print(json.dumps(arms[-1], ensure_ascii=False), flush=True)
    result = {"command": "python benchmarks/bench_vocab_init.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items() if k in ("steps", "seeds", "inits")),
        "steps": args.steps, "held_out_texts": len(held_out), "dev_tasks": [t.name for t in tasks],
        "arms": arms, "summary": summarise(arms)}  # fmt: skip
    print(json.dumps(result["summary"], indent=1))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
