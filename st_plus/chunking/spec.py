"""The ``name[:arg[:arg]]`` chunker specs of the command line and the evaluation suite."""

from __future__ import annotations

from collections.abc import Callable

from st_plus.chunking._base import Span
from st_plus.chunking.line_chunker import LineChunker
from st_plus.chunking.semantic_chunker import SemanticChunker
from st_plus.chunking.sentence_chunker import SentenceChunker
from st_plus.chunking.token_chunker import TokenChunker


def parse_chunker(spec: str, *, tokenizer=None, model=None) -> Callable[[str], list[Span]]:
    """Builds a chunker from a spec: ``sentences:5``, ``lines:10``, ``tokens:256:32`` or ``semantic:0.1``.

    Args:
        spec: ``name[:arg[:arg]]``.
        tokenizer: Needed by ``tokens``.
        model: Needed by ``semantic`` (a sentence-transformers model for sentence embeddings).

    Raises:
        ValueError: An unknown name or a malformed argument, with the accepted forms.
    """
    forms = "sentences:N, lines:N, tokens:SIZE[:OVERLAP] or semantic[:QUANTILE]"
    name, *args = spec.strip().split(":")
    try:
        if name == "sentences" and len(args) <= 1:
            return SentenceChunker(int(args[0]) if args else 5)
        if name == "lines" and len(args) <= 1:
            return LineChunker(int(args[0]) if args else 10)
        if name == "tokens" and 1 <= len(args) <= 2:
            if tokenizer is None:
                raise ValueError("the `tokens` chunker needs a tokenizer")
            return TokenChunker(tokenizer, int(args[0]), overlap=int(args[1]) if len(args) > 1 else 0)
        if name == "semantic" and len(args) <= 1:
            if model is None:
                raise ValueError("the `semantic` chunker needs a model")
            return SemanticChunker(model, breakpoint_quantile=float(args[0]) if args else 0.1)
    except ValueError as exc:
        raise ValueError(f"Invalid chunker {spec!r}: {exc} (forms: {forms}).") from None
    raise ValueError(f"Unknown chunker {spec!r}; use {forms}.")
