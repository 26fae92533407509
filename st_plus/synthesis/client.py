"""A small OpenAI-compatible chat client: stdlib HTTP, a disk cache, retries with backoff, a request budget."""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from st_plus.synthesis.cache import ResponseCache, request_key

__all__ = ["API_KEY_ENV", "BudgetExhaustedError", "ChatClient", "ChatError", "EndpointError"]

logger = logging.getLogger(__name__)

API_KEY_ENV = "OPENAI_API_KEY"
_RETRIED_STATUS = {408, 409, 425, 429}  # and every 5xx
_FATAL_STATUS = {401, 403, 404}


class ChatError(Exception):
    """A request that failed for good (after its retries); ``str(error)`` is the reason recorded for the row."""


class BudgetExhaustedError(ChatError):
    """The client's request budget (``max_requests``) is spent; later requests fail without being sent."""


class EndpointError(ChatError):
    """An error that every request would meet (bad URL, model or key: HTTP 401 / 403 / 404): the run stops."""


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """Chat completions from any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama, ...).

    The API key is read from the ``OPENAI_API_KEY`` environment variable when a request is sent, and only ever
    placed in the ``Authorization`` header: it is not an argument, not an attribute, not logged and not cached.
    Without the variable no header is sent (local servers need none).

    Every request goes through the disk cache first (key: model, messages and parameters); only successful HTTP
    responses are cached, so an interrupted run resumes where it stopped and a repeated run sends nothing.
    Connection errors, timeouts, malformed bodies, HTTP 429 and 5xx are retried with exponential backoff and jitter
    (``backoff * 2**attempt``, times a random factor in [0.5, 1.5], at most ``max_backoff``), waiting at least what a
    ``Retry-After`` header asks (up to ``max_backoff``). HTTP 401, 403 and 404 raise :class:`EndpointError` at once.
    Thread-safe: share one client between worker threads.

    Args:
        base_url: The API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``
            (``/chat/completions`` is appended unless already there).
        model: The model name sent with every request.
        cache: A :class:`ResponseCache` or its folder (``None``: no cache).
        timeout: Seconds per HTTP request.
        max_attempts: Attempts per request (the first one included).
        backoff: Base delay in seconds.
        max_backoff: Longest single wait in seconds.
        max_requests: Budget of HTTP requests (retries included) for the client's lifetime (``None``: no limit).
        params: Default request parameters (``temperature``, ``max_tokens``, ...), overridden per call.
        sleep: The sleep function (tests pass a recorder).

    Example:
        ::

            client = ChatClient("http://127.0.0.1:8000/v1", "qwen2.5-7b-instruct", cache="cache/")
            text = client.complete([{"role": "user", "content": "Say hello."}])
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        cache: ResponseCache | str | Path | None = None,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_requests: int | None = None,
        params: dict[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"`base_url` must be an http(s) URL such as http://127.0.0.1:8000/v1, got {base_url!r}.")
        if not model:
            raise ValueError("`model` must name the endpoint's model, got an empty string.")
        for name, value in (("timeout", timeout), ("backoff", backoff), ("max_backoff", max_backoff)):
            if value < 0 or (name == "timeout" and value == 0):
                raise ValueError(f"`{name}` must be {'> 0' if name == 'timeout' else '>= 0'}, got {value}.")
        if max_attempts < 1:
            raise ValueError(f"`max_attempts` must be >= 1, got {max_attempts}.")
        if max_requests is not None and max_requests < 0:
            raise ValueError(f"`max_requests` must be >= 0 (or None for no limit), got {max_requests}.")
        url = base_url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model
        self.cache = ResponseCache(cache) if isinstance(cache, (str, Path)) else cache
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self.max_requests = max_requests
        self.params = dict(params or {})
        self._sleep = sleep
        self._lock = threading.Lock()
        self._jitter = random.Random()
        self.requests_sent = 0
        # Loopback endpoints never go through an HTTP proxy from the environment.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(parsed.hostname) else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"ChatClient(url={self.url!r}, model={self.model!r}, requests_sent={self.requests_sent})"

    def complete(self, messages: list[dict[str, str]], **params: Any) -> str:
        """The assistant message's text for ``messages`` (from the cache when the same request was answered before).

        Raises:
            ChatError: The request failed after its retries, or the budget is spent.
            EndpointError: HTTP 401 / 403 / 404 (a wrong URL, model or key).
        """
        merged = {**self.params, **params}
        key = request_key(self.model, messages, merged)
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            return cached
        content = self._send({"model": self.model, "messages": messages, **merged})
        if self.cache is not None:
            self.cache.put(key, content, {"model": self.model, "messages": messages, "params": merged})
        return content

    def _take_budget(self) -> None:
        with self._lock:
            if self.max_requests is not None and self.requests_sent >= self.max_requests:
                raise BudgetExhaustedError(f"request budget of {self.max_requests} exhausted")
            self.requests_sent += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        with self._lock:
            factor = self._jitter.uniform(0.5, 1.5)
        delay = min(self.max_backoff, self.backoff * 2**attempt * factor)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay

    def _send(self, body: dict[str, Any]) -> str:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        reason, retry_after = "no attempt made", None
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(self._delay(attempt - 1, retry_after))
            self._take_budget()
            retry_after = None
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            api_key = os.environ.get(API_KEY_ENV)
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = _short(exc.read())
                exc.close()
                if exc.code in _FATAL_STATUS:
                    raise EndpointError(f"HTTP {exc.code} from {self.url}: {detail}") from None
                if exc.code not in _RETRIED_STATUS and exc.code < 500:
                    raise ChatError(f"HTTP {exc.code}: {detail}") from None
                reason, retry_after = f"HTTP {exc.code}", _retry_after(exc.headers.get("Retry-After"))
                logger.debug("%s from %s (attempt %d)", reason, self.url, attempt + 1)
                continue
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = f"connection error ({type(getattr(exc, 'reason', exc)).__name__})"
                logger.debug("%s with %s (attempt %d)", reason, self.url, attempt + 1)
                continue
            content = _message_content(raw)
            if content is not None:
                return content
            reason = f"malformed response ({_short(raw)})"
        raise ChatError(f"{reason} after {self.max_attempts} attempts")


def _message_content(raw: bytes) -> str | None:
    """``choices[0].message.content`` of a chat-completion body (``""`` for a null content), or ``None``."""
    try:
        body = json.loads(raw.decode("utf-8"))
        message = body["choices"][0]["message"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError):
        return None
    content = message.get("content") if isinstance(message, dict) else None
    if content is None:
        return "" if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


def _short(raw: bytes, limit: int = 80) -> str:
    text = raw.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
