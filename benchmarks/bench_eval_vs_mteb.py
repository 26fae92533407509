"""st_plus's evaluation suite vs MTEB's own evaluation, same model and same local tasks, in one run.

Each side runs in its own subprocess (so peak RSS is per side), one after the other:
  * st_plus: one `evaluate_suite` call over all task folders (shared text cache, every Matryoshka dimension
    scored from one encoding pass);
  * MTEB: `task.evaluate` for the same tasks (built from the same folders), once per dimension (truncated
    embeddings renormalised, as st_plus scores them).

Usage:
    python benchmarks/bench_eval_vs_mteb.py [--dims 384 256 128 64] [--tasks examples/data/*/]

Prints main scores side by side, the wall-time ratio (goal: st_plus <= 0.5x MTEB) and peak RSS of each side, and
writes them to ``--output`` (default ``benchmarks/results/eval_vs_mteb.json``: the README's agreement numbers).
The machine is shared and noisy: compare ratios from one run, never absolute seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _side_st_plus(task_dirs: list[str], dims: list[int]) -> dict:
    from st_plus import load_model
    from st_plus.evaluation import evaluate_suite

    model = load_model("default", device="cpu")
    start = time.perf_counter()
    results = evaluate_suite(model, task_dirs, truncate_dims=dims[1:], show_progress_bar=False)
    wall = time.perf_counter() - start
    scores = {r.task_name: {str(d): s[r.main_score_name] for d, s in r.scores_by_dim.items()} for r in results}
    return {"wall": wall, "scores": scores}


def _side_mteb(task_dirs: list[str], dims: list[int]) -> dict:
    import logging

    logging.disable(logging.WARNING)
    sys.path.insert(0, str(REPO / "tests"))
    from mteb_adapter import run_mteb

    from st_plus import load_model
    from st_plus.data import load_task

    model = load_model("default", device="cpu")
    full = model.get_embedding_dimension()
    _renormalise_truncated(model)
    tasks = [load_task(d) for d in task_dirs]
    start = time.perf_counter()
    scores: dict = {t.name: {} for t in tasks}
    for dim in dims:
        model.truncate_dim = None if dim == full else dim
        for task in tasks:
            scores[task.name][str(dim)] = run_mteb(task, model)["main_score"]
    return {"wall": time.perf_counter() - start, "scores": scores}


def _renormalise_truncated(model) -> None:
    """Makes MTEB see what st_plus scores at a truncated dimension: the first dims, renormalised to unit length.

    (sentence-transformers' ``truncate_dim`` truncates after the model's Normalize module, so its rows are not
    unit vectors; st_plus renormalises, as Matryoshka models are used.)
    """
    import torch

    encode = model.encode

    def renormalised_encode(*args, **kwargs):
        embeddings = encode(*args, **kwargs)
        if model.truncate_dim is None:
            return embeddings
        if isinstance(embeddings, torch.Tensor):
            return torch.nn.functional.normalize(embeddings, dim=-1)
        norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
        return embeddings / np.clip(norms, 1e-12, None)

    model.encode = renormalised_encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=sorted(str(p) for p in (REPO / "examples" / "data").glob("*/")))
    parser.add_argument("--dims", type=int, nargs="+", default=[384], help="First = full dimension")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "eval_vs_mteb.json")
    parser.add_argument("--side", choices=("st_plus", "mteb"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        out = (_side_st_plus if args.side == "st_plus" else _side_mteb)(args.tasks, args.dims)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps(out))
        return
    runs = {}
    for side in ("st_plus", "mteb"):
        command = [sys.executable, __file__, "--side", side, "--dims", *map(str, args.dims), "--tasks", *args.tasks]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
        runs[side] = json.loads(line[len("RESULT ") :])
    ours, theirs = runs["st_plus"], runs["mteb"]
    print(f"dims: {args.dims}")
    print(f"{'task':34} {'dim':>4} {'st_plus':>9} {'MTEB':>9} {'|diff|':>9}")
    worst = 0.0
    rows = []
    for task, by_dim in ours["scores"].items():
        for dim, value in by_dim.items():
            other = theirs["scores"][task][dim]
            worst = max(worst, abs(value - other))
            diff = abs(value - other)
            rows.append({"task": task, "dim": int(dim), "st_plus": value, "mteb": other, "abs_diff": diff})
            print(f"{task:34} {dim:>4} {value:9.5f} {other:9.5f} {abs(value - other):9.2e}")
    print(f"max |diff| of main scores: {worst:.2e}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "command": "python benchmarks/bench_eval_vs_mteb.py " + " ".join(sys.argv[1:]),
        "scale": "main scores on MTEB's 0-1 scale", "max_abs_diff": worst, "rows": rows,
        "wall_seconds": {"st_plus": ours["wall"], "mteb": theirs["wall"]},
        "peak_rss_mb": {"st_plus": ours["peak_rss_mb"], "mteb": theirs["peak_rss_mb"]},
    }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    print(
        f"wall time: st_plus {ours['wall']:.1f}s, MTEB {theirs['wall']:.1f}s, "
        f"ratio {ours['wall'] / theirs['wall']:.2f}x"
    )
    print(
        f"peak RSS: st_plus {ours['peak_rss_mb']:.0f} MB, MTEB {theirs['peak_rss_mb']:.0f} MB, "
        f"ratio {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
