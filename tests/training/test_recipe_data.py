"""The recipe's data is read before any work: numeric strings, unknown columns, `--check`, one-line errors."""

from __future__ import annotations

import json

import pytest
from pipeline_fixtures import RECIPE, write_tiny_recipe
from tests_helpers import write_jsonl

from st_plus.cli import main
from st_plus.training.recipe import DataSpec, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data, read_rows


def test_numeric_strings_are_numbers_as_in_hugging_face_configs(tmp_path, tiny_bert_dir):
    text = RECIPE.replace("    batch_size: 8\n", "    batch_size: 8\n    learning_rate: 1e-5\n    epochs: '2'\n", 1)
    recipe = load_recipe(write_tiny_recipe(tmp_path, tiny_bert_dir, text))
    assert recipe.stages.contrastive.learning_rate == 1e-5 and recipe.stages.contrastive.epochs == 2.0
    bad = RECIPE.replace("    batch_size: 8\n", "    batch_size: 8e0\n", 1)  # not an integer literal
    with pytest.raises(ValueError, match="batch_size: expected an integer, got '8e0'"):
        load_recipe(write_tiny_recipe(tmp_path, tiny_bert_dir, bad))


def test_check_reads_every_data_file_and_reports_file_line_field(tmp_path, tiny_bert_dir, capsys):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir)
    assert main(["train", str(recipe), "--check"]) == 0
    assert "every data file read" in capsys.readouterr().out
    pairs = tmp_path / "data" / "pairs.jsonl"
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    rows[2] = {"anchor": "no positive", "source": "s1"}
    rows[5]["negatve"] = "misspelled"
    write_jsonl(pairs, rows)
    write_jsonl(tmp_path / "data" / "sts.jsonl", [{"sentence1": "a", "sentence2": "b", "score": "high"}])
    assert main(["train", str(recipe), "--check"]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s) in the recipe's data" in err
    assert f"{pairs}:3: unknown row layout" in err
    assert f"{pairs}:6: field 'negatve': unknown column" in err
    assert f"{tmp_path / 'data' / 'sts.jsonl'}:1: field 'score'" in err
    assert "Traceback" not in err


def test_train_on_bad_data_exits_2_with_one_line_errors_before_any_work(tmp_path, tiny_bert_dir, capsys):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir)
    write_jsonl(tmp_path / "data" / "labels.jsonl", [{"text": "x", "label": None}])
    assert main(["train", str(recipe), "--output-dir", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'data' / 'labels.jsonl'}:1: field 'label'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing started


def test_a_task_whose_rows_do_not_fit_its_type_is_reported(tmp_path, tiny_bert_dir):
    text = RECIPE.replace("{name: sts, type: sts, data: data/sts.jsonl}", "{name: sts, type: sts, data: data/p.jsonl}")
    recipe_path = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_jsonl(tmp_path / "data" / "p.jsonl", [{"anchor": "a", "positive": "b"}])
    with pytest.raises(RecipeDataError, match=r"p\.jsonl: Task 'sts' \(STS\) needs two text columns"):
        check_recipe_data(load_recipe(recipe_path))


def test_columns_selects_what_trains_and_drops_the_rest(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [
        {"anchor": f"a{i}", "positive": f"p{i}", "negative": f"n{i}", "package": "x", "source": f"s{i}"}
        for i in range(3)
    ])  # fmt: skip
    with pytest.raises(ValueError, match="field 'package': unknown column"):
        read_rows(DataSpec(path=str(path), group_column="source"))
    rows = read_rows(DataSpec(path=str(path), group_column="source", columns=["anchor", "positive"]))
    assert rows.column_names == ["anchor", "positive", "source"]
    rows = read_rows(DataSpec(path=str(path), columns=["anchor", "positive", "negative"]))
    assert rows.column_names == ["anchor", "positive", "negative"]
    with pytest.raises(ValueError, match="field 'title': column named in `columns` not found"):
        read_rows(DataSpec(path=str(path), columns=["anchor", "title"]))
