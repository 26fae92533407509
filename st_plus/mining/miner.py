"""Hard-negative mining: candidates from a retriever, a rank band, and a false-negative guard."""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from datasets import Dataset
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

from st_plus.mining.candidates import CandidateRanker, EncodeFn
from st_plus.mining.retrievers import CorpusEmbeddingStore, model_fingerprint

logger = logging.getLogger(__name__)

Method = Literal["dense", "bm25", "hybrid"]


@dataclass
class MiningResult:
    """What :func:`mine_hybrid_negatives` returns.

    Attributes:
        dataset: The mined rows, in the requested output format.
        dropped: Rows that could not be mined, with ``row`` (input index) and ``reason``.
        candidates: Per kept row, the guarded ranked candidate list (corpus indices, best first, at least as deep
            as the band): replacements during training come from it.
        corpus: The corpus texts the indices refer to.
        stats: Counts and timings for the summary.
        rows: Per kept row, its index in the input dataset (to carry bookkeeping columns such as a group key).
        ranker: The :class:`~st_plus.mining.candidates.CandidateRanker` that ranked the input rows (the dynamic
            sampler re-ranks with it during training).
        depth: The retrieval depth of ``candidates``.
    """

    dataset: Dataset
    dropped: list[dict[str, Any]]
    candidates: list[list[int]]
    corpus: list[str]
    stats: dict[str, Any] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    ranker: CandidateRanker | None = field(default=None, repr=False)
    depth: int = 0

    def summary(self) -> str:
        """One line: rows in/out, negatives per row, time."""
        s = self.stats
        line = (
            f"mined {s['rows_out']:,} of {s['rows_in']:,} rows ({len(self.dropped):,} dropped), "
            f"{s['negatives_per_row']} negatives per row, method {s['method']}, {s['seconds']:.1f}s"
        )
        if s.get("group_negatives"):
            line += f"; {s['group_negatives']:,} from the rows' own groups ({s['rows_with_group_negatives']:,} rows)"
        if s.get("texts_over_limit"):
            line += (
                f"; {s['texts_over_limit']:,} text(s) longer than the model's {s['token_limit']}-token limit were "
                "truncated when embedded" + (" (BM25 saw them whole)" if s["method"] != "dense" else "")
            )
        return line


def texts_over_limit(model: SentenceTransformer | None, texts: Sequence[str]) -> tuple[int, int | None]:
    """How many ``texts`` are longer than the model's ``max_seq_length`` tokens (they get truncated when embedded).

    Returns ``(count, limit)``; ``(0, None)`` when the model has no fast tokenizer or no limit to check against.
    """
    limit = getattr(model, "max_seq_length", None)
    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if not isinstance(limit, int) or backend is None:
        return 0, None
    counter = Tokenizer.from_str(backend.to_str())  # a copy: the model's own tokenizer settings stay as they are
    counter.no_truncation()
    counter.no_padding()
    return sum(len(encoding.ids) > limit for encoding in counter.encode_batch(list(texts))), limit


def _check_arguments(
    dataset: Dataset, model: SentenceTransformer | None, *, columns: dict[str, str | None], method: str,
    range_min: int, range_max: int, num_negatives: int, sampling: str, max_positive_ratio: float | None,
    output_format: str, output_scores: bool, too_few: str,
) -> None:  # fmt: skip
    """Step 1: every argument, before anything is encoded (ValueError naming the argument and the fix)."""
    for name, column in columns.items():
        if column is not None and column not in dataset.column_names:
            raise ValueError(f"`{name}` {column!r} is not a column; columns are {dataset.column_names}.")
    if len(dataset) == 0:
        raise ValueError("The dataset is empty: nothing to mine.")
    if not 0 <= range_min < range_max:
        raise ValueError(f"Need 0 <= range_min < range_max, got range_min={range_min}, range_max={range_max}.")
    if num_negatives < 1:
        raise ValueError(f"`num_negatives` must be >= 1, got {num_negatives}.")
    if method not in ("dense", "bm25", "hybrid"):
        raise ValueError(f"`method` must be 'dense', 'bm25' or 'hybrid', got {method!r}.")
    if model is None and (method != "bm25" or max_positive_ratio is not None):
        raise ValueError(f"method={method!r} / max_positive_ratio={max_positive_ratio} need a `model`.")
    for name, value, choices in (
        ("sampling", sampling, ("random", "top")),
        ("output_format", output_format, ("n-tuple", "graded-list")),
        ("too_few", too_few, ("skip", "pad")),
    ):
        if value not in choices:
            raise ValueError(f"`{name}` must be one of {choices}, got {value!r}.")
    if max_positive_ratio is not None and not 0 < max_positive_ratio <= 1:
        raise ValueError(f"`max_positive_ratio` must be in (0, 1] or None, got {max_positive_ratio}.")
    if output_scores and output_format != "n-tuple":
        raise ValueError("`output_scores` is only available with output_format='n-tuple'.")


def _read_rows(
    dataset: Dataset, anchor_column: str, positive_column: str, group_column: str | None, corpus: Sequence[str] | None
) -> tuple[list[str], list[str], list[Any] | None]:
    """Step 2: anchors, positives and groups of the rows (texts must be non-empty strings, extra corpus too)."""
    anchors: list[str] = dataset[anchor_column]
    positives: list[str] = dataset[positive_column]
    for name, values in ((anchor_column, anchors), (positive_column, positives), ("corpus", corpus or [])):
        bad = next((i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip()), None)
        if bad is not None:
            raise ValueError(f"{name}[{bad}] must be a non-empty string, got {values[bad]!r}.")
    return anchors, positives, dataset[group_column] if group_column else None


def _encode_fn(model: SentenceTransformer | None, store: CorpusEmbeddingStore) -> EncodeFn | None:
    """Embeds texts with the model's weights as they are now (hashed once), or ``None`` without a model."""
    if model is None:
        return None
    fingerprint = model_fingerprint(model)

    def encode(batch: Sequence[str], role: str) -> Any:
        return store.encode(model, batch, role=role, fingerprint=fingerprint)

    return encode


def _choose_negatives(
    kept: list[tuple[int, int]], allowed: Callable[[int], bool], *, corpus_size: int, band_depth: int,
    range_min: int, range_max: int, num_negatives: int, sampling: str, too_few: str, rng: random.Random,
) -> tuple[list[int] | None, str | None]:  # fmt: skip
    """Step 4, one row: ``(negatives, None)``, ``(negatives, "padded")`` or ``(None, reason)`` (dropped).

    ``"padded"``: random documents completed a short band (``too_few="pad"``).

    The band is positions ``[range_min, range_max)`` of the guarded candidates among the top ``band_depth``.
    """
    band = [doc for position, doc in kept if position < band_depth][range_min:range_max]
    if len(band) >= num_negatives:
        return (band[:num_negatives] if sampling == "top" else rng.sample(band, num_negatives)), None
    if too_few == "pad":
        in_band = set(band)
        outside = [doc for doc in range(corpus_size) if doc not in in_band and allowed(doc)]
        if len(band) + len(outside) < num_negatives:
            return None, "corpus too small for padding"
        return band + rng.sample(outside, num_negatives - len(band)), "padded"
    return None, (
        f"only {len(band)} candidate(s) in ranks [{range_min}, {range_max}) after the false-negative guard, "
        f"{num_negatives} needed"
    )


def _add_row(
    rows: dict[str, list[Any]], anchor: str, positive: str, negatives: list[int], texts: list[str], *,
    output_format: str, scores: tuple[float | None, list[float]] | None,
) -> None:  # fmt: skip
    """Step 5, one row: appends it in the output format (with the positive's and negatives' scores if given)."""
    if output_format == "n-tuple":
        rows["anchor"].append(anchor)
        rows["positive"].append(positive)
        for j, doc in enumerate(negatives, start=1):
            rows[f"negative_{j}"].append(texts[doc])
        if scores is not None:
            rows["positive_score"].append(scores[0])
            for j, score in enumerate(scores[1], start=1):
                rows[f"negative_{j}_score"].append(score)
        return
    rows["query"].append(anchor)
    rows["doc_1"].append(positive)
    for j, doc in enumerate(negatives, start=2):
        rows[f"doc_{j}"].append(texts[doc])
    rows["label"].append([1.0] + [0.0] * len(negatives))


def _n_tuple_with_scores_order(num_negatives: int) -> list[str]:
    """Texts first, then their scores."""
    negatives = range(1, num_negatives + 1)
    return ["anchor", "positive", *(f"negative_{j}" for j in negatives), "positive_score",
            *(f"negative_{j}_score" for j in negatives)]  # fmt: skip


def mine_hybrid_negatives(
    dataset: Dataset,
    model: SentenceTransformer | None = None,
    *,
    corpus: Sequence[str] | None = None,
    method: Method = "hybrid",
    range_min: int = 10,
    range_max: int = 100,
    num_negatives: int = 7,
    sampling: Literal["random", "top"] = "random",
    max_positive_ratio: float | None = 0.95,
    anchor_column: str = "anchor",
    positive_column: str = "positive",
    group_column: str | None = None,
    corpus_groups: Sequence[Any] | None = None,
    group_negatives: int = 0,
    output_format: Literal["n-tuple", "graded-list"] = "n-tuple",
    output_scores: bool = False,
    too_few: Literal["skip", "pad"] = "skip",
    hybrid_weights: tuple[float, float] = (1.0, 1.0),
    chinese_tokenizer: str = "jieba",
    store: CorpusEmbeddingStore | None = None,
    candidate_depth: int | None = None,
    seed: int = 42,
) -> MiningResult:
    """Mines hard negatives "hard but not too hard", never returning a known or likely positive.

    For each row, the retriever ranks the corpus (default: every distinct positive of the dataset, plus
    ``corpus``) against the anchor. Candidates are removed when they are (1) a known positive of the anchor
    (all positives of every row with the same anchor text), (2) an exact or whitespace/case-normalised duplicate
    of one, (3) from the same group as the row (``group_column``, e.g. the Debian source package), or (4) scored
    (dense cosine) at or above ``max_positive_ratio`` x the positive's score (NV-Retriever's TopK-PercPos).
    As in sentence-transformers' ``mine_hard_negatives``, the band is positions ``[range_min, range_max)`` (0-based)
    of what the guard leaves of the top ``range_max + p`` retrieved documents (``p``: the most positives any query
    has), so with ``method="dense"``, ``sampling="top"`` and ``max_positive_ratio = 1 - relative_margin`` both
    miners return the same negatives. Negatives are the top ones of the band or a random sample.

    Args:
        dataset: Rows with ``anchor_column`` and ``positive_column`` (extra columns are ignored).
        model: Embedding model (needed for ``dense`` / ``hybrid`` and for guard 4).
        corpus: Extra candidate documents.
        method: ``"dense"``, ``"bm25"`` or ``"hybrid"`` (reciprocal-rank fusion of both).
        range_min: First usable position after the guard (skips the very hardest candidates).
        range_max: End of the band.
        num_negatives: Negatives per row.
        sampling: ``"top"`` (the first ones in the band) or ``"random"``.
        max_positive_ratio: Guard 4 threshold; ``None`` disables it.
        anchor_column: The query column.
        positive_column: The positive column.
        group_column: Rows sharing this key are never each other's negatives (but see ``group_negatives``).
        corpus_groups: Per ``corpus`` document, its group key (``None``: unknown), e.g. the Debian source of every
            pool description: guard 3 then also keeps the pool's members of a row's group out of its band.
        group_negatives: Up to this many of a row's ``num_negatives`` are other members of its group whose text
            differs from its positives and from its query (e.g. the other packages of its Debian source, which a
            title must be told from), one per distinct text, the highest dense score first, placed before the
            band's negatives. Guard 4 does not apply to them (they are labelled negatives, not unlabelled
            candidates). Needs ``group_column``.
        output_format: ``"n-tuple"`` (anchor, positive, negative_1..n) for MNRL / InfoNCE, or ``"graded-list"``
            (query, doc_1..doc_{n+1}, label = [1, 0, ...]) for :class:`~st_plus.losses.ConsentLoss`.
        output_scores: Add ``positive_score`` and ``negative_i_score`` columns (dense cosine; n-tuple only).
        too_few: When the band holds fewer than ``num_negatives`` candidates: ``"skip"`` the row (recorded in
            ``dropped``) or ``"pad"`` with random guarded corpus documents from outside the band.
        hybrid_weights: RRF weights (dense, BM25).
        chinese_tokenizer: ``"jieba"`` or ``"bigrams"`` for BM25.
        store: Embedding store reused across calls (e.g. by the dynamic sampler).
        candidate_depth: Keep each row's guarded ranking this deep in ``MiningResult.candidates`` (default: the
            band's depth), e.g. for replacements during training.
        seed: Seed of the sampling.

    Returns:
        A :class:`MiningResult`.
    """
    start = time.perf_counter()
    columns = {"anchor_column": anchor_column, "positive_column": positive_column, "group_column": group_column}
    _check_arguments(
        dataset, model, columns=columns, method=method, range_min=range_min, range_max=range_max,
        num_negatives=num_negatives, sampling=sampling, max_positive_ratio=max_positive_ratio,
        output_format=output_format, output_scores=output_scores, too_few=too_few,
    )  # fmt: skip
    if not 0 <= group_negatives <= num_negatives:
        raise ValueError(f"`group_negatives` must be in [0, num_negatives={num_negatives}], got {group_negatives}.")
    if group_negatives and group_column is None:
        raise ValueError("`group_negatives` needs `group_column` (the rows' group key).")
    if corpus_groups is not None and len(corpus_groups) != len(corpus or []):
        raise ValueError(f"`corpus_groups` has {len(corpus_groups)} keys for {len(corpus or [])} `corpus` documents.")
    anchors, positives, groups = _read_rows(dataset, anchor_column, positive_column, group_column, corpus)

    # Step 3: rank the corpus (distinct positives, then extra documents) for every anchor, behind the guard.
    # As sentence-transformers' miner: the band is taken from the top range_max + (most positives of a query)
    # retrieved documents, after the guard; `candidate_depth` keeps a deeper guarded list for later replacements.
    texts: list[str] = list(dict.fromkeys([*positives, *(corpus or [])]))
    text_groups = None
    if corpus_groups is not None:  # a text listed twice (or also a positive) keeps every group it was given
        index_of = {text: i for i, text in enumerate(texts)}
        text_groups = [set() for _ in texts]
        for text, group in zip(corpus, corpus_groups, strict=True):
            if group is not None:
                text_groups[index_of[text]].add(group)
        row_groups = set(groups or ())
        if not any(group in row_groups for group in corpus_groups):  # e.g. another field named, or 1 vs "1"
            example = next((g for g in corpus_groups if g is not None), None)
            logger.warning("No `corpus` document shares a group with any row (corpus groups such as %r, row groups "
                           "such as %r): check the group field and that both are read as the same type", example,
                           next(iter(row_groups), None))  # fmt: skip
    ranker = CandidateRanker(
        texts, anchors, positives, groups, corpus_groups=text_groups, method=method,
        max_positive_ratio=max_positive_ratio,
        hybrid_weights=hybrid_weights, chinese_tokenizer=chinese_tokenizer,
    )  # fmt: skip
    band_depth = range_max + ranker.max_known
    depth = min(len(texts), max(band_depth, candidate_depth or 0))
    ranking = ranker.rank(depth, _encode_fn(model, store or CorpusEmbeddingStore()), siblings=group_negatives)
    over, limit = texts_over_limit(model, [*texts, *ranker.unique_anchors]) if model is not None else (0, None)
    if over:
        logger.warning("%d text(s) are longer than the model's %d-token limit: truncated when embedded", over, limit)

    # Steps 4 and 5: each row's negatives from its band (or the reason it is dropped), then the output row.
    rng = random.Random(seed)
    rows: dict[str, list[Any]] = defaultdict(list)
    dropped: list[dict[str, Any]] = []
    kept_candidates: list[list[int]] = []
    kept_rows: list[int] = []
    padded = 0  # rows whose band held too few candidates, completed with random documents (too_few="pad")
    from_group = rows_from_group = 0  # negatives taken from the row's own group (group_negatives)
    for row, (anchor, positive) in enumerate(zip(anchors, positives, strict=True)):
        siblings = ranking.siblings[row]
        chosen, reason = _choose_negatives(
            ranking.kept[row], ranking.guards[row], corpus_size=len(texts), band_depth=band_depth,
            range_min=range_min, range_max=range_max, num_negatives=num_negatives - len(siblings),
            sampling=sampling, too_few=too_few, rng=rng,
        )  # fmt: skip
        if chosen is not None and siblings:
            chosen = siblings + chosen
            from_group += len(siblings)
            rows_from_group += 1
        if chosen is None:
            dropped.append({"row": row, anchor_column: anchor, "reason": reason})
            continue
        padded += reason == "padded"
        kept_candidates.append([doc for _, doc in ranking.kept[row]])
        kept_rows.append(row)
        scores = None
        if output_scores:
            query = ranking.query_embeddings[row]
            scores = (ranking.positive_scores[row], [float(ranking.doc_embeddings[doc] @ query) for doc in chosen])
        _add_row(rows, anchor, positive, chosen, texts, output_format=output_format, scores=scores)
    if output_scores:
        rows = {key: rows[key] for key in _n_tuple_with_scores_order(num_negatives)}
    stats = {
        "rows_in": len(dataset),
        "rows_out": len(kept_candidates),
        "negatives_per_row": num_negatives,
        "method": method,
        "corpus_size": len(texts),
        "rows_padded": padded,
        "group_negatives": from_group,
        "rows_with_group_negatives": rows_from_group,
        "texts_over_limit": over,
        "token_limit": limit,
        "seconds": time.perf_counter() - start,
    }
    if padded:
        logger.warning("%d of %d rows had fewer than %d candidates in ranks [%d, %d): padded with random corpus "
                       "documents (easy negatives; too_few='pad')", padded, len(dataset), num_negatives, range_min,
                       range_max)  # fmt: skip
    result = MiningResult(Dataset.from_dict(dict(rows)), dropped, kept_candidates, texts, stats, kept_rows,
                          ranker=ranker, depth=depth)  # fmt: skip
    logger.info(result.summary())
    return result


__all__ = ["MiningResult", "mine_hybrid_negatives"]
