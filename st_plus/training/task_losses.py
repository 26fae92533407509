"""Each task's own training loss in the logs of a multi-task run (``loss/<task>``), for one curve per task.

sentence-transformers logs one ``loss``: the mean over whichever tasks the logged steps drew, so a Consent loss near 25
and an InfoNCE loss near 1 end up on one line. :class:`TaskLossCallback` hooks every task's loss module and adds the
mean of each task's losses since the previous log to that log entry.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

__all__ = ["TASK_LOSS_PREFIX", "TaskLossCallback"]

TASK_LOSS_PREFIX = "loss/"


class TaskLossCallback(TrainerCallback):
    """Adds ``loss/<task>`` (mean of the task's losses since the last log) to every training log entry.

    The values are this process's own batches (under several processes, those of the main process are the ones
    kept in ``log_history``).

    Args:
        losses: The trainer's loss dict (task name -> loss module), as given to ``SentenceTransformerTrainer``.

    Example:
        ::

            setup = build_multitask(model, tasks)
            trainer = SentenceTransformerTrainer(..., loss=setup.loss, callbacks=[TaskLossCallback(setup.loss)])
    """

    def __init__(self, losses: dict[str, nn.Module]) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.handles = [loss.register_forward_hook(self._hook(name)) for name, loss in losses.items()]

    def _hook(self, name: str):
        def record(module: nn.Module, inputs: Any, output: Any) -> None:
            if module.training or torch.is_grad_enabled():
                value = output if isinstance(output, torch.Tensor) else torch.stack(list(output.values())).sum()
                self.sums[name] = self.sums.get(name, 0.0) + float(value.detach())
                self.counts[name] = self.counts.get(name, 0) + 1

        return record

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102 - TrainerCallback hook
        if logs is None or "loss" not in logs:
            return
        means = {f"{TASK_LOSS_PREFIX}{name}": round(self.sums[name] / n, 4) for name, n in self.counts.items() if n}
        self.sums, self.counts = {}, {}
        logs.update(means)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(means)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102 - TrainerCallback hook
        for handle in self.handles:
            handle.remove()
        self.handles = []
