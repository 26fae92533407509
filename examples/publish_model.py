"""Publish a model with an st_plus model card: evaluate it, describe the run, write the Hub-ready folder.

    python examples/publish_model.py --output-dir hub-folder                 # bundled all-MiniLM-L6-v2, 4 tasks
    python examples/publish_model.py --fast --output-dir hub-folder          # two small tasks
    python examples/publish_model.py --model my-model --repo-id me/my-model --output-dir hub-folder

A trained st_plus model folder already holds `st_plus_run.json` (the training pipeline writes it). For any other
sentence-transformers folder this example writes one with what it can know: the evaluation results on shipped
slices (with Matryoshka dimensions) and the hardware. Then `publish(..., dry_run=OUT)` writes exactly the folder
`st-plus publish MODEL --repo-id ORG/NAME` would upload, and the card's front matter is printed. Nothing is uploaded.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from st_plus import __version__, load_model
from st_plus.evaluation import evaluate_suite
from st_plus.hub import matryoshka_to_run_info, publish, results_to_run_info, write_run_info
from st_plus.models import resolve_model_path

DATA = Path(__file__).resolve().parent / "data"
TASKS = ["sts_stsbenchmark_en", "pairclf_banking77_en", "retrieval_xquad_en", "reranking_xquad_en"]
FAST_TASKS = ["sts_stsbenchmark_en", "retrieval_xquad_en"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="'default' (bundled all-MiniLM-L6-v2) or a model folder")
    parser.add_argument("--repo-id", default="st-plus/all-MiniLM-L6-v2-example")
    parser.add_argument("--output-dir", required=True, help="The Hub-ready folder (must be empty or missing)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--fast", action="store_true", help="Two small tasks")
    parser.add_argument("--truncate-dims", type=int, nargs="*", default=[256, 128, 64])
    args = parser.parse_args()

    source = Path(resolve_model_path(args.model))
    model = load_model(str(source), device="cpu")
    folders = [DATA / name for name in (FAST_TASKS if args.fast else TASKS)]
    results = evaluate_suite(model, folders, truncate_dims=args.truncate_dims, show_progress_bar=False)
    run_info = {
        "st_plus_version": __version__,
        "results": results_to_run_info(results),
        "matryoshka": matryoshka_to_run_info(results),
        "hardware": {"cpu": platform.processor() or platform.machine(), "processes": 1},
    }
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "model"
        shutil.copytree(source, folder)
        if not (folder / "st_plus_run.json").exists():
            write_run_info(folder, run_info)
        try:
            result = publish(folder, args.repo_id, dry_run=args.output_dir, overwrite=args.overwrite)
        except ValueError as exc:
            sys.exit(f"publish_model.py: error: {exc}")
    print(f"Hub-ready folder: {result.folder} ({len(result.files)} files)")
    print(result.readme.split("\n---\n", 1)[0] + "\n---")


if __name__ == "__main__":
    main()
