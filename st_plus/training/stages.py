"""The pipeline's stages: MLM pre-training (stage 0), contrastive pre-training + filtering (1), multi-task (2).

Each function takes the recipe's stage settings and a model, trains through the stock ``SentenceTransformerTrainer``
(or transformers' ``Trainer`` for MLM) with atomic checkpoints under ``folder``, and returns the trained model and
what the run record keeps (steps, seconds, datasets, statistics).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, concatenate_datasets
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)

from st_plus.augment import unsupervised_pairs, with_augmented_copies
from st_plus.data import load_grouped_texts
from st_plus.mining import (
    CorpusEmbeddingStore,
    DynamicNegatives,
    DynamicNegativesCallback,
    DynamicNegativesConfig,
    consistency_filter,
    mine_hybrid_negatives,
)
from st_plus.models import (
    WallClockCallback,
    attention_dropout,
    continue_mlm,
    encoder_from_mlm,
    extend_vocabulary,
    load_model,
    pretrain_mlm,
    read_texts,
    train_wordpiece_tokenizer,
)
from st_plus.samplers import GroupAwareBatchSampler, token_lengths
from st_plus.training.checkpoints import CheckpointCommitCallback, last_complete_checkpoint
from st_plus.training.multitask import TrainingTask, _task_type, build_multitask
from st_plus.training.preserve import preserve_dataset
from st_plus.training.recipe import ContrastiveStage, DataSpec, MiningDtype, MlmStage, MultitaskStage, TaskSpec
from st_plus.training.recipe_data import base_column, read_rows
from st_plus.training.task_losses import TaskLossCallback

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


def build_trainer(
    stage: Any, model: SentenceTransformer, folder: Path, dataset: Any, loss: Any, *, seed: int, bf16: bool,
    callbacks: list[Any] = (), data_collator: Any = None, **extra: Any,
) -> SentenceTransformerTrainer:  # fmt: skip
    """A stage's trainer: its schedule settings, and the checkpoint commit after every other callback.

    With a ``max_minutes`` setting (distillation, long context) the learning rate decays linearly in time.

    It reaches 0 when the budget ends, however many steps fit, after a warm-up of ``warmup_ratio`` of the steps the
    epochs would take.
    """
    callbacks = list(callbacks)
    if getattr(stage, "max_minutes", None):
        steps = stage.max_steps or int(stage.epochs * len(dataset) / stage.batch_size)
        extra["lr_scheduler_type"] = "constant"
        callbacks.append(WallClockCallback(stage.max_minutes * 60, peak_lr=stage.learning_rate,
                                           warmup_steps=max(1, int(stage.warmup_ratio * steps))))  # fmt: skip
    args = training_arguments(
        folder, batch_size=stage.batch_size, epochs=stage.epochs, max_steps=stage.max_steps,
        learning_rate=stage.learning_rate, warmup_ratio=stage.warmup_ratio, save_steps=stage.save_steps, seed=seed,
        bf16=bf16, **extra,
    )  # fmt: skip
    return SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, data_collator=data_collator,
        callbacks=[*callbacks, CheckpointCommitCallback()],
    )  # fmt: skip


def train(
    trainer: SentenceTransformerTrainer, folder: Path, resume: bool, *, attention_p: float | None = None
) -> dict[str, Any]:
    """Runs ``trainer`` (from the last complete checkpoint when resuming); returns steps and seconds.

    ``attention_p`` (a stage's ``attention_dropout``) sets the model's attention-probability dropout for the run.
    """
    checkpoint = last_complete_checkpoint(folder) if resume else None
    if checkpoint is not None:
        logger.info("Resuming from %s", checkpoint)
    start = time.perf_counter()
    with attention_dropout(trainer.model, attention_p):
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    info: dict[str, Any] = {"steps": trainer.state.global_step, "seconds": round(time.perf_counter() - start, 1)}
    if attention_p is not None:
        info["extra"] = {"attention_dropout": attention_p}
    return info


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


def augment_copies(rows: Dataset, spec: DataSpec, seed: int) -> tuple[Dataset, str | None]:
    """The rows with ``spec.augment``'s augmented copies added, and the group column tying them together.

    Without ``augment``: the rows unchanged and ``spec.group_column``.
    """
    aug = spec.augment
    if aug is None:
        return rows, spec.group_column
    opts = {"synonyms": aug.synonyms} if aug.synonyms else {}
    columns = [c for c in rows.column_names if c in aug.columns or base_column(c) in aug.columns]  # negative_1...
    before = len(rows)
    rows, group = with_augmented_copies(
        rows, method=aug.method, seed=seed, num=aug.num, columns=columns, group_column=spec.group_column, **opts
    )
    logger.info("%s: %d augmented copies (%s) added to %d rows", spec.path, len(rows) - before, aug.method, before)
    return rows, group


def read_pairs(specs: list[DataSpec], seed: int, *, with_source: bool = False) -> Dataset:
    """(anchor, positive) rows of several files, each sampled to its ``rows``.

    The group column becomes ``group``; with ``with_source``, ``source_file`` holds each row's file index. A
    text-only file with ``unsupervised`` gives (text, positive) pairs (:func:`st_plus.augment.unsupervised_pairs`).
    """
    parts = []
    for spec in specs:
        if spec.unsupervised is not None:
            keep = [spec.group_column] if spec.group_column else []
            rows = unsupervised_pairs(spec.path, spec.unsupervised, seed=seed, keep_columns=keep)
        else:
            rows = read_rows(spec)
        if not {"anchor", "positive"} <= set(rows.column_names):
            raise ValueError(f"{spec.path}: stage-1 data needs anchor/positive rows, got columns {rows.column_names}")
        rows = sample_rows(rows, spec.rows, seed)
        rows, group_column = augment_copies(rows, spec, seed)
        groups = rows[group_column] if group_column else [None] * len(rows)
        rows = rows.select_columns(["anchor", "positive"]).add_column("group", [None if g is None else str(g)
                                                                               for g in groups])  # fmt: skip
        if with_source:
            rows = rows.add_column("source_file", [len(parts)] * len(rows))
        parts.append(rows)
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------------------------- stage 0: MLM


def run_mlm(
    stage: MlmStage, *, seed: int, max_seq_length: int | None, base: SentenceTransformer | None = None,
    bf16: bool = False,
) -> tuple[SentenceTransformer, dict[str, Any]]:
    """Pre-trains a new NomicBERT-style encoder (``base`` None), or continues MLM training of ``base``.

    Without a base: trains a WordPiece tokenizer and pre-trains a NomicBERT-style MLM; returns the encoder as an ST
    model. With one: extends its vocabulary when ``stage.extend_vocab`` is set, then :func:`continue_mlm` in place.
    """
    start = time.perf_counter()
    texts = read_texts(stage.data, limit=stage.max_texts, seed=seed)
    if base is not None:
        return _continue_mlm(stage, base, texts, seed=seed, bf16=bf16, start=start)
    tokenizer = train_wordpiece_tokenizer(texts, vocab_size=stage.vocab_size, lowercase=stage.lowercase)
    mlm = pretrain_mlm(
        tokenizer, texts, stage.preset, mask_rate=stage.mask_rate, max_steps=stage.max_steps,
        max_minutes=None, seed=seed, max_seq_length=stage.max_seq_length, batch_size=stage.batch_size,
        learning_rate=stage.learning_rate, group_by_length=stage.group_by_length,
    )  # fmt: skip
    model = encoder_from_mlm(mlm.model, tokenizer, max_seq_length=max_seq_length or stage.max_seq_length)
    info = {
        "kind": "mlm", "steps": mlm.steps, "batch_size": stage.batch_size,
        "seconds": round(time.perf_counter() - start, 1), "losses": ["NomicBertForMaskedLM"],
        "datasets": [{"name": Path(p).name, "path": p} for p in stage.data],
        "extra": {"texts": len(texts), "preset": stage.preset, "vocab_size": len(tokenizer),
                  "mlm_losses_at_step_1_then_every_10": [round(x, 4) for x in mlm.losses]},
    }  # fmt: skip
    return model, info


def _continue_mlm(
    stage: MlmStage, model: SentenceTransformer, texts: list[str], *, seed: int, bf16: bool, start: float
) -> tuple[SentenceTransformer, dict[str, Any]]:
    extension = None
    if stage.extend_vocab:
        extension = extend_vocabulary(model, texts, min_count=stage.vocab_min_count, init=stage.vocab_init, seed=seed)
    mlm = continue_mlm(
        model, texts, new_token_ids=extension.new_token_ids if extension else (),
        new_rows_steps=stage.new_rows_steps if extension and extension.added else 0, steps=stage.max_steps,
        batch_size=stage.batch_size, learning_rate=stage.learning_rate,
        new_rows_learning_rate=stage.new_rows_learning_rate, mask_rate=stage.mask_rate,
        max_seq_length=stage.max_seq_length, seed=seed, bf16=bf16,
    )  # fmt: skip
    info = {
        "kind": "mlm", "steps": mlm.new_rows_steps + mlm.steps, "batch_size": stage.batch_size,
        "seconds": round(time.perf_counter() - start, 1), "losses": ["continued masked LM"],
        "datasets": [{"name": Path(p).name, "path": p} for p in stage.data],
        "extra": {"texts": len(texts), "vocabulary": extension.summary() if extension else None,
                  "new_rows_steps": mlm.new_rows_steps, "new_rows_losses_every_10": mlm.new_rows_losses,
                  "mlm_losses_every_10": mlm.losses},
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


def _stage1_spec(name: str, stage1_data: Sequence[DataSpec], filtered: bool = False) -> DataSpec:
    """The card entry of a ``data: stage1`` task: stage 1's licences (distinct, in order; none when one is unknown)."""
    licences = [spec.license for spec in stage1_data]
    known = None if not licences or None in licences else "; ".join(dict.fromkeys(licences))
    return DataSpec(path="stage1 (filtered)" if filtered else "stage1", name=name, license=known)


# --------------------------------------------------------------------------------------- stage 1: contrastive


def run_contrastive(
    stage: ContrastiveStage, model: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    callbacks: list[Any] = (),
) -> tuple[SentenceTransformer, Dataset, dict[str, Any]]:  # fmt: skip
    """InfoNCE with in-batch negatives (cached for large batches), group-aware batches; returns model and pairs."""
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
    lengths = token_lengths(train_rows, model.tokenizer, model.max_seq_length) if stage.length_grouped else None
    sampler = GroupAwareBatchSampler.configure(pairs["group"], length_grouped=stage.length_grouped, lengths=lengths)
    extra: dict[str, Any] = {"batch_sampler": sampler}
    if stage.prompts:
        extra["prompts"] = {c: stage.prompts[r] for c, r in (("anchor", "query"), ("positive", "document"))
                            if r in stage.prompts}  # fmt: skip
    trainer = build_trainer(stage, model, folder, train_rows, loss, seed=seed, bf16=bf16, callbacks=callbacks, **extra)
    counts = [sum(1 for s in pairs["source_file"] if s == i) for i in range(len(stage.data))]
    pairs = pairs.remove_columns("source_file")
    datasets = [_dataset_entry(d, n, "Retrieval") for d, n in zip(stage.data, counts, strict=True)]
    info = {
        "kind": "contrastive",
        "batch_size": stage.batch_size,
        "losses": [type(loss).__name__],
        "citations": loss_citations([loss]),
        "datasets": datasets,
    }
    info.update(train(trainer, folder, resume, attention_p=stage.attention_dropout))
    info["log_history"] = trainer.state.log_history
    return model, pairs, info


def mining_store(dtype: MiningDtype) -> CorpusEmbeddingStore:
    """The embedding store of a stage's filtering and mining (``"bfloat16"``: token-budget batches on bf16 weights)."""
    return CorpusEmbeddingStore(dtype=dtype)


def filter_pairs(
    stage: ContrastiveStage, model: SentenceTransformer, pairs: Dataset, *, dtype: MiningDtype = "float32"
) -> tuple[Dataset, Any]:
    """Consistency filtering of the stage-1 pairs with the stage-1 model (rows of one group do not compete)."""
    result = consistency_filter(
        pairs, model, top_k=stage.filter.top_k, min_score=stage.filter.min_score, group_column="group",
        store=mining_store(dtype),
    )  # fmt: skip
    return result.dataset, result


# ---------------------------------------------------------------------------------------- stage 2: multi-task


def _task_rows(task: TaskSpec, stage1_pairs: Dataset | None, seed: int) -> tuple[Dataset, str | None]:
    """The task's rows and its group column name (``None`` when it has none)."""
    if task.data == "stage1":
        return sample_rows(stage1_pairs, task.rows, seed), "group"
    spec: DataSpec = task.data
    return augment_copies(sample_rows(read_rows(spec, task.type), spec.rows, seed), spec, seed)


def _corpus(neg: Any) -> tuple[list[str] | None, list[str] | None]:
    """A task's extra mining documents (``negatives.corpus``, the chosen fields) and their groups (or ``None``)."""
    if not neg.corpus:
        return None, None
    if neg.corpus_group_field is None:
        return read_texts(neg.corpus, fields=neg.corpus_fields), None
    texts, groups = [], []
    for path in neg.corpus:
        more, keys = load_grouped_texts(path, neg.corpus_fields, neg.corpus_group_field)  # fields: required
        texts += more
        groups += keys
    return texts, groups


def run_multitask(
    stage: MultitaskStage, model: SentenceTransformer, folder: Path, *, seed: int, bf16: bool, resume: bool,
    stage1_pairs: Dataset | None = None, callbacks: list[Any] = (), mining_dtype: MiningDtype | None = None,
    start_model: str | Path | None = None, stage1_data: Sequence[DataSpec] = (), stage1_filtered: bool = False,
) -> tuple[SentenceTransformer, dict[str, Any]]:  # fmt: skip
    """Builds every task (mining hard negatives where asked), then trains the multi-task recipe.

    ``mining_dtype``: how hard negatives are mined and dynamic negatives refreshed (``None``: ``"bfloat16"`` when
    ``bf16``, else ``"float32"``; see :func:`mining_store`). ``start_model``: the model whose embeddings the
    ``preserve`` tasks keep (the recipe's ``model.base``; needed only when there is one). ``stage1_data``: stage 1's
    data, whose licences the ``data: stage1`` tasks' card entries carry; ``stage1_filtered``: whether those pairs went
    through the consistency filter (the card says "filtered" only then).
    """
    mining_dtype = mining_dtype or ("bfloat16" if bf16 else "float32")
    tasks, datasets_info, mining_info, preserve_info = [], [], {}, {}
    preserve_rows = _preserve_rows(stage, model, start_model, seed, preserve_info)
    dynamic: dict[str, DynamicNegativesCallback] = {}  # by task: each task's state, files and summary
    # one dynamic task keeps the plain file and log names (runs resume from their checkpoints as before)
    several_dynamic = sum(1 for t in stage.tasks if t.negatives is not None and t.negatives.dynamic) > 1
    for task in stage.tasks:
        if task.name in preserve_rows:
            rows, group = preserve_rows[task.name], None
        else:
            rows, group = _task_rows(task, stage1_pairs, seed)
        if len(rows) == 0:  # caught here, with the task's name, rather than by the miner or an empty sampler
            why = " (the consistency filter kept none of the stage-1 pairs)" if task.data == "stage1" else ""
            raise ValueError(f"Task {task.name!r} has no rows to train on{why}.")
        spec = _stage1_spec(task.name, stage1_data, stage1_filtered) if task.data == "stage1" else task.data
        datasets_info.append(_dataset_entry(spec, len(rows), _task_type(task.type)))
        neg = task.negatives
        if neg is not None:
            start = time.perf_counter()
            corpus, corpus_groups = _corpus(neg)
            mined = mine_hybrid_negatives(
                rows, model, corpus=corpus, corpus_groups=corpus_groups, method=neg.method,
                range_min=neg.range_min, range_max=neg.range_max, num_negatives=neg.num_negatives,
                group_column=group, group_negatives=neg.group_negatives, output_scores=True, too_few="pad", seed=seed,
                candidate_depth=neg.range_max + 6 * neg.num_negatives if neg.dynamic else None,
                store=mining_store(mining_dtype),
            )  # fmt: skip
            mining_info[task.name] = {**_plain(mined.stats), "seconds": round(time.perf_counter() - start, 1)}
            if len(mined.dataset) == 0:  # the trainer would fail later on an empty sampler, less clearly
                reasons = sorted({d["reason"] for d in mined.dropped})
                raise ValueError(
                    f"Task {task.name!r}: hard-negative mining kept none of its {len(rows):,} rows "
                    f"({'; '.join(reasons)}): the false-negative guard (known positives, same-group documents, "
                    "documents scoring at least 0.95x the positive) left too few documents for any row. Lower "
                    "`negatives.num_negatives`, or add documents the model can tell from the positives to "
                    "`negatives.corpus`."
                )  # fmt: skip
            if neg.dynamic:
                negatives = DynamicNegatives(mined)
                config = DynamicNegativesConfig(refresh_steps=neg.refresh_steps, reindex_steps=neg.reindex_steps)
                name = task.name if several_dynamic else None
                dynamic[task.name] = DynamicNegativesCallback(negatives, model, config, name=name, dtype=mining_dtype)
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
        cross_task=stage.cross_task, length_grouped=stage.length_grouped, label_negatives=stage.label_negatives,
        seed=seed,
    )  # fmt: skip
    extra = setup.training_args(stage.batch_size)
    extra.pop("per_device_train_batch_size")
    trainer = build_trainer(
        stage, model, folder, setup.train_dataset, setup.loss, seed=seed, bf16=bf16,
        callbacks=[TaskLossCallback(setup.loss), *callbacks, *dynamic.values()], **extra,
    )  # fmt: skip
    info: dict[str, Any] = {
        "kind": "multitask", "datasets": datasets_info, "batch_size": stage.batch_size, "mining": mining_info,
        "losses": sorted({name for loss in setup.loss.values() for name in _loss_names(loss)}),
        "citations": loss_citations(list(setup.loss.values())),
    }  # fmt: skip
    info.update(train(trainer, folder, resume, attention_p=stage.attention_dropout))
    info["log_history"] = trainer.state.log_history
    if dynamic:
        info["dynamic_negatives"] = {name: callback.summary() for name, callback in dynamic.items()}
    if preserve_info:  # the record's free-form part (texts, start model, seconds per task)
        info.setdefault("extra", {})["preserve"] = preserve_info
    return model, info


def _preserve_rows(
    stage: MultitaskStage, model: SentenceTransformer, start_model: str | Path | None, seed: int,
    info: dict[str, Any],
) -> dict[str, Dataset]:  # fmt: skip
    """Each ``preserve`` task's ``text, label`` rows (the start model loaded once for all); fills ``info``."""
    wanted = [t for t in stage.tasks if _task_type(t.type) == "Preserve"]
    if not wanted:
        return {}
    if start_model is None:
        raise ValueError("A `preserve` task needs the start model (the recipe's `model.base`).")
    start = load_model(start_model)
    rows = {}
    for task in wanted:
        spec: DataSpec = task.data
        rows[task.name], info[task.name] = preserve_dataset(
            spec.path, start_model, fields=spec.columns, rows=spec.rows, seed=seed,
            max_seq_length=model.max_seq_length, prompt=task.prompts.get("text"), start=start,
            dim=model.get_embedding_dimension(),
        )  # fmt: skip
    return rows


def _loss_parts(loss: torch.nn.Module) -> list[torch.nn.Module]:
    """A loss and the losses it wraps (``WeightedLoss`` -> ``MatryoshkaLoss`` -> ``ConsentLoss``, ...)."""
    inner = getattr(loss, "loss", None) or getattr(loss, "base_loss", None)
    return [loss, *(_loss_parts(inner) if isinstance(inner, torch.nn.Module) else [])]


def _loss_names(loss: torch.nn.Module) -> list[str]:
    """The class names of a loss and of the losses it wraps."""
    return [type(part).__name__ for part in _loss_parts(loss)]


def loss_citations(losses: list[torch.nn.Module]) -> dict[str, str]:
    """Each trained loss's ``citation`` (and its wrapped losses'), by class name, from the constructed objects.

    What sentence-transformers' card collects during training; recorded in the run record so that publishing cites
    the losses as they were configured. A wrapper that only passes its inner loss's citation on is left out.
    """
    citations: dict[str, str] = {}
    for loss in losses:
        parts = _loss_parts(loss)
        texts = []
        for part in parts:
            try:
                texts.append(part.citation)
            except Exception as exc:  # noqa: BLE001 - as sentence-transformers' card: the loss is named, not cited
                logger.warning("%s has no usable citation (%s): the card names it without one",
                               type(part).__name__, exc)  # fmt: skip
                texts.append(None)
        for part, citation, inner in zip(parts, texts, [*texts[1:], None], strict=True):
            if isinstance(citation, str) and citation.strip() and citation != inner:
                citations.setdefault(type(part).__name__, citation)
    return citations


def _plain(value: Any) -> Any:
    """JSON-friendly copy of mining statistics."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
