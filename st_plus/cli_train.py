"""``st-plus train RECIPE.yaml``: the two-stage training pipeline in one command."""

from __future__ import annotations

import argparse


class TrainCliError(Exception):
    """An error shown to the user as one line, with exit code 2."""


def cmd_train(args: argparse.Namespace) -> int:
    """Validates the recipe, runs it, prints the before/after table."""
    if args.resume and args.overwrite:
        raise TrainCliError("--resume and --overwrite exclude each other")
    ok = False
    try:
        code = _train(args)
        ok = True
        return code
    finally:  # also after an error: a rank exiting with the process group alive can abort under gloo
        _end_distributed(barrier=ok)


def _train(args: argparse.Namespace) -> int:
    """The command's work: validation errors become :class:`TrainCliError`."""
    from sentence_transformers.util import get_rank

    from st_plus.training.pipeline import check_recipe_model, run_recipe, warn_prompt_conflicts
    from st_plus.training.recipe import RecipeError, load_recipe
    from st_plus.training.recipe_data import RecipeDataError, check_recipe_data

    try:
        recipe = load_recipe(args.recipe)
        if args.seed is not None:  # the same recipe with another seed (seed studies), recorded in the run
            if args.seed < 0:
                raise TrainCliError(f"--seed must be >= 0, got {args.seed}")
            recipe.seed = args.seed
        if args.check:  # a run reads every data file too, in run_recipe, before any work
            check_recipe_data(recipe)
            check_recipe_model(recipe)
            warn_prompt_conflicts(recipe)
            print(f"{args.recipe}: valid recipe with stages {', '.join(recipe.stage_names())}; every data file read")
            return 0
        result = run_recipe(
            recipe, output_dir=args.output_dir, resume=args.resume, overwrite=args.overwrite,
            show_progress_bar=not args.quiet,
        )  # fmt: skip
    except RecipeDataError as exc:
        lines = [str(issue) for issue in exc.issues]
        more = f"\n... and {exc.total - len(lines)} more" if exc.total > len(lines) else ""
        raise TrainCliError(f"{exc.total} problem(s) in the recipe's data:\n" + "\n".join(lines) + more) from None
    except (RecipeError, FileExistsError) as exc:
        raise TrainCliError(str(exc)) from None
    if get_rank() == 0:
        print(f"\n{result.table}\n")
        print(f"Model: {result.model_path}  (loads with SentenceTransformer(path))")
        print(f"Run folder: {result.output_dir}  (results.md, curves.png, train.log, recipe.resolved.yaml)")
    return 0


def _end_distributed(*, barrier: bool) -> None:
    """Tears the process group down (a rank exiting with it alive can abort under gloo).

    ``barrier``: wait for every rank first (after success only: after an error the others may never reach it).
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Registers ``train``."""
    train = commands.add_parser(
        "train",
        help="Run a training recipe (stage 0 MLM, stage 1 contrastive + filtering, stage 2 multi-task)",
        description="Run a training recipe end to end, evaluating before and after each stage. Under accelerate "
        "(`accelerate launch -m st_plus train RECIPE.yaml`) every process runs the same pipeline.",
    )
    train.add_argument("recipe", metavar="RECIPE.yaml", help="The recipe file (see examples/recipes/)")
    train.add_argument("--output-dir", help="Where the run goes (default: the recipe's output_dir, else runs/NAME)")
    train.add_argument("--resume", action="store_true", help="Continue the run in the output folder")
    train.add_argument("--overwrite", action="store_true", help="Delete an existing output folder and start over")
    train.add_argument(
        "--check", action="store_true", help="Validate the recipe and read every data file it names, then stop"
    )
    train.add_argument("--quiet", action="store_true", help="No progress bars")
    train.add_argument("--seed", type=int, default=None, help="Override the recipe's seed (e.g. for 3-seed studies)")
    train.set_defaults(func=cmd_train)
