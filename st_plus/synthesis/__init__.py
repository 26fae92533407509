"""Training data written by an LLM through any OpenAI-compatible chat endpoint.

:func:`synthesize` asks for positives, hard negatives or queries conditioned on each row's positive and negative
documents, in the data's language; :class:`ChatClient` is the stdlib HTTP client under it (disk cache keyed by the
request, retries with backoff, a request budget; the key only from ``OPENAI_API_KEY``).
"""

from st_plus.synthesis.cache import ResponseCache, request_key
from st_plus.synthesis.client import API_KEY_ENV, BudgetExhaustedError, ChatClient, ChatError, EndpointError
from st_plus.synthesis.consistency import consistent_negatives
from st_plus.synthesis.language import cjk_ratio, detect_language
from st_plus.synthesis.parsing import normalize_for_dedup, parse_texts, usable_texts
from st_plus.synthesis.prompts import KINDS, RowContext, build_messages, translation_messages
from st_plus.synthesis.synthesize import SynthesisResult, synthesize

__all__ = [
    "API_KEY_ENV",
    "KINDS",
    "BudgetExhaustedError",
    "ChatClient",
    "ChatError",
    "EndpointError",
    "ResponseCache",
    "RowContext",
    "SynthesisResult",
    "build_messages",
    "cjk_ratio",
    "consistent_negatives",
    "detect_language",
    "normalize_for_dedup",
    "parse_texts",
    "request_key",
    "synthesize",
    "translation_messages",
    "usable_texts",
]
