"""Absolute paths rewritten relative to a base folder: whole values always, inside messages where they exist."""

from __future__ import annotations

import os

from st_plus.portable_paths import relative_paths


def test_whole_paths_become_relative_and_never_look_like_a_hub_id():
    record = {
        "data": "/home/ann/proj/examples/data/pairs.jsonl",
        "tasks": ["/home/ann/proj/recipes/sts", "/home/ann/shared/qmsum", "/home/ann/proj/recipes"],
        "nested": ({"path": "/home/ann/proj/x.yaml"}, 3, None, 1.5),
        "/home/ann/key": "org/name",
    }
    out = relative_paths(record, "/home/ann/proj/recipes")
    assert out["data"] == "../examples/data/pairs.jsonl"
    assert out["tasks"] == ["./sts", "../../shared/qmsum", "."]  # "./sts", not the Hub id form "sts"
    assert out["nested"] == ({"path": "../x.yaml"}, 3, None, 1.5)
    assert out["/home/ann/key"] == "org/name"  # keys and relative values unchanged


def test_paths_inside_messages_are_rewritten_only_where_they_exist(tmp_path):
    base = tmp_path / "recipes"
    data = tmp_path / "data" / "corpus.jsonl.gz"
    data.parent.mkdir()
    data.write_text("x")
    messages = [
        f"st_plus.data._schema: {data}: ignoring fields `split`",
        f"read {data}.",  # the end of a sentence
        "12.5 samples /s; Instruct: /imagine a cat; r/AskReddit",  # not paths: left alone
        "https://example.org/a and //server/share and 2026/12/07 and Apache-2.0 / MIT and ~/x",
        f"{tmp_path}/missing.jsonl was not found",  # no such file: left alone
    ]
    out = relative_paths(messages, base)
    assert out[0] == "st_plus.data._schema: ../data/corpus.jsonl.gz: ignoring fields `split`"
    assert out[1] == "read ../data/corpus.jsonl.gz."
    assert out[2:] == messages[2:]


def test_naive_reference_each_path_resolves_back_to_the_same_file(tmp_path):
    base = tmp_path / "recipes"
    paths = [tmp_path / "a" / "b.txt", base / "c.yaml", tmp_path.parent / "d", base]
    out = relative_paths([str(p) for p in paths], base)
    assert [os.path.normpath(os.path.join(base, rel)) for rel in out] == [str(p) for p in paths]
    assert relative_paths(7, base) == 7 and relative_paths(None, base) is None


def test_a_whole_path_with_a_space_is_one_path_where_it_exists(tmp_path):
    folder = tmp_path / "Ann Smith" / "data"
    folder.mkdir(parents=True)
    base = tmp_path / "Ann Smith" / "recipes"
    assert relative_paths(str(folder), base) == "../data"
    assert relative_paths(f"{folder} holds 3 files", base) == f"{folder} holds 3 files"  # a message, cut at spaces
