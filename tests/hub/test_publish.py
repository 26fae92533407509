"""publish: a checked folder (dry run) or one upload_folder commit; the folder loads with plain ST, same vectors."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from huggingface_hub import ModelCard
from sentence_transformers import SentenceTransformer
from tests_helpers import encode_in_plain_subprocess

import st_plus.hub.publishing as publish_module
from st_plus.hub import PublishError, check_repo_id, publish
from st_plus.hub.publishing import PROBE_TEXTS

SECRET = "hf_TestTokenThatMustNeverBeWritten123"


class FakeHfApi:
    """Records the calls publish makes; ``fail`` names a method that raises."""

    def __init__(self, token=None, exists=False, fail=None):
        self.token, self.exists, self.fail, self.calls, self.uploaded = token, exists, fail, [], {}

    def _call(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if name == self.fail:
            raise RuntimeError(f"{name} refused (HTTP 403)")

    def repo_exists(self, repo_id):
        self._call("repo_exists", repo_id)
        return self.exists

    def create_repo(self, repo_id, **kwargs):
        self._call("create_repo", repo_id, **kwargs)

    def create_branch(self, repo_id, **kwargs):
        self._call("create_branch", repo_id, **kwargs)

    def upload_folder(self, **kwargs):
        from pathlib import Path

        self._call("upload_folder", **kwargs)
        root = Path(kwargs["folder_path"])
        self.uploaded = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"})()


def test_dry_run_writes_the_hub_ready_folder(trained_dir, tmp_path):
    out = tmp_path / "out"
    result = publish(trained_dir, "org/tiny", dry_run=out)
    assert result.folder == out and not result.uploaded
    assert {"README.md", "modules.json", "model.safetensors", "st_plus_run.json", "assets/matryoshka.png"} <= set(
        result.files
    )
    assert (out / "assets" / "matryoshka.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = ModelCard.load(out / "README.md")
    assert card.data.to_dict()["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.9318
    assert "![Matryoshka: score by dimension](assets/matryoshka.png)" in card.text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging folder left behind


def test_published_folder_loads_with_plain_sentence_transformers_and_same_embeddings(trained_dir, tmp_path):
    publish(trained_dir, "org/tiny", dry_run=tmp_path / "out")
    expected = SentenceTransformer(str(trained_dir), device="cpu").encode(PROBE_TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(encode_in_plain_subprocess(tmp_path / "out", PROBE_TEXTS), expected, atol=1e-6)
    modules = json.loads((tmp_path / "out" / "modules.json").read_text(encoding="utf-8"))
    assert all(m["type"].startswith("sentence_transformers.") for m in modules)


def test_without_run_info_the_card_comes_from_the_folder(tiny_bert, tmp_path):
    folder = tmp_path / "plain"
    tiny_bert.save(str(folder))
    readme = folder / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("---\n", "---\nlicense: mit\n", 1), encoding="utf-8")
    result = publish(folder, "org/plain", dry_run=tmp_path / "out")
    assert "st_plus_run.json" not in result.files and "assets/matryoshka.png" not in result.files
    data = ModelCard.load(tmp_path / "out" / "README.md").data.to_dict()
    assert data["license"] == "mit" and "st-plus" in data["tags"]


def test_training_leftovers_are_not_published(trained_dir, tmp_path):
    (trained_dir / "checkpoint-50").mkdir()
    (trained_dir / "checkpoint-50" / "optimizer.pt").write_bytes(b"x")
    (trained_dir / ".hidden").write_text("x")
    (trained_dir / "training_args.bin").write_bytes(b"x")
    files = publish(trained_dir, "org/tiny", dry_run=tmp_path / "out").files
    assert not [f for f in files if "checkpoint" in f or f.startswith(".") or f == "training_args.bin"]


def test_a_non_empty_out_dir_needs_overwrite(trained_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("user data")
    with pytest.raises(ValueError, match="exists and is not empty; pass --overwrite"):
        publish(trained_dir, "org/tiny", dry_run=out)
    assert (out / "mine.txt").read_text() == "user data"
    publish(trained_dir, "org/tiny", dry_run=out, overwrite=True)
    assert not (out / "mine.txt").exists() and (out / "README.md").exists()
    with pytest.raises(ValueError, match="must be outside MODEL_DIR"):
        publish(trained_dir, "org/tiny", dry_run=trained_dir / "out", overwrite=True)


@pytest.mark.parametrize("repo_id", ["tiny", "org/", "/tiny", "org/ti ny", "a/b/c", "org/ti--ny", "org/x..y", ""])
def test_repo_ids_of_the_wrong_form_are_refused(repo_id):
    with pytest.raises(ValueError, match="`repo_id` must look like ORG/NAME"):
        check_repo_id(repo_id)
    assert check_repo_id("my-org/model_v1.5") == "my-org/model_v1.5"


def test_folders_that_are_not_plain_sentence_transformers_models_are_refused(trained_dir, tmp_path):
    with pytest.raises(ValueError, match="not a sentence-transformers model folder"):
        publish(tmp_path, "org/tiny", dry_run=tmp_path / "out")
    modules = json.loads((trained_dir / "modules.json").read_text())
    modules[0]["type"] = "my_package.MyModule"
    (trained_dir / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="would need trust_remote_code"):
        publish(trained_dir, "org/tiny", dry_run=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_bad_run_info_is_named_before_anything_is_written(trained_dir, tmp_path):
    info = json.loads((trained_dir / "st_plus_run.json").read_text())
    info["results"][0]["value"] = "high"
    (trained_dir / "st_plus_run.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"st_plus_run.json: `results\[0\]\.value` must be a finite number"):
        publish(trained_dir, "org/tiny", dry_run=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_real_push_is_one_upload_folder_commit(trained_dir, monkeypatch, caplog):
    api = FakeHfApi()
    monkeypatch.setattr(publish_module, "HfApi", lambda token: api.__setattr__("token", token) or api)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    result = publish(trained_dir, "org/tiny", private=True, revision="v1")
    assert api.token == SECRET
    assert [c[0] for c in api.calls] == ["repo_exists", "create_repo", "create_branch", "upload_folder"]
    assert api.calls[1][2] == {"private": True, "exist_ok": True}
    assert api.calls[2][2] == {"branch": "v1", "exist_ok": True}
    assert api.calls[3][2]["revision"] == "v1"
    assert result.uploaded and result.commit_url.endswith("/commit/abc") and result.folder is None
    assert sorted(api.uploaded) == result.files and "README.md" in api.uploaded
    # the token is in no uploaded file, no log record, no result field
    assert not [name for name, data in api.uploaded.items() if SECRET.encode() in data]
    assert SECRET not in caplog.text and SECRET not in repr(result) and SECRET not in result.readme


def test_missing_token_fails_before_the_hub_is_touched(trained_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(publish_module, "HfApi", lambda token: calls.append(token))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(publish_module, "get_token", lambda: None)
    with pytest.raises(ValueError, match="no Hugging Face token for the upload: set HF_TOKEN"):
        publish(trained_dir, "org/tiny")
    assert calls == []


def test_failed_upload_says_nothing_was_committed(trained_dir):
    api = FakeHfApi(fail="upload_folder")
    with pytest.raises(
        PublishError, match="single commit, so no file of this upload was committed; the newly created"
    ):
        publish(trained_dir, "org/tiny", api=api)
    api = FakeHfApi(fail="create_repo")
    with pytest.raises(PublishError, match="could not create org/tiny on the Hub: .*No file was uploaded"):
        publish(trained_dir, "org/tiny", api=api)
    assert "upload_folder" not in [c[0] for c in api.calls]


def test_bad_input_never_reaches_the_hub(trained_dir, tmp_path):
    api = FakeHfApi()
    with pytest.raises(ValueError):
        publish(trained_dir, "not-a-repo-id", api=api)
    with pytest.raises(ValueError):
        publish(tmp_path, "org/tiny", api=api)
    assert api.calls == []


def test_republishing_a_published_folder_redraws_the_plot(trained_dir, tmp_path):
    (trained_dir / "assets").mkdir()
    (trained_dir / "assets" / "matryoshka.png").write_bytes(b"old plot")
    publish(trained_dir, "org/tiny", dry_run=tmp_path / "out")
    assert (tmp_path / "out" / "assets" / "matryoshka.png").read_bytes()[:4] == b"\x89PNG"


def test_a_broken_modules_json_is_named(trained_dir, tmp_path):
    (trained_dir / "modules.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"modules.json: not valid JSON \(line 1\)"):
        publish(trained_dir, "org/tiny", dry_run=tmp_path / "out")
