"""The typed run record: JSON round trip, typed access, and citations taken from the trained loss objects."""

from __future__ import annotations

import pytest
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss
from tests_helpers import RUN_INFO

from st_plus.losses import ConsentLoss, InfoNCELoss, WeightedLoss
from st_plus.run_record import RunInfoError, RunRecord, StageRecord
from st_plus.training.stages import loss_citations


def test_the_record_round_trips_through_its_json_form():
    record = RunRecord.from_dict(RUN_INFO)
    assert isinstance(record.stages[0], StageRecord) and record.stages[0].datasets[0].rows == 3000
    assert record.results[0].value == 0.9318 and record.matryoshka.dims == [32, 16]
    again = RunRecord.from_dict(record.to_dict())
    assert again == record
    assert record.to_dict()["hardware"] == {"cpu": "2 cores", "processes": 1}  # null fields left out


def test_record_errors_name_the_key():
    with pytest.raises(RunInfoError, match=r"`stages\[0\]\.citations` must be an object: loss class name -> bibtex"):
        RunRecord.from_dict({"st_plus_version": "0.1.0", "stages": [{"citations": ["x"]}]})


def test_citations_come_from_the_loss_objects_as_configured(tiny_model):
    decoupled = InfoNCELoss(tiny_model, decoupled=True)
    wrapped = WeightedLoss(MatryoshkaLoss(tiny_model, ConsentLoss(tiny_model), [8, 4]), weight=2.0)
    citations = loss_citations([decoupled, wrapped])
    assert "yeh2022decoupled" in citations["InfoNCELoss"]  # the setting the run used, not the class default
    assert citations["MatryoshkaLoss"] == wrapped.loss.citation
    assert citations["ConsentLoss"] == wrapped.loss.loss.citation
    assert "WeightedLoss" not in citations  # it only passes the inner loss's citation on
