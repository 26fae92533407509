"""Evaluate a sentence-transformers model on the shipped slices of all six MTEB task types.

    python examples/evaluate_model.py                  # bundled all-MiniLM-L6-v2, every shipped task
    python examples/evaluate_model.py --fast           # three small tasks, for a quick look
    python examples/evaluate_model.py --model PATH --truncate-dims 256 128 64 --output results/

The same as `st-plus eval`, from Python: load a model, run `evaluate_suite` over task folders (each with a
task.json), print the Markdown table, and optionally write MTEB-format result files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from st_plus import load_model
from st_plus.evaluation import evaluate_suite, results_table

DATA = Path(__file__).resolve().parent / "data"
FAST_TASKS = ["sts_stsbenchmark_en", "pairclf_banking77_en", "retrieval_xquad_en"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--fast", action="store_true", help="Only three small tasks")
    parser.add_argument("--truncate-dims", type=int, nargs="*", default=[])
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    folders = [DATA / name for name in FAST_TASKS] if args.fast else sorted(p for p in DATA.iterdir() if p.is_dir())
    model = load_model(args.model)
    results = evaluate_suite(model, folders, truncate_dims=args.truncate_dims, output_dir=args.output)
    print(results_table(results))


if __name__ == "__main__":
    main()
