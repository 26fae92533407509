"""st-plus extend-vocab: a plain ST folder with the new characters, its record, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests_helpers import encode_in_plain_subprocess

from st_plus.cli import main

ZH = ["古代战争游戏", "战争游戏很好", "游戏的战争", "古代游戏"] * 3


@pytest.fixture
def texts(tmp_path):
    path = tmp_path / "zh.txt"
    path.write_text("\n".join(ZH), encoding="utf-8")
    return path


def test_extend_vocab_saves_a_plain_folder_that_reads_the_new_characters(tiny_bert_dir, texts, tmp_path, capsys):
    out = tmp_path / "extended"
    code = main(["extend-vocab", str(tiny_bert_dir), "--texts", str(texts), "--output", str(out),
                 "--new-rows-steps", "3", "--steps", "2", "--batch-size", "4", "--precision", "fp32"])  # fmt: skip
    assert code == 0
    record = json.loads((out / "st_plus_vocabulary.json").read_text(encoding="utf-8"))
    assert record["vocabulary"]["added_characters"] == 6 and record["vocabulary"]["new_size"] % 64 == 0
    assert record["new_rows_steps"] == 3 and record["steps"] == 2
    tokenizer = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert "战" in tokenizer["model"]["vocab"]
    plain = encode_in_plain_subprocess(out, ["古代战争", "战争游戏"])
    assert plain.shape == (2, 32) and not np.allclose(plain[0], plain[1])
    assert "Saved" in capsys.readouterr().out
    before = (out / "model.safetensors").stat().st_mtime_ns
    assert main(["extend-vocab", str(tiny_bert_dir), "--texts", str(texts), "--output", str(out)]) == 2
    assert "exists and is not empty (pass --overwrite" in capsys.readouterr().err
    assert (out / "model.safetensors").stat().st_mtime_ns == before  # nothing overwritten


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--min-count", "0"], "--min-count must be >= 1"), (["--steps", "-1"], "must be >= 0")],
)
def test_bad_arguments_are_one_line_errors(tiny_bert_dir, texts, tmp_path, capsys, extra, message):
    code = main(["extend-vocab", str(tiny_bert_dir), "--texts", str(texts), "--output", str(tmp_path / "o"), *extra])
    assert code == 2 and message in capsys.readouterr().err


def test_a_missing_text_file_is_a_one_line_error(tiny_bert_dir, tmp_path, capsys):
    code = main(["extend-vocab", str(tiny_bert_dir), "--texts", str(tmp_path / "nope.txt"),
                 "--output", str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and "nope.txt" in capsys.readouterr().err
