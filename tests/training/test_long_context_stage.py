"""The recipe's long_context stage on a tiny BERT: extension, span-pooling training, merge, refusals with lines."""

from __future__ import annotations

import json

import pytest
import torch
from pipeline_fixtures import RECIPE_HEAD, write_tiny_recipe
from tests_helpers import LONG_DOC, encode_in_plain_subprocess, write_longdoc_folder

from st_plus import load_model
from st_plus.hub.run_info import validate_run_info
from st_plus.models import position_count
from st_plus.training.pipeline import run_recipe
from st_plus.training.recipe import RecipeError, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data

LONG = RECIPE_HEAD + """\
  long_context:
    data: longdoc
    max_positions: 256
    min_tokens: 40
    batch_size: 2
    max_steps: 3
    save_steps: 2
  merge: {weight: 0.5}
evaluation:
  tasks: [eval/*/]
  batch_size: 16
"""


def test_long_context_stage_extends_trains_merges_and_saves_a_stock_model(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, LONG)
    write_longdoc_folder(tmp_path / "longdoc")
    result = run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    assert list(result.evaluations) == ["start", "long_context", "merge"]
    trained = load_model(tmp_path / "out" / "stages" / "long_context" / "model")
    assert position_count(trained) == 256 and trained.max_seq_length == 256
    base = load_model(tiny_bert_dir)
    assert position_count(base) == 128
    final = load_model(result.model_path)
    assert final.max_seq_length == 256  # evaluations and the saved model read the new context length
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    stage = info["stages"][0]
    assert stage["kind"] == "long_context" and stage["steps"] == 3
    assert info["extra"]["long_context"]["context_length"] == 256 and info["extra"]["long_context"]["split"] == "train"
    assert info["extra"]["merge"]["partner_positions_extended_to"] == 256  # the base copied to merge
    assert info["late_chunking"] == {"mode": "late", "context length": "256 tokens",
                                     "trained on windows of": "40-256 tokens", "expected window": "256 tokens",
                                     "expected chunker": "sentences:5"}  # what the card states
    # the training moved the weights; the saved config keeps the base's attention dropout
    base_weights = dict(base[0].auto_model.named_parameters())
    moved = [n for n, p in trained[0].auto_model.named_parameters()
             if p.shape == base_weights[n].shape and not torch.equal(p, base_weights[n])]  # fmt: skip
    assert "encoder.layer.0.attention.self.query.weight" in moved
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["max_position_embeddings"] == 256
    assert config["attention_probs_dropout_prob"] == json.loads((tiny_bert_dir / "config.json").read_text())[
        "attention_probs_dropout_prob"
    ]
    text = LONG_DOC[:1500]  # well over the base model's 128 positions
    assert len(final.tokenize([text])["input_ids"][0]) == 256
    encode_in_plain_subprocess(result.model_path, [text])  # plain sentence-transformers reads it


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("min_tokens: 40", "min_tokens: 300"), r"stages\.long_context\.min_tokens: must be in \(16, max_positions"),
        (("batch_size: 2", "batch_size: 1"), r"stages\.long_context\.batch_size: needs >= 2"),
        (("data: longdoc", "data: nowhere"), r"stages\.long_context\.data: no task folder matches"),
        (("max_positions: 256", "max_positions: 256\n    split: dev"), r"stages\.long_context\.split: no qrels/dev"),
        (("min_tokens: 40", "min_tokens: 40\n    distill_weight: -1"),
         r"stages\.long_context\.distill_weight: must be >= 0"),
        (("min_tokens: 40", "min_tokens: 40\n    distill_chunk_tokens: 300"),
         r"stages\.long_context\.distill_chunk_tokens: must be in \[8, 254\]"),
        (("min_tokens: 40", "min_tokens: 40\n    max_tokens: 300"),
         r"stages\.long_context\.max_tokens: must be in \[min_tokens=40, max_positions=256\]"),
        (("min_tokens: 40", "min_tokens: 40\n    chunk_overlap: 256"),
         r"stages\.long_context\.chunk_overlap: must be in \[0, chunk_window\)"),
        (("min_tokens: 40", "min_tokens: 40\n    chunk_window: 512"),
         r"stages\.long_context\.chunk_window: must be in"),
        (("min_tokens: 40", "min_tokens: 40\n    chunker: paragraphs:3"),
         r"stages\.long_context\.chunker: .*sentences:N"),
        (("min_tokens: 40", "min_tokens: 40\n    span_target: chunks"),
         r"stages\.long_context\.span_target: must be 'gold' or 'chunk'"),
        (("min_tokens: 40", "min_tokens: 40\n    series_pattern: '([a-z]'"),
         r"stages\.long_context\.series_pattern: is not a valid regular expression"),
        (("min_tokens: 40", "min_tokens: 40\n    series_pattern: ''"),
         r"stages\.long_context\.series_pattern: must be a regular expression"),
        (("min_tokens: 40", "min_tokens: 40\n    series_pattern: '[0-9]*'"),
         r"stages\.long_context\.series_pattern: matches the empty string"),
    ],
)
def test_bad_long_context_settings_name_file_line_and_key(tmp_path, tiny_bert_dir, edit, message):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, LONG.replace(*edit))
    write_longdoc_folder(tmp_path / "longdoc")
    with pytest.raises(RecipeError, match=rf"recipe\.yaml:\d+: {message}"):
        load_recipe(recipe)


def test_training_on_an_evaluated_split_is_refused(tmp_path, tiny_bert_dir):
    text = LONG.replace("max_positions: 256", "max_positions: 256\n    split: test").replace(
        "tasks: [eval/*/]", "tasks: [eval/*/, longdoc]"
    )
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")
    with pytest.raises(RecipeError, match=r"split: trains on 'test', which evaluation.tasks scores"):
        load_recipe(recipe)


def test_a_base_without_a_position_table_is_refused_before_any_work(tmp_path, tiny_model_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, LONG)
    write_longdoc_folder(tmp_path / "longdoc")
    with pytest.raises(RecipeError, match=r"recipe\.yaml:\d+: stages\.long_context: the base model cannot be"):
        run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    assert not (tmp_path / "out").exists()  # refused before the output folder is made


def test_an_inference_length_the_base_cannot_read_is_refused_before_any_work(tmp_path, tiny_bert_dir):
    text = LONG.replace("max_seq_length: 32}", "max_seq_length: 32, inference_max_seq_length: 256}")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")
    with pytest.raises(RecipeError, match=r"recipe\.yaml:\d+: model\.inference_max_seq_length: 256 is more than"):
        run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    assert not (tmp_path / "out").exists()


def test_distillation_blocks_longer_than_the_teacher_reads_are_refused_with_their_line(tmp_path, tiny_bert_dir):
    count = position_count(load_model(tiny_bert_dir))  # the teacher is the base model before the stage
    text = LONG.replace("max_positions: 256", f"max_positions: 256\n    distill_weight: 1.0\n    "
                        f"distill_chunk_tokens: {count - 1}")  # fmt: skip
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")
    line = text.splitlines().index(f"    distill_chunk_tokens: {count - 1}") + 1
    with pytest.raises(RecipeError, match=rf"recipe\.yaml:{line}: stages\.long_context\.distill_chunk_tokens: the "
                       rf"teacher \(the base model, {count} positions\).*use at most {count - 2}"):  # fmt: skip
        run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    assert not (tmp_path / "out").exists()


def test_a_rope_student_before_long_context_is_refused_with_its_line(tmp_path, tiny_bert_dir):
    student = "  distill: {data: [data/texts.txt], student_preset: tiny}\n"
    text = LONG.replace("  long_context:", student + "  long_context:")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    (tmp_path / "data" / "texts.txt").write_text("one text\nanother text\n")
    write_longdoc_folder(tmp_path / "longdoc")
    with pytest.raises(RecipeError, match=r"recipe\.yaml:\d+: stages\.long_context: a NomicBERT student"):
        load_recipe(recipe)


def test_bad_rows_in_the_long_document_folder_are_reported_with_file_and_line(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, LONG)
    folder = write_longdoc_folder(tmp_path / "longdoc")
    spans = (folder / "spans.jsonl").read_text().splitlines()
    spans[1] = spans[1].replace("[[10, 12]]", "[[12, 10]]")  # last line before first line
    (folder / "spans.jsonl").write_text("\n".join(spans) + "\n")
    with pytest.raises(RecipeDataError, match=r"spans\.jsonl:2: field 'relevant_turn_spans'"):
        check_recipe_data(load_recipe(recipe))


def test_distillation_term_trains_against_the_model_before_the_stage_and_the_card_states_the_window(
    tmp_path, tiny_bert_dir
):
    keys = ("distill_weight: 0.5", "distill_chunk_tokens: 16", "chunk_window: 128", "chunk_overlap: 32",
            "chunker: lines:4", "max_tokens: 64")  # fmt: skip
    text = LONG.replace("min_tokens: 40", "min_tokens: 40" + "".join(f"\n    {k}" for k in keys))
    text = text.replace("  merge: {weight: 0.5}\n", "")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")
    result = run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    stage = info["stages"][0]
    assert stage["losses"] == ["LateChunkDistillationLoss"] and stage["steps"] == 3
    long = info["extra"]["long_context"]
    assert long["distill_weight"] == 0.5
    terms = long["loss_terms"]
    assert terms["first_calls"]["distill"] > 0 and terms["first_calls"]["contrastive"] > 0
    expected = "128 tokens (32 of them context shared with the previous window)"
    assert info["late_chunking"]["expected window"] == expected
    assert info["late_chunking"]["trained on windows of"] == "40-64 tokens"
    assert info["late_chunking"]["expected chunker"] == "lines:4"
    assert long["span_target"] == "gold"
    assert "Late chunking" not in info.get("citations", {})  # the loss cites the paper: the card cites it once


def test_same_series_batches_are_recorded_with_their_series(tmp_path, tiny_bert_dir, monkeypatch):
    from st_plus.samplers import GroupAwareBatchSampler
    from st_plus.training import long_context

    configured, original = [], GroupAwareBatchSampler.configure

    def spy(groups, **options):  # the sampler the stage asks for
        configured.append((list(groups), options.get("domains")))
        return original(groups, **options)

    monkeypatch.setattr(long_context.GroupAwareBatchSampler, "configure", spy)
    text = LONG.replace("min_tokens: 40", "min_tokens: 40\n    series_pattern: '^[a-z]+'")
    text = text.replace("  merge: {weight: 0.5}\n", "")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")  # meetings m1 and m2: one series "m" of 2 documents, 3 rows
    result = run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    ((groups, domains),) = configured
    assert sorted(groups) == ["m1", "m1", "m2"] and domains == ["m", "m", "m"]
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    assert info["stages"][0]["steps"] == 3
    long = info["extra"]["long_context"]
    assert long["series_pattern"] == "^[a-z]+"
    assert long["series"] == {"m": {"rows": 3, "documents": 2}}


def test_a_split_without_gold_spans_is_refused_before_any_work(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, LONG)
    folder = write_longdoc_folder(tmp_path / "longdoc")
    spans = (folder / "spans.jsonl").read_text().splitlines()
    (folder / "spans.jsonl").write_text(spans[2] + "\n")  # only the test query's spans are left
    with pytest.raises(RecipeDataError, match=r"qrels/train\.tsv: .*split 'train' has gold spans"):
        check_recipe_data(load_recipe(recipe))


def test_chunk_targets_pool_chunks_of_the_stage_chunker_and_are_recorded(tmp_path, tiny_bert_dir, monkeypatch):
    from st_plus.training import long_context

    seen = []
    original = long_context.long_document_span_rows

    def spy(*args, **kwargs):  # the rows the stage trains on
        rows = original(*args, **kwargs)
        seen.append((kwargs["chunker"], rows))
        return rows

    monkeypatch.setattr(long_context, "long_document_span_rows", spy)
    text = LONG.replace("min_tokens: 40", "min_tokens: 40\n    chunker: lines:1\n    span_target: chunk")
    text = text.replace("  merge: {weight: 0.5}\n", "")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    write_longdoc_folder(tmp_path / "longdoc")
    result = run_recipe(recipe, output_dir=tmp_path / "out", show_progress_bar=False)
    ((chunker, rows),) = seen
    assert repr(chunker) == "LineChunker(1, paragraphs=False)"
    for row in rows:  # one turn each, inside the gold lines
        span_text = row["document"][row["span_start"] : row["span_end"]]
        assert "\n" not in span_text and span_text in LONG_DOC.replace("topic", "subject") + LONG_DOC
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    assert info["stages"][0]["steps"] == 3
    assert info["extra"]["long_context"]["span_target"] == "chunk"
    assert info["late_chunking"]["expected chunker"] == "lines:1"
    expected = "one lines:1 chunk inside each gold answer range (else the one overlapping it most)"
    assert info["late_chunking"]["trained to pool"] == expected  # the card's line
