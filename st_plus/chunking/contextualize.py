"""Contextual chunks (Anthropic's contextual retrieval): a short context prepended to each chunk before encoding."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from st_plus.chunking._base import Chunk, Span

ContextGenerator = Callable[[str, Chunk], str]
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_SPEAKER = re.compile(r"^([^\n:]{1,40}):\s", re.MULTILINE)

CONTEXT_PROMPT = (
    "Here is a document:\n<document>\n{document}\n</document>\n"
    "Here is a chunk of it:\n<chunk>\n{chunk}\n</chunk>\n"
    "In one or two sentences, say where this chunk sits in the document and what it is about, so that the chunk "
    "can be found by search. Answer with that context only."
)


class HeadingContext:
    """Offline context: the document title and the nearest heading or speaker turn before the chunk.

    Markdown headings (``# ...``) are found before the chunk's start; for transcripts (``Speaker: text`` lines) the
    speaker of the chunk's first line is named.

    Args:
        title: The document title (may be empty).
    """

    def __init__(self, title: str = "") -> None:
        self.title = title.strip()

    def __call__(self, document: str, chunk: Chunk) -> str:  # noqa: D102
        parts = [self.title] if self.title else []
        headings = [m.group(1) for m in _HEADING.finditer(document, 0, chunk.start + 1)]
        if headings:
            parts.append(headings[-1])
        line_start = document.rfind("\n", 0, chunk.start) + 1
        speaker = _SPEAKER.match(document, line_start)
        if speaker:
            parts.append(f"{speaker.group(1).strip()} speaking")
        return " | ".join(parts)


class OpenAIContextGenerator:
    """Context from an OpenAI-compatible chat completions endpoint (``POST {base_url}/chat/completions``).

    Args:
        model: The model name sent to the endpoint.
        base_url: The API root, e.g. ``http://localhost:8000/v1``.
        api_key_env: Name of the environment variable holding the key (the key itself is never logged or shown).
        max_document_chars: Longer documents are cut to this many characters in the prompt.
        timeout: Seconds per request.
        prompt: Template with ``{document}`` and ``{chunk}``.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://localhost:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        max_document_chars: int = 20_000,
        timeout: float = 60.0,
        prompt: str = CONTEXT_PROMPT,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"`base_url` must start with http:// or https://, got {base_url!r}.")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key_env = api_key_env
        self.max_document_chars = max_document_chars
        self.timeout = timeout
        self.prompt = prompt

    def __call__(self, document: str, chunk: Chunk) -> str:  # noqa: D102
        content = self.prompt.format(document=document[: self.max_document_chars], chunk=chunk.text)
        body = {"model": self.model, "messages": [{"role": "user", "content": content}], "temperature": 0}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise RuntimeError(f"{self.url}: cannot reach the endpoint ({exc})") from None
        except json.JSONDecodeError:
            raise RuntimeError(f"{self.url}: the reply is not JSON") from None
        try:
            return str(reply["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"{self.url}: no choices[0].message.content in the reply") from None


def contextualize(
    document: str,
    chunks: Sequence[Chunk | Span],
    generator: ContextGenerator | None = None,
    *,
    separator: str = "\n",
) -> list[str]:
    """Each chunk's text with a short context prepended (Anthropic, "Introducing Contextual Retrieval", 2024).

    Args:
        document: The whole document.
        chunks: :class:`Chunk` objects or ``(start, end)`` spans of ``document``.
        generator: ``(document, chunk) -> context``; default :class:`HeadingContext` (offline, no title), or an
            :class:`OpenAIContextGenerator`.
        separator: Between context and chunk text.

    Returns:
        ``context + separator + chunk text`` per chunk (the chunk text alone when the context is empty), ready for
        naive encoding.
    """
    generator = generator or HeadingContext()
    texts = []
    for chunk in chunks:
        if not isinstance(chunk, Chunk):
            start, end = chunk
            chunk = Chunk(document[start:end], start, end)
        context = generator(document, chunk).strip()
        texts.append(f"{context}{separator}{chunk.text}" if context else chunk.text)
    return texts
