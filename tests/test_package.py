"""Package-level behaviour: cheap import, the bundled default model, clear errors for unusable models."""

from __future__ import annotations

import subprocess
import sys

import pytest

from st_plus.models import default_model_path, resolve_model_path


def test_import_does_not_pull_optional_heavy_packages():
    code = (
        "import sys, st_plus, st_plus.data, st_plus.evaluation\n"
        "heavy = [m for m in ('faiss', 'mteb', 'bm25s', 'jieba', 'pytrec_eval') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_default_resolves_to_the_bundled_model():
    path = default_model_path()
    assert (path / "modules.json").is_file()
    assert (path / "model.safetensors").is_file()
    assert resolve_model_path("default") == str(path)


@pytest.mark.parametrize("value", ["./no/such/folder", "/no/such/folder", "not a hub id"])
def test_missing_local_model_is_a_clear_error(value):
    with pytest.raises(FileNotFoundError, match="Model not found"):
        resolve_model_path(value)


def test_folder_that_is_not_a_model_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a sentence-transformers or transformers model folder"):
        resolve_model_path(tmp_path)


def test_hub_id_offline_fails_with_a_message_that_says_so(monkeypatch):
    from st_plus import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="Could not load 'some-org/some-model' from the Hugging Face Hub"):
        load_model("some-org/some-model")


@pytest.mark.real
def test_bundled_model_embeds_text(bundled_model):
    embeddings = bundled_model.encode(["A man is playing a guitar.", "Someone plays an instrument."])
    assert embeddings.shape == (2, 384)
    assert float(bundled_model.similarity(embeddings[:1], embeddings[1:])) > 0.5
