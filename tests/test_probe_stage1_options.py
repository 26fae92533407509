"""benchmarks/probe_stage1_options.py: variants, and the report's differences to the base run of the same seed."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "probe_stage1_options.py"


@pytest.fixture(scope="module")
def probe():
    return load_script(SCRIPT, "probe_stage1_options")


def test_loss_options_are_accepted_by_sentence_transformers_loss(probe, tiny_model):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    for options in probe.LOSS_OPTIONS.values():
        loss = MultipleNegativesRankingLoss(tiny_model, **options)
        for key, value in options.items():
            assert getattr(loss, key) == value


def _write(folder: Path, variant: str, seed: int, debian: float, sts: float) -> None:
    folder.mkdir(parents=True)
    scores = {"retrieval_debian_dev_en": debian, "retrieval_manpages_dev_en": debian - 10.0, "sts_stsb_dev_en": sts}
    data = {"variant": variant, "seed": seed, "seconds": 100.0, "scores": scores}
    (folder / "result.json").write_text(json.dumps(data), encoding="utf-8")


def test_report_subtracts_the_base_run_of_the_same_seed(probe, tmp_path):
    _write(tmp_path / "base-42", "base", 42, 80.0, 86.0)
    _write(tmp_path / "gte-42", "gte", 42, 79.0, 86.3)
    _write(tmp_path / "e2-43", "e2", 43, 81.0, 86.0)  # no base run of seed 43: no difference
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "result.json").write_text(json.dumps({"arm": "plain"}), encoding="utf-8")
    output = tmp_path / "probe.json"
    probe.report(types.SimpleNamespace(folder=tmp_path, output=output))
    runs = {r["variant"]: r for r in json.loads(output.read_text(encoding="utf-8"))["runs"]}
    assert set(runs) == {"base", "gte", "e2"}
    assert runs["gte"]["retrieval"] == pytest.approx(74.0)
    assert runs["gte"]["minus_base"]["retrieval"] == pytest.approx(-1.0)
    assert runs["gte"]["minus_base"]["all"] == pytest.approx((-1.0 - 1.0 + 0.3) / 3)
    assert "minus_base" not in runs["e2"]
    table = probe._table(json.loads(output.read_text(encoding="utf-8")))
    assert "| gte | 42 | 100 | 74.00 |" in table and "| -1.00 |" in table
