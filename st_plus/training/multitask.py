"""The multi-task recipe: each task type gets its loss, batches stay domain-homogeneous across processes."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from datasets import Dataset, DatasetDict, Value
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss, MatryoshkaLoss
from torch import nn

from st_plus.data.descriptor import normalize_task_type
from st_plus.losses import CachedConsentLoss, ConsentLoss, InfoNCELoss, MSECosineDistillLoss, WeightedLoss
from st_plus.samplers.length_grouped import token_lengths
from st_plus.samplers.rank_synchronized import RankSynchronizedBatchSampler, Strategy

logger = logging.getLogger(__name__)

# Task type (MTEB names, plus training-only kinds) -> how its rows are trained.
_RETRIEVAL_LIKE = {"Retrieval", "Reranking", "NLI"}
_RANKING_LIKE = {"STS", "PairClassification", "Graded"}
_LABEL_LIKE = {"Classification", "Clustering"}
_PRESERVE = {"Preserve"}  # texts with the start model's embeddings: a distillation term against forgetting
_TRAINING_ONLY = {"nli": "NLI", "graded": "Graded", "graded_list": "Graded", "preserve": "Preserve"}


def _task_type(value: str) -> str:
    if value.lower() in _TRAINING_ONLY:
        return _TRAINING_ONLY[value.lower()]
    return normalize_task_type(value)


@dataclass
class TrainingTask:
    """One training dataset of the multi-task recipe.

    Args:
        name: Dataset name (key of the ``DatasetDict`` and of the loss dict).
        task_type: ``retrieval`` / ``reranking`` / ``nli`` (rows ``anchor, positive[, negative_1..n]``),
            ``sts`` / ``pair_classification`` (``sentence1, sentence2, score|label``) or ``graded`` (graded lists),
            ``classification`` / ``clustering`` (``text, label``, turned into triplets), or ``preserve``
            (``text, label`` where ``label`` is the start model's embedding of the text: keeps the model near it on
            general text). MTEB spellings work too.
        dataset: The rows (e.g. from :func:`st_plus.data.load_training_rows` or ``load_labelled_texts``).
        prompts: ``{"query": ..., "document": ...}`` (first column gets the query prompt, the others the document
            prompt) or ``{"text": ...}`` (every column).
        weight: Factor on this task's loss.
        batch_size: Per-process batch size of this task (default: the trainer's).
    """

    name: str
    task_type: str
    dataset: Dataset
    prompts: dict[str, str] = field(default_factory=dict)
    weight: float = 1.0
    batch_size: int | None = None

    def __post_init__(self) -> None:
        self.task_type = _task_type(self.task_type)
        known = _RETRIEVAL_LIKE | _RANKING_LIKE | _LABEL_LIKE | _PRESERVE
        if self.task_type not in known:
            raise ValueError(f"Task {self.name!r}: `task_type` {self.task_type!r} is not one of {sorted(known)}.")
        unknown = set(self.prompts) - {"query", "document", "text"}
        if unknown:
            raise ValueError(f"Task {self.name!r}: unknown prompt roles {sorted(unknown)}; use query/document/text.")
        if not self.weight > 0:
            raise ValueError(f"Task {self.name!r}: `weight` must be > 0, got {self.weight}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"Task {self.name!r}: `batch_size` must be >= 1, got {self.batch_size}.")


@dataclass
class MultiTaskSetup:
    """What :func:`build_multitask` returns: the trainer's dataset dict, loss dict and arguments."""

    train_dataset: DatasetDict
    loss: dict[str, nn.Module]
    prompts: dict[str, dict[str, str]]
    batch_sizes: dict[str, int | None]
    strategy: Strategy = "proportional"
    temperature: float = 1.0
    cross_task: bool = False
    length_grouped: bool = False
    lengths: list[list[int]] | None = None  # with length_grouped: each dataset's token lengths

    def training_args(self, default_batch_size: int) -> dict[str, Any]:
        """Keyword arguments for ``SentenceTransformerTrainingArguments``: sampler, prompts, accumulation.

        For cross-task steps, ``gradient_accumulation_steps`` = number of tasks (one sub-batch of each task per
        optimiser step).
        """
        sizes = [self.batch_sizes[name] or default_batch_size for name in self.train_dataset]
        args: dict[str, Any] = {
            "per_device_train_batch_size": default_batch_size,
            "multi_dataset_batch_sampler": RankSynchronizedBatchSampler.configure(
                strategy=self.strategy, temperature=self.temperature, batch_sizes=sizes, cross_task=self.cross_task,
                length_grouped=self.length_grouped, lengths=self.lengths,
            ),
        }
        if self.prompts:
            args["prompts"] = self.prompts
        if self.cross_task:
            args["gradient_accumulation_steps"] = len(self.train_dataset)
        return args


def triplets_from_labels(
    dataset: Dataset,
    *,
    num_negatives: int = 1,
    seed: int = 42,
    text_column: str = "text",
    label_column: str = "label",
    keep_labels: bool = False,
) -> Dataset:
    """Labelled texts to ``(anchor, positive, negative_1..n)`` rows: same-label positive, other-label negatives.

    Rows whose label has no other member are dropped (logged). Deterministic for a seed; ``keep_labels`` does not
    change the texts drawn.

    Args:
        keep_labels: Add a ``label`` column: per row the anchor's label then each negative's, as integers (the
            index of the label among the sorted distinct labels), for ``InfoNCELoss(mask_same_label=True)``.
    """
    if num_negatives < 1:
        raise ValueError(f"`num_negatives` must be >= 1, got {num_negatives}.")
    texts, labels = dataset[text_column], dataset[label_column]
    by_label: dict[Any, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    if len(by_label) < 2:
        raise ValueError(f"Triplets from labels need at least 2 labels, got {len(by_label)}.")
    rng = random.Random(seed)
    rows: dict[str, list[Any]] = {"anchor": [], "positive": []}
    for n in range(1, num_negatives + 1):
        rows[f"negative_{n}"] = []
    label_ids = {label: i for i, label in enumerate(sorted(by_label, key=str))}
    row_labels: list[list[int]] = []
    dropped = 0
    for index, label in enumerate(labels):
        same = by_label[label]
        if len(same) < 2:
            dropped += 1
            continue
        positive = index
        while positive == index:
            positive = rng.choice(same)
        rows["anchor"].append(texts[index])
        rows["positive"].append(texts[positive])
        ids = [label_ids[label]]
        for n in range(1, num_negatives + 1):
            negative = rng.randrange(len(labels))
            while labels[negative] == label:
                negative = rng.randrange(len(labels))
            rows[f"negative_{n}"].append(texts[negative])
            ids.append(label_ids[labels[negative]])
        row_labels.append(ids)
    if dropped:
        logger.info("triplets_from_labels: dropped %d row(s) whose label has a single text", dropped)
    if keep_labels:
        rows["label"] = row_labels
    return Dataset.from_dict(rows)


def _column_prompts(task: TrainingTask, columns: Sequence[str]) -> dict[str, str]:
    if "text" in task.prompts:
        return dict.fromkeys(columns, task.prompts["text"])
    prompts = {}
    if "query" in task.prompts:
        prompts[columns[0]] = task.prompts["query"]
    if "document" in task.prompts:
        prompts.update(dict.fromkeys(columns[1:], task.prompts["document"]))
    return prompts


def build_multitask(
    model: SentenceTransformer,
    tasks: Sequence[TrainingTask],
    *,
    scale: float = 20.0,
    consent_scale: float = 20.0,
    gather_across_devices: bool = False,
    mini_batch_size: int | None = None,
    matryoshka_dims: Sequence[int] | None = None,
    num_label_negatives: int = 1,
    label_negatives: Literal["explicit", "in_batch_masked"] = "explicit",
    strategy: Strategy = "proportional",
    temperature: float = 1.0,
    cross_task: bool = False,
    length_grouped: bool = False,
    seed: int = 42,
) -> MultiTaskSetup:
    """One call from task datasets to what ``SentenceTransformerTrainer`` takes, each task type with its loss.

    - retrieval / reranking / NLI rows -> :class:`~st_plus.losses.InfoNCELoss` (MNRL: in-batch + hard negatives);
    - STS / pair classification / graded lists -> :class:`~st_plus.losses.ConsentLoss`;
    - classification / clustering texts -> label triplets with explicit negatives only
      (``InfoNCELoss(in_batch_negatives=False)``: other rows may share the anchor's label), or with
      ``label_negatives="in_batch_masked"`` the other rows' texts too, except those of the anchor's label
      (``InfoNCELoss(mask_same_label=True)``);
    - preserve texts (``text`` and the start model's embedding in ``label``) ->
      :class:`~st_plus.losses.MSECosineDistillLoss`, never wrapped in ``MatryoshkaLoss``: keeping the whole vector
      near the start model's is the point, and it is one encoder pass per batch.

    Args:
        model: The model being trained.
        tasks: The tasks (names unique).
        scale: Inverse temperature of the InfoNCE losses.
        consent_scale: Scale of the Consent losses.
        gather_across_devices: Gather in-batch candidates across processes (needs the rank-synchronised sampler,
            which the returned :meth:`MultiTaskSetup.training_args` configures).
        mini_batch_size: Use gradient caching (``CachedConsentLoss`` / ``CachedMultipleNegativesRankingLoss``)
            with this mini-batch size, for large batches. Label triplets keep the plain ``InfoNCELoss`` without
            caching: with explicit negatives their batches need no in-batch candidates, so they can stay small;
            ``in_batch_masked`` has no cached form (give the task a smaller ``batch_size`` if memory is short).
        matryoshka_dims: Wrap every loss in ``MatryoshkaLoss`` with these dimensions.
        num_label_negatives: Negatives per triplet built from labels.
        label_negatives: The candidates of label triplets: ``"explicit"`` (each row's own negatives) or
            ``"in_batch_masked"`` (also the other rows' texts of another label than the anchor's).
        strategy: Dataset sampling (see :class:`~st_plus.training.RankSynchronizedBatchSampler`).
        temperature: Temperature of the ``"temperature"`` strategy.
        cross_task: Conan-embedding cross-task steps (a sub-batch of every task per optimiser step).
        length_grouped: Batches of rows of similar length within each task (less padding), by each row's token
            count at the model's ``max_seq_length`` (:func:`~st_plus.samplers.length_grouped.token_lengths`).
        seed: Seed of the triplet sampling.

    Returns:
        A :class:`MultiTaskSetup`; pass ``setup.train_dataset`` and ``setup.loss`` to the trainer and
        ``**setup.training_args(batch_size)`` to its arguments.
    """
    if label_negatives not in ("explicit", "in_batch_masked"):
        raise ValueError(f"`label_negatives` must be 'explicit' or 'in_batch_masked', got {label_negatives!r}.")
    names = [task.name for task in tasks]
    if not tasks or len(set(names)) != len(names):
        raise ValueError(f"`tasks` must be non-empty with unique names, got {names}.")
    for task in tasks:
        _check_columns(task)
    datasets, losses, prompts, batch_sizes = {}, {}, {}, {}
    for task in tasks:
        dataset = task.dataset
        if task.task_type in _PRESERVE:
            loss: nn.Module = MSECosineDistillLoss(model)
        elif task.task_type in _LABEL_LIKE:
            masked = label_negatives == "in_batch_masked"
            dataset = triplets_from_labels(dataset, num_negatives=num_label_negatives, seed=seed, keep_labels=masked)
            loss = InfoNCELoss(
                model, scale=scale, in_batch_negatives=masked, mask_same_label=masked,
                gather_across_devices=gather_across_devices,
            )  # fmt: skip
        elif task.task_type in _RETRIEVAL_LIKE:
            loss = _info_nce(model, scale, gather_across_devices, mini_batch_size)
        else:
            if task.task_type == "PairClassification" and "label" in dataset.column_names:
                dataset = dataset.cast_column("label", Value("float32"))
            loss = (
                CachedConsentLoss(
                    model, consent_scale, gather_across_devices=gather_across_devices, mini_batch_size=mini_batch_size
                )
                if mini_batch_size
                else ConsentLoss(model, consent_scale, gather_across_devices=gather_across_devices)
            )
        if matryoshka_dims and task.task_type not in _PRESERVE:
            loss = MatryoshkaLoss(model, loss, list(matryoshka_dims))
        if task.weight != 1.0:
            loss = WeightedLoss(loss, task.weight)
        text_columns = [c for c in dataset.column_names if c not in ("label", "score")]
        column_prompts = _column_prompts(task, text_columns)
        if column_prompts:
            prompts[task.name] = column_prompts
        datasets[task.name], losses[task.name], batch_sizes[task.name] = dataset, loss, task.batch_size
    lengths = None
    if length_grouped:
        lengths = [token_lengths(d, model.tokenizer, model.max_seq_length) for d in datasets.values()]
    return MultiTaskSetup(
        train_dataset=DatasetDict(datasets),
        loss=losses,
        prompts=prompts,
        batch_sizes=batch_sizes,
        strategy=strategy,
        temperature=temperature,
        cross_task=cross_task,
        length_grouped=length_grouped,
        lengths=lengths,
    )


def _check_columns(task: TrainingTask) -> None:
    """Fails early when a task's columns do not fit its task type (instead of training on the wrong signal)."""
    columns = task.dataset.column_names
    label = next((c for c in ("label", "score") if c in columns), None)
    texts = [c for c in columns if c not in ("label", "score")]
    if task.task_type in _PRESERVE:
        first = task.dataset[0]["label"] if "label" in columns and len(task.dataset) else None
        ok = set(columns) == {"text", "label"} and (first is None or _is_vector(first))
        want = "columns text, label (the start model's embedding of the text, a list of floats)"
    elif task.task_type in _LABEL_LIKE:
        ok, want = set(columns) == {"text", "label"}, "columns text, label"
    elif task.task_type in _RETRIEVAL_LIKE:
        ok, want = label is None and len(texts) >= 2, "(anchor, positive[, negatives...]) text columns and no label"
    elif task.task_type == "Graded":
        ok = label == "label" and len(texts) >= 2 and isinstance(task.dataset[0]["label"], list)
        want = "(query, doc_1, ..., doc_K) and a list-valued label"
    else:
        ok, want = label is not None and len(texts) == 2, "two text columns and a float score/label"
    if not ok:
        raise ValueError(f"Task {task.name!r} ({task.task_type}) needs {want}; got columns {columns}.")


def _is_vector(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(x, float) for x in value)


def _info_nce(model: SentenceTransformer, scale: float, gather: bool, mini_batch_size: int | None) -> nn.Module:
    if mini_batch_size:
        return CachedMultipleNegativesRankingLoss(
            model, scale=scale, gather_across_devices=gather, mini_batch_size=mini_batch_size
        )
    return InfoNCELoss(model, scale=scale, gather_across_devices=gather)
