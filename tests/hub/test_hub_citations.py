"""Loss citations come from the run record (recorded from the trained loss objects); st_plus adds its techniques'."""

from __future__ import annotations

import logging

from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData

from st_plus.hub.citations import recorded_losses, technique_citations
from st_plus.losses import SpanPoolingLoss
from st_plus.run_record import RunRecord


def test_recorded_citations_feed_sentence_transformers_set_losses(run_info):
    card = SentenceTransformerModelCardData(local_files_only=True)
    card.set_losses(recorded_losses(RunRecord.from_dict(run_info)))
    assert {"loss:MatryoshkaLoss", "loss:CachedMultipleNegativesRankingLoss", "loss:InfoNCELoss",
            "loss:ConsentLoss"} <= set(card.tags)  # fmt: skip
    assert "kusupati2024matryoshka" in card.citations["MatryoshkaLoss"]
    assert "10531646" in card.citations["ConsentLoss"]
    assert "InfoNCELoss" not in card.citations  # nothing recorded for it: named, not cited


def test_a_record_without_citations_names_its_losses_with_a_warning(run_info, caplog):
    for stage in run_info["stages"]:
        stage.pop("citations")
    with caplog.at_level(logging.WARNING, logger="st_plus.hub.citations"):
        holders = recorded_losses(RunRecord.from_dict(run_info))
    assert [type(h).__name__ for h in holders][:2] == ["CachedMultipleNegativesRankingLoss", "MatryoshkaLoss"]
    assert all(h.citation is None for h in holders)
    assert "stage stage1 of the run record lists losses" in caplog.text and "no citations" in caplog.text


def test_technique_citations_follow_the_run(run_info):
    citations = technique_citations(RunRecord.from_dict(run_info))
    assert set(citations) == {"CoSENT", "Dynamic hard negatives (Conan-embedding)", "Late chunking"}
    assert "2408.15710" in citations["Dynamic hard negatives (Conan-embedding)"]
    assert "2409.04701" in citations["Late chunking"]
    assert technique_citations(None) == {}
    record = RunRecord.from_dict({"st_plus_version": "0.1.0", "stages": [{"losses": ["GradCache"]}]})
    assert "GradCache" in technique_citations(record)


def test_late_chunking_is_cited_once_when_a_span_pooling_loss_already_cites_it(run_info):
    run_info["late_chunking"] = {"mode": "late"}
    run_info["stages"][0]["losses"] = ["SpanPoolingLoss"]
    run_info["stages"][0]["citations"] = {"SpanPoolingLoss": SpanPoolingLoss.citation.fget(None)}
    assert "Late chunking" not in technique_citations(RunRecord.from_dict(run_info))
