"""load_grouped_texts: a mining corpus with the group key of every document."""

from __future__ import annotations

import gzip

import pytest

from st_plus.data import DataValidationError, load_grouped_texts


def test_texts_keep_their_rows_group_in_file_order(tmp_path):
    path = tmp_path / "pool.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"positive": "doc a", "anchor": "title a", "source": "x"}\n\n')
        handle.write('{"positive": ["doc b", " "], "source": 7}\n')
        handle.write('{"positive": " doc a ", "source": "y"}\n')
        handle.write('{"anchor": "no document here", "source": "z"}\n')
    texts, groups = load_grouped_texts(path, ["positive"], "source")
    assert texts == ["doc a", "doc b", "doc a"] and groups == ["x", "7", "y"]  # a text listed twice keeps both
    assert load_grouped_texts(path, ["anchor", "positive"], "source")[0][:2] == ["title a", "doc a"]


def test_rows_without_a_usable_group_or_text_are_named_by_file_and_line(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text('{"positive": "ok", "source": "x"}\n{"positive": "no group"}\n{"positive": 3, "source": "x"}\n'
                    '{"positive": "bool group", "source": true}\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(DataValidationError) as info:
        load_grouped_texts(path, ["positive"], "source")
    message = str(info.value)
    assert f"{path}:2: field 'source': missing or not a string / number" in message
    assert f"{path}:3: field 'positive': expected a string, got int" in message
    assert f"{path}:4: field 'source'" in message


def test_a_plain_text_file_or_an_empty_one_is_refused(tmp_path):
    lines = tmp_path / "pool.txt"
    lines.write_text("one text per line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a JSONL file"):
        load_grouped_texts(lines, ["text"], "source")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"source": "x"}\n', encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"no texts in fields \['positive'\]"):
        load_grouped_texts(empty, ["positive"], "source")
