"""Runs a recipe in its own process, optionally SIGKILLing itself in the middle of a training step.

Usage: pipeline_run.py RECIPE OUT_DIR [--resume] [--kill STAGE:STEP]
With ``--kill contrastive:3`` the process kills itself (SIGKILL, no clean-up) while computing the loss of the step
after global step 3 of that stage, i.e. between the forward pass and the optimiser step. Under accelerate every
process runs the same pipeline.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from sentence_transformers import SentenceTransformerTrainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill", default=None)
    args = parser.parse_args()
    if args.kill:
        stage, step = args.kill.split(":")
        compute_loss = SentenceTransformerTrainer.compute_loss

        def killing_compute_loss(self, *a, **k):
            out = compute_loss(self, *a, **k)
            if Path(self.args.output_dir).name == stage and self.state.global_step == int(step):
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        SentenceTransformerTrainer.compute_loss = killing_compute_loss
    from st_plus.cli import main as cli

    argv = ["train", args.recipe, "--output-dir", args.out, "--quiet"] + (["--resume"] if args.resume else [])
    raise SystemExit(cli(argv))


if __name__ == "__main__":
    main()
