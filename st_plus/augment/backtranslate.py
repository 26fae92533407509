"""Back-translation through an LLM: a positive that says the same thing in other words."""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

from st_plus.augment.base import AugmentFailure, TextAugmenter
from st_plus.synthesis import ChatClient, ChatError, EndpointError, detect_language, parse_texts, translation_messages
from st_plus.synthesis.parsing import normalize_for_dedup

__all__ = ["BackTranslationAugmenter"]


@dataclass
class BackTranslationAugmenter(TextAugmenter):
    """Translates each text into a pivot language and back with an OpenAI-compatible chat model.

    Two requests per text (both through the client's disk cache, so a repeated run sends none). The default pivot
    is Chinese for English texts and English for Chinese texts (detected per text). A text whose translation fails,
    comes back empty or comes back unchanged gives an :class:`~st_plus.augment.AugmentFailure` with the reason.
    Requests are deterministic (``temperature`` 0 unless the client says otherwise); ``seed`` and ``copy`` are part
    of nothing, so extra copies of a text are the same back-translation.

    Args:
        client: The chat client (:class:`st_plus.synthesis.ChatClient`).
        pivot: The pivot language code (``"zh"``, ``"en"``, ``"de"``, ...; default: see above).
        concurrency: Texts translated at once.

    References:
        Sennrich et al., "Improving Neural Machine Translation Models with Monolingual Data", ACL 2016;
        Xie et al., "Unsupervised Data Augmentation for Consistency Training", NeurIPS 2020.
    """

    name: ClassVar[str] = "backtranslate"
    client: ChatClient
    pivot: str | None = None
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.client, ChatClient):
            raise ValueError(f"`client` must be a st_plus.synthesis.ChatClient, got {type(self.client).__name__}.")
        if self.concurrency < 1:
            raise ValueError(f"`concurrency` must be >= 1, got {self.concurrency}.")

    def _translate(self, text: str, source: str, target: str) -> str:
        content = self.client.complete(translation_messages(text, source=source, target=target), temperature=0.0)
        items = parse_texts(content, 1)
        if not items or not items[0].strip():
            raise ChatError(f"empty translation into {target}")
        return items[0].strip()

    def _round_trip(self, text: str) -> str | AugmentFailure:
        source = detect_language(text)
        pivot = self.pivot or ("en" if source == "zh" else "zh")
        try:
            back = self._translate(self._translate(text, source, pivot), pivot, source)
        except EndpointError:
            raise
        except ChatError as exc:
            return AugmentFailure(f"back-translation failed: {exc}")
        if normalize_for_dedup(back) == normalize_for_dedup(text):
            return AugmentFailure("back-translation identical to the input")
        return back

    def augment_text(self, text: str, rng: random.Random) -> str:  # noqa: D102
        result = self._round_trip(text)
        if isinstance(result, AugmentFailure):
            raise ChatError(result.reason)
        return result

    def augment(self, texts: Sequence[str], *, seed: int = 42, copy: int = 0) -> list[str | AugmentFailure]:  # noqa: D102
        unique = list(dict.fromkeys(texts))
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            done = dict(zip(unique, pool.map(self._round_trip, unique), strict=True))
        return [done[text] for text in texts]
