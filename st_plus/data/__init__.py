"""Readers and validation for st_plus's on-disk data formats.

Every reader validates before anything is loaded into a model: a :class:`DataValidationError` lists up to 20
problems at once, each naming file, line and field.
"""

from st_plus.data._errors import MAX_REPORTED_ISSUES, DataIssue, DataValidationError, IssueCollector
from st_plus.data._jsonl import iter_jsonl
from st_plus.data.descriptor import TASK_TYPES, TaskDescriptor, normalize_task_type
from st_plus.data.grouped_texts import load_grouped_texts
from st_plus.data.labelled import load_labelled_texts
from st_plus.data.pairs import load_pair_classification, load_sts
from st_plus.data.reranking import load_reranking
from st_plus.data.retrieval import RetrievalData, judged_subset, load_retrieval
from st_plus.data.tasks import Task, load_task
from st_plus.data.training import load_training_rows
from st_plus.data.writing import write_jsonl

__all__ = [
    "MAX_REPORTED_ISSUES",
    "TASK_TYPES",
    "DataIssue",
    "DataValidationError",
    "IssueCollector",
    "RetrievalData",
    "Task",
    "TaskDescriptor",
    "iter_jsonl",
    "judged_subset",
    "load_grouped_texts",
    "load_labelled_texts",
    "load_pair_classification",
    "load_reranking",
    "load_retrieval",
    "load_sts",
    "load_task",
    "load_training_rows",
    "normalize_task_type",
    "write_jsonl",
]
