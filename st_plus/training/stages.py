"""The pipeline's stages: MLM pre-training (stage 0), contrastive pre-training + filtering (1), multi-task (2).

Each function takes the recipe's stage settings and a model, trains through the stock ``SentenceTransformerTrainer``
(or transformers' ``Trainer`` for MLM) with atomic checkpoints under ``folder``, and returns the trained model and
what the run record keeps (steps, seconds, datasets, statistics).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, concatenate_datasets
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from st_plus.training.checkpoints import CheckpointCommitCallback, last_complete_checkpoint
from st_plus.training.recipe import ContrastiveStage, DataSpec, MlmStage, MultitaskStage, TaskSpec

logger = logging.getLogger(__name__)


def training_arguments(
    folder: Path, *, batch_size: int, epochs: float, max_steps: int | None, learning_rate: float,
    warmup_ratio: float, save_steps: int, seed: int, bf16: bool, **extra: Any,
) -> SentenceTransformerTrainingArguments:  # fmt: skip
    """The arguments every stage shares: checkpoints every ``save_steps`` (2 kept), logs every 5 steps."""
    return SentenceTransformerTrainingArguments(
        output_dir=str(folder),
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps or -1,
        learning_rate=learning_rate,
        warmup_steps=warmup_ratio,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        logging_steps=5,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,
        **extra,
    )


def _trainer(
    stage: ContrastiveStage | MultitaskStage, model: SentenceTransformer, folder: Path, dataset: Any, loss: Any, *,
    seed: int, bf16: bool, callbacks: list[Any], **extra: Any,
) -> SentenceTransformerTrainer:  # fmt: skip
    """A stage's trainer: its schedule settings, and the checkpoint commit after every other callback."""
    args = training_arguments(
        folder, batch_size=stage.batch_size, epochs=stage.epochs, max_steps=stage.max_steps,
        learning_rate=stage.learning_rate, warmup_ratio=stage.warmup_ratio, save_steps=stage.save_steps, seed=seed,
        bf16=bf16, **extra,
    )  # fmt: skip
    return SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[*callbacks, CheckpointCommitCallback()]
    )


def train(trainer: SentenceTransformerTrainer, folder: Path, resume: bool) -> dict[str, Any]:
    """Runs ``trainer`` (from the last complete checkpoint when resuming); returns steps and seconds."""
    checkpoint = last_complete_checkpoint(folder) if resume else None
    if checkpoint is not None:
        logger.info("Resuming from %s", checkpoint)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    return {"steps": trainer.state.global_step, "seconds": round(time.perf_counter() - start, 1)}


def freeze_unused(model: SentenceTransformer) -> None:
    """BERT's pooler never feeds a sentence embedding: freezing it keeps DDP from waiting for its gradients."""
    for name, parameter in model.named_parameters():
        if ".pooler." in name:
            parameter.requires_grad_(False)


def sample_rows(rows: Dataset, n: int | None, seed: int) -> Dataset:
    """``n`` rows drawn with ``random.Random(seed)`` (file order kept), or all of them."""
    if n is None or n >= len(rows):
        return rows
    return rows.select(sorted(random.Random(seed).sample(range(len(rows)), n)))


def read_pairs(specs: list[DataSpec], seed: int, *, with_source: bool = False) -> Dataset:
    """(anchor, positive) rows of several files, each sampled to its ``rows``.

    The group column becomes ``group``; with ``with_source``, ``source_file`` holds each row's file index. A
    text-only file with ``unsupervised`` gives (text, positive) pairs (:func:`st_plus.augment.unsupervised_pairs`).
    """
    from st_plus.augment import unsupervised_pairs
    from st_plus.data import load_training_rows

    parts = []
    for spec in specs:
        keep = [spec.group_column] if spec.group_column else []
        if spec.unsupervised is not None:
            rows = unsupervised_pairs(spec.path, spec.unsupervised, seed=seed, keep_columns=keep)
        else:
            rows = load_training_rows(spec.path, keep_columns=keep)
        if not {"anchor", "positive"} <= set(rows.column_names):
            raise ValueError(f"{spec.path}: stage-1 data needs anchor/positive rows, got columns {rows.column_names}")
        rows = sample_rows(rows, spec.rows, seed)
        groups = rows[spec.group_column] if spec.group_column else [None] * len(rows)
        rows = rows.select_columns(["anchor", "positive"]).add_column("group", [None if g is None else str(g)
                                                                               for g in groups])  # fmt: skip
        if with_source:
            rows = rows.add_column("source_file", [len(parts)] * len(rows))
        parts.append(rows)
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------------------------- stage 0: MLM


def run_mlm(stage: MlmStage, *, seed: int, max_seq_length: int | None) -> tuple[SentenceTransformer, dict[str, Any]]:
    """Trains a WordPiece tokenizer and pre-trains a NomicBERT-style MLM; returns the encoder as an ST model."""
    from st_plus.models import encoder_from_mlm, pretrain_mlm, read_texts, train_wordpiece_tokenizer

    start = time.perf_counter()
    texts = read_texts(stage.data, limit=stage.max_texts, seed=seed)
    tokenizer = train_wordpiece_tokenizer(texts, vocab_size=stage.vocab_size, lowercase=stage.lowercase)
    mlm, losses = pretrain_mlm(
        tokenizer, texts, stage.preset, mask_rate=stage.mask_rate, max_steps=stage.max_steps,
        max_minutes=1e9, seed=seed, max_seq_length=stage.max_seq_length, batch_size=stage.batch_size,
        learning_rate=stage.learning_rate, group_by_length=stage.group_by_length,
    )  # fmt: skip
    model = encoder_from_mlm(mlm, tokenizer, max_seq_length=max_seq_length or stage.max_seq_length)
    info = {
        "kind": "mlm", "steps": len(losses) and stage.max_steps, "batch_size": stage.batch_size,
        "seconds": round(time.perf_counter() - start, 1), "losses": ["NomicBertForMaskedLM"],
        "datasets": [{"name": Path(p).name, "path": p} for p in stage.data],
        "extra": {"texts": len(texts), "preset": stage.preset, "vocab_size": len(tokenizer),
                  "mlm_losses_at_step_1_then_every_10": [round(x, 4) for x in losses]},
    }  # fmt: skip
    return model, info


def _dataset_entry(spec: DataSpec, rows: int, task_type: str) -> dict[str, Any]:
    path = Path(spec.path)
    try:  # the card shows where the data came from without this machine's folders
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = path.name
    entry = {"name": spec.name or path.name, "path": shown, "rows": rows, "task_type": task_type}
    if spec.license:
        entry["license"] = spec.license
    return entry


# --------------------------------------------------------------------------------------- stage 1: contrastive


def run_contrastive(
    stage: ContrastiveStage, model: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    callbacks: list[Any] = (),
) -> tuple[SentenceTransformer, Dataset, dict[str, Any]]:  # fmt: skip
    """InfoNCE with in-batch negatives (cached for large batches), group-aware batches; returns model and pairs."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    from st_plus.mining import GroupAwareBatchSampler

    pairs = read_pairs(stage.data, seed, with_source=True)
    train_rows = pairs.select_columns(["anchor", "positive"])
    if stage.mini_batch_size:
        loss = CachedMultipleNegativesRankingLoss(
            model, scale=stage.scale, mini_batch_size=stage.mini_batch_size,
            gather_across_devices=stage.gather_across_devices,
        )  # fmt: skip
    else:
        gather = stage.gather_across_devices
        loss = MultipleNegativesRankingLoss(model, scale=stage.scale, gather_across_devices=gather)
    extra: dict[str, Any] = {"batch_sampler": GroupAwareBatchSampler.configure(pairs["group"])}
    if stage.prompts:
        extra["prompts"] = {c: stage.prompts[r] for c, r in (("anchor", "query"), ("positive", "document"))
                            if r in stage.prompts}  # fmt: skip
    trainer = _trainer(stage, model, folder, train_rows, loss, seed=seed, bf16=bf16, callbacks=callbacks, **extra)
    counts = [sum(1 for s in pairs["source_file"] if s == i) for i in range(len(stage.data))]
    pairs = pairs.remove_columns("source_file")
    datasets = [_dataset_entry(d, n, "Retrieval") for d, n in zip(stage.data, counts, strict=True)]
    info = {
        "kind": "contrastive",
        "batch_size": stage.batch_size,
        "losses": [type(loss).__name__],
        "datasets": datasets,
    }
    info.update(train(trainer, folder, resume))
    info["log_history"] = trainer.state.log_history
    return model, pairs, info


def filter_pairs(stage: ContrastiveStage, model: SentenceTransformer, pairs: Dataset) -> tuple[Dataset, Any]:
    """Consistency filtering of the stage-1 pairs with the stage-1 model (rows of one group do not compete)."""
    from st_plus.mining import consistency_filter

    result = consistency_filter(pairs, model, top_k=stage.filter.top_k, min_score=stage.filter.min_score)
    return result.dataset, result


# ---------------------------------------------------------------------------------------- stage 2: multi-task


def _task_rows(task: TaskSpec, stage1_pairs: Dataset | None, seed: int) -> tuple[Dataset, str | None]:
    """The task's rows and its group column name (``None`` when it has none)."""
    from st_plus.data import load_labelled_texts, load_training_rows
    from st_plus.training.multitask import _LABEL_LIKE, _task_type

    if task.data == "stage1":
        return sample_rows(stage1_pairs, task.rows, seed), "group"
    spec: DataSpec = task.data
    if _task_type(task.type) in _LABEL_LIKE:
        rows = load_labelled_texts(spec.path)
    else:
        rows = load_training_rows(spec.path, keep_columns=[spec.group_column] if spec.group_column else [])
    return sample_rows(rows, spec.rows, seed), spec.group_column


def run_multitask(
    stage: MultitaskStage, model: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    stage1_pairs: Dataset | None = None, callbacks: list[Any] = (),
) -> tuple[SentenceTransformer, dict[str, Any]]:  # fmt: skip
    """Builds every task (mining hard negatives where asked), then trains the multi-task recipe."""
    from st_plus.mining import DynamicNegatives, DynamicNegativesCallback, DynamicNegativesConfig, mine_hard_negatives
    from st_plus.models.recovery import read_texts
    from st_plus.training import TrainingTask, build_multitask
    from st_plus.training.multitask import _task_type

    tasks, extra_callbacks, datasets_info, mining_info = [], [], [], {}
    dynamic: DynamicNegativesCallback | None = None
    for task in stage.tasks:
        rows, group = _task_rows(task, stage1_pairs, seed)
        spec = DataSpec(path="stage1 (filtered)", name=task.name) if task.data == "stage1" else task.data
        datasets_info.append(_dataset_entry(spec, len(rows), _task_type(task.type)))
        neg = task.negatives
        if neg is not None:
            start = time.perf_counter()
            mined = mine_hard_negatives(
                rows, model, corpus=read_texts(neg.corpus) if neg.corpus else None, method=neg.method,
                range_min=neg.range_min, range_max=neg.range_max, num_negatives=neg.num_negatives,
                group_column=group, output_scores=True, too_few="pad", seed=seed,
                candidate_depth=neg.range_max + 6 * neg.num_negatives if neg.dynamic else None,
            )  # fmt: skip
            mining_info[task.name] = {**_plain(mined.stats), "seconds": round(time.perf_counter() - start, 1)}
            if neg.dynamic:
                negatives = DynamicNegatives(mined)
                config = DynamicNegativesConfig(refresh_steps=neg.refresh_steps, reindex_steps=neg.reindex_steps)
                dynamic = DynamicNegativesCallback(negatives, model, config)
                extra_callbacks.append(dynamic)
                rows = negatives.dataset()
            else:
                keep = [c for c in mined.dataset.column_names if c == "anchor" or c == "positive"
                        or (c.startswith("negative_") and not c.endswith("_score"))]  # fmt: skip
                rows = mined.dataset.select_columns(keep)
        elif group is not None and group in rows.column_names:
            rows = rows.remove_columns(group)
        tasks.append(TrainingTask(task.name, task.type, rows, prompts=task.prompts, weight=task.weight,
                                  batch_size=task.batch_size))  # fmt: skip
    setup = build_multitask(
        model, tasks, scale=stage.scale, consent_scale=stage.consent_scale,
        gather_across_devices=stage.gather_across_devices, mini_batch_size=stage.mini_batch_size,
        matryoshka_dims=stage.matryoshka_dims, strategy=stage.strategy, temperature=stage.temperature,
        cross_task=stage.cross_task, seed=seed,
    )  # fmt: skip
    extra = setup.training_args(stage.batch_size)
    extra.pop("per_device_train_batch_size")
    trainer = _trainer(
        stage, model, folder, setup.train_dataset, setup.loss, seed=seed, bf16=bf16,
        callbacks=[*callbacks, *extra_callbacks], **extra,
    )  # fmt: skip
    info: dict[str, Any] = {
        "kind": "multitask", "datasets": datasets_info, "batch_size": stage.batch_size, "mining": mining_info,
        "losses": sorted({name for loss in setup.loss.values() for name in _loss_names(loss)}),
    }  # fmt: skip
    info.update(train(trainer, folder, resume))
    info["log_history"] = trainer.state.log_history
    if dynamic is not None:
        info["dynamic_negatives"] = dynamic.summary()
    return model, info


def _loss_names(loss: torch.nn.Module) -> list[str]:
    """The class names of a loss and of the losses it wraps (``MatryoshkaLoss`` -> ``ConsentLoss``, ...)."""
    inner = getattr(loss, "loss", None) or getattr(loss, "base_loss", None)
    return [type(loss).__name__, *(_loss_names(inner) if isinstance(inner, torch.nn.Module) else [])]


def _plain(value: Any) -> Any:
    """JSON-friendly copy of mining statistics."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
