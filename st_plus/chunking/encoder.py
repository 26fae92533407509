"""Late chunking (and naive chunking, for comparison) with any stock sentence-transformers model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from st_plus.chunking._base import Chunk, Span, SpansOrChunker, chunk_documents
from st_plus.chunking.model_split import run_modules, split_at_pooling
from st_plus.chunking.pooling import fast_char_to_token_spans, macro_windows, pool_spans
from st_plus.encoding import autocast_for, check_encoding_options, resolve_prompt
from st_plus.precision import EncodingDtype, resolve_dtype

logger = logging.getLogger(__name__)

Mode = Literal["late", "naive"]
TOKENS_PER_GROUP = 131_072  # token embeddings held at once (documents are stitched and pooled group by group)


@dataclass
class ChunkedDocument:
    """The chunks of one document and their embeddings.

    Attributes:
        doc_id: The document's id.
        chunks: The chunks, in document order.
        embeddings: ``(len(chunks), dim)`` float32.
    """

    doc_id: str
    chunks: list[Chunk]
    embeddings: np.ndarray


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text (e.g. ``[CLS]`` and ``[SEP]``)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for position in range(len(full) - len(bare) + 1):
        if full[position : position + len(bare)] == bare:
            return full[:position], full[position + len(bare) :]
    raise ValueError("Cannot locate the text between the tokenizer's special tokens.")


class LateChunkingEncoder:
    """Embeds document chunks with late chunking (Günther et al., 2024) or, for comparison, naive chunking.

    Late chunking runs the transformer once over the whole document and mean-pools the token embeddings of each
    chunk's span, so every chunk embedding has seen its context. Documents longer than ``window`` tokens use
    *long late chunking*: macro windows ``[i, i + window)`` with stride ``window - overlap``, each window after
    the first dropping its first ``overlap`` token embeddings, concatenated before pooling. Naive chunking encodes
    each chunk's text on its own with ``model.encode``, which truncates a chunk longer than the model's
    ``max_seq_length`` as sentence-transformers and MTEB do; the encoder then logs one warning with the number of
    truncated chunks (late chunking never truncates: every token is pooled).

    Works with models made of stock modules: a ``Transformer``, a mean ``Pooling`` and any modules after it
    (``Normalize``, ``Dense``), which are applied to the pooled chunk embeddings. Nothing is added to the model.
    Chunk spans map to tokens through the tokenizer's ``offset_mapping``; the ``[CLS]``/``[SEP]`` tokens and the
    document prompt are part of every window but never of a chunk.

    Args:
        model: A sentence-transformers model (``Transformer`` + mean ``Pooling`` [+ ``Normalize`` / ``Dense``]).
        window: Tokens per forward pass, special tokens and prompt included (default: the model's
            ``max_seq_length``); at most the model's position limit.
        overlap: Context tokens shared by consecutive macro windows (``0 <= overlap``, less than the window).
        batch_size: Windows (late) or chunks (naive) per forward pass; inputs are sorted by length.
        prompt: Prefix of every document (default: the model's document prompt, as ``encode_document``).
        normalize_embeddings: Unit-normalise chunk embeddings (on top of a ``Normalize`` module, if any).
        max_document_tokens: Refuse documents longer than this (``None``: no limit).
        dtype: ``"float32"``, ``"bfloat16"`` (autocast) or ``"auto"`` (bfloat16 where the model's device has it
            natively; :func:`~st_plus.precision.resolve_dtype`).
        show_progress_bar: A progress bar over batches.

    Example:
        >>> import st_plus
        >>> from st_plus.chunking import LateChunkingEncoder, SentenceChunker
        >>> encoder = LateChunkingEncoder(st_plus.load_model("default"))
        >>> [doc] = encoder.encode_chunks(["Berlin is a city. It is the capital of Germany."], SentenceChunker(1))
        >>> doc.embeddings.shape
        (2, 384)

    References:
        Günther et al., "Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models",
        https://arxiv.org/abs/2409.04701
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        window: int | None = None,
        overlap: int = 0,
        batch_size: int = 8,
        prompt: str | None = None,
        normalize_embeddings: bool = False,
        max_document_tokens: int | None = None,
        dtype: EncodingDtype = "float32",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.token_modules, self.post_pooling_modules = split_at_pooling(model)
        self.model = model
        self.tokenizer = model[0].tokenizer
        config = model[0].auto_model.config
        position_limit = getattr(config, "max_position_embeddings", None) or model.max_seq_length
        self.window = int(window or model.max_seq_length or position_limit)
        if position_limit and self.window > position_limit:
            raise ValueError(f"`window` must be <= the model's {position_limit} positions, got {self.window}.")
        self.prompt = resolve_prompt(model, "document") if prompt is None else prompt
        self.prefix_ids, self.suffix_ids = _special_tokens(self.tokenizer)
        prompt_ids = self.tokenizer(self.prompt, add_special_tokens=False)["input_ids"] if self.prompt else []
        self.prefix_ids = self.prefix_ids + prompt_ids
        self.content_window = self.window - len(self.prefix_ids) - len(self.suffix_ids)
        if self.content_window < 2:
            raise ValueError(f"`window` {self.window} leaves no room for text after special tokens and prompt.")
        if not 0 <= overlap < self.content_window:
            raise ValueError(f"`overlap` must be in [0, {self.content_window}) tokens, got {overlap}.")
        check_encoding_options(batch_size, dtype)
        self.overlap = overlap
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self.max_document_tokens = max_document_tokens
        self.dtype = resolve_dtype(dtype, model.device)
        self.show_progress_bar = show_progress_bar
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def encode_chunks(
        self,
        documents: Sequence[str] | Mapping[str, str],
        chunker_or_spans: SpansOrChunker,
        *,
        mode: Mode = "late",
    ) -> list[ChunkedDocument]:
        """Chunks each document and embeds its chunks.

        Args:
            documents: Texts, or ``{doc_id: text}`` (ids appear in error messages).
            chunker_or_spans: A chunker (``text -> [(start, end), ...]``) or one list of character spans per
                document (sorted, disjoint, within the text).
            mode: ``"late"`` (one pass over each document, spans pooled) or ``"naive"`` (each chunk alone).

        Returns:
            One :class:`ChunkedDocument` per document, in input order.

        Raises:
            ValueError: Naming the document: empty text, zero chunks, spans outside the text or overlapping, a
                chunk without tokens, or a document over ``max_document_tokens``.
        """
        if mode not in ("late", "naive"):
            raise ValueError(f"`mode` must be 'late' or 'naive', got {mode!r}.")
        if isinstance(documents, Mapping):
            doc_ids, texts = [str(k) for k in documents], list(documents.values())
        else:
            doc_ids, texts = [str(i) for i in range(len(documents))], list(documents)
        chunks = chunk_documents(texts, chunker_or_spans, doc_ids)
        encode = self._encode_late if mode == "late" else self._encode_naive
        embeddings = encode(texts, chunks, doc_ids)
        if self.normalize_embeddings:
            embeddings = [e / np.clip(np.linalg.norm(e, axis=1, keepdims=True), 1e-12, None) for e in embeddings]
        return [
            ChunkedDocument(doc_id, doc_chunks, emb.astype(np.float32))
            for doc_id, doc_chunks, emb in zip(doc_ids, chunks, embeddings, strict=True)
        ]

    def _autocast(self):
        return autocast_for(self.model, self.dtype)

    def _warn_truncated_chunks(self, flat: list[str]) -> None:
        """Naive mode truncates like ``model.encode``; say how many chunks lose tokens (once per call)."""
        limit = self.model.max_seq_length
        if not limit:
            return
        special = len(self.prefix_ids) + len(self.suffix_ids)  # [CLS] + prompt + [SEP]
        lengths = self.tokenizer(flat, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        truncated = sum(1 for ids in lengths if len(ids) + special > limit)
        if truncated:
            logger.warning(
                "Naive chunking: %d of %d chunks are longer than the model's max_seq_length (%d tokens, special "
                "tokens and prompt included) and are truncated, as model.encode does; use a smaller chunker "
                "(e.g. tokens:%d) or late chunking, which pools every token.",
                truncated,
                len(flat),
                limit,
                max(limit - special, 1),
            )

    def _encode_naive(self, texts: list[str], chunks: list[list[Chunk]], doc_ids: list[str]) -> list[np.ndarray]:
        flat = [chunk.text for doc_chunks in chunks for chunk in doc_chunks]
        self._warn_truncated_chunks(flat)
        with torch.inference_mode(), self._autocast():
            embeddings = self.model.encode(
                flat,
                prompt=self.prompt,
                batch_size=self.batch_size,
                show_progress_bar=self.show_progress_bar,
                convert_to_tensor=True,
            )
        embeddings = embeddings.float().cpu().numpy()
        out, start = [], 0
        for doc_chunks in chunks:
            out.append(embeddings[start : start + len(doc_chunks)])
            start += len(doc_chunks)
        return out

    def _tokenize(self, text: str, doc_chunks: list[Chunk], doc_id: str) -> tuple[list[int], list[Span]]:
        encoding = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
        )
        ids = encoding["input_ids"]
        if self.max_document_tokens is not None and len(ids) > self.max_document_tokens:
            raise ValueError(
                f"document {doc_id!r} has {len(ids):,} tokens, "
                f"over `max_document_tokens`={self.max_document_tokens:,}."
            )
        token_spans = fast_char_to_token_spans(encoding["offset_mapping"], [c.span for c in doc_chunks])
        for index, (chunk, (first, last)) in enumerate(zip(doc_chunks, token_spans, strict=True)):
            if first >= last:
                raise ValueError(f"document {doc_id!r}: chunk {index} {chunk.span} covers no token.")
        return ids, token_spans

    def _encode_late(self, texts: list[str], chunks: list[list[Chunk]], doc_ids: list[str]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(texts)
        group: list[tuple[int, list[int], list[Span]]] = []
        group_tokens = 0
        progress = tqdm(total=len(texts), desc="Late chunking", unit="doc", disable=not self.show_progress_bar)
        for index, (text, doc_chunks, doc_id) in enumerate(zip(texts, chunks, doc_ids, strict=True)):
            ids, token_spans = self._tokenize(text, doc_chunks, doc_id)
            group.append((index, ids, token_spans))
            group_tokens += len(ids)
            if group_tokens >= TOKENS_PER_GROUP or index == len(texts) - 1:
                for doc_index, embeddings in self._encode_group(group):
                    out[doc_index] = embeddings
                progress.update(len(group))
                group, group_tokens = [], 0
        progress.close()
        return out  # type: ignore[return-value]

    def _encode_group(self, group: list[tuple[int, list[int], list[Span]]]) -> list[tuple[int, np.ndarray]]:
        windows = []  # (doc position in group, window number, start, end, keep_from)
        for position, (_, ids, _) in enumerate(group):
            planned = macro_windows(len(ids), self.content_window, self.overlap)
            windows.extend((position, number, *window) for number, window in enumerate(planned))
        windows.sort(key=lambda w: w[3] - w[2], reverse=True)
        pieces: dict[tuple[int, int], torch.Tensor] = {}
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first : first + self.batch_size]
            inputs = [self.prefix_ids + group[p][1][s:e] + self.suffix_ids for p, _, s, e, _ in batch]
            token_embeddings = self._forward(inputs)
            for (position, number, start, end, keep_from), embeddings in zip(batch, token_embeddings, strict=True):
                offset = len(self.prefix_ids)
                pieces[(position, number)] = embeddings[offset + keep_from : offset + end - start]
        results = []
        for position, (doc_index, _, token_spans) in enumerate(group):
            count = sum(1 for p, *_ in windows if p == position)
            document_tokens = torch.cat([pieces[(position, n)] for n in range(count)])  # (num_tokens, dim)
            pooled = pool_spans(document_tokens, token_spans)
            results.append((doc_index, self._after_pooling(pooled)))
        return results

    def _forward(self, inputs: list[list[int]]) -> list[torch.Tensor]:
        """Token embeddings ``(len, dim)`` (float32, CPU) of each id list, run through the modules before Pooling."""
        longest = max(len(ids) for ids in inputs)
        input_ids = torch.full((len(inputs), longest), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(inputs), longest), dtype=torch.long)
        for row, ids in enumerate(inputs):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        device = self.model.device
        features = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
        with torch.inference_mode(), self._autocast():
            features = run_modules(self.token_modules, features)
        token_embeddings = features["token_embeddings"].float().cpu()
        return [token_embeddings[row, : len(ids)] for row, ids in enumerate(inputs)]

    def _after_pooling(self, pooled: torch.Tensor) -> np.ndarray:
        features = {"sentence_embedding": pooled.float().to(self.model.device)}
        with torch.inference_mode(), self._autocast():
            features = run_modules(self.post_pooling_modules, features)
        return features["sentence_embedding"].float().cpu().numpy()
