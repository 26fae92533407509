"""synthesize / st-plus synthesize against a real local HTTP server, including one that fails and talks garbage."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from llm_server import FakeLLM, completion, flaky
from tests_helpers import write_jsonl

from st_plus.cli import main
from st_plus.synthesis import ChatClient, RowContext, build_messages, detect_language, synthesize

ROWS = [{"id": i, "anchor": f"how do I do task {i}?", "positive": f"Task {i} is done with tool {i}.",
         "negative": [f"Tool {i} is unrelated to anything."]} for i in range(40)]  # fmt: skip


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _run(args):
    return main(["synthesize", *args])


@pytest.mark.parametrize("kind", ["positives", "hard_negatives", "queries"])
def test_a_flaky_garbage_talking_server_loses_no_row_and_a_rerun_sends_nothing(tmp_path, capsys, kind):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    failed = tmp_path / "out.jsonl.failed.jsonl"
    with FakeLLM(flaky) as server:
        args = ["--data", str(data), "--output", str(out), "--kind", kind, "--base-url", server.base_url,
                "--model", "m", "--num", "3", "--concurrency", "4", "--quiet"]  # fmt: skip
        assert _run([*args, "--max-attempts", "4"]) == 0
        first_requests = server.requests
        rows, failures = _read(out), _read(failed) if failed.exists() else []
        assert first_requests > len(ROWS)  # retries happened
        ids_out, ids_failed = {r["id"] for r in rows}, {f["row"]["id"] for f in failures}
        assert ids_out | ids_failed == set(range(len(ROWS))) and not ids_out & ids_failed
        assert failures and all(f["reason"].startswith("unusable completion") for f in failures)
        assert all(set(ROWS[0]) <= set(r) for r in rows)  # every input column kept
        if kind == "hard_negatives":
            assert {len(r["negative"]) for r in rows} == {4}  # the original one + 3 new
        else:
            assert len(rows) == 3 * len(ids_out)
        assert _run(args) == 2 and "exists" in capsys.readouterr().err  # no overwrite without --overwrite
        assert _run([*args, "--overwrite"]) == 0
        assert server.requests == first_requests  # everything from the cache
        assert _read(out) == rows
        assert "0 requests sent" in capsys.readouterr().out


def test_copies_of_inputs_duplicates_and_refusals_are_dropped():
    rows = [{"anchor": "q one", "positive": "p one"}, {"anchor": "q two", "positive": "p two"}]
    answers = {"q one": ["p one", "new text", "New text.", "I'm sorry, I cannot help", "fresh"],
               "q two": ["new text", "q two", "another"]}  # fmt: skip

    def script(body, attempt):
        user = body["messages"][-1]["content"]
        key = "q one" if "q one" in user else "q two"
        return 200, {}, completion(json.dumps({"texts": answers[key]}))

    with FakeLLM(script) as server:
        result = synthesize(rows, ChatClient(server.base_url, "m"), kind="positives", num=5, concurrency=2)
    assert [(r["anchor"], r["positive"]) for r in result.rows] == [
        ("q one", "new text"), ("q one", "fresh"), ("q two", "another")]  # fmt: skip
    assert result.stats == {"copy of an input or duplicate": 4, "refusal": 1}


def test_a_budget_failure_is_recorded_and_a_rerun_resumes_from_the_cache(tmp_path):
    rows = ROWS[:10]
    with FakeLLM() as server:
        first = synthesize(rows, ChatClient(server.base_url, "m", cache=tmp_path, max_requests=4), kind="queries")
        assert len(first.failed) == 6 and all("budget" in f["reason"] for f in first.failed)
        second = synthesize(rows, ChatClient(server.base_url, "m", cache=tmp_path), kind="queries")
        assert not second.failed and second.requests == 6 and server.requests == 10
        third = synthesize(rows, ChatClient(server.base_url, "m", cache=tmp_path), kind="queries")
        assert third.requests == 0 and third.rows == second.rows


def test_prompts_follow_the_data_language_and_condition_on_positive_and_negatives():
    zh = RowContext(
        "这是一个用于管理软件包的工具。", "如何安装软件包", ("一个文本编辑器。",), detect_language("如何安装软件包")
    )
    messages = build_messages("hard_negatives", zh, 2)
    assert zh.language == "zh" and "中文" in messages[-1]["content"]
    assert (
        "这是一个用于管理软件包的工具。" in messages[-1]["content"] and "一个文本编辑器。" in messages[-1]["content"]
    )
    en = build_messages("queries", RowContext("A tool to list files.", None, ("An editor.",)), 3)
    assert "English" in en[-1]["content"] and "An editor." in en[-1]["content"] and "Write 3" in en[-1]["content"]
    assert detect_language("Linux 内核模块，用于管理设备") == "zh" and detect_language("Linux kernel") == "en"
    with pytest.raises(ValueError, match="hard negatives need a query"):
        build_messages("hard_negatives", RowContext("text only"), 1)


class _ScoreByWord:
    """A stand-in model: texts containing 'close' embed near the query, others far."""

    def encode(self, texts, **kwargs):
        return np.array([[1.0, 0.0] if ("close" in t or t.startswith("q")) else [0.6, 0.8] for t in texts])


def test_the_consistency_check_drops_negatives_scoring_above_the_positive():
    rows = [{"anchor": "q", "positive": "close positive"}]

    def script(body, attempt):
        return 200, {}, completion(json.dumps({"texts": ["close negative", "far negative"]}))

    with FakeLLM(script) as server:
        client = ChatClient(server.base_url, "m")
        kept = synthesize(rows, client, kind="hard_negatives", num=1, consistency_model=_ScoreByWord())
    assert kept.rows[0]["negative"] == ["far negative"] and kept.stats["inconsistent"] == 1


def test_text_only_rows_give_paraphrase_positives_and_queries(tmp_path):
    rows = [{"text": "A tool that lists files.", "source": "ls"}]
    with FakeLLM() as server:
        client = ChatClient(server.base_url, "m")
        positives = synthesize(rows, client, kind="positives", num=1).rows
        queries = synthesize(rows, client, kind="queries", num=1).rows
        negatives = synthesize(rows, client, kind="hard_negatives", num=1)
    assert positives[0]["anchor"] == "A tool that lists files." and positives[0]["source"] == "ls"
    assert queries[0]["positive"] == "A tool that lists files." and queries[0]["anchor"].startswith("synthetic")
    assert "need rows with anchor" in negatives.failed[0]["reason"]


def test_gz_output_and_an_unreachable_endpoint_fail_rows_not_the_run(tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS[:3])
    out = tmp_path / "out.jsonl.gz"
    code = _run(["--data", str(data), "--output", str(out), "--kind", "queries", "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "m", "--max-attempts", "1", "--timeout", "2", "--quiet"])  # fmt: skip
    assert code == 0
    assert gzip.open(out, "rt").read() == ""
    failed = _read(tmp_path / "out.jsonl.gz.failed.jsonl")
    assert len(failed) == 3 and all("connection error" in f["reason"] for f in failed)
