"""ChunkedRetrievalEvaluator: best-chunk document ranking, chunk-level judgements from gold turn spans, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from tests_helpers import write_jsonl

from st_plus.chunking import LateChunkingEncoder, LineChunker, chunk_documents
from st_plus.cli import main
from st_plus.data import DataValidationError
from st_plus.data.turn_spans import load_turn_spans
from st_plus.evaluation import ChunkedRetrievalEvaluator, per_query_ndcg, retrieval_scores
from st_plus.evaluation.chunked_retrieval import best_chunk_scores, chunk_line_ranges

CORPUS = {
    "m1": "A: the cat sat on the mat\nB: a dog chased the ball in the park\nA: my card has not arrived yet",
    "m2": "C: how do I reset my password\nD: the weather is sunny and warm today",
    "m3": "E: stock markets fell sharply on monday\nF: the train to london is delayed\nE: why was my payment declined",
}
QUERIES = {"q1": "where is my card", "q2": "the train is delayed", "q3": "reset password"}
QRELS = {"q1": {"m1": 1}, "q2": {"m3": 1}, "q3": {"m2": 1}}
SPANS = [
    {"query-id": "q1", "corpus-id": "m1", "relevant_turn_spans": [[2, 2]]},
    {"query-id": "q2", "corpus-id": "m3", "relevant_turn_spans": [[1, 1]]},
    {"query-id": "q3", "corpus-id": "m2", "relevant_turn_spans": [[0, 0]]},
]


def test_chunk_line_ranges_match_counting_newlines():
    text = CORPUS["m1"]
    chunks = chunk_documents([text], LineChunker(1), ["m1"])[0]
    for chunk, (first, last) in zip(chunks, chunk_line_ranges(text, chunks), strict=True):
        assert first == text[: chunk.start].count("\n") and last == text[: chunk.end - 1].count("\n")


def test_best_chunk_scores_match_loop():
    torch.manual_seed(0)
    similarities = torch.randn(4, 9)
    chunk_docs = torch.tensor([0, 0, 1, 2, 2, 2, 1, 3, 0])
    expected = torch.stack([torch.stack([similarities[q, chunk_docs == d].max() for d in range(4)]) for q in range(4)])
    torch.testing.assert_close(best_chunk_scores(similarities, chunk_docs, 4), expected)


@pytest.fixture
def gold(tmp_path):
    return load_turn_spans(write_jsonl(tmp_path / "spans.jsonl", SPANS))


@pytest.mark.parametrize("mode", ["late", "naive"])
def test_document_scores_are_best_chunk_and_chunk_qrels_follow_gold_turns(tiny_bert, gold, mode):
    evaluator = ChunkedRetrievalEvaluator(QUERIES, CORPUS, QRELS, chunker=LineChunker(1), mode=mode, gold_spans=gold)
    scores = evaluator.evaluate(tiny_bert).scores
    # reference: encode chunks directly, a document's score = its best chunk's cosine
    docs = LateChunkingEncoder(tiny_bert, normalize_embeddings=True).encode_chunks(CORPUS, LineChunker(1), mode=mode)
    queries = tiny_bert.encode(list(QUERIES.values()), normalize_embeddings=True)
    run = {q: {d.doc_id: float((d.embeddings @ queries[i]).max()) for d in docs} for i, q in enumerate(QUERIES)}
    expected = retrieval_scores(QRELS, run)
    assert scores["ndcg_at_10"] == pytest.approx(expected["ndcg_at_10"], abs=1e-4)
    # the kept document ranking is the one scored: its per-query nDCG@10 averages to the reported score
    assert set(evaluator.doc_run) == set(QRELS)
    per_query = per_query_ndcg(evaluator.relevant_docs, evaluator.doc_run, 10)
    assert sum(per_query.values()) / len(per_query) == pytest.approx(scores["ndcg_at_10"], abs=1e-5)
    assert all(set(docs) == set(CORPUS) for docs in evaluator.doc_run.values())  # every document is ranked
    assert scores["num_chunks"] == 8 and scores["chunk_num_queries"] == 3
    # chunk ids are "<doc>#<global index>": line 2 of m1 is chunk 2, line 1 of m3 is chunk 6, line 0 of m2 chunk 3
    assert evaluator.chunk_qrels([f"{d}#{i}" for i, (d, _) in enumerate(evaluator.chunks)]) == {
        "q1": {"m1#2": 1},
        "q2": {"m3#6": 1},
        "q3": {"m2#3": 1},
    }
    assert 0.0 <= scores["chunk_recall_at_10"] <= 1.0 and scores["chunk_recall_at_1000"] == 1.0


def test_chunks_spanning_several_turns_are_relevant_when_they_overlap(tiny_bert, gold):
    evaluator = ChunkedRetrievalEvaluator(QUERIES, CORPUS, QRELS, chunker=LineChunker(2), gold_spans=gold)
    evaluator.evaluate(tiny_bert)
    qrels = evaluator.chunk_qrels([f"{d}#{i}" for i, (d, _) in enumerate(evaluator.chunks)])
    assert qrels == {"q1": {"m1#1": 1}, "q2": {"m3#3": 1}, "q3": {"m2#2": 1}}


def test_gold_turns_stay_aligned_when_leading_blank_lines_are_stripped(tiny_bert, tmp_path):
    corpus = {**CORPUS, "m1": {"title": "", "text": "\n\n" + CORPUS["m1"]}}  # the card turn is now line 4
    rows = [{**SPANS[0], "relevant_turn_spans": [[4, 4]]}, *SPANS[1:]]
    gold = load_turn_spans(write_jsonl(tmp_path / "spans.jsonl", rows))
    evaluator = ChunkedRetrievalEvaluator(QUERIES, corpus, QRELS, chunker=LineChunker(1), gold_spans=gold)
    evaluator.evaluate(tiny_bert)
    qrels = evaluator.chunk_qrels([f"{d}#{i}" for i, (d, _) in enumerate(evaluator.chunks)])
    assert qrels["q1"] == {"m1#2": 1} and evaluator.chunks[2][1].text == "A: my card has not arrived yet"


def test_gold_span_beyond_document_names_file_and_line(tiny_bert, tmp_path):
    rows = [*SPANS[:2], {"query-id": "q3", "corpus-id": "m2", "relevant_turn_spans": [[0, 7]]}]
    gold = load_turn_spans(write_jsonl(tmp_path / "spans.jsonl", rows))
    evaluator = ChunkedRetrievalEvaluator(QUERIES, CORPUS, QRELS, chunker=LineChunker(1), gold_spans=gold)
    with pytest.raises(ValueError, match=r"spans.jsonl:3: relevant_turn_spans \[0, 7\] of query 'q3'.*'m2'.*2 lines"):
        evaluator.evaluate(tiny_bert)


def test_empty_document_and_zero_chunks_name_the_document(tiny_bert):
    corpus = {**CORPUS, "m4": {"title": "", "text": "   "}}
    with pytest.raises(ValueError, match="'m4'.*empty"):
        ChunkedRetrievalEvaluator(QUERIES, corpus, QRELS, chunker=LineChunker(1)).evaluate(tiny_bert)
    with pytest.raises(ValueError, match="'m1'.*zero spans"):
        ChunkedRetrievalEvaluator(QUERIES, CORPUS, QRELS, chunker=lambda text: []).evaluate(tiny_bert)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"query-id": "q", "corpus-id": "d", "relevant_turn_spans": [[3, 1]]},
            "spans.jsonl:2: field 'relevant_turn_spans'",
        ),
        ({"query-id": "q", "corpus-id": "d", "relevant_turn_spans": []}, "spans.jsonl:2: field 'relevant_turn_spans'"),
        ({"query-id": "q", "relevant_turn_spans": [[0, 1]]}, "spans.jsonl:2: field 'corpus-id'"),
        ({"query-id": "q0", "corpus-id": "d", "relevant_turn_spans": [[0, 1]]}, "spans.jsonl:2: .*duplicate"),
    ],
)
def test_turn_span_file_errors_name_file_line_and_field(tmp_path, row, message):
    path = write_jsonl(
        tmp_path / "spans.jsonl", [{"query-id": "q0", "corpus-id": "d", "relevant_turn_spans": [[0, 1]]}, row]
    )
    with pytest.raises(DataValidationError, match=message) as error:
        load_turn_spans(path)
    assert "spans.jsonl" in str(error.value)


def _meetings_folder(tmp_path):
    folder = tmp_path / "meetings"
    write_jsonl(folder / "corpus.jsonl", [{"_id": k, "title": "", "text": v} for k, v in CORPUS.items()])
    write_jsonl(folder / "queries.jsonl", [{"_id": k, "text": v} for k, v in QUERIES.items()])
    write_jsonl(folder / "spans.jsonl", SPANS)
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("".join(f"{q}\t{d}\t1\n" for q, ds in QRELS.items() for d in ds))
    return folder


def test_cli_eval_chunking_late_and_naive(tiny_bert, tmp_path, capsys):
    model_dir = tmp_path / "model"
    SentenceTransformer(modules=list(tiny_bert), device="cpu").save(str(model_dir))
    folder = _meetings_folder(tmp_path)
    results = {}
    for mode in ("late", "naive"):
        args = ["eval", str(folder), "--model", str(model_dir), "--task-type", "retrieval", "--json", "--quiet"]
        assert main([*args, "--chunking", mode, "--chunker", "lines:1"]) == 0
        results[mode] = json.loads(capsys.readouterr().out)["scores"]
    assert results["late"]["num_chunks"] == results["naive"]["num_chunks"] == 8
    assert {"ndcg_at_10", "chunk_recall_at_10", "chunk_ndcg_at_10"} <= set(results["late"])
    assert not np.isclose(results["late"]["chunk_ndcg_at_10"], results["naive"]["chunk_ndcg_at_10"], atol=1e-6) or (
        results["late"]["chunk_mrr_at_10"] != results["naive"]["chunk_mrr_at_10"]
    )
    assert main([*args, "--chunking", "late", "--chunker", "words:3"]) == 2
    assert "Unknown chunker 'words:3'" in capsys.readouterr().err
    assert main([*args, "--chunker", "lines:2"]) == 2
    assert "--chunker needs --chunking" in capsys.readouterr().err


def test_cli_max_docs_keeps_the_first_judged_documents_and_their_queries(tiny_bert, tmp_path, capsys):
    model_dir = tmp_path / "model"
    SentenceTransformer(modules=list(tiny_bert), device="cpu").save(str(model_dir))
    args = ["eval", str(_meetings_folder(tmp_path)), "--model", str(model_dir), "--task-type", "retrieval", "--json"]
    assert main([*args, "--quiet", "--chunking", "late", "--chunker", "lines:1", "--max-docs", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    # m1 (3 turns) and m2 (2 turns) are kept; q2 asks about m3 and is dropped
    assert result["num_samples"] == 2 and result["scores"]["num_chunks"] == 5
    assert result["scores"]["chunk_num_queries"] == 2
    assert main([*args, "--quiet", "--max-docs", "1"]) == 0  # plain retrieval too: m1 and q1
    assert json.loads(capsys.readouterr().out)["num_samples"] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--overlap", "16"], "--overlap needs --chunking late|naive"),
        (["--window", "64"], "--window needs --chunking late|naive"),
        (["--overlap", "0"], "--overlap needs --chunking"),  # an explicit 0 is still a chunking flag
        (["--chunking", "naive", "--window", "64"], "--window applies to --chunking late only"),
        (["--chunking", "naive", "--overlap", "8"], "--overlap applies to --chunking late only"),
        (["--overwrite"], "--overwrite needs --output"),
        (["--max-docs", "0"], "--max-docs must be a positive integer"),
        (["--max-docs", "1"], "--max-docs 1: None of the judged queries has all its relevant documents"),
        (["--text-prompt", "x: "], "--text-prompt applies to STS, PairClassification"),
    ],
)
def test_cli_refuses_flags_that_would_be_silently_ignored(tmp_path, capsys, extra, message):
    folder = _meetings_folder(tmp_path)
    (folder / "qrels" / "test.tsv").write_text("q1\tm1\t1\nq1\tm3\t1\n")  # --max-docs 1 keeps m1 only
    args = ["eval", str(folder), "--model", str(tmp_path / "no-model"), "--task-type", "retrieval", *extra]
    assert main(args) == 2  # refused before any model is loaded
    assert message in capsys.readouterr().err


def test_cli_refuses_chunking_and_max_docs_for_tasks_that_are_not_retrieval(tmp_path, capsys):
    folder = write_jsonl(tmp_path / "sts" / "test.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1.0}]).parent
    for extra in (["--chunking", "late"], ["--max-docs", "3"], ["--query-prompt", "q: "]):
        assert main(["eval", str(folder), "--task-type", "sts", "--model", str(tmp_path / "no-model"), *extra]) == 2
        error = capsys.readouterr().err
        assert "applies to Retrieval" in error and ("(STS)" in error or "none was given" in error)


def test_shipped_qmsum_slice_is_the_dev_split_and_the_benchmark_selection():
    from conftest import SHARED_DATA, example_task_dir

    from st_plus.chunking import SentenceChunker
    from st_plus.data import judged_subset, load_retrieval, load_task
    from st_plus.evaluation import RetrievalEvaluator
    from st_plus.evaluation.suite import build_evaluator

    task = load_task(example_task_dir("retrieval_qmsum_longdoc_en"))
    assert task.split == "dev" and sorted(p.name for p in (task.folder / "qrels").iterdir()) == ["dev.tsv"]
    assert (len(task.data.corpus), len(task.data.queries), len(task.data.qrels)) == (8, 39, 39)
    # the main job (`st-plus eval examples/data/*/`, no --chunking) runs it as plain MTEB retrieval: documents
    # truncated to the model's limit, a few seconds; --chunking gives chunk-level metrics from spans.jsonl
    assert type(build_evaluator(task)) is RetrievalEvaluator
    chunked = build_evaluator(task, chunking={"chunker": SentenceChunker(5), "mode": "late"})
    assert isinstance(chunked, ChunkedRetrievalEvaluator) and set(chunked.gold_spans.spans) == set(task.data.qrels)
    if (SHARED_DATA / "retrieval_qmsum_longdoc_en").is_dir():
        full = judged_subset(load_retrieval(SHARED_DATA / "retrieval_qmsum_longdoc_en", split="dev"), 8)
        assert full.corpus["_id"] == task.data.corpus["_id"] and full.qrels == task.data.qrels


def test_cli_refuses_a_prompt_flag_that_every_task_json_prompt_overrides(tmp_path, capsys):
    folder = _meetings_folder(tmp_path)
    (folder / "task.json").write_text(json.dumps({"task_type": "Retrieval", "prompts": {"query": "query: "}}))
    assert main(["eval", str(folder), "--model", str(tmp_path / "no-model"), "--document-prompt", "doc: "]) == 2
    assert "without their own task.json prompts; none was given" in capsys.readouterr().err
