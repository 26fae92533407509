"""Encoding shared by evaluation, mining and chunking: prompt resolution, precision, and an embedding cache.

Each distinct ``(prompt, text)`` is encoded once by :class:`EmbeddingCache` and reused across tasks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Role = Literal["query", "document", "text"]
_DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


def resolve_prompt(model: SentenceTransformer, role: Role, prompts: dict[str, str] | None = None) -> str:
    """The prompt text for a role, as MTEB picks it for a sentence-transformers model.

    An explicit ``prompts[role]`` wins. Otherwise queries use the model's ``"query"`` prompt (as
    ``encode_query``), documents its ``"document"`` / ``"passage"`` / ``"corpus"`` prompt (as
    ``encode_document``), and symmetric texts the model's ``default_prompt_name`` prompt (as ``encode``).
    """
    if prompts and role in prompts:
        return prompts[role]
    model_prompts = getattr(model, "prompts", None) or {}
    if role == "query":
        return model_prompts.get("query") or ""
    if role == "document":
        for name in _DOCUMENT_PROMPT_NAMES:
            if name in model_prompts:
                return model_prompts[name] or ""
        return ""
    default_name = getattr(model, "default_prompt_name", None)
    return model_prompts.get(default_name, "") if default_name else ""


def truncate_and_renormalize(embeddings: np.ndarray, dim: int) -> np.ndarray:
    """Keeps the first ``dim`` dimensions and renormalises each row to unit length (Matryoshka evaluation)."""
    if not 0 < dim <= embeddings.shape[1]:
        raise ValueError(f"`truncate_dims` entries must be in [1, {embeddings.shape[1]}], got {dim}.")
    truncated = embeddings[:, :dim]
    norms = np.linalg.norm(truncated, axis=1, keepdims=True)
    return (truncated / np.clip(norms, 1e-12, None)).astype(np.float32)


def check_encoding_options(batch_size: int, dtype: str) -> None:
    """Validates the options shared by st_plus's encoders: a positive batch size and a known precision."""
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"`dtype` must be 'float32' or 'bfloat16', got {dtype!r}.")


def autocast_for(model: SentenceTransformer, dtype: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on the model's device for ``dtype="bfloat16"``, else a no-op context."""
    if dtype == "bfloat16":
        return torch.autocast(device_type=torch.device(model.device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class EmbeddingCache:
    """Encodes texts for one model, each distinct ``(prompt, text)`` once.

    Sharing one cache across several evaluators (as :func:`~st_plus.evaluation.evaluate_suite` does) means a
    text that several tasks use is encoded a single time.

    Args:
        model: The model to encode with.
        batch_size: Encoding batch size.
        show_progress_bar: Show a progress bar per encoding call (default: when logging is at INFO or lower).
        dtype: ``"float32"`` (exact, MTEB-comparable) or ``"bfloat16"`` (CPU/GPU autocast; faster on CPUs with
            AMX / AVX512-BF16, scores differ slightly from float32).
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        dtype: Literal["float32", "bfloat16"] = "float32",
    ) -> None:
        check_encoding_options(batch_size, dtype)
        self.model = model
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.dtype = dtype
        self._store: dict[tuple[str, str], np.ndarray] = {}
        self.texts_requested = 0
        self.texts_encoded = 0

    def __len__(self) -> int:
        return len(self._store)

    def encode(
        self, texts: Sequence[str], *, role: Role = "text", prompts: dict[str, str] | None = None
    ) -> np.ndarray:
        """Returns float32 embeddings ``(len(texts), dim)`` in input order, encoding only unseen texts."""
        prompt = resolve_prompt(self.model, role, prompts)
        self.texts_requested += len(texts)
        missing = list(dict.fromkeys(text for text in texts if (prompt, text) not in self._store))
        if missing:
            self.texts_encoded += len(missing)
            embeddings = self._encode(missing, prompt)
            for text, embedding in zip(missing, embeddings, strict=False):
                self._store[(prompt, text)] = embedding
        if not texts:
            dim = self.model.get_embedding_dimension() or 0
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._store[(prompt, text)] for text in texts])

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        with torch.inference_mode(), autocast_for(self.model, self.dtype):
            embeddings = self.model.encode(
                texts,
                prompt=prompt,  # "" disables the model's default prompt: the prompt is already resolved
                batch_size=self.batch_size,
                show_progress_bar=self.show_progress_bar,
                convert_to_tensor=True,
            )
        return embeddings.float().cpu().numpy()
