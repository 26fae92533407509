"""A real OpenAI-compatible HTTP server on 127.0.0.1 (port 0, in a thread) with scripted failures, for tests."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def body_hash(body: dict) -> int:
    text = json.dumps(body["messages"], sort_keys=True, ensure_ascii=False)
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def good_answer(body: dict) -> str:
    """A JSON completion with texts that are unique to the request."""
    h = body_hash(body) % 10**8
    user = body["messages"][-1]["content"]
    n = 3 if "Write 3" in user or "写 3" in user else 1
    return json.dumps({"texts": [f"synthetic text {h} number {i}" for i in range(n)]})


class FakeLLM:
    """Serves ``POST /v1/chat/completions``; ``script(body, attempt)`` returns ``(status, headers, raw_body)``.

    ``attempt`` counts the requests with the same messages (1 for the first). Records every request's headers.
    """

    def __init__(self, script: Callable[[dict, int], tuple[int, dict, bytes]] | None = None) -> None:
        self.script = script or (lambda body, attempt: (200, {}, completion(good_answer(body))))
        self.lock = threading.Lock()
        self.requests = 0
        self.attempts: dict[int, int] = {}
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with server.lock:
                    server.requests += 1
                    key = body_hash(body)
                    server.attempts[key] = server.attempts.get(key, 0) + 1
                    attempt = server.attempts[key]
                    server.headers.append(dict(self.headers))
                status, headers, payload = server.script(body, attempt)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(content: str | None) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    ).encode()


def flaky(body: dict, attempt: int) -> tuple[int, dict, bytes]:
    """About one request in three fails (500 / 429), one body in ten gets garbage (a broken body or content).

    Decided by a hash of the request and its attempt number, so the outcome does not depend on thread timing: a
    third of the requests fail their first attempt, a ninth their second as well; broken bodies are retried;
    garbage content is a valid response (the row fails with a reason, and the response is cached).
    """
    h = body_hash(body)
    if h % 3 == 0 and (attempt == 1 or (attempt == 2 and h % 9 == 0)):
        return (429, {"Retry-After": "0"}, b'{"error": "slow down"}') if h % 2 else (500, {}, b"internal error")
    if h % 10 == 1 and attempt == 1:
        return 200, {"Content-Type": "application/json"}, b"<html>garbage \x00\xff</html>"
    if h % 10 == 2:
        return 200, {}, completion(["", "   ", "!!", None][h % 4])
    return 200, {}, completion(good_answer(body))
