"""st-plus train --seed: the same recipe with another seed, recorded in the run; a bad seed is a one-line error."""

from __future__ import annotations

import yaml
from pipeline_fixtures import RECIPE, write_tiny_recipe

from st_plus.cli import main

ONE_STAGE = RECIPE[: RECIPE.index("  multitask:")] + RECIPE[RECIPE.index("evaluation:") :]


def test_seed_overrides_the_recipe_and_is_recorded(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, ONE_STAGE.replace("    max_steps: 4\n", "    max_steps: 1\n"))
    out = tmp_path / "out"
    assert main(["train", str(recipe), "--output-dir", str(out), "--quiet", "--seed", "5"]) == 0
    assert yaml.safe_load((out / "recipe.resolved.yaml").read_text(encoding="utf-8"))["seed"] == 5


def test_a_negative_seed_is_a_one_line_error(tmp_path, tiny_bert_dir, capsys):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, ONE_STAGE)
    assert main(["train", str(recipe), "--check", "--seed", "-1"]) == 2
    assert "--seed must be >= 0, got -1" in capsys.readouterr().err


def test_the_process_group_is_torn_down_after_an_error_too(tmp_path, tiny_bert_dir, capsys):
    import torch.distributed as dist

    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, ONE_STAGE)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert main(["train", str(recipe), "--check", "--seed", "-1"]) == 2  # fails inside the command
        assert not dist.is_initialized()
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store2'}", rank=0, world_size=1)
        assert main(["train", str(recipe), "--check"]) == 0  # and after success (with its barrier)
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert "--seed must be >= 0" in capsys.readouterr().err
