"""EDA (Wei & Zou, 2019): synonym replacement, random insertion, random swap and random deletion."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from st_plus.augment.base import TextAugmenter
from st_plus.augment.words import join_words, split_words

__all__ = ["EdaAugmenter", "load_synonyms"]

logger = logging.getLogger(__name__)
_CILIN_CODE_ENDS = ("=", "#", "@")


def load_synonyms(path: str | Path) -> dict[str, list[str]]:
    """A synonym dictionary from a file.

    Two formats: a JSON object ``{"word": ["synonym", ...]}``, or text with one group of mutual synonyms per line,
    separated by spaces, tabs or commas. A leading Cilin code (``Aa01A01=``, as in the Chinese HIT-Cilin thesaurus)
    is skipped.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: ``FILE:LINE: ...`` for a malformed entry.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}:1: expected a JSON object {{word: [synonyms]}}, got {type(data).__name__}")
        out: dict[str, list[str]] = {}
        for word, synonyms in data.items():
            if not isinstance(synonyms, list) or not all(isinstance(s, str) and s.strip() for s in synonyms):
                raise ValueError(f"{path}: entry {word!r}: expected a list of non-empty strings")
            out[word] = [s for s in synonyms if s != word]
        return out
    groups: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.replace(",", " ").replace("，", " ").split()
        if words and words[0].endswith(_CILIN_CODE_ENDS):
            if words[0].endswith("@"):  # Cilin: "@" marks a word with no synonym
                continue
            words = words[1:]
        if len(words) == 1:
            raise ValueError(f"{path}:{number}: a synonym group needs at least two words, got {words[0]!r}")
        for word in words:
            groups.setdefault(word, []).extend(w for w in words if w != word and w not in groups.get(word, []))
    return groups


@dataclass
class EdaAugmenter(TextAugmenter):
    """Easy Data Augmentation: each augmented text applies one of four edits, chosen at random.

    With ``n`` words, ``k = max(1, int(alpha * n))``:

    * synonym replacement (``alpha_sr``): ``k`` words that have a synonym are replaced by a random synonym;
    * random insertion (``alpha_ri``): ``k`` times, a synonym of a random word is inserted at a random position;
    * random swap (``alpha_rs``): ``k`` times, two random words trade places;
    * random deletion (``p_rd``): each word is deleted with probability ``p_rd`` (at least one word stays).

    Synonyms come from ``synonyms`` (a user-given dictionary, see :func:`load_synonyms`; EDA used WordNet, which
    st_plus does not ship). Without one, or when no word of a text is in it, synonym replacement and insertion are
    unavailable and the edit is a swap or a deletion. An edit whose setting is 0 is never chosen. Chinese texts are
    split into words with jieba. Dictionary lookups try the word, then its lower-case form.

    Args:
        alpha_sr: Share of words replaced by synonyms (EDA: 0.1).
        alpha_ri: Share of words inserted (EDA: 0.1).
        alpha_rs: Share of words swapped (EDA: 0.1).
        p_rd: Probability of deleting each word (EDA: 0.1).
        synonyms: ``{word: [synonym, ...]}``.

    References:
        Wei and Zou, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text Classification Tasks",
        EMNLP 2019. https://arxiv.org/abs/1901.11196

    Example:
        ::

            from st_plus.augment import EdaAugmenter

            eda = EdaAugmenter(synonyms={"tool": ["utility", "program"]})
            eda.augment(["a small tool to list files"], seed=1)
    """

    name: ClassVar[str] = "eda"
    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    p_rd: float = 0.1
    synonyms: Mapping[str, Sequence[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"`{name}` must be in [0, 1), got {value}.")
        if not (self.alpha_sr or self.alpha_ri or self.alpha_rs or self.p_rd):
            raise ValueError("At least one of alpha_sr, alpha_ri, alpha_rs, p_rd must be > 0.")
        if self.synonyms is not None and not isinstance(self.synonyms, Mapping):
            raise ValueError(f"`synonyms` must be a mapping word -> [synonyms], got {type(self.synonyms).__name__}.")
        if self.synonyms is None and not (self.alpha_rs or self.p_rd):
            raise ValueError("Without `synonyms` only swaps and deletions are possible: set alpha_rs or p_rd > 0.")

    def _synonyms_of(self, word: str) -> list[str]:
        if not self.synonyms:
            return []
        core = word.rstrip()
        found = self.synonyms.get(core) or self.synonyms.get(core.lower()) or ()
        tail = word[len(core) :]  # a Chinese word's trailing space (see split_words)
        return [s + tail for s in found if s != core]

    def augment_text(self, text: str, rng: random.Random) -> str:  # noqa: D102
        words = split_words(text)
        if not words:
            return text
        with_synonyms = [i for i, w in enumerate(words) if self._synonyms_of(w)]
        available = {"sr": self.alpha_sr and with_synonyms, "ri": self.alpha_ri and with_synonyms,
                     "rs": self.alpha_rs and len(words) > 1, "rd": self.p_rd and len(words) > 1}  # fmt: skip
        edits = [name for name, on in available.items() if on]
        if not edits:
            return text
        edit = rng.choice(edits)
        if edit == "rd":
            kept = [w for w in words if rng.random() >= self.p_rd]
            return join_words(kept or [rng.choice(words)])
        k = max(1, int({"sr": self.alpha_sr, "ri": self.alpha_ri, "rs": self.alpha_rs}[edit] * len(words)))
        words = list(words)
        if edit == "sr":
            for i in rng.sample(with_synonyms, min(k, len(with_synonyms))):
                words[i] = rng.choice(self._synonyms_of(words[i]))
        elif edit == "ri":
            for _ in range(k):
                source = words[rng.choice(with_synonyms)]
                words.insert(rng.randrange(len(words) + 1), rng.choice(self._synonyms_of(source)))
                with_synonyms = [i for i, w in enumerate(words) if self._synonyms_of(w)]
        else:
            for _ in range(k):
                i, j = rng.sample(range(len(words)), 2)
                words[i], words[j] = words[j], words[i]
        return join_words(words)
