"""`st-plus mine` and `st-plus filter` end to end: outputs, side files, summaries and errors."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES_DATA
from tests_helpers import CORPUS, write_jsonl

from st_plus.cli import main
from st_plus.data import load_training_rows


@pytest.fixture()
def pairs_file(tmp_path):
    rows = [
        {"anchor": f"question {i} {CORPUS[i % 10]}", "positive": f"{CORPUS[(i * 7) % 10]} answer {i}",
         "source": f"pkg{i // 3}", "package": f"bin{i}"}
        for i in range(40)
    ]  # fmt: skip
    return write_jsonl(tmp_path / "pairs.jsonl", rows)


def test_mine_writes_training_rows_and_a_side_file_and_prints_a_summary(tiny_model_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "mined.jsonl"
    args = ["mine", "--model", str(tiny_model_dir), "--data", str(pairs_file), "--method", "hybrid",
            "--range-min", "1", "--range-max", "20", "--num-negatives", "3", "--group-column", "source",
            "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "of 40 rows" in printed and "3 negatives per row" in printed
    mined = load_training_rows(out)
    assert mined.column_names == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    dropped = (tmp_path / "mined.jsonl.dropped.jsonl").read_text().splitlines()
    assert len(mined) + len(dropped) == 40
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(record["source"].startswith("pkg") for record in records)  # the group key is carried along
    assert main(args) == 2  # never overwritten without --overwrite
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_mine_takes_same_group_negatives_when_asked(tiny_model_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "mined.jsonl"
    args = ["mine", "--model", str(tiny_model_dir), "--data", str(pairs_file), "--method", "dense", "--range-min",
            "1", "--range-max", "30", "--num-negatives", "3", "--group-column", "source", "--group-negatives", "2",
            "--no-positive-guard", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "from the rows' own groups" in capsys.readouterr().out
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    positives_of = {}
    for row in rows:
        positives_of.setdefault(row["source"], set()).add(row["positive"])
    for record in (json.loads(line) for line in out.read_text().splitlines()):
        siblings = positives_of[record["source"]] - {record["positive"]}  # pkgN holds 3 rows (pkg13: 1)
        first, second, third = record["negative"]
        assert {first, second} == siblings or len(siblings) < 2
        assert third not in siblings
    no_group = [a for a in args if a not in ("--group-column", "source")]
    assert main([*no_group, "--overwrite"]) == 2
    assert "`group_negatives` needs `group_column`" in capsys.readouterr().err


def test_mine_graded_lists_with_bm25_and_no_model(pairs_file, tmp_path):
    out = tmp_path / "graded.jsonl"
    args = ["mine", "--model", "/no/model/needed", "--data", str(pairs_file), "--method", "bm25",
            "--no-positive-guard", "--range-min", "0", "--range-max", "10", "--num-negatives", "2",
            "--format", "graded-list", "--too-few", "pad", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40 and all(row["labels"] == [1.0, 0.0, 0.0] for row in rows)
    assert load_training_rows(out).column_names == ["query", "doc_1", "doc_2", "doc_3", "label"]


def test_filter_keeps_consistent_pairs_and_records_the_rest(tiny_model_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "kept.jsonl"
    args = ["filter", "--model", str(tiny_model_dir), "--data", str(pairs_file), "--top-k", "1",
            "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "kept" in capsys.readouterr().out
    kept = out.read_text().splitlines()
    dropped = [json.loads(line) for line in (tmp_path / "kept.jsonl.dropped.jsonl").read_text().splitlines()]
    assert len(kept) + len(dropped) == 40
    assert all("reason" in row and "score" in row for row in dropped)


@pytest.mark.parametrize("command", ["mine", "filter"])
def test_dtype_bfloat16_encodes_with_a_bfloat16_store(tiny_bert_dir, pairs_file, tmp_path, monkeypatch, command):
    import st_plus.mining.retrievers as retrievers

    dtypes = []
    real = retrievers.EmbeddingCache

    def recording(*args, **kwargs):
        dtypes.append(kwargs.get("dtype"))
        return real(*args, **kwargs)

    monkeypatch.setattr(retrievers, "EmbeddingCache", recording)
    band = ["--range-min", "1", "--range-max", "20", "--num-negatives", "2"]
    extra = band if command == "mine" else ["--top-k", "3"]
    out = tmp_path / f"{command}.jsonl"
    args = [command, "--model", str(tiny_bert_dir), "--data", str(pairs_file), *extra, "--output", str(out)]
    assert main([*args, "--dtype", "bfloat16"]) == 0
    assert dtypes and set(dtypes) == {"bfloat16"}
    dtypes.clear()
    assert main([*args, "--overwrite"]) == 0  # the default stays float32 (sentence-transformers' encode)
    assert set(dtypes) == {"float32"}
    dtypes.clear()
    assert main([*args, "--overwrite", "--dtype", "auto"]) == 0  # resolved by the cache (bfloat16 where native)
    assert set(dtypes) == {"auto"}


def test_filter_keeps_the_negatives_of_triplets_and_refuses_clashing_paths(tiny_model_dir, tmp_path, capsys):
    rows = [{"anchor": CORPUS[i], "positive": CORPUS[(i + 1) % 10], "negative": CORPUS[(i + 5) % 10]}
            for i in range(10)]  # fmt: skip
    data = write_jsonl(tmp_path / "triplets.jsonl", rows)
    out = tmp_path / "kept.jsonl"
    base = ["filter", "--model", str(tiny_model_dir), "--data", str(data), "--top-k", "10"]
    assert main([*base, "--output", str(out)]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 10 and all(len(row["negative"]) == 1 for row in kept)
    assert main([*base, "--output", str(tmp_path / "x.jsonl"), "--dropped", str(tmp_path / "x.jsonl")]) == 2
    assert "three different files" in capsys.readouterr().err


def test_bad_rows_fail_before_any_model_work_naming_file_line_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"anchor": "a", "positive": "b"}\n{"anchor": "", "positive": "c"}\nnot json\n')
    assert main(["mine", "--model", "/no/such/model", "--data", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2" in err and "anchor" in err and "bad.jsonl:3" in err and "invalid JSON" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.real
def test_mine_shipped_chinese_pairs_with_the_bundled_model(tmp_path, capsys):
    data = EXAMPLES_DATA.parent / "training_data" / "csl_title_abstract_zh.jsonl"
    out = tmp_path / "csl_mined.jsonl"
    args = ["mine", "--model", "default", "--data", str(data), "--method", "hybrid", "--range-min", "10",
            "--range-max", "100", "--num-negatives", "7", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "of 829 rows" in capsys.readouterr().out
    assert len(load_training_rows(out)) > 600
