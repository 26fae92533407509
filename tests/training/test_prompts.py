"""A stage's query / document prompts are recorded in the model, so that it is read the way it was trained."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from pipeline_fixtures import RECIPE_HEAD, write_tiny_recipe
from sentence_transformers import SentenceTransformer

from st_plus.evaluation import evaluate_suite
from st_plus.hub.run_info import validate_run_info
from st_plus.training.pipeline import run_recipe
from st_plus.training.prompts import record_prompts, stage_prompts
from st_plus.training.recipe import ContrastiveStage, DataSpec, MultitaskStage, TaskSpec

RECIPE = RECIPE_HEAD + """\
  contrastive:
    data: [{path: data/pairs.jsonl, group_column: source}]
    batch_size: 8
    max_steps: 2
    save_steps: 2
    filter: {top_k: 3}
    prompts: {query: "q: ", document: "d: "}
    evaluate: none
  multitask:
    tasks:
      - name: pairs
        type: retrieval
        data: stage1
        prompts: {query: "q: ", document: "d: "}
        negatives: {num_negatives: 1, range_min: 1, range_max: 10, refresh_steps: 2}
      - {name: sts, type: sts, data: data/sts.jsonl, prompts: {text: "similar: "}}
    batch_size: 4
    max_steps: 3
    save_steps: 2
evaluation:
  tasks: [eval/*/]
  batch_size: 16
"""


def _task(name, prompts, type_="retrieval"):
    return TaskSpec(name=name, type=type_, data="stage1", prompts=prompts)


def test_a_stage_agrees_on_the_prompts_training_prepends_and_lists_the_roles_it_does_not():
    stage1 = ContrastiveStage(data=[DataSpec(path="x")], prompts={"query": "q: ", "document": "d: "})
    assert stage_prompts(stage1) == ({"query": "q: ", "document": "d: "}, {}, True)
    assert stage_prompts(ContrastiveStage(data=[DataSpec(path="x")])) == ({}, {}, True)
    # symmetric and label tasks have no queries or documents: they do not vote
    stage2 = MultitaskStage(tasks=[_task("a", {"query": "q: ", "document": "d: "}),
                                   _task("s", {"query": "x: "}, "sts"), _task("c", {"text": "t: "}, "classification")])
    assert stage_prompts(stage2) == ({"query": "q: ", "document": "d: "}, {}, True)
    assert stage_prompts(MultitaskStage(tasks=[_task("s", {"text": "t: "}, "sts")])) == ({}, {}, False)
    # a retrieval task without a role's prompt trains that role with none: "" against "q: " is a conflict
    stage2 = MultitaskStage(tasks=[_task("a", {"query": "q: ", "document": "d: "}), _task("b", {"document": "d: "})])
    assert stage_prompts(stage2) == ({"document": "d: "}, {"query": ["", "q: "]}, True)
    # a retrieval task's text prompt is prepended to its queries and documents alike
    stage2 = MultitaskStage(tasks=[_task("a", {"text": "t: ", "query": "q: "}), _task("b", {"query": "t: "}, "nli")])
    assert stage_prompts(stage2) == ({"query": "t: "}, {"document": ["", "t: "]}, True)
    graded = MultitaskStage(tasks=[_task("g", {"query": "q: "}, "graded")])
    assert stage_prompts(graded) == ({"query": "q: "}, {}, True)


def test_record_sets_the_agreed_roles_and_warns_when_the_model_keeps_a_prompt_training_did_not_use(tiny_bert, caplog):
    tiny_bert.prompts = {"query": "old: ", "document": "", "classification": "c: "}
    stage = MultitaskStage(tasks=[_task("a", {"query": "q1: ", "document": "d: "}),
                                  _task("b", {"query": "q2: ", "document": "d: "})])  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="st_plus.training.prompts"):
        assert record_prompts(tiny_bert, stage, "multitask") == ({"document": "d: "}, {"query": ["q1: ", "q2: "]})
    assert tiny_bert.prompts == {"query": "old: ", "document": "d: ", "classification": "c: "}
    assert ("Stage multitask trains its query texts with 2 different prompts ('q1: ', 'q2: '): the model keeps its "
            "query prompt 'old: '") in caplog.text  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="st_plus.training.prompts"):
        assert record_prompts(tiny_bert, ContrastiveStage(data=[DataSpec(path="x")]), "contrastive") == ({}, {})
    assert tiny_bert.prompts["query"] == "old: " and tiny_bert.prompts["document"] == "d: "
    held = "Stage contrastive trains its query texts without a prompt, but the model holds the query prompt 'old: '"
    assert held in caplog.text
    assert "the document prompt 'd: '" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="st_plus.training.prompts"):  # no queries at all: nothing to say
        record_prompts(tiny_bert, MultitaskStage(tasks=[_task("s", {}, "sts")]), "multitask")
    assert caplog.text == ""


def test_the_trainer_adds_a_recorded_prompt_once_not_twice(tiny_bert):
    """Guard: sentence-transformers' collator applies the trainer's prompts only, never ``model.prompts``."""
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    tiny_bert.prompts = {"query": "alpha ", "document": "beta "}
    collator = SentenceTransformerDataCollator(preprocess_fn=tiny_bert.preprocess, prompts={"anchor": "alpha "})
    batch = collator([{"anchor": "gamma", "positive": "delta"}])
    expected = tiny_bert.tokenizer(["alpha gamma", "delta"], padding=True)["input_ids"]
    assert batch["anchor_input_ids"][0].tolist() == expected[0][: len(batch["anchor_input_ids"][0])]
    assert batch["positive_input_ids"][0].tolist() == expected[1][: len(batch["positive_input_ids"][0])]


def test_the_pipeline_saves_the_prompts_it_trained_with_and_evaluates_with_them(tmp_path, tiny_bert_dir):
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE)
    result = run_recipe(recipe, output_dir=tmp_path / "run", show_progress_bar=False)
    expected = {"query": "q: ", "document": "d: "}
    for folder in (tmp_path / "run" / "stages" / "contrastive" / "model", result.model_path):
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        assert {k: config["prompts"][k] for k in expected} == expected
    model = SentenceTransformer(str(result.model_path), device="cpu")
    texts = ["alpha beta", "gamma delta"]
    np.testing.assert_allclose(model.encode_query(texts), model.encode([f"q: {t}" for t in texts]),
                               atol=1e-6)  # fmt: skip
    assert not np.allclose(model.encode_query(texts), model.encode(texts), atol=1e-4)
    state = json.loads((tmp_path / "run" / "pipeline_state.json").read_text(encoding="utf-8"))
    assert state["done"]["contrastive"]["extra"]["prompts"] == expected
    assert state["done"]["multitask"]["extra"]["prompts"] == expected  # the sts task's text prompt is not a role
    record = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text(encoding="utf-8")))
    assert record["extra"]["contrastive"]["prompts"] == expected
    # the run's own final evaluation read the model with its prompts, as MTEB and encode_query do
    ret = tmp_path / "eval" / "retrieval_tiny"
    with_prompts = evaluate_suite(model, [ret], batch_size=16)[0].main_score
    assert result.evaluations["multitask"]["retrieval_tiny"] == pytest.approx(with_prompts, abs=1e-6)
    without = evaluate_suite(model, [ret], batch_size=16, prompts={"Retrieval": {"query": "", "document": ""}})
    assert without[0].main_score != pytest.approx(with_prompts, abs=1e-6)  # the check above can tell them apart


def test_a_task_whose_mining_keeps_no_row_is_named_in_a_clear_error(tmp_path, tiny_bert_dir):
    # long shared prefixes make every document of the tiny random model look like a positive (the guard drops all)
    text = RECIPE.replace('"q: "', '"search the query of this text: "').replace('"d: "', '"search the document: "')
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    with pytest.raises(ValueError, match=r"Task 'pairs': hard-negative mining kept none of its \d+ rows \(corpus too"):
        run_recipe(recipe, output_dir=tmp_path / "run", show_progress_bar=False)


def test_disagreeing_tasks_are_named_before_work_and_the_model_keeps_its_prompt(tmp_path, tiny_bert_dir, caplog):
    text = RECIPE.replace(
        '      - {name: sts, type: sts, data: data/sts.jsonl, prompts: {text: "similar: "}}',
        '      - {name: more, type: retrieval, data: data/pairs2.jsonl, prompts: {query: "other: "}}',
    )  # fmt: skip
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    (tmp_path / "data" / "pairs2.jsonl").write_text((tmp_path / "data" / "pairs.jsonl").read_text().replace(
        '"source"', '"ignored"'), encoding="utf-8")  # fmt: skip
    text = recipe.read_text().replace("data/pairs2.jsonl,", "{path: data/pairs2.jsonl, columns: [anchor, positive]},")
    recipe.write_text(text, encoding="utf-8")
    from st_plus.cli import main
    from st_plus.training.pipeline import warn_prompt_conflicts
    from st_plus.training.recipe import load_recipe

    # before any work, by `st-plus train --check` too: the file, the line and key of the task that differs
    messages = warn_prompt_conflicts(load_recipe(recipe))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "name: more" in row)
    assert messages == [
        f"{recipe}:{line}: stages.multitask.tasks[1].prompts: task 'more' trains its query texts with 'other: ', "
        "task 'pairs' with 'q: ' (a task without a query prompt trains with none): the model keeps one query "
        "prompt, so this stage records none",
        f"{recipe}:{line}: stages.multitask.tasks[1].prompts: task 'more' trains its document texts with '', "
        "task 'pairs' with 'd: ' (a task without a document prompt trains with none): the model keeps one document "
        "prompt, so this stage records none",
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="st_plus.training.pipeline"):
        assert main(["train", str(recipe), "--check"]) == 0
    assert messages[0] in caplog.text
    result = run_recipe(recipe, output_dir=tmp_path / "run", show_progress_bar=False)
    model = SentenceTransformer(str(result.model_path), device="cpu")
    assert model.prompts["query"] == "q: " and model.prompts["document"] == "d: "  # stage 1's, kept
    record = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text(encoding="utf-8")))
    assert "prompts" not in record["extra"]["multitask"]  # nothing agreed: nothing recorded
    assert record["extra"]["multitask"]["prompt_conflicts"] == {"document": ["", "d: "], "query": ["other: ", "q: "]}
    assert any("Stage multitask trains its query texts with 2 different prompts" in w
               for w in record["extra"]["warnings"])  # fmt: skip


def test_a_run_started_before_prompts_were_kept_does_not_resume_a_prompted_stage(tmp_path, tiny_bert_dir):
    from st_plus.training.pipeline import STATE_FILE, _prepare_output
    from st_plus.training.recipe import RecipeError, load_recipe

    recipe = load_recipe(write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE))
    out = tmp_path / "run"
    state = _prepare_output(out, recipe, resume=False, overwrite=False)
    assert state["prompts_in_model"] is True and _prepare_output(out, recipe, resume=True, overwrite=False)
    old = {k: v for k, v in state.items() if k != "prompts_in_model"}
    (out / STATE_FILE).write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"did not keep the training prompts in the model; this one does, so "
                                          r"stage\(s\) \['contrastive', 'multitask'\] would not resume"):
        _prepare_output(out, recipe, resume=True, overwrite=False)
    done = {**old, "done": {"contrastive": {}, "filter": {}, "multitask": {}}}
    (out / STATE_FILE).write_text(json.dumps(done), encoding="utf-8")
    assert _prepare_output(out, recipe, resume=True, overwrite=False)["done"]  # nothing prompted left to run


def test_the_long_context_stage_trains_with_the_prompts_the_model_holds(tmp_path, tiny_bert_dir, monkeypatch):
    from tests_helpers import write_longdoc_folder

    from st_plus.training import long_context

    base = SentenceTransformer(str(tiny_bert_dir), device="cpu")
    base.prompts = {"query": "q: ", "document": "d: "}
    base.save(str(tmp_path / "base"))
    seen = []
    original = long_context.SpanPoolingDataCollator

    def spy(**kwargs):
        seen.append(kwargs.get("prompts"))
        return original(**kwargs)

    monkeypatch.setattr(long_context, "SpanPoolingDataCollator", spy)
    text = RECIPE_HEAD + """\
  long_context: {data: longdoc, max_positions: 256, min_tokens: 40, batch_size: 2, max_steps: 2, save_steps: 2}
"""
    recipe = write_tiny_recipe(tmp_path, tmp_path / "base", text)
    write_longdoc_folder(tmp_path / "longdoc")
    result = run_recipe(recipe, output_dir=tmp_path / "run", show_progress_bar=False)
    assert seen == [{"query": "q: ", "document": "d: "}]
    record = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text(encoding="utf-8")))
    assert record["extra"]["long_context"]["prompts"] == {"query": "q: ", "document": "d: "}


def test_a_task_without_rows_is_named_before_any_mining(tiny_bert, tmp_path):
    from datasets import Dataset

    from st_plus.training.recipe import NegativesSpec
    from st_plus.training.stages import run_multitask

    empty = Dataset.from_dict({"anchor": [], "positive": [], "group": []})
    stage = MultitaskStage(tasks=[TaskSpec(name="pairs", type="retrieval", data="stage1", negatives=NegativesSpec())])
    with pytest.raises(ValueError, match=r"Task 'pairs' has no rows to train on \(the consistency filter kept none"):
        run_multitask(stage, tiny_bert, tmp_path, seed=1, bf16=False, resume=False, stage1_pairs=empty)
