"""Small helpers shared by tests (imported as a module; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Writes rows as JSON lines, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


# Short English sentences for tiny models and toy datasets (the fixtures' tokenizers are trained on them).
CORPUS = [
    "the cat sat on the mat",
    "a dog chased the ball in the park",
    "my card has not arrived yet",
    "how do I reset my password",
    "the weather is sunny and warm today",
    "stock markets fell sharply on monday",
    "she plays the violin in an orchestra",
    "transfer money to another account",
    "why was my payment declined",
    "the train to london is delayed",
]


def recording_loss(loss, name: str, log: list[str]):
    """Wraps ``loss`` so that each call appends ``name`` to ``log`` (which dataset a step trained on)."""
    from torch import nn

    class RecordingLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.loss = loss

        @property
        def model(self):
            return self.loss.model

        def forward(self, features, labels):
            log.append(name)
            return self.loss(features, labels)

    return RecordingLoss()
