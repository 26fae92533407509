"""Loss citations come from the loss classes themselves, found by name; st_plus adds its techniques'."""

from __future__ import annotations

from st_plus.hub.citations import loss_citation, loss_stand_ins, technique_citations


def test_citations_are_the_classes_own_with_default_settings():
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    assert "kusupati2024matryoshka" in loss_citation("MatryoshkaLoss")
    assert loss_citation("MatryoshkaLoss") == MatryoshkaLoss.citation.fget(object())
    assert "oord" in loss_citation("MultipleNegativesRankingLoss")  # default directions: plain InfoNCE
    assert "oord" in loss_citation("InfoNCELoss")  # st_plus subclass, not decoupled by default
    assert "gao2021scaling" in loss_citation("CachedMultipleNegativesRankingLoss")
    assert "CoSENT" in loss_citation("ConsentLoss")
    assert "gao2021scaling" in loss_citation("CachedConsentLoss")
    assert "multilingual" in loss_citation("MSELoss")
    assert loss_citation("NoSuchLoss") is None


def test_stand_ins_feed_sentence_transformers_set_losses():
    from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData

    card = SentenceTransformerModelCardData(local_files_only=True)
    card.set_losses(loss_stand_ins(["MatryoshkaLoss", "CachedMultipleNegativesRankingLoss", "MyOwnLoss"]))
    assert {"loss:MatryoshkaLoss", "loss:CachedMultipleNegativesRankingLoss", "loss:MyOwnLoss"} <= set(card.tags)
    assert {"Sentence Transformers", "MatryoshkaLoss", "CachedMultipleNegativesRankingLoss"} <= set(card.citations)


def test_technique_citations_follow_the_run(run_info):
    citations = technique_citations(run_info)
    assert set(citations) == {"CoSENT", "Dynamic hard negatives (Conan-embedding)", "Late chunking"}
    assert "2408.15710" in citations["Dynamic hard negatives (Conan-embedding)"]
    assert "2409.04701" in citations["Late chunking"]
    assert technique_citations(None) == {}
    assert "GradCache" in technique_citations({"stages": [{"losses": ["GradCache"]}]})
