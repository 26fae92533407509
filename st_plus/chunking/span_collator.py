"""Data collator for late-chunking-aware training: (query, document, span) rows -> token span labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

from st_plus.chunking.pooling import fast_char_to_token_spans


@dataclass
class SpanPoolingDataCollator(SentenceTransformerDataCollator):
    """Tokenises (query, document) columns as usual and turns each row's character span into a token span label.

    Rows have the text columns (query first, document second) and two integer columns ``span_start`` /
    ``span_end``: the character span of ``document`` whose pooled embedding should match the query. The label of
    a row is ``[first, last)`` in the document's tokenised input (``[CLS]`` and a document prompt included), so
    :class:`~st_plus.losses.SpanPoolingLoss` can pool exactly those token embeddings from the full document.

    Args:
        tokenizer: The model's tokenizer (``model.tokenizer``); must be fast (offsets).
        max_seq_length: The document truncation length (``model.max_seq_length``).
        document_column: The column holding the documents.
        span_columns: The character span columns.
        **kwargs: :class:`SentenceTransformerDataCollator` fields (``preprocess_fn=model.preprocess``, prompts).

    Raises:
        ValueError: In ``__call__``, for a span outside its document or one that truncation removes entirely.
    """

    tokenizer: Any = None
    max_seq_length: int | None = None
    document_column: str = "document"
    span_columns: tuple[str, str] = ("span_start", "span_end")

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: D102
        if self.tokenizer is None:
            raise ValueError("SpanPoolingDataCollator needs `tokenizer` (e.g. model.tokenizer).")
        start_column, end_column = self.span_columns
        spans = [(int(row[start_column]), int(row[end_column])) for row in features]
        rows = [{k: v for k, v in row.items() if k not in self.span_columns} for row in features]
        batch = super().__call__(rows)
        prompt = self._get_prompt_for_column(self._resolve_prompts(batch), self.document_column) or ""
        documents = [row[self.document_column] for row in rows]
        labels = []
        for document, (start, end) in zip(documents, spans, strict=True):
            if not 0 <= start < end <= len(document):
                raise ValueError(
                    f"`{start_column}`/`{end_column}` ({start}, {end}) is outside a document of {len(document)} "
                    f"characters starting {document[:40]!r}."
                )
            encoding = self.tokenizer(
                prompt + document,
                return_offsets_mapping=True,
                truncation=True,
                max_length=self.max_seq_length,
            )
            offsets = [tuple(o) if o[1] > o[0] else (-1, -1) for o in encoding["offset_mapping"]]
            first, last = fast_char_to_token_spans(
                [(s, e) if s >= 0 else (0, 0) for s, e in offsets], [(start + len(prompt), end + len(prompt))]
            )[0]
            # special tokens have (0, 0) offsets: a span starting at character 0 must not include [CLS]
            while first < last and offsets[first][0] < 0:
                first += 1
            while last > first and offsets[last - 1][0] < 0:
                last -= 1
            if first >= last:
                raise ValueError(
                    f"span ({start}, {end}) of a document starting {document[:40]!r} has no token within "
                    f"max_seq_length={self.max_seq_length}."
                )
            labels.append((first, last))
        batch["label"] = torch.tensor(labels, dtype=torch.long)
        return batch
