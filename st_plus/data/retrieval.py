"""Reader for BEIR-layout retrieval folders: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/{split}.tsv``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from st_plus.data._errors import DataValidationError, IssueCollector
from st_plus.data._jsonl import find_data_file, open_text
from st_plus.data._schema import Field, check_id, check_optional_text, check_text, read_records

Qrels = dict[str, dict[str, int]]


@dataclass
class RetrievalData:
    """A retrieval split.

    Attributes:
        corpus: Columns ``_id``, ``title``, ``text``.
        queries: Columns ``_id``, ``text``.
        qrels: ``{query_id: {doc_id: relevance}}``.
    """

    corpus: Dataset
    queries: Dataset
    qrels: Qrels


def _read_id_table(path: Path, fields: list[Field], issues: IssueCollector) -> tuple[dict[str, dict], dict[str, int]]:
    rows: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    for line_number, record in read_records(path, fields, issues):
        key = str(record["_id"])
        if key in rows:
            issues.add(line_number, "_id", f"duplicate id {key!r} (first on line {first_line[key]})")
            continue
        record["_id"] = key
        rows[key] = record
        first_line[key] = line_number
    if not rows and not issues:
        issues.add(None, None, "no rows")
    return rows, first_line


def read_qrels(path: str | Path, issues: IssueCollector) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """Reads a qrels TSV (``query-id  corpus-id  score``, header optional).

    Returns:
        The qrels and, for each (query, document) pair, the line it was read from.
    """
    path = Path(path)
    qrels: Qrels = {}
    lines: dict[tuple[str, str], int] = {}
    try:
        _read_qrels_lines(path, issues, qrels, lines)
    except UnicodeDecodeError as exc:
        issues.add(None, None, f"not UTF-8 text ({exc})")
    return qrels, lines


def _read_qrels_lines(path: Path, issues: IssueCollector, qrels: Qrels, lines: dict[tuple[str, str], int]) -> None:
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            parts = raw.rstrip("\r\n").split("\t")
            if line_number == 1 and parts[0].strip().lower() in {"query-id", "query_id", "qid"}:
                continue
            if len(parts) != 3:
                message = f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}"
                issues.add(line_number, None, message)
                continue
            query_id, doc_id, score_text = (part.strip() for part in parts)
            if not query_id:
                issues.add(line_number, "query-id", "empty id")
                continue
            if not doc_id:
                issues.add(line_number, "corpus-id", "empty id")
                continue
            try:
                score = int(score_text)
            except ValueError:
                issues.add(line_number, "score", f"expected an integer relevance, got {score_text!r}")
                continue
            if (query_id, doc_id) in lines:
                issues.add(line_number, "corpus-id", f"duplicate judgement, first on line {lines[(query_id, doc_id)]}")
                continue
            lines[(query_id, doc_id)] = line_number
            qrels.setdefault(query_id, {})[doc_id] = score


def load_retrieval(folder: str | Path, *, split: str = "test") -> RetrievalData:
    """Reads a BEIR retrieval folder and checks that the qrels only name known ids.

    Args:
        folder: Folder with ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and ``qrels/{split}.tsv``.
        split: The qrels split to read.

    Raises:
        FileNotFoundError: When a required file is missing.
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    folder = Path(folder)
    corpus_path = find_data_file(folder, "corpus")
    queries_path = find_data_file(folder, "queries")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for name, found in (("corpus.jsonl[.gz]", corpus_path), ("queries.jsonl[.gz]", queries_path)):
        if found is None:
            raise FileNotFoundError(f"{folder}: missing {name} (BEIR layout expected)")
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{folder}: missing qrels/{split}.tsv (available splits: {available or 'none'})")

    corpus_issues, queries_issues, qrels_issues = (IssueCollector(p) for p in (corpus_path, queries_path, qrels_path))
    corpus, corpus_lines = _read_id_table(
        corpus_path,
        [
            Field("_id", check_id),
            Field("title", check_optional_text, required=False),
            Field("text", check_optional_text),
        ],
        corpus_issues,
    )
    for doc_id, record in corpus.items():
        if not (record.get("title") or "").strip() and not (record.get("text") or "").strip():
            corpus_issues.add(corpus_lines[doc_id], "text", f"document {doc_id!r} has neither title nor text")
    queries, _ = _read_id_table(queries_path, [Field("_id", check_id), Field("text", check_text)], queries_issues)
    qrels, qrel_lines = read_qrels(qrels_path, qrels_issues)
    if not qrels and not qrels_issues:
        qrels_issues.add(None, None, "no judgements")
    if corpus and queries:
        for (query_id, doc_id), line_number in qrel_lines.items():
            if query_id not in queries:
                qrels_issues.add(line_number, "query-id", f"query id {query_id!r} is not in {queries_path.name}")
            if doc_id not in corpus:
                qrels_issues.add(line_number, "corpus-id", f"corpus id {doc_id!r} is not in {corpus_path.name}")

    all_issues = IssueCollector(folder)
    for collector in (corpus_issues, queries_issues, qrels_issues):
        all_issues.extend(collector)
    if all_issues:
        raise DataValidationError(all_issues.issues, all_issues.total)
    return RetrievalData(
        corpus=Dataset.from_dict(
            {
                "_id": list(corpus),
                "title": [r.get("title") or "" for r in corpus.values()],
                "text": [r.get("text") or "" for r in corpus.values()],
            }
        ),
        queries=Dataset.from_dict({"_id": list(queries), "text": [r["text"] for r in queries.values()]}),
        qrels=qrels,
    )


def judged_subset(data: RetrievalData, max_docs: int | None = None) -> RetrievalData:
    """The documents the split judges (the first ``max_docs`` of them) and the queries answered by those alone.

    A quick, smaller evaluation of a long-document corpus (``st-plus eval --max-docs``, the late-chunking
    benchmark): documents no query of the split judges are dropped (a corpus may pool several splits, as QMSum's
    does, and its first documents may not belong to the evaluated split); the judged ones keep their corpus
    order; a query is kept when all its relevant documents are kept.

    Args:
        data: A retrieval split (see :func:`load_retrieval`).
        max_docs: How many judged documents to keep (``None``: all of them).

    Raises:
        ValueError: ``max_docs`` below 1, or no query left (naming how many documents were kept).
    """
    if max_docs is not None and (isinstance(max_docs, bool) or not isinstance(max_docs, int) or max_docs < 1):
        raise ValueError(f"`max_docs` must be a positive integer or None, got {max_docs!r}.")
    judged = {doc_id for docs in data.qrels.values() for doc_id, score in docs.items() if score > 0}
    rows = [i for i, doc_id in enumerate(data.corpus["_id"]) if doc_id in judged][:max_docs]
    kept = {data.corpus[i]["_id"] for i in rows}
    qrels = {  # judgements of dropped documents with score 0 go too
        query_id: {doc_id: score for doc_id, score in docs.items() if doc_id in kept}
        for query_id, docs in data.qrels.items()
        if any(score > 0 for score in docs.values()) and all(d in kept for d, s in docs.items() if s > 0)
    }
    if not qrels:
        raise ValueError(
            f"None of the judged queries has all its relevant documents among the first {len(kept)} judged "
            f"documents; raise `max_docs` (got {max_docs})."
        )
    query_rows = [i for i, query_id in enumerate(data.queries["_id"]) if query_id in qrels]
    return RetrievalData(corpus=data.corpus.select(rows), queries=data.queries.select(query_rows), qrels=qrels)
