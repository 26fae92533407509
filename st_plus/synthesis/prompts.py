"""Chat prompts for synthesised training data, conditioned on a row's positive and negative documents.

English and Chinese templates; the language is the data's own (:func:`~st_plus.synthesis.detect_language`).
Every prompt asks for JSON (``{"texts": [...]}``), and :func:`~st_plus.synthesis.parse_texts` also accepts plain
text, so models that ignore the format still count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KINDS", "RowContext", "build_messages", "translation_messages"]

KINDS = ("positives", "hard_negatives", "queries")
MAX_DOCUMENT_CHARS = 2000
_LANGUAGE_NAMES = {"en": {"en": "English", "zh": "Chinese"}, "zh": {"en": "英文", "zh": "中文"}}

_SYSTEM = {
    "en": 'You write training data for a text embedding model. Reply with JSON only: {"texts": ["...", ...]}.',
    "zh": '你为文本向量模型编写训练数据。只用 JSON 回答：{"texts": ["...", ...]}。',
}
_TASKS = {
    ("positives", "en"): "Write {n} new passages that answer the query as fully as the relevant passage does, in "
    "your own words and in English. Each must differ in wording from the passages above and must not resemble the "
    "irrelevant passages.",
    ("positives", "zh"): "请用中文、用自己的话写 {n} 段新的文字，像相关段落一样完整地回答查询。"
    "每段的措辞都要与上面的段落不同，也不能与不相关的段落相似。",
    ("paraphrases", "en"): "Write {n} paraphrases of the text in English: the same meaning, different wording.",
    ("paraphrases", "zh"): "请用中文写出这段文字的 {n} 个改写：意思相同，措辞不同。",
    ("hard_negatives", "en"): "Write {n} passages in English on the same topic and in the same style as the relevant "
    "passage that look relevant to the query but do NOT answer it: a reader looking for the answer must not find it "
    "in them. Each must differ from every passage above.",
    ("hard_negatives", "zh"): "请用中文写 {n} 段与相关段落主题相同、风格相同的文字：它们看起来与查询相关，"
    "但不能回答查询——寻找答案的读者在其中找不到答案。每段都要与上面的段落不同。",
    ("queries", "en"): "Write {n} different search queries in English, as a user would type them, that the document "
    "answers and the other documents do not answer.",
    ("queries", "zh"): "请用中文写 {n} 个不同的搜索查询（像用户输入的那样），要求该文档能回答，而其他文档不能回答。",
}
_LABELS = {
    "en": {"query": "Query", "positive": "Relevant passage", "negatives": "Irrelevant passages", "text": "Text",
           "document": "Document", "others": "Other documents"},
    "zh": {"query": "查询", "positive": "相关段落", "negatives": "不相关的段落", "text": "文字",
           "document": "文档", "others": "其他文档"},
}  # fmt: skip


@dataclass(frozen=True)
class RowContext:
    """What a prompt is conditioned on.

    Attributes:
        positive: The positive document (or the text of a text-only row).
        anchor: The query / anchor (``None`` for a text-only row).
        negatives: The row's negative documents.
        language: ``"en"`` or ``"zh"``.
    """

    positive: str
    anchor: str | None = None
    negatives: Sequence[str] = ()
    language: str = "en"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DOCUMENT_CHARS else text[:MAX_DOCUMENT_CHARS] + " ..."


def build_messages(kind: str, row: RowContext, num: int) -> list[dict[str, str]]:
    """The chat messages asking for ``num`` synthesised texts of ``kind`` for one row.

    Args:
        kind: ``positives``, ``hard_negatives`` or ``queries``.
        row: The row's texts and language.
        num: How many texts to ask for.

    Raises:
        ValueError: An unknown ``kind`` or ``language``, or ``hard_negatives`` without an anchor.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    if row.language not in _SYSTEM:
        raise ValueError(f"`language` must be 'en' or 'zh', got {row.language!r}.")
    if kind == "hard_negatives" and row.anchor is None:
        raise ValueError("hard negatives need a query: rows with `anchor` and `positive`.")
    labels, parts = _LABELS[row.language], []
    if kind == "queries":
        parts.append(f"{labels['document']}:\n{_clip(row.positive)}")
        if row.negatives:
            parts.append(f"{labels['others']}:\n" + "\n".join(f"- {_clip(n)}" for n in row.negatives))
    elif row.anchor is None:  # a text-only row: positives are paraphrases
        kind = "paraphrases"
        parts.append(f"{labels['text']}:\n{_clip(row.positive)}")
    else:
        parts.append(f"{labels['query']}: {row.anchor}")
        parts.append(f"{labels['positive']}:\n{_clip(row.positive)}")
        if row.negatives:
            parts.append(f"{labels['negatives']}:\n" + "\n".join(f"- {_clip(n)}" for n in row.negatives))
    parts.append(_TASKS[(kind, row.language)].format(n=num))
    return [{"role": "system", "content": _SYSTEM[row.language]}, {"role": "user", "content": "\n\n".join(parts)}]


def translation_messages(text: str, *, source: str, target: str) -> list[dict[str, str]]:
    """Messages asking for a translation of ``text`` from ``source`` into ``target`` (language codes)."""
    names = _LANGUAGE_NAMES["zh" if source == "zh" else "en"]
    target_name = names.get(target, target)
    if source == "zh":
        instruction = f"把下面的文字翻译成{target_name}。只回答译文，不要解释。"
    else:
        instruction = f"Translate the following text into {target_name}. Reply with the translation only."
    return [{"role": "user", "content": f"{instruction}\n\n{text}"}]
