"""Contextual chunks: the offline heading / speaker context, and the OpenAI-compatible client on a local server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from st_plus.chunking import HeadingContext, LineChunker, OpenAIContextGenerator, contextualize

TRANSCRIPT = "Grad C: we need a new format\nPhD D: XML would link the utterances\nGrad C: and the time tags"
MARKDOWN = "# Budget\nWe spent a lot.\n## Travel\nTrains were late.\nPlanes too."


def test_offline_context_names_title_heading_and_speaker():
    spans = LineChunker(1)(TRANSCRIPT)
    texts = contextualize(TRANSCRIPT, spans, HeadingContext("Meeting Bdb001"))
    assert texts[1] == "Meeting Bdb001 | PhD D speaking\nPhD D: XML would link the utterances"
    start = MARKDOWN.index("Planes")
    assert contextualize(MARKDOWN, [(start, start + 11)]) == ["Travel\nPlanes too."]
    assert contextualize("plain words here", [(0, 5)]) == ["plain"]  # no title, heading or speaker: unchanged


class _Handler(BaseHTTPRequestHandler):
    requests: list = []
    status = 200

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        reply = {"choices": [{"message": {"content": f" About part {len(type(self).requests)}. "}}]}
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(reply).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.requests, _Handler.status = [], 200
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_compatible_client_against_local_server(server, monkeypatch):
    monkeypatch.setenv("TEST_CTX_KEY", "secret-123")
    generator = OpenAIContextGenerator("tiny-llm", base_url=server + "/", api_key_env="TEST_CTX_KEY")
    texts = contextualize(TRANSCRIPT, LineChunker(2)(TRANSCRIPT), generator)
    assert texts == [
        "About part 1.\nGrad C: we need a new format\nPhD D: XML would link the utterances",
        "About part 2.\nGrad C: and the time tags",
    ]
    first = _Handler.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer secret-123"
    assert first["body"]["model"] == "tiny-llm"
    assert TRANSCRIPT in first["body"]["messages"][0]["content"]


def test_openai_client_errors_name_the_url_never_the_key(server, monkeypatch):
    monkeypatch.setenv("TEST_CTX_KEY", "secret-123")
    _Handler.status = 500
    generator = OpenAIContextGenerator("m", base_url=server, api_key_env="TEST_CTX_KEY")
    with pytest.raises(RuntimeError, match=r"/v1/chat/completions: HTTP 500") as error:
        contextualize(TRANSCRIPT, [(0, 6)], generator)
    assert "secret-123" not in str(error.value)
    with pytest.raises(ValueError, match="must start with http"):
        OpenAIContextGenerator("m", base_url="localhost:1")
