"""The trainer side of dynamic hard negatives: refresh / reindex every few steps, state saved in checkpoints."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from sentence_transformers import SentenceTransformer
from torch.utils.data import ConcatDataset
from transformers import TrainerCallback

from st_plus.mining.dynamic.batched_reads import read_in_batches
from st_plus.mining.dynamic.checkpoint_files import load_checkpoint_state, save_checkpoint_state
from st_plus.mining.dynamic.config import DynamicNegativesConfig
from st_plus.mining.dynamic.distributed import sharded_encode_fn
from st_plus.mining.dynamic.scoring import model_score_fn, training_precision
from st_plus.mining.dynamic.state import DynamicNegatives
from st_plus.mining.retrievers import CorpusEmbeddingStore

logger = logging.getLogger(__name__)

LOG_PREFIX = "dynamic_negatives/"


class DynamicNegativesCallback(TrainerCallback):
    """Re-scores and replaces hard negatives every ``refresh_steps`` (Conan-embedding's dynamic hard negatives).

    Use with a plain ``SentenceTransformerTrainer`` trained on ``negatives.dataset()``. The model is put in eval
    mode for scoring (in the trainer's precision: bf16 / fp16 autocast, or with ``dtype="auto"`` and ``bf16``
    token-budget batches on a bfloat16 copy of the weights) and back in training mode afterwards. The state is
    saved in every checkpoint (``dynamic_negatives.json``, written atomically) and restored when training resumes
    from one.

    Each refresh (rows scored and replaced, mean positive and negative scores, seconds) is logged: an entry of
    ``dynamic_negatives/*`` keys in ``trainer.state.log_history`` (saved in ``trainer_state.json``), the same
    keys added to the next regular log line, and :meth:`summary` in the model card data (``model_card_data``
    hyperparameters and the ``dynamic-hard-negatives`` tag), so the saved model's README records it.

    Args:
        negatives: The :class:`DynamicNegatives` state.
        model: The model being trained.
        config: :class:`DynamicNegativesConfig`.
        name: Tells several dynamic-negative states trained at once apart (e.g. two tasks of a multi-task run):
            their checkpoint files (``dynamic_negatives.<name>.json``, ...), log keys (``dynamic_negatives/<name>/*``)
            and model card entry (``dynamic_negatives/<name>``). ``None``: ``dynamic_negatives.json`` etc.
        resume_from: The checkpoint folder training resumes from, when it is not ``output_dir/checkpoint-<step>``.
        dtype: How refreshes encode: ``"float32"`` (the default: sentence-transformers' ``encode``, under the
            trainer's autocast), ``"bfloat16"`` (token-budget batches on a bfloat16 copy of the weights: faster on
            CPU; the copy needs the whole model in one process, so not under ZeRO-3 / FSDP sharding) or ``"auto"``
            (``"bfloat16"`` when the trainer trains in bf16). The recipes pass their resolved ``mining_precision``.

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
        name: str | None = None,
        resume_from: str | Path | None = None,
        dtype: Literal["auto", "float32", "bfloat16"] = "float32",
    ) -> None:
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"`dtype` must be 'auto', 'float32' or 'bfloat16', got {dtype!r}.")
        self.dtype = dtype
        self.name = name
        self.log_prefix = LOG_PREFIX if name is None else f"{LOG_PREFIX}{name}/"
        self.resume_from = Path(resume_from) if resume_from is not None else None
        self.negatives = negatives
        self.model = model
        self.config = config or DynamicNegativesConfig()
        self.history: list[dict[str, Any]] = []
        self._pending_log: dict[str, Any] = {}
        # separate stores: the sharded encoder caches only this process's share, which the scorer must not reuse
        # (other batches, other rounding: processes could take different decisions)
        self._stores = (CorpusEmbeddingStore(max_states=1), CorpusEmbeddingStore(max_states=1))
        self._score_fn = model_score_fn(model, self._stores[0])
        self._encode_fn = sharded_encode_fn(model, self._stores[1])

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        dtype = self.dtype if self.dtype != "auto" else "bfloat16" if getattr(args, "bf16", False) else "float32"
        for store in self._stores:  # bfloat16: token-budget batches on a bfloat16 copy of the weights
            store.dtype = dtype
        if args.dataloader_num_workers:
            raise ValueError(
                "DynamicNegativesCallback needs dataloader_num_workers=0: the negatives are read from this "
                "process's state, which worker processes would not see."
            )
        dataset = getattr(kwargs.get("train_dataloader"), "dataset", None)
        if isinstance(dataset, ConcatDataset):  # a multi-dataset run: one read per batch, others' reads noted
            read_in_batches(dataset, self._note_read)
        if state.global_step == 0:
            # rows read before training (sentence-transformers' model card samples the dataset) were not trained on
            self.negatives.forget_reads()
        else:  # resuming: restore the state saved with that checkpoint
            folder = self.resume_from or Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.history = load_checkpoint_state(folder, self.negatives, process_index=args.process_index,
                                                 name=self.name)  # fmt: skip

    def _note_read(self, members) -> None:
        if not any(self.negatives.owns(dataset) for dataset in members):  # this batch read none of our rows
            self.negatives.note_other_read()

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
            with training_precision(args, self.model):
                if reindex:  # first: the refresh then replaces from the fresh rankings
                    stats.update(self.negatives.reindex(self._encode_fn, self.config))
                if step % self.config.refresh_steps == 0:
                    stats.update(self.negatives.refresh(self._score_fn, self.config))
        finally:
            self.model.train(was_training)
        stats["step"] = state.global_step
        self.history.append(stats)
        logger.info("dynamic negatives at step %d: %s", state.global_step, stats)
        entry = {f"{self.log_prefix}{key}": value for key, value in stats.items() if key != "step"}
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
        key = "dynamic_negatives" if self.name is None else f"dynamic_negatives/{self.name}"
        card.non_default_hyperparameters[key] = summary
        card.all_hyperparameters[key] = summary
        if "dynamic-hard-negatives" not in card.tags:
            card.tags.append("dynamic-hard-negatives")

    def on_save(self, args, state, control, **kwargs):  # noqa: D102
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        save_checkpoint_state(folder, self.negatives, self.history, process_index=args.process_index,
                              shared=args.should_save, name=self.name)  # fmt: skip

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
