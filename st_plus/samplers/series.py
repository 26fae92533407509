"""Series keys for same-series batches: documents whose ids share a pattern's match are one series."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence


def series_keys(documents: Sequence[str], pattern: str, *, min_documents: int = 1) -> list[Hashable | None]:
    """One series key per row: the first match of ``pattern`` in the row's document id.

    A document id with no match is its own series. Series with fewer than ``min_documents`` distinct documents
    (too few to fill a batch of distinct documents) get the key ``None`` and share batches with each other.

    Args:
        documents: The document id of each row (rows of one document share it).
        pattern: A regular expression, searched in each id (``^[A-Za-z]+`` makes ``ES2002a`` series ``ES``).
        min_documents: Fewest distinct documents a series needs to keep its own key.

    Returns:
        One key per row, for :class:`~st_plus.samplers.GroupAwareBatchSampler`'s ``domains``.

    Raises:
        ValueError: A pattern that matches the empty string (its first match in an id could be empty, naming no
            series).
        re.error: An invalid pattern.
    """
    compiled = re.compile(pattern)
    if compiled.search("") is not None:
        raise ValueError(f"The series pattern {pattern!r} matches the empty string; it must match at least one "
                         "character of an id (e.g. '^[A-Za-z]+').")  # fmt: skip
    keys = []
    for document in documents:
        match = compiled.search(document)
        keys.append(match.group(0) if match else document)
    members: dict[str, set[str]] = {}
    for key, document in zip(keys, documents, strict=True):
        members.setdefault(key, set()).add(document)
    return [key if len(members[key]) >= min_documents else None for key in keys]
