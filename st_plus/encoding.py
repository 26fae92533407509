"""Encoding shared by evaluation, mining and chunking: prompt resolution, precision, and an embedding cache.

Each distinct ``(prompt, text)`` is encoded once by :class:`EmbeddingCache` and reused across tasks.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Transformer
from sentence_transformers.util import batch_to_device

from st_plus.precision import EncodingDtype, check_dtype, resolve_dtype

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
    check_dtype(dtype)


def autocast_for(model: SentenceTransformer, dtype: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on the model's device for ``dtype="bfloat16"`` (``"auto"``: where native), else a no-op."""
    if resolve_dtype(dtype, model.device) == "bfloat16":
        return torch.autocast(device_type=torch.device(model.device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


#: Texts tokenized at once by :func:`encode_by_token_budget` (bounds the memory of the padded id tensors).
_TOKENIZE_CHUNK = 4096
#: From this many texts on, bfloat16 encoding runs on a bfloat16 copy of the weights rather than under autocast.
_BF16_COPY_MIN_TEXTS = 256


def _can_slice_features(model: SentenceTransformer) -> bool:
    """Whether a padded batch of the model's features may be cut to fewer rows and shorter (right) padding."""
    first = model[0] if len(model) else None
    tokenizer = getattr(first, "tokenizer", None)
    return isinstance(first, Transformer) and getattr(tokenizer, "padding_side", "right") == "right"


def _parameter_dtype(model: torch.nn.Module) -> torch.dtype | None:
    return next((p.dtype for p in model.parameters()), None)


def encode_by_token_budget(
    model: SentenceTransformer, texts: Sequence[str], *, prompt: str = "", token_budget: int = 8192,
    max_batch_size: int = 512, dtype: EncodingDtype = "float32",
) -> torch.Tensor:  # fmt: skip
    """Sentence embeddings ``(len(texts), dim)`` in input order, batched by tokens rather than by texts.

    The texts are tokenized a chunk at a time (one tokenizer call each), sorted by their exact token count, and cut
    into batches of at most ``token_budget`` padded tokens (at most ``max_batch_size`` texts): many short texts go
    in one forward pass, long ones in small batches, and a batch pads only to its own longest text.
    sentence-transformers' ``encode`` sorts by characters and batches a fixed number of texts. Models whose first
    module is not a right-padded ``Transformer`` are encoded with ``model.encode`` (same result).

    Args:
        model: The model (evaluation mode is set).
        texts: The texts.
        prompt: Prepended to every text ("" for none; resolve it with :func:`resolve_prompt`).
        token_budget: Padded tokens per forward pass.
        max_batch_size: Texts per forward pass at most.
        dtype: ``"float32"``, ``"bfloat16"`` or ``"auto"`` (bfloat16 where the device has it natively, see
            :func:`~st_plus.precision.resolve_dtype`). bfloat16: from 256 texts on, a float32 model is copied once
            per call with bfloat16 weights (faster than autocast on CPU, which casts each weight again at every use;
            the copy holds half the model's memory), fewer texts run under autocast; embeddings are returned as
            float32.
    """
    check_encoding_options(max_batch_size, dtype)
    dtype = resolve_dtype(dtype, model.device)
    if token_budget < 1:
        raise ValueError(f"`token_budget` must be >= 1, got {token_budget}.")
    dim = model.get_embedding_dimension() or 0
    if not texts:
        return torch.zeros((0, dim))
    if not _can_slice_features(model):
        with torch.inference_mode(), autocast_for(model, dtype):
            return model.encode(list(texts), prompt=prompt, batch_size=max_batch_size, convert_to_tensor=True,
                                show_progress_bar=False).float().cpu()  # fmt: skip
    if dtype == "bfloat16" and len(texts) >= _BF16_COPY_MIN_TEXTS and _parameter_dtype(model) == torch.float32:
        # bfloat16 weights, cast once per call: autocast casts every weight again at each use (slower on CPU); the
        # copy costs ~0.1 s for a 22M-parameter model, so a few texts are encoded under autocast instead
        model, dtype = copy.deepcopy(model).to(torch.bfloat16), "float32"
    model.eval()
    by_chars = np.argsort([-len(t) for t in texts], kind="stable")  # chunks of similar length: little padding
    out = torch.empty((len(texts), dim))
    with torch.inference_mode(), autocast_for(model, dtype):
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = torch.as_tensor(by_chars[start : start + _TOKENIZE_CHUNK])
            features = model.preprocess([texts[i] for i in chunk.tolist()], prompt=prompt)
            lengths = features["attention_mask"].sum(dim=1)
            order = torch.argsort(-lengths, stable=True)
            i = 0
            while i < len(order):
                longest = int(lengths[order[i]])
                rows = order[i : i + max(1, min(max_batch_size, token_budget // max(longest, 1)))]
                batch = {
                    key: value[rows, :longest] if torch.is_tensor(value) and value.dim() == 2 else value
                    for key, value in features.items()
                }  # fmt: skip
                # [:, :dim]: a model with ``truncate_dim`` returns the full width, which encode() truncates
                embeddings = model(batch_to_device(batch, model.device))["sentence_embedding"][:, :dim]
                out[chunk[rows]] = embeddings.float().cpu()
                i += len(rows)
    return out


class EmbeddingCache:
    """Encodes texts for one model, each distinct ``(prompt, text)`` once.

    Sharing one cache across several evaluators (as :func:`~st_plus.evaluation.evaluate_suite` does) means a
    text that several tasks use is encoded a single time.

    Args:
        model: The model to encode with.
        batch_size: Encoding batch size (float32; bfloat16 batches by tokens, see :func:`encode_by_token_budget`).
        show_progress_bar: Show a progress bar per float32 encoding call (default: when logging is at INFO or lower).
        dtype: ``"float32"`` (exact, MTEB-comparable: sentence-transformers' ``encode``), ``"bfloat16"``
            (:func:`encode_by_token_budget` on bfloat16 weights; faster on CPUs with AMX / AVX512-BF16, scores
            differ slightly from float32) or ``"auto"`` (bfloat16 where the model's device has it natively, else
            float32; :func:`~st_plus.precision.resolve_dtype`). ``self.dtype`` holds the resolved precision.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        dtype: EncodingDtype = "float32",
    ) -> None:
        check_encoding_options(batch_size, dtype)
        self.model = model
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.dtype = resolve_dtype(dtype, model.device)
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
        if self.dtype == "bfloat16":  # not MTEB-exact anyway: token-budget batches on bfloat16 weights
            return encode_by_token_budget(self.model, texts, prompt=prompt, dtype="bfloat16").numpy()
        with torch.inference_mode(), autocast_for(self.model, self.dtype):
            embeddings = self.model.encode(
                texts,
                prompt=prompt,  # "" disables the model's default prompt: the prompt is already resolved
                batch_size=self.batch_size,
                show_progress_bar=self.show_progress_bar,
                convert_to_tensor=True,
            )
        return embeddings.float().cpu().numpy()
