"""`st-plus convert-nomic`: conversion, optional recovery, saved folder, usage errors."""

from __future__ import annotations

import json

from tests_helpers import CORPUS

from st_plus.cli import main


def test_convert_nomic_writes_a_plain_model_and_its_stats(tiny_bert_dir, tmp_path, capsys):
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(CORPUS * 3))
    out = tmp_path / "nomic"
    argv = ["convert-nomic", str(tiny_bert_dir), str(out), "--recover-data", str(data), "--max-minutes", "0.05"]
    assert main([*argv, "--batch-size", "8", "--max-seq-length", "1024"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["steps"] >= 1 and stats["texts"] == len(set(CORPUS))
    assert json.loads((out / "config.json").read_text())["model_type"] == "nomic_bert"
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 1024
    assert json.loads((out / "st_plus_conversion.json").read_text())["source"] == str(tiny_bert_dir)


def test_convert_nomic_usage_errors(tiny_bert_dir, tiny_model_dir, tmp_path, capsys):
    assert main(["convert-nomic", str(tiny_bert_dir), str(tmp_path / "a")]) == 2
    assert "recovery needs --recover-data" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    assert main(["convert-nomic", str(tiny_bert_dir), str(tmp_path / "full"), "--max-minutes", "0"]) == 2
    assert "is not empty (pass --overwrite)" in capsys.readouterr().err
    assert main(["convert-nomic", str(tiny_model_dir), str(tmp_path / "b"), "--max-minutes", "0"]) == 2
    assert "needs a BERT-family source" in capsys.readouterr().err
