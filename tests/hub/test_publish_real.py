"""The bundled all-MiniLM-L6-v2 published with --dry-run: a Hub-ready folder that plain ST loads identically."""

from __future__ import annotations

import json

import numpy as np
import pytest
from huggingface_hub import ModelCard
from tests_helpers import encode_in_plain_subprocess

from st_plus.cli import main
from st_plus.hub.publishing import PROBE_TEXTS
from st_plus.models import default_model_path


@pytest.mark.real
def test_bundled_model_dry_run_round_trip(bundled_model, tmp_path, capsys):
    out = tmp_path / "hub"
    code = main(["publish", str(default_model_path()), "--repo-id", "st-plus/all-MiniLM-L6-v2", "--dry-run", str(out)])
    assert code == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert {"README.md", "modules.json", "model.safetensors", "1_Pooling/config.json", "tokenizer.json"} <= set(files)
    data = ModelCard.load(out / "README.md").data.to_dict()
    assert data["library_name"] == "sentence-transformers" and data["license"] == "apache-2.0"
    assert "st-plus" in data["tags"]
    expected = bundled_model.encode(PROBE_TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(encode_in_plain_subprocess(out, PROBE_TEXTS), expected, atol=1e-6)
