"""ChatClient against a real local HTTP server: cache, retries, Retry-After, budget, fatal errors, the API key."""

from __future__ import annotations

import json
import logging

import pytest
from llm_server import FakeLLM, completion

from st_plus.synthesis import (
    BudgetExhaustedError,
    ChatClient,
    ChatError,
    EndpointError,
    ResponseCache,
    parse_texts,
    request_key,
)

MESSAGES = [{"role": "user", "content": "hello"}]


def test_a_repeated_request_is_answered_from_the_cache(tmp_path):
    with FakeLLM() as server:
        client = ChatClient(server.base_url, "m", cache=tmp_path / "cache")
        first = client.complete(MESSAGES, temperature=0.5)
        again = ChatClient(server.base_url, "m", cache=tmp_path / "cache").complete(MESSAGES, temperature=0.5)
        assert first == again and server.requests == 1
        client.complete(MESSAGES, temperature=0.6)  # other parameters: another request
        assert server.requests == 2


def test_the_cache_key_depends_on_model_messages_and_params_only():
    key = request_key("m", MESSAGES, {"temperature": 0.5, "max_tokens": 9})
    assert key == request_key("m", MESSAGES, {"max_tokens": 9, "temperature": 0.5})
    assert key != request_key("n", MESSAGES, {"temperature": 0.5, "max_tokens": 9})
    assert key != request_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0.5, "max_tokens": 9})


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(tmp_path):
    def script(body, attempt):
        if attempt == 1:
            return 429, {"Retry-After": "3"}, b"{}"
        if attempt == 2:
            return 503, {}, b"busy"
        return 200, {}, completion("done")

    waits = []
    with FakeLLM(script) as server:
        client = ChatClient(server.base_url, "m", backoff=0.01, max_backoff=10, sleep=waits.append)
        assert client.complete(MESSAGES) == "done"
        assert server.requests == 3 and client.requests_sent == 3
    assert waits[0] >= 3.0  # Retry-After honoured
    assert 0.005 <= waits[1] <= 0.03  # exponential backoff with jitter: 0.01 * 2 * [0.5, 1.5]


def test_a_malformed_body_is_retried_and_a_persistent_failure_raises_with_the_reason():
    def script(body, attempt):
        return (200, {}, b"not json at all") if attempt < 3 else (500, {}, b"down")

    with FakeLLM(script) as server:
        client = ChatClient(server.base_url, "m", max_attempts=4, backoff=0, sleep=lambda s: None)
        with pytest.raises(ChatError, match="HTTP 500 after 4 attempts"):
            client.complete(MESSAGES)
        assert server.requests == 4


def test_a_connection_error_is_retried_then_reported():
    client = ChatClient("http://127.0.0.1:9/v1", "m", max_attempts=2, backoff=0, sleep=lambda s: None, timeout=2)
    with pytest.raises(ChatError, match="connection error.*after 2 attempts"):
        client.complete(MESSAGES)


def test_the_request_budget_stops_sending():
    with FakeLLM() as server:
        client = ChatClient(server.base_url, "m", max_requests=2)
        client.complete([{"role": "user", "content": "a"}])
        client.complete([{"role": "user", "content": "b"}])
        with pytest.raises(BudgetExhaustedError, match="budget of 2"):
            client.complete([{"role": "user", "content": "c"}])
        assert server.requests == 2


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_not_found_errors_stop_at_once(status):
    with FakeLLM(lambda body, attempt: (status, {}, b'{"error": "no"}')) as server:
        with pytest.raises(EndpointError, match=f"HTTP {status}"):
            ChatClient(server.base_url, "m", sleep=lambda s: None).complete(MESSAGES)
        assert server.requests == 1


def test_the_api_key_is_sent_in_the_header_and_written_nowhere(tmp_path, monkeypatch, caplog):
    secret = "sk-test-DO-NOT-LEAK-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)

    def script(body, attempt):
        return (
            (500, {}, b"oops")
            if attempt == 1
            else (401, {}, b"bad key")
            if "deny" in str(body)
            else (200, {}, completion("ok"))
        )

    with FakeLLM(script) as server:
        client = ChatClient(server.base_url, "m", cache=tmp_path / "cache", backoff=0, sleep=lambda s: None)
        client.complete(MESSAGES)
        with pytest.raises(EndpointError) as info:
            client.complete([{"role": "user", "content": "deny"}])
    assert {h.get("Authorization") for h in server.headers} == {f"Bearer {secret}"}
    assert secret not in str(info.value) and secret not in repr(client) and secret not in caplog.text
    assert secret not in json.dumps(vars(client), default=str)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(encoding="utf-8")


def test_no_key_sends_no_authorization_header(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeLLM() as server:
        ChatClient(server.base_url, "m").complete(MESSAGES)
    assert "Authorization" not in server.headers[0]


def test_a_cache_entry_is_written_atomically_and_a_broken_one_is_ignored(tmp_path):
    cache = ResponseCache(tmp_path)
    key = request_key("m", MESSAGES, {})
    cache.put(key, "text", {"model": "m"})
    assert cache.get(key) == "text" and not list(tmp_path.rglob("*.tmp"))
    next(tmp_path.rglob("*.json")).write_text("{broken")
    assert cache.get(key) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"base_url": "ftp://x"}, "base_url"), ({"max_attempts": 0}, "max_attempts"), ({"timeout": 0}, "timeout"),
     ({"max_requests": -1}, "max_requests"), ({"model": ""}, "model")],
)  # fmt: skip
def test_bad_client_settings_name_the_argument(kwargs, match):
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kwargs}
    with pytest.raises(ValueError, match=match):
        ChatClient(args.pop("base_url"), args.pop("model"), **args)


@pytest.mark.parametrize(
    ("content", "num", "expected"),
    [
        ('{"texts": ["a b", "c d"]}', 2, ["a b", "c d"]),
        ('```json\n["a b", "c d"]\n```', 2, ["a b", "c d"]),
        ('{"queries": ["how to x"]}', 1, ["how to x"]),
        ("1. first one\n2. second one\n   continued", 2, ["first one", "second one continued"]),
        ("- alpha\n- beta", 2, ["alpha", "beta"]),
        ("Query: how do I list files?", 1, ["how do I list files?"]),
        ("A whole passage\nover two lines.", 1, ["A whole passage\nover two lines."]),
        ("para one\n\npara two", 2, ["para one", "para two"]),
        ('"quoted"', 1, ["quoted"]),
        ("", 1, []),
        ("{not json", 1, ["{not json"]),
    ],
)  # fmt: skip
def test_json_and_plain_text_completions_are_both_parsed(content, num, expected):
    assert parse_texts(content, num) == expected
