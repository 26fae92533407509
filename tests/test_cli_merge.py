"""`st-plus merge`: a merged plain sentence-transformers folder, weights normalised, never overwritten by default."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from tests_helpers import CORPUS

from st_plus.cli import main
from st_plus.models import load_model


@pytest.fixture
def two_model_dirs(tiny_bert, tmp_path):
    other = copy.deepcopy(tiny_bert)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.mul_(0.5)
    first, second = tmp_path / "finetuned", tmp_path / "base"
    tiny_bert.save(str(first))
    other.save(str(second))
    return first, second


def test_merge_writes_the_weighted_average_and_refuses_to_overwrite(two_model_dirs, tmp_path, capsys):
    first, second = two_model_dirs
    out = tmp_path / "merged"
    args = ["merge", str(first), str(second), "--weights", "7", "3", "--output", str(out)]
    assert main(args) == 0
    assert "x 0.7" in capsys.readouterr().out
    merged, a, b = (load_model(p).state_dict() for p in (out, first, second))
    for key, value in merged.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.7 * a[key] + 0.3 * b[key], atol=1e-6, rtol=0)
    record = json.loads((out / "st_plus_run.json").read_text())
    assert [i["weight"] for i in record["extra"]["merge"]["ingredients"]] == [0.7, 0.3]
    assert main(args) == 2
    assert "exists and is not empty (pass --overwrite" in capsys.readouterr().err
    assert main([*args[:4], "1", "1", "--output", str(out), "--overwrite"]) == 0
    assert json.loads((out / "st_plus_run.json").read_text())["extra"]["merge"]["ingredients"][0]["weight"] == 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "0.7"], "--weights needs one weight per model (2), got 1"),
        (["--weights", "0.7", "-0.3"], "`weights` must be positive finite numbers"),
    ],
)
def test_bad_weights_are_one_line_errors(two_model_dirs, tmp_path, capsys, extra, message):
    first, second = two_model_dirs
    assert main(["merge", str(first), str(second), *extra, "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m").exists()


def test_models_of_different_architectures_are_refused(two_model_dirs, tmp_path, capsys):
    first, _ = two_model_dirs
    assert main(["merge", str(first), "default", "--output", str(tmp_path / "m")]) == 2
    assert "only models of one architecture can be merged" in capsys.readouterr().err


@pytest.mark.real
def test_default_is_accepted_as_a_model_name(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["merge", "default", "default", "--weights", "0.6", "0.4", "--output", str(out)]) == 0
    base = load_model("default")
    np.testing.assert_allclose(load_model(out).encode(CORPUS[:3]), base.encode(CORPUS[:3]), atol=1e-5)
    assert json.loads((out / "st_plus_run.json").read_text())["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
