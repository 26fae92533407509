"""Dynamic hard negatives: re-score and replace a row's negatives during training (Conan-embedding)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch.distributed as dist
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import get_rank, get_world_size
from transformers import TrainerCallback

from st_plus.mining.candidates import EncodeFn
from st_plus.mining.miner import MiningResult
from st_plus.mining.retrievers import CorpusEmbeddingStore, model_fingerprint

logger = logging.getLogger(__name__)

STATE_FILE = "dynamic_negatives.json"
CANDIDATES_FILE = "dynamic_negatives_candidates.safetensors"  # only once a reindex changed the candidates
LOCAL_STATE_FILE = "dynamic_negatives_rank{rank}.json"  # each process's reads (the batch in flight)
ROW_COLUMN = "__st_plus_row__"
LOG_PREFIX = "dynamic_negatives/"
ScoreFn = Callable[[Sequence[str], Sequence[Sequence[str]]], np.ndarray]


@dataclass
class DynamicNegativesConfig:
    """Settings of the dynamic negatives (defaults: Conan-embedding's).

    Args:
        refresh_steps: Re-score the negatives of the rows trained on since the last refresh every this many steps.
        decay: Negatives are no longer hard when ``mean score x decay < initial mean score`` ...
        max_abs_score: ... and ``|mean score| < max_abs_score``.
        offset: On the i-th replacement take guarded candidates ``(i-1)*n + offset`` to ``i*n + offset``.
        replace: ``False`` only measures and logs the negatives' scores (static negatives, monitored).
        positive_sample: The logged mean positive score is measured on this many rows per refresh (0: not logged).
        reindex_steps: Every this many steps, re-embed the corpus and the queries with the current weights and
            re-rank every row's candidates with the miner's retriever and false-negative guard (``None``: never).
            Replacement windows then restart at ``offset`` of the fresh ranking, and a current negative the
            guard now rejects (e.g. scored too close to the positive) is replaced at once.
    """

    refresh_steps: int = 100
    decay: float = 1.15
    max_abs_score: float = 0.8
    offset: int = 10
    replace: bool = True
    positive_sample: int = 256
    reindex_steps: int | None = None

    def __post_init__(self) -> None:
        if self.refresh_steps < 1 or self.positive_sample < 0 or (self.reindex_steps or 1) < 1:
            raise ValueError(
                f"`refresh_steps` and `reindex_steps` must be >= 1 and `positive_sample` >= 0, got "
                f"{self.refresh_steps}, {self.reindex_steps}, {self.positive_sample}."
            )
        if not self.decay > 0 or not self.max_abs_score > 0 or self.offset < 0:
            raise ValueError(f"`decay` and `max_abs_score` must be > 0 and `offset` >= 0, got {asdict(self)}.")


class DynamicNegatives:
    """The training rows' current negatives, which a :class:`DynamicNegativesCallback` replaces during training.

    ``dataset()`` is what the trainer trains on: its negative columns are read from this state at every access
    (``datasets`` on-the-fly transform), so replacements reach the next batches read without a restart (the
    batch accelerate's loader has already read ahead keeps what it was served).

    Args:
        mining: A :class:`~st_plus.mining.MiningResult` in n-tuple format (mine with ``candidate_depth`` large
            enough for the replacements you want, e.g. ``offset + 5 * num_negatives``).
        initial_scores: Per row, the mean score of its negatives at mining time (default: the mean of the
            ``negative_i_score`` columns when mined with ``output_scores=True``, else measured at the row's first
            refresh).
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
        score_columns = [f"{c}_score" for c in self.negative_columns]
        if initial_scores is None and all(c in columns for c in score_columns):  # mined with output_scores=True
            initial_scores = np.asarray([mining.dataset[c] for c in score_columns], dtype=np.float64).mean(0).tolist()
        self.initial: list[float | None] = list(initial_scores) if initial_scores is not None else [None] * len(self)
        self.replacements = [0] * len(self)  # in all
        self.windows = [0] * len(self)  # replacements from the current ranking (Conan's i - 1)
        # the negatives a row had when its ranking was made (mined ones; current ones at a reindex): windows skip
        # them, else with top sampling from rank `offset` the first "replacement" would hand back the same ones
        self.excluded = [list(c) for c in self.current]
        self.reindexes = 0
        self._ranker, self._depth = mining.ranker, mining.depth
        self._ranker_rows = list(mining.rows) if mining.rows else list(range(len(self)))
        # Process-local bookkeeping of what the data loader read. sentence-transformers trains through
        # accelerate, whose loader reads one batch ahead: at the end of a step the last batch read (the one "in
        # flight") was served its negatives but is not trained yet. It counts for the next refresh, and a
        # checkpoint keeps what it was served, so a resumed run trains on exactly the same data.
        self.seen: Counter[int] = Counter()  # rows read since the last refresh (in flight included)
        self._reads: list[tuple[list[int], list[list[int]]]] = []  # (rows, served negatives) since the last step
        self.in_flight: tuple[list[int], list[list[int]]] | None = None
        self._overrides: dict[int, list[list[int]]] = {}  # resumed in-flight rows: serve what they were served
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
        served = []
        for row in rows:
            queued = self._overrides.get(row)
            served.append(queued.pop(0) if queued else self.current[row])
            if queued == []:
                del self._overrides[row]
        if all(column in batch for column in self.negative_columns):  # a full-row read: training
            self.seen.update(rows)
            self._reads.append((rows, [list(negatives) for negatives in served]))
        for j, column in enumerate(self.negative_columns):
            if column in out:
                out[column] = [self.corpus[negatives[j]] for negatives in served]
        return out

    def end_step(self) -> None:
        """Marks the end of an optimiser step: the last batch read during it is the one in flight (read ahead)."""
        self.in_flight = self._reads[-1] if self._reads else None
        self._reads = []

    def forget_reads(self) -> None:
        """Forgets reads that were not training (e.g. sentence-transformers' model card sampling the dataset)."""
        self.seen.clear()
        self._reads = []
        self.in_flight = None

    def refresh(self, score_fn: ScoreFn, config: DynamicNegativesConfig) -> dict[str, Any]:
        """Re-scores the negatives of the rows trained on since the last refresh and replaces the ones gone easy."""
        start = time.perf_counter()
        ahead = Counter(self.in_flight[0]) if self.in_flight else Counter()
        trained = {row for row, count in self.seen.items() if count > ahead[row]}
        rows = sorted(_union_across_processes(trained))
        self.seen = ahead  # the batch in flight is trained next: it counts for the next refresh
        stats: dict[str, Any] = {"rows_scored": len(rows), "rows_replaced": 0}
        if not rows:
            return {**stats, "mean_positive_score": None, "mean_negative_score": None,
                    "seconds": time.perf_counter() - start}  # fmt: skip
        anchors = [self.anchors[row] for row in rows]
        negatives = [[self.corpus[i] for i in self.current[row]] for row in rows]
        scores = np.asarray(score_fn(anchors, negatives), dtype=np.float64).mean(axis=1)
        # the positives' mean is only logged: an evenly spaced sample of rows is enough (and costs little)
        sample = rows[:: -(-len(rows) // config.positive_sample)] if config.positive_sample else []
        positive = np.asarray(
            score_fn([self.anchors[row] for row in sample], [[self.positives[row]] for row in sample]) if sample
            else [[np.nan]], dtype=np.float64,
        )  # fmt: skip
        for row, score in zip(rows, scores.tolist(), strict=True):
            if self.initial[row] is None:
                self.initial[row] = score
                continue
            if config.replace and score * config.decay < self.initial[row] and abs(score) < config.max_abs_score:
                stats["rows_replaced"] += self._replace(row, config.offset)
        stats["mean_positive_score"] = None if not sample else float(positive.mean())
        stats["mean_negative_score"] = float(scores.mean())  # before this refresh's replacements
        stats["seconds"] = time.perf_counter() - start
        return stats

    def _replace(self, row: int, offset: int) -> int:
        """Takes the row's next window of candidates (Conan: ``(i-1)*n + offset ... i*n + offset``); 1 if it did.

        Ranks count in the row's ranking without the negatives it had when the ranking was made.
        """
        n = len(self.negative_columns)
        i = self.windows[row] + 1
        excluded = set(self.excluded[row])
        pool = [doc for doc in self.candidates[row] if doc not in excluded]
        window = pool[(i - 1) * n + offset : i * n + offset]
        if len(window) < n:  # the ranking is used up: keep the current negatives
            return 0
        self.current[row] = list(window)
        self.windows[row] = i
        self.replacements[row] += 1
        self.initial[row] = None  # re-measured at the next refresh of the row
        return 1

    def reindex(self, encode: EncodeFn, config: DynamicNegativesConfig) -> dict[str, Any]:
        """Re-ranks every row's candidates with embeddings from ``encode`` (the current weights).

        The miner's retriever and false-negative guard run again over the whole corpus; each row's replacement
        window restarts, and a current negative the guard now rejects is replaced at once.
        """
        if self._ranker is None:
            raise ValueError(
                "reindex needs the MiningResult's ranker: build DynamicNegatives from mine_hybrid_negatives' output."
            )
        start = time.perf_counter()
        distributed = get_world_size() > 1
        # approximate indexes (HNSW's threaded build) may differ between processes: exact search keeps them equal
        ranking = self._ranker.rank(self._depth, encode, index="exact" if distributed else None)
        stale = kept_stale = 0
        for row, source in enumerate(self._ranker_rows):
            self.candidates[row] = [doc for _, doc in ranking.kept[source]]
            self.windows[row] = 0
            self.excluded[row] = list(self.current[row])
            guard = ranking.guards[source]
            if not all(guard(doc) for doc in self.current[row]):
                stale += 1
                kept_stale += 1 - self._replace(row, config.offset)
        if kept_stale:
            logger.warning(
                "%d row(s) keep a negative the guard now rejects: their fresh ranking is too short", kept_stale
            )
        self.reindexes += 1
        return {"reindexed_rows": len(self), "rows_no_longer_allowed": stale, "rows_kept_not_allowed": kept_stale,
                "reindex_seconds": time.perf_counter() - start}  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        """The state every process shares (``candidates`` only once a reindex changed them)."""
        state = {"current": self.current, "initial": self.initial, "replacements": self.replacements,
                 "windows": self.windows, "excluded": self.excluded, "reindexes": self.reindexes,
                 "rows": len(self)}  # fmt: skip
        if self.reindexes:
            state["candidates"] = self.candidates
        return state

    def local_state_dict(self) -> dict[str, Any]:
        """This process's reads: rows read since the last refresh and the batch in flight with what it was served."""
        in_flight = {"rows": self.in_flight[0], "negatives": self.in_flight[1]} if self.in_flight else None
        return {"seen": sorted(self.seen.elements()), "in_flight": in_flight}

    def load_local_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`local_state_dict`'s output: the batch in flight will be served what it was served."""
        self.seen = Counter(map(int, state["seen"]))
        self._reads, self.in_flight, self._overrides = [], None, {}
        if state.get("in_flight"):
            for row, negatives in zip(state["in_flight"]["rows"], state["in_flight"]["negatives"], strict=True):
                self._overrides.setdefault(int(row), []).append(list(map(int, negatives)))
            # read again when training resumes, where the read adds them to `seen` once more
            self.seen.subtract(Counter(map(int, state["in_flight"]["rows"])))
            self.seen = +self.seen

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`'s output."""
        if state.get("rows") != len(self):
            raise ValueError(f"Saved dynamic-negatives state has {state.get('rows')} rows, this one {len(self)}.")
        self.current = [list(map(int, r)) for r in state["current"]]
        self.initial = list(state["initial"])
        self.replacements = list(map(int, state["replacements"]))
        self.windows = list(map(int, state["windows"]))
        self.excluded = [list(map(int, r)) for r in state["excluded"]]
        self.reindexes = int(state.get("reindexes", 0))
        if self.reindexes:
            if "candidates" not in state:
                raise ValueError("Saved dynamic-negatives state was re-indexed but holds no candidates.")
            self.candidates = [list(map(int, c)) for c in state["candidates"]]


def _union_across_processes(rows: set[int]) -> set[int]:
    """The rows that any process trained on (under torch.distributed; else ``rows``).

    All processes then score the same rows with the same (DDP-synchronised) weights and take the same decisions,
    so their negatives stay identical.
    """
    if get_world_size() == 1:
        return set(rows)
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, sorted(rows))
    return {int(row) for part in gathered for row in part}


def _training_precision(args: Any, model: SentenceTransformer) -> contextlib.AbstractContextManager:
    """Scores in the precision the trainer trains in (bf16 / fp16 autocast when ``args`` asks for it)."""
    import torch

    if getattr(args, "bf16", False):
        return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16)
    if getattr(args, "fp16", False):
        return torch.autocast(device_type=model.device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def sharded_encode_fn(model: SentenceTransformer, store: CorpusEmbeddingStore | None = None) -> EncodeFn:
    """Embeds texts with the current weights, the work shared across processes.

    Under torch.distributed each process encodes every world-size-th text and the parts are gathered, so every
    process gets the same full array for a 1/world-size share of the work.
    """
    store = store or CorpusEmbeddingStore(max_states=1)

    def encode(texts: Sequence[str], role: str) -> np.ndarray:
        fingerprint = model_fingerprint(model)
        if get_world_size() == 1:
            return store.encode(model, texts, role=role, fingerprint=fingerprint)
        world, rank = get_world_size(), get_rank()
        part = store.encode(model, list(texts)[rank::world], role=role, fingerprint=fingerprint)
        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, part)
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        for r, array in enumerate(parts):
            out[r::world] = array
        return out

    return encode


def _write_json(path: Path, payload: Any) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def _save_candidates(path: Path, candidates: list[list[int]], reindexes: int) -> None:
    """Ragged candidate lists as two int64 tensors (flat, offsets), written atomically with safetensors."""
    import torch
    from safetensors.torch import save_file

    lengths = torch.tensor([len(c) for c in candidates], dtype=torch.int64)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
    flat = torch.tensor([doc for c in candidates for doc in c], dtype=torch.int64)
    tmp = path.with_name(path.name + ".tmp")
    save_file({"flat": flat, "offsets": offsets}, str(tmp), metadata={"reindexes": str(reindexes)})
    tmp.replace(path)


def _load_candidates(path: Path, reindexes: int) -> list[list[int]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        if f.metadata().get("reindexes") != str(reindexes):
            raise ValueError(f"{path} is from another save than {STATE_FILE} (reindex count differs).")
        flat, offsets = f.get_tensor("flat").tolist(), f.get_tensor("offsets").tolist()
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


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
    mode for scoring (in the trainer's precision: bf16 / fp16 autocast when the training arguments ask for it)
    and back in training mode afterwards. The state is saved in every checkpoint
    (``dynamic_negatives.json``, written atomically) and restored when training resumes from one.

    Each refresh (rows scored and replaced, mean positive and negative scores, seconds) is logged: an entry of
    ``dynamic_negatives/*`` keys in ``trainer.state.log_history`` (saved in ``trainer_state.json``), the same
    keys added to the next regular log line, and :meth:`summary` in the model card data (``model_card_data``
    hyperparameters and the ``dynamic-hard-negatives`` tag), so the saved model's README records it.

    Args:
        negatives: The :class:`DynamicNegatives` state.
        model: The model being trained.
        config: :class:`DynamicNegativesConfig`.
        resume_from: The checkpoint folder training resumes from, when it is not ``output_dir/checkpoint-<step>``.

    Example:
        ::

            mined = mine_hybrid_negatives(pairs, model, method="hybrid", candidate_depth=60)
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
        self._pending_log: dict[str, Any] = {}
        # separate stores: the sharded encoder caches only this process's share, which the scorer must not reuse
        # (other batches, other rounding: processes could take different decisions)
        self._score_fn = model_score_fn(model, CorpusEmbeddingStore(max_states=1))
        self._encode_fn = sharded_encode_fn(model, CorpusEmbeddingStore(max_states=1))

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        if args.dataloader_num_workers:
            raise ValueError(
                "DynamicNegativesCallback needs dataloader_num_workers=0: the negatives are read from this "
                "process's state, which worker processes would not see."
            )
        if state.global_step == 0:
            # rows read before training (sentence-transformers' model card samples the dataset) were not trained on
            self.negatives.forget_reads()
        else:  # resuming: restore the state saved with that checkpoint
            folder = self.resume_from or Path(args.output_dir) / f"checkpoint-{state.global_step}"
            paths = [folder / STATE_FILE, folder / LOCAL_STATE_FILE.format(rank=args.process_index)]
            for path in paths:
                if not path.is_file():
                    raise FileNotFoundError(
                        f"Resuming at step {state.global_step} but {path} is missing (same number of processes?)."
                    )
            saved = json.loads(paths[0].read_text(encoding="utf-8"))
            reindexes = int(saved["negatives"].get("reindexes", 0))
            if reindexes:
                saved["negatives"]["candidates"] = _load_candidates(folder / CANDIDATES_FILE, reindexes)
            self.negatives.load_state_dict(saved["negatives"])
            self.negatives.load_local_state_dict(json.loads(paths[1].read_text(encoding="utf-8")))
            self.history = saved["history"]

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        self.negatives.end_step()
        step = state.global_step
        reindex = bool(self.config.reindex_steps) and step % self.config.reindex_steps == 0
        if step % self.config.refresh_steps and not reindex:
            return
        was_training = self.model.training
        self.model.eval()
        stats: dict[str, Any] = {}
        try:
            with _training_precision(args, self.model):
                if reindex:  # first: the refresh then replaces from the fresh rankings
                    stats.update(self.negatives.reindex(self._encode_fn, self.config))
                if step % self.config.refresh_steps == 0:
                    stats.update(self.negatives.refresh(self._score_fn, self.config))
        finally:
            self.model.train(was_training)
        stats["step"] = state.global_step
        self.history.append(stats)
        logger.info("dynamic negatives at step %d: %s", state.global_step, stats)
        entry = {f"{LOG_PREFIX}{key}": value for key, value in stats.items() if key != "step"}
        state.log_history.append({**entry, "step": state.global_step})  # kept in trainer_state.json
        self._pending_log = entry
        self._update_card()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        # the latest refresh also shows in the next regular log line (console, and reporters run after this one)
        if logs is not None and self._pending_log:
            logs.update(self._pending_log)
            self._pending_log = {}

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102
        self._update_card()

    def _update_card(self) -> None:
        """Puts :meth:`summary` in the model card data (shown under the training hyperparameters)."""
        card = getattr(self.model, "model_card_data", None)
        if card is None:
            return
        summary = self.summary()
        card.non_default_hyperparameters["dynamic_negatives"] = summary
        card.all_hyperparameters["dynamic_negatives"] = summary
        if "dynamic-hard-negatives" not in card.tags:
            card.tags.append("dynamic-hard-negatives")

    def on_save(self, args, state, control, **kwargs):  # noqa: D102
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        folder.mkdir(parents=True, exist_ok=True)
        # every process writes its own reads; the shared state (equal on every process) is written once
        _write_json(folder / LOCAL_STATE_FILE.format(rank=args.process_index), self.negatives.local_state_dict())
        if not args.should_save:
            return
        payload = {"negatives": self.negatives.state_dict(), "history": self.history}
        candidates = payload["negatives"].pop("candidates", None)
        if candidates is not None:  # first the candidates, then the JSON that names their reindex count
            _save_candidates(folder / CANDIDATES_FILE, candidates, self.negatives.reindexes)
        _write_json(folder / STATE_FILE, payload)

    def summary(self) -> dict[str, Any]:
        """For the model card: refreshes, replacements, first and last mean scores, seconds spent."""
        replaced = [r for r in self.negatives.replacements if r]
        refreshes = [h for h in self.history if "rows_scored" in h]
        scored = [h for h in refreshes if h["mean_negative_score"] is not None]

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "refreshes": len(refreshes),
            "reindexes": self.negatives.reindexes,
            "rows_replaced": sum(h.get("rows_replaced", 0) for h in self.history),
            "rows_with_replacements": len(replaced),
            "max_replacements": max(replaced, default=0),
            "first_mean_negative_score": rounded(scored[0]["mean_negative_score"] if scored else None),
            "last_mean_negative_score": rounded(scored[-1]["mean_negative_score"] if scored else None),
            "last_mean_positive_score": rounded(scored[-1]["mean_positive_score"] if scored else None),
            "seconds": round(sum(h.get("seconds", 0) + h.get("reindex_seconds", 0) for h in self.history), 1),
            "config": asdict(self.config),
        }
