"""Recovery of a converted model by embedding distillation from its source, under a wall-clock budget."""

from __future__ import annotations

import gzip
import json
import logging
import random
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MSELoss
from transformers import TrainerCallback

from st_plus.models._loading import load_model
from st_plus.samplers import LengthGroupedBatchSampler

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("anchor", "positive", "negative", "text", "sentence1", "sentence2", "query", "title")


def read_texts(
    paths: Iterable[str | Path], *, limit: int | None = None, seed: int = 0, fields: Sequence[str] | None = None
) -> list[str]:
    """Distinct texts from JSONL or plain-text files, shuffled with ``seed`` and cut to ``limit``.

    JSONL (``.jsonl`` / ``.jsonl.gz``) rows give their strings (or lists of strings) in ``fields`` (``None``:
    ``TEXT_FIELDS``; e.g. ``["positive"]`` for the documents of a pairs file); other files give one text per line.

    Raises:
        FileNotFoundError: A path that does not exist.
        ValueError: A JSONL line that is not valid JSON or not an object (file and line named), or no texts at all.
    """
    texts: dict[str, None] = {}
    fields = TEXT_FIELDS if fields is None else fields
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"Recovery text file not found: {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        is_jsonl = ".jsonl" in path.suffixes or ".json" in path.suffixes
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                line = line.strip()
                if not line:
                    continue
                if not is_jsonl:
                    texts[line] = None
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: invalid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
                for field in fields:
                    value = row.get(field)
                    for item in value if isinstance(value, list) else [value]:
                        if isinstance(item, str) and item.strip():
                            texts[item.strip()] = None
    if not texts:
        raise ValueError(f"No texts found in {list(paths)} (JSONL fields read: {list(fields)})")
    result = list(texts)
    random.Random(seed).shuffle(result)
    return result[:limit] if limit else result


class WallClockCallback(TrainerCallback):
    """Stops training after ``max_seconds`` and, with ``peak_lr``, decays the learning rate linearly in time.

    The schedule is ``peak_lr * min(1, step / warmup_steps) * (1 - elapsed / max_seconds)``: it reaches 0 when the
    budget ends however many steps fit in it (use it with ``lr_scheduler_type="constant"``). When it stops training
    it also asks for a log, so the loss of the last steps is recorded.
    """

    def __init__(self, max_seconds: float, *, peak_lr: float | None = None, warmup_steps: int = 0) -> None:
        self.max_seconds = max_seconds
        self.peak_lr = peak_lr
        self.warmup_steps = warmup_steps
        self.start = time.perf_counter()

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):  # noqa: D102 - TrainerCallback hook
        if self.peak_lr is not None and optimizer is not None:
            elapsed = time.perf_counter() - self.start
            warm = min(1.0, (state.global_step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
            for group in optimizer.param_groups:
                group["lr"] = self.peak_lr * warm * max(0.0, 1.0 - elapsed / self.max_seconds)
        return control

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102 - TrainerCallback hook
        if time.perf_counter() - self.start >= self.max_seconds:
            control.should_training_stop = True
            control.should_log = True  # the loss of the last steps, not only of the last full logging interval
        return control


def recover_by_distillation(
    student: SentenceTransformer,
    teacher: SentenceTransformer | str | Path,
    texts: Sequence[str],
    *,
    max_minutes: float = 20.0,
    batch_size: int = 64,
    learning_rate: float = 2e-4,
    max_seq_length: int = 128,
    teacher_share: float = 0.25,
    seed: int = 0,
) -> dict[str, Any]:
    """Trains ``student`` to reproduce ``teacher``'s embeddings (sentence-transformers' ``MSELoss``) on ``texts``.

    The whole budget, teacher encoding included, is ``max_minutes`` of wall-clock time: the teacher first encodes
    as many texts as about ``teacher_share`` of the budget allows (measured on a first chunk), then the student
    trains on them (at most one epoch, batches of similar length) with a learning rate decaying linearly in time to
    0 when the budget ends. The student is trained in place, at ``max_seq_length`` tokens; its own token limit is
    restored afterwards.

    Args:
        student: The model to train (e.g. from :func:`~st_plus.models.convert_bert_to_nomic`).
        teacher: The source model or its folder (``"default"``: the bundled all-MiniLM-L6-v2).
        texts: Training texts (never the evaluation splits).
        max_minutes: Wall-clock budget of the whole recovery.
        batch_size: Texts per step.
        learning_rate: Peak AdamW learning rate.
        max_seq_length: Token limit during recovery.
        teacher_share: Fraction of the budget spent on teacher embeddings.
        seed: Training seed.

    Returns:
        Statistics: ``texts`` (distilled), ``steps``, ``seconds``, ``teacher_seconds``, ``first_loss``, ``last_loss``.

    Raises:
        ValueError: A non-positive budget or no texts.
    """
    if max_minutes <= 0:
        raise ValueError(f"`max_minutes` must be > 0, got {max_minutes}.")
    if not texts:
        raise ValueError("`texts` is empty: recovery needs training text.")
    if not isinstance(teacher, SentenceTransformer):
        teacher = load_model(teacher, device="cpu")
    start = time.perf_counter()
    budget = max_minutes * 60.0
    teacher_limit, student_limit = teacher.max_seq_length, student.max_seq_length
    teacher.max_seq_length = min(teacher_limit, max_seq_length)
    chunk = list(texts[: min(len(texts), 4 * batch_size)])
    encoded = [teacher.encode(chunk, batch_size=batch_size, convert_to_numpy=True)]
    per_text = (time.perf_counter() - start) / len(chunk)
    wanted = min(len(texts), max(len(chunk), int(teacher_share * budget / max(per_text, 1e-6))))
    if wanted > len(chunk):
        rest = list(texts[len(chunk) : wanted])
        encoded.append(teacher.encode(rest, batch_size=batch_size, convert_to_numpy=True))
    teacher.max_seq_length = teacher_limit
    teacher_seconds = time.perf_counter() - start
    labels = [row.tolist() for part in encoded for row in part]
    dataset = Dataset.from_dict({"text": list(texts[: len(labels)]), "label": labels})
    logger.info("teacher encoded %d texts in %.0fs", len(labels), teacher_seconds)

    student.max_seq_length = max_seq_length
    remaining = max(budget - teacher_seconds, 1.0)
    warmup_steps = max(1, len(labels) // batch_size // 20)
    with tempfile.TemporaryDirectory(prefix="st_plus_recovery_") as output_dir:
        args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=batch_size,
            num_train_epochs=1,
            learning_rate=learning_rate,
            lr_scheduler_type="constant",
            save_strategy="no",
            logging_steps=5,
            report_to="none",
            seed=seed,
            use_cpu=str(student.device) == "cpu",
            dataloader_drop_last=True,
            batch_sampler=LengthGroupedBatchSampler,
        )
        trainer = SentenceTransformerTrainer(
            model=student,
            args=args,
            train_dataset=dataset,
            loss=MSELoss(student),
            callbacks=[WallClockCallback(remaining, peak_lr=learning_rate, warmup_steps=warmup_steps)],
        )
        trainer.train()
    student.max_seq_length = student_limit
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "texts": len(labels),
        "steps": trainer.state.global_step,
        "seconds": round(time.perf_counter() - start, 1),
        "teacher_seconds": round(teacher_seconds, 1),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }
