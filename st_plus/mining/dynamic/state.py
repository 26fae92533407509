"""The training rows' current negatives: what the trainer reads, and their replacement (Conan-embedding)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from datasets import Dataset
from sentence_transformers.util import get_world_size

from st_plus.mining.candidates import EncodeFn
from st_plus.mining.dynamic.config import DynamicNegativesConfig
from st_plus.mining.dynamic.distributed import union_across_processes
from st_plus.mining.dynamic.scoring import ScoreFn
from st_plus.mining.miner import MiningResult

logger = logging.getLogger(__name__)

ROW_COLUMN = "__st_plus_row__"


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
        self._datasets: list[Dataset] = []  # what dataset() handed out: reads of other datasets are told apart
        base = mining.dataset.select_columns(["anchor", "positive", *self.negative_columns])
        # a hidden row id (read by the transform, never returned) tells duplicate rows apart
        self._base = base.add_column(ROW_COLUMN, list(range(len(base))))

    def __len__(self) -> int:
        return len(self.anchors)

    def dataset(self) -> Dataset:
        """The training dataset whose negatives follow this state."""
        dataset = self._base.select(range(len(self._base)))  # a fresh object: the transform is ours alone
        dataset.set_transform(self._transform)
        self._datasets.append(dataset)
        return dataset

    def owns(self, dataset: Any) -> bool:
        """Whether ``dataset`` is one that :meth:`dataset` returned."""
        return any(dataset is mine for mine in self._datasets)

    def note_other_read(self) -> None:
        """Records that the loader read a batch of another dataset (a multi-dataset run).

        If it was the last read of a step, none of this state's rows are in flight.
        """
        self._reads.append(([], []))

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
        """Marks the end of an optimiser step: the last batch read during it is the one in flight (read ahead).

        Exact when every batch is one read: a plain ``Dataset`` (``datasets``' ``__getitems__``), or a
        multi-dataset run's ``ConcatDataset`` given :func:`~st_plus.mining.dynamic.batched_reads.read_in_batches`
        (which :class:`DynamicNegativesCallback` does), whose reads of other members are noted as empty reads.
        """
        self.in_flight = self._reads[-1] if self._reads and self._reads[-1][0] else None
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
        rows = sorted(union_across_processes(trained))
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
        window restarts, and a current negative the guard now rejects is replaced at once (a negative of the row's
        own group, from ``group_negatives``, stays until the refresh rule replaces it).
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
            # a member of the row's group is a labelled negative (``group_negatives``): the guard keeps it out of
            # the band, not out of the row's negatives
            if not all(guard(doc) or guard.sibling(doc) for doc in self.current[row]):
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
