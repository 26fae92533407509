"""Dynamic hard negatives: re-score and replace a row's negatives during training (Conan-embedding)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from transformers import TrainerCallback

from st_plus.mining.miner import MiningResult
from st_plus.mining.retrievers import CorpusEmbeddingStore, model_fingerprint

logger = logging.getLogger(__name__)

STATE_FILE = "dynamic_negatives.json"
ROW_COLUMN = "__st_plus_row__"
ScoreFn = Callable[[Sequence[str], Sequence[Sequence[str]]], np.ndarray]


@dataclass
class DynamicNegativesConfig:
    """Settings of the dynamic negatives (defaults: Conan-embedding's).

    Args:
        refresh_steps: Re-score the negatives of the rows trained on since the last refresh every this many steps.
        decay: Negatives are no longer hard when ``mean score x decay < initial mean score`` ...
        max_abs_score: ... and ``|mean score| < max_abs_score``.
        offset: On the i-th replacement take guarded candidates ``(i-1)*n + offset`` to ``i*n + offset``.
    """

    refresh_steps: int = 100
    decay: float = 1.15
    max_abs_score: float = 0.8
    offset: int = 10

    def __post_init__(self) -> None:
        if self.refresh_steps < 1:
            raise ValueError(f"`refresh_steps` must be >= 1, got {self.refresh_steps}.")
        if not self.decay > 0 or not self.max_abs_score > 0 or self.offset < 0:
            raise ValueError(f"`decay` and `max_abs_score` must be > 0 and `offset` >= 0, got {asdict(self)}.")


class DynamicNegatives:
    """The training rows' current negatives, which a :class:`DynamicNegativesCallback` replaces during training.

    ``dataset()`` is what the trainer trains on: its negative columns are read from this state at every access
    (``datasets`` on-the-fly transform), so replacements reach the next batches without a restart.

    Args:
        mining: A :class:`~st_plus.mining.MiningResult` in n-tuple format (mine with ``candidate_depth`` large
            enough for the replacements you want, e.g. ``offset + 5 * num_negatives``).
        initial_scores: Per row, the mean score of its negatives at mining time (default: computed with
            ``score_fn`` on the first refresh of the row).
    """

    def __init__(self, mining: MiningResult, *, initial_scores: Sequence[float] | None = None) -> None:
        columns = mining.dataset.column_names
        self.negative_columns = [c for c in columns if c.startswith("negative_") and not c.endswith("_score")]
        if "anchor" not in columns or not self.negative_columns:
            raise ValueError(f"Dynamic negatives need n-tuple rows (anchor, positive, negative_1..n), got {columns}.")
        self.corpus = mining.corpus
        index_of = {text: i for i, text in enumerate(self.corpus)}
        self.anchors: list[str] = mining.dataset["anchor"]
        self.positives: list[str] = mining.dataset["positive"]
        self.current = [[index_of[row[c]] for c in self.negative_columns] for row in mining.dataset]
        self.candidates = [list(c) for c in mining.candidates]
        self.initial: list[float | None] = list(initial_scores) if initial_scores is not None else [None] * len(self)
        self.replacements = [0] * len(self)
        self.seen: set[int] = set()
        base = mining.dataset.select_columns(["anchor", "positive", *self.negative_columns])
        # a hidden row id (read by the transform, never returned) tells duplicate rows apart
        self._base = base.add_column(ROW_COLUMN, list(range(len(base))))

    def __len__(self) -> int:
        return len(self.anchors)

    def dataset(self) -> Dataset:
        """The training dataset whose negatives follow this state."""
        dataset = self._base.select(range(len(self._base)))  # a fresh object: the transform is ours alone
        dataset.set_transform(self._transform)
        return dataset

    def _transform(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out = {key: value for key, value in batch.items() if key != ROW_COLUMN}
        if ROW_COLUMN not in batch:  # a column-wise read (e.g. dataset["anchor"]): nothing to swap
            return out
        rows = [int(row) for row in batch[ROW_COLUMN]]
        if all(column in batch for column in self.negative_columns):  # a full-row read: training
            self.seen.update(rows)
        for j, column in enumerate(self.negative_columns):
            if column in out:
                out[column] = [self.corpus[self.current[row][j]] for row in rows]
        return out

    def refresh(self, score_fn: ScoreFn, config: DynamicNegativesConfig) -> dict[str, Any]:
        """Re-scores the negatives of the rows seen since the last refresh and replaces the ones gone easy."""
        start = time.perf_counter()
        rows = sorted(_union_across_processes(self.seen))
        self.seen.clear()
        stats: dict[str, Any] = {"rows_scored": len(rows), "rows_replaced": 0}
        if not rows:
            return {**stats, "mean_negative_score": None, "seconds": time.perf_counter() - start}
        negatives = [[self.corpus[i] for i in self.current[row]] for row in rows]
        scores = np.asarray(score_fn([self.anchors[row] for row in rows], negatives), dtype=np.float64).mean(axis=1)
        n = len(self.negative_columns)
        for row, score in zip(rows, scores.tolist(), strict=True):
            if self.initial[row] is None:
                self.initial[row] = score
                continue
            if score * config.decay < self.initial[row] and abs(score) < config.max_abs_score:
                i = self.replacements[row] + 1
                window = self.candidates[row][(i - 1) * n + config.offset : i * n + config.offset]
                if len(window) == n:
                    self.current[row] = list(window)
                    self.replacements[row] = i
                    self.initial[row] = None  # re-measured at the next refresh of the row
                    stats["rows_replaced"] += 1
        stats["mean_negative_score"] = float(scores.mean())
        stats["seconds"] = time.perf_counter() - start
        return stats

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly."""
        return {"current": self.current, "initial": self.initial, "replacements": self.replacements,
                "seen": sorted(self.seen), "rows": len(self)}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`'s output."""
        if state.get("rows") != len(self):
            raise ValueError(f"Saved dynamic-negatives state has {state.get('rows')} rows, this one {len(self)}.")
        self.current = [list(map(int, r)) for r in state["current"]]
        self.initial = list(state["initial"])
        self.replacements = list(map(int, state["replacements"]))
        self.seen = set(map(int, state["seen"]))


def _union_across_processes(rows: set[int]) -> set[int]:
    """The rows that any process trained on (under torch.distributed; else ``rows``).

    All processes then score the same rows with the same (DDP-synchronised) weights and take the same decisions,
    so their negatives stay identical.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return set(rows)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, sorted(rows))
    return {int(row) for part in gathered for row in part}


def model_score_fn(model: SentenceTransformer, store: CorpusEmbeddingStore | None = None) -> ScoreFn:
    """Cosine of each query with each of its negatives, with the model's current weights."""
    store = store or CorpusEmbeddingStore(max_states=1)

    def score(queries: Sequence[str], negatives: Sequence[Sequence[str]]) -> np.ndarray:
        flat = [text for row in negatives for text in row]
        fingerprint = model_fingerprint(model)  # hash the weights once per refresh, not once per encode call
        q = store.encode(model, queries, role="query", fingerprint=fingerprint)
        d = store.encode(model, flat, role="document", fingerprint=fingerprint).reshape(len(queries), -1, q.shape[1])
        return np.einsum("bd,bkd->bk", q, d)

    return score


class DynamicNegativesCallback(TrainerCallback):
    """Re-scores and replaces hard negatives every ``refresh_steps`` (Conan-embedding's dynamic hard negatives).

    Use with a plain ``SentenceTransformerTrainer`` trained on ``negatives.dataset()``. The model is put in eval
    mode for scoring and back in training mode afterwards. The state is saved in every checkpoint
    (``dynamic_negatives.json``, written atomically) and restored when training resumes from one.

    Args:
        negatives: The :class:`DynamicNegatives` state.
        model: The model being trained.
        config: :class:`DynamicNegativesConfig`.
        resume_from: The checkpoint folder training resumes from, when it is not ``output_dir/checkpoint-<step>``.

    Example:
        ::

            mined = mine_hard_negatives(pairs, model, method="hybrid", candidate_depth=60)
            negatives = DynamicNegatives(mined)
            callback = DynamicNegativesCallback(negatives, model, DynamicNegativesConfig(refresh_steps=100))
            trainer = SentenceTransformerTrainer(model=model, train_dataset=negatives.dataset(), loss=loss,
                                                 callbacks=[callback])
    """

    def __init__(
        self,
        negatives: DynamicNegatives,
        model: SentenceTransformer,
        config: DynamicNegativesConfig | None = None,
        *,
        resume_from: str | Path | None = None,
    ) -> None:
        self.resume_from = Path(resume_from) if resume_from is not None else None
        self.negatives = negatives
        self.model = model
        self.config = config or DynamicNegativesConfig()
        self.history: list[dict[str, Any]] = []
        self._score_fn = model_score_fn(model)

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        if args.dataloader_num_workers:
            raise ValueError(
                "DynamicNegativesCallback needs dataloader_num_workers=0: the negatives are read from this "
                "process's state, which worker processes would not see."
            )
        if state.global_step > 0:  # resuming: restore the state saved with that checkpoint
            folder = self.resume_from or Path(args.output_dir) / f"checkpoint-{state.global_step}"
            path = folder / STATE_FILE
            if not path.is_file():
                raise FileNotFoundError(f"Resuming at step {state.global_step} but {path} is missing.")
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.negatives.load_state_dict(saved["negatives"])
            self.history = saved["history"]

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if state.global_step % self.config.refresh_steps:
            return
        was_training = self.model.training
        self.model.eval()
        try:
            stats = self.negatives.refresh(self._score_fn, self.config)
        finally:
            self.model.train(was_training)
        stats["step"] = state.global_step
        self.history.append(stats)
        logger.info("dynamic negatives at step %d: %s", state.global_step, stats)

    def on_save(self, args, state, control, **kwargs):  # noqa: D102
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        folder.mkdir(parents=True, exist_ok=True)
        payload = {"negatives": self.negatives.state_dict(), "history": self.history}
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        tmp.replace(folder / STATE_FILE)

    def summary(self) -> dict[str, Any]:
        """For the model card: refreshes, rows replaced, replacement counts."""
        replaced = [r for r in self.negatives.replacements if r]
        return {
            "refreshes": len(self.history),
            "rows_replaced": sum(h["rows_replaced"] for h in self.history),
            "rows_with_replacements": len(replaced),
            "max_replacements": max(replaced, default=0),
            "config": asdict(self.config),
        }
