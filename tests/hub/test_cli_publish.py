"""``st-plus publish``: dry run, one-line errors with exit code 2, the push through HfApi."""

from __future__ import annotations

import json

import pytest
from test_publish import SECRET, FakeHfApi

import st_plus.hub.publishing as publish_module
from st_plus.cli import main


def test_cli_dry_run_prints_the_folder(trained_dir, tmp_path, capsys):
    assert main(["publish", str(trained_dir), "--repo-id", "org/tiny", "--dry-run", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["folder"] == str(tmp_path / "out") and summary["uploaded"] is False
    assert "README.md" in summary["files"]
    assert main(["publish", str(trained_dir), "--repo-id", "org/tiny", "--dry-run", str(tmp_path / "out")]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["publish", str(trained_dir), "--repo-id", "org/tiny", "--dry-run", str(tmp_path / "out"),
                 "--overwrite"]) == 0  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo-id", "tiny"], "must look like ORG/NAME"),
        (["--repo-id", "org/tiny"], "no Hugging Face token"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(trained_dir, monkeypatch, capsys, args, message):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(publish_module, "get_token", lambda: None)
    assert main(["publish", str(trained_dir), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("st-plus publish: error:") and message in err and err.count("\n") == 1


def test_cli_push_goes_through_hf_api(trained_dir, monkeypatch, capsys):
    api = FakeHfApi()
    monkeypatch.setattr(publish_module, "HfApi", lambda token: api)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["publish", str(trained_dir), "--repo-id", "org/tiny", "--private"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["commit_url"] == "https://huggingface.co/org/tiny/commit/abc"
    assert SECRET not in out
    assert [c[0] for c in api.calls] == ["repo_exists", "create_repo", "upload_folder"]
