"""st-plus augment: gz output by suffix, no overwrite without --overwrite, flags of other methods refused,
back-translation through a real local HTTP server with failed rows in OUT.failed.jsonl."""

from __future__ import annotations

import gzip
import json

from llm_server import FakeLLM, completion
from tests_helpers import write_jsonl

from st_plus.cli import main

ROWS = [{"anchor": f"title {i}", "positive": f"a long description of package number {i} and its files", "id": i}
        for i in range(6)]  # fmt: skip


def test_augment_writes_gzip_by_suffix_and_refuses_to_overwrite(tmp_path, capsys):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    out = tmp_path / "aug.jsonl.gz"
    args = ["augment", "--data", str(data), "--output", str(out), "--method", "cutoff", "--rate", "0.3", "--num", "2"]
    assert main(args) == 0
    rows = [json.loads(line) for line in gzip.open(out, "rt", encoding="utf-8")]
    assert len(rows) == 12 and all(set(r) == {"anchor", "positive", "id"} for r in rows)
    assert [r["anchor"] for r in rows[:6]] == [r["anchor"] for r in ROWS]  # only `positive` (the default) changes
    assert main(args) == 2 and "exists; pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert [json.loads(line) for line in gzip.open(out, "rt", encoding="utf-8")] == rows  # seeded


def test_augment_refuses_flags_of_another_method_and_names_bad_rows(tmp_path, capsys):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    out = str(tmp_path / "o.jsonl")
    assert main(["augment", "--data", str(data), "--output", out, "--method", "repeat", "--rate", "0.2"]) == 2
    assert "--rate applies to --method cutoff only" in capsys.readouterr().err
    assert main(["augment", "--data", str(data), "--output", out, "--method", "repeat", "--columns", "id"]) == 2
    assert f"{data}:1: `id` must be a string" in capsys.readouterr().err
    assert main(["augment", "--data", str(data), "--output", str(data), "--method", "repeat"]) == 2


def test_backtranslation_round_trips_and_failed_rows_go_to_the_side_file(tmp_path, capsys):
    def script(body, attempt):
        text = body["messages"][-1]["content"].split("\n\n", 1)[1]
        if "number 3" in text:
            return 500, {}, b"down"
        if "Chinese" in body["messages"][-1]["content"]:
            return 200, {}, completion(f"译文：{text}")
        return 200, {}, completion(text.replace("译文：", "").replace("a long", "a lengthy"))

    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    out = tmp_path / "bt.jsonl"
    with FakeLLM(script) as server:
        args = ["augment", "--data", str(data), "--output", str(out), "--method", "backtranslate", "--base-url",
                server.base_url, "--model", "m", "--max-attempts", "2"]  # fmt: skip
        assert main(args) == 0
        requests = server.requests
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        failed = [json.loads(line) for line in (tmp_path / "bt.jsonl.failed.jsonl").read_text().splitlines()]
        assert [r["id"] for r in rows] == [0, 1, 2, 4, 5] and rows[0]["positive"].startswith("a lengthy description")
        assert [f["row"]["id"] for f in failed] == [3] and "HTTP 500" in failed[0]["reason"]
        assert main([*args, "--overwrite", "--max-requests", "2"]) == 0  # only the failed row asks again
        assert server.requests == requests + 2
