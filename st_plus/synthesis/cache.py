"""A disk cache of chat completions keyed by a hash of the request, so reruns resume and repeat for free."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "request_key"]


def request_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``(model, messages, params)``: the same request gives the same key.

    The endpoint URL and the API key are not part of the key (the key must never reach a file, and the same
    model behind another URL answers the same request).
    """
    canonical = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Completions stored one JSON file per request under ``folder/<key[:2]>/<key>.json``.

    Writes are atomic (a temporary file renamed into place), so an interrupted run never leaves half an entry and
    several threads may write at once. Only successful HTTP responses are stored: a failed request is tried again on
    the next run.

    Args:
        folder: The cache folder (created when needed).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self.hits = 0

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The stored completion text, or ``None``."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        content = entry.get("content") if isinstance(entry, dict) else None
        if isinstance(content, str):
            with self._lock:
                self.hits += 1
            return content
        return None

    def put(self, key: str, content: str, request: dict[str, Any]) -> None:
        """Stores a completion (with its request, without any credential) under ``key``."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request": request, "content": content}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
