"""Reading a recipe's data files, and checking all of them before any work starts.

``st-plus train`` (and ``--check``) reads every data file a recipe names with the readers training uses, so a row
without ``positive`` or a misspelled ``negatve`` column fails in seconds with ``FILE:LINE: field`` lines instead of
after the evaluation of the starting model, or not at all.
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from st_plus.data import (
    MAX_REPORTED_ISSUES,
    DataIssue,
    DataValidationError,
    load_grouped_texts,
    load_labelled_texts,
    load_retrieval,
    load_training_rows,
)
from st_plus.data.texts import load_texts
from st_plus.data.turn_spans import load_turn_spans
from st_plus.models import read_texts
from st_plus.training.multitask import _LABEL_LIKE, _PRESERVE, TrainingTask, _check_columns, _task_type
from st_plus.training.recipe import DataSpec, Recipe

__all__ = ["RecipeDataError", "base_column", "check_recipe_data", "read_rows"]

_STAGE1 = "stage-1 pairs"


class RecipeDataError(DataValidationError):
    """Problems in the data files a recipe names (at most 20 shown, each ``FILE:LINE: field: message``)."""


def read_rows(spec: DataSpec, task_type: str | None = None) -> Dataset:
    """The rows of one data entry, read as training reads them.

    Args:
        spec: The recipe's data entry. Without ``columns``, a column that is neither the file layout's nor
            ``group_column`` is an error naming it; with ``columns``, only those columns (and ``group_column``)
            are kept.
        task_type: The stage-2 task type, or ``None`` for stage-1 (anchor, positive) pairs.

    Raises:
        DataValidationError: Problems with file, line and field.
    """
    if task_type is not None and _task_type(task_type) in _LABEL_LIKE:
        return load_labelled_texts(spec.path)
    keep = [spec.group_column] if spec.group_column else []
    rows = load_training_rows(spec.path, keep_columns=keep, unknown_columns="drop" if spec.columns else "error")
    if spec.columns:
        wanted = set(spec.columns) | set(keep)
        chosen = [c for c in rows.column_names if c in wanted or base_column(c) in wanted]
        missing = sorted(wanted - {base_column(c) for c in chosen} - set(chosen))
        if missing:
            raise DataValidationError([DataIssue(spec.path, None, missing[0], "column named in `columns` not found "
                                                 f"(the file gives {rows.column_names})")])  # fmt: skip
        rows = rows.select_columns(chosen)
    return rows


def base_column(column: str) -> str:
    """``negative_3`` -> ``negative``, ``doc_2`` -> ``docs`` (the file's key of a spread-out column)."""
    stem, _, index = column.rpartition("_")
    if index.isdigit():
        return {"negative": "negative", "doc": "docs"}.get(stem, column)
    return column


def check_recipe_data(recipe: Recipe) -> None:
    """Reads every data file of ``recipe`` and checks its rows fit where the recipe uses them.

    Raises:
        RecipeDataError: The first 20 problems over all files, each ``FILE:LINE: field: message``.
    """
    issues: list[DataIssue] = []
    total = 0

    def add(problems: list[DataIssue], count: int) -> None:
        nonlocal total
        issues.extend(problems[: MAX_REPORTED_ISSUES - len(issues)])
        total += count

    def check(spec: DataSpec, task_type: str | None, name: str) -> None:
        if spec.unsupervised is not None:  # a text-only file (stage 1): its texts become the pairs
            try:
                load_texts(spec.path, keep_columns=[spec.group_column] if spec.group_column else [])
            except DataValidationError as exc:
                add(exc.issues, exc.total)
            return
        try:
            rows = read_rows(spec, task_type)
        except DataValidationError as exc:
            add(exc.issues, exc.total)
            return
        kind = "Retrieval" if task_type is None else _task_type(task_type)
        columns = [c for c in rows.column_names if c != spec.group_column]
        if spec.augment is not None:
            absent = [c for c in spec.augment.columns if c not in {base_column(x) for x in columns} | set(columns)]
            if absent:
                add([DataIssue(spec.path, None, absent[0], f"`augment.columns` names a column the rows do not "
                               f"have (they have {columns})")], 1)  # fmt: skip
                return
        try:
            if task_type is None and not {"anchor", "positive"} <= set(columns):
                raise ValueError(f"stage 1 needs (anchor, positive) rows, got columns {columns}")
            if len(rows):
                _check_columns(TrainingTask(name, kind, rows.select_columns(columns)))
        except ValueError as exc:
            add([DataIssue(spec.path, None, None, str(exc))], 1)

    stages = recipe.stages
    if stages.mlm is not None:
        _check_texts(stages.mlm.data, add)
    if stages.contrastive is not None:
        for spec in stages.contrastive.data:
            check(spec, None, _STAGE1)
    if stages.multitask is not None:
        for task in stages.multitask.tasks:
            if task.data != "stage1" and _task_type(task.type) in _PRESERVE:
                _check_texts([task.data.path], add, task.data.columns)
            elif task.data != "stage1":
                check(task.data, task.type, task.name)
            if task.negatives is not None and task.negatives.corpus:
                _check_texts(task.negatives.corpus, add, task.negatives.corpus_fields)
                if task.negatives.corpus_group_field is not None:
                    _check_grouped_texts(task.negatives.corpus, add, task.negatives.corpus_fields,
                                         task.negatives.corpus_group_field)  # fmt: skip
    if stages.long_context is not None:
        _check_long_documents(stages.long_context.data, stages.long_context.split, add)
    if total:
        raise RecipeDataError(issues, total)


def _check_long_documents(folder: str, split: str, add) -> None:
    """The long_context stage's retrieval folder and gold spans, with the readers its rows are made by."""
    try:
        data = load_retrieval(folder, split=split)
        gold = load_turn_spans(Path(folder) / "spans.jsonl")
    except DataValidationError as exc:
        add(exc.issues, exc.total)
        return
    except (OSError, ValueError) as exc:
        add([DataIssue(str(folder), None, None, str(exc))], 1)
        return
    documents = {row["_id"] for row in data.corpus}
    queries = {row["_id"] for row in data.queries}
    usable = any(d in documents and gold.spans.get(q, {}).get(d)
                 for q, docs in data.qrels.items() if q in queries for d in docs)  # fmt: skip
    if not usable:  # the rows are (query, judged document, gold span) triples: none means nothing to train on
        qrels = Path(folder) / "qrels" / f"{split}.tsv"
        message = (f"no judged (query, document) pair of split {split!r} has gold spans in spans.jsonl, a query "
                   f"text and a corpus document: nothing to train on")  # fmt: skip
        add([DataIssue(str(qrels), None, None, message)], 1)


def _check_grouped_texts(paths: list[str], add, fields: list[str], group_field: str) -> None:
    for path in paths:
        try:
            load_grouped_texts(path, fields, group_field)
        except DataValidationError as exc:
            add(exc.issues, exc.total)
        except (ValueError, OSError) as exc:
            add([DataIssue(str(Path(path)), None, None, str(exc))], 1)


def _check_texts(paths: list[str], add, fields: list[str] | None = None) -> None:
    for path in paths:
        try:
            read_texts([path], fields=fields)
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            add([DataIssue(str(Path(path)), None, None, str(exc))], 1)
