"""Late chunking: chunkers (text -> character spans), span pooling, and the late / naive chunk encoder.

Günther et al., "Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models" (2024),
https://arxiv.org/abs/2409.04701.
"""

from st_plus.chunking._base import Chunk, Chunker, check_spans, chunk_documents
from st_plus.chunking.contextualize import HeadingContext, OpenAIContextGenerator, contextualize
from st_plus.chunking.encoder import ChunkedDocument, LateChunkingEncoder
from st_plus.chunking.line_chunker import LineChunker, split_lines
from st_plus.chunking.model_split import run_modules, split_at_pooling
from st_plus.chunking.pooling import char_to_token_spans, fast_char_to_token_spans, macro_windows, pool_spans
from st_plus.chunking.semantic_chunker import SemanticChunker, semantic_breakpoints
from st_plus.chunking.sentence_chunker import SentenceChunker, split_sentences
from st_plus.chunking.span_collator import SpanPoolingDataCollator
from st_plus.chunking.spec import parse_chunker
from st_plus.chunking.token_chunker import TokenChunker

__all__ = [
    "Chunk",
    "ChunkedDocument",
    "Chunker",
    "HeadingContext",
    "LateChunkingEncoder",
    "LineChunker",
    "OpenAIContextGenerator",
    "SemanticChunker",
    "SentenceChunker",
    "SpanPoolingDataCollator",
    "TokenChunker",
    "char_to_token_spans",
    "check_spans",
    "chunk_documents",
    "contextualize",
    "fast_char_to_token_spans",
    "macro_windows",
    "parse_chunker",
    "pool_spans",
    "run_modules",
    "semantic_breakpoints",
    "split_at_pooling",
    "split_lines",
    "split_sentences",
]
