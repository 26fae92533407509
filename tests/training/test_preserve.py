"""Preserve tasks: general texts with the start model's embeddings, trained toward them in the multi-task stage."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from pipeline_fixtures import RECIPE, write_tiny_recipe
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss
from tests_helpers import CORPUS, write_jsonl

from st_plus.hub.run_info import validate_run_info
from st_plus.losses import MSECosineDistillLoss, WeightedLoss
from st_plus.training import TrainingTask, build_multitask
from st_plus.training.pipeline import run_recipe
from st_plus.training.preserve import preserve_dataset, preserve_texts, start_model_targets
from st_plus.training.recipe import RecipeError, load_recipe
from st_plus.training.recipe_data import RecipeDataError, check_recipe_data

GENERAL = [f"{CORPUS[i % len(CORPUS)]} number {i}" for i in range(40)]


def _retrieval(n=32):
    return Dataset.from_dict({"anchor": [f"{CORPUS[i % 10]} {i}" for i in range(n)],
                              "positive": [f"{CORPUS[(i + 3) % 10]} {i}" for i in range(n)]})  # fmt: skip


def test_targets_are_the_start_models_embeddings_at_the_training_length_with_the_prompt(tiny_bert):
    rows = start_model_targets(GENERAL[:6], tiny_bert, max_seq_length=8, prompt="note: ")
    assert rows.column_names == ["text", "label"] and rows["text"] == GENERAL[:6]
    assert tiny_bert.max_seq_length == 64  # restored
    tiny_bert.max_seq_length = 8
    expected = tiny_bert.encode([f"note: {t}" for t in GENERAL[:6]])
    np.testing.assert_allclose(np.array(rows["label"], dtype=np.float32), expected, atol=1e-6)
    with pytest.raises(ValueError, match="at least one text"):
        start_model_targets([], tiny_bert)


def test_targets_ignore_the_start_models_default_prompt_which_training_never_adds(tiny_bert):
    plain = np.array(start_model_targets(GENERAL[:4], tiny_bert)["label"], dtype=np.float32)
    tiny_bert.prompts, tiny_bert.default_prompt_name = {"q": "query: "}, "q"
    np.testing.assert_allclose(np.array(start_model_targets(GENERAL[:4], tiny_bert)["label"]), plain, atol=1e-6)
    assert not np.allclose(tiny_bert.encode(GENERAL[:4]), plain, atol=1e-4)  # encode alone would add it


def test_targets_of_a_narrower_trained_model_are_the_unit_length_prefix(tiny_bert):
    full = np.array(start_model_targets(GENERAL[:4], tiny_bert)["label"], dtype=np.float32)
    cut = np.array(start_model_targets(GENERAL[:4], tiny_bert, dim=16)["label"], dtype=np.float32)
    expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-6)
    with pytest.raises(ValueError, match="wider than the start model's"):
        start_model_targets(GENERAL[:4], tiny_bert, dim=64)


def test_texts_are_distinct_drawn_with_the_seed_and_cut_to_rows(tmp_path):
    path = tmp_path / "general.jsonl"
    write_jsonl(path, [{"text": t, "other": "ignored " + t} for t in [*GENERAL, *GENERAL[:5]]])
    texts = preserve_texts(path, fields=["text"], rows=10, seed=3)
    assert len(texts) == 10 == len(set(texts)) and set(texts) <= set(GENERAL)
    assert texts == preserve_texts(path, fields=["text"], rows=10, seed=3)
    assert texts != preserve_texts(path, fields=["text"], rows=10, seed=4)
    assert sorted(preserve_texts(path, fields=["text"], rows=None, seed=3)) == sorted(GENERAL)


def test_preserve_dataset_records_texts_and_start_model(tmp_path, tiny_bert, tiny_bert_dir):
    path = tmp_path / "general.txt"
    path.write_text("\n".join(GENERAL), encoding="utf-8")
    rows, info = preserve_dataset(path, tiny_bert_dir, fields=None, rows=12, seed=0, max_seq_length=16)
    assert len(rows) == 12 and len(rows[0]["label"]) == tiny_bert.get_embedding_dimension()
    assert info["texts"] == 12 and info["start_model"] == str(tiny_bert_dir)
    assert rows.features["label"].feature.dtype == "float32"  # not float64 lists


def test_a_preserve_task_gets_the_distillation_loss_outside_matryoshka(tiny_bert):
    general = start_model_targets(GENERAL, tiny_bert)
    tasks = [TrainingTask("pairs", "retrieval", _retrieval()), TrainingTask("general", "preserve", general, weight=3)]
    setup = build_multitask(tiny_bert, tasks, matryoshka_dims=[32, 16], length_grouped=True)
    assert isinstance(setup.loss["pairs"], MatryoshkaLoss)
    assert isinstance(setup.loss["general"], WeightedLoss) and setup.loss["general"].weight == 3
    assert isinstance(setup.loss["general"].loss, MSECosineDistillLoss)
    assert setup.train_dataset["general"].column_names == ["text", "label"]
    assert len(setup.lengths[1]) == len(GENERAL)


@pytest.mark.parametrize("label", [[1, 2, 3], "x", []])
def test_a_preserve_task_needs_vector_labels(tiny_bert, label):
    rows = Dataset.from_dict({"text": ["a", "b"], "label": [label, label]})
    with pytest.raises(ValueError, match="start model's embedding"):
        build_multitask(tiny_bert, [TrainingTask("general", "preserve", rows)])


def _drift(model, start, texts) -> float:
    """Mean 1 - cosine between the model's and the start model's embeddings of ``texts``."""
    a = model.encode(texts, convert_to_tensor=True)
    b = start.encode(texts, convert_to_tensor=True)
    return float((1 - torch.nn.functional.cosine_similarity(a, b)).mean())


def _train(model, tasks, tmp_path, steps=24):
    setup = build_multitask(model, tasks, strategy="round_robin")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=steps, learning_rate=1e-3, report_to=[], save_strategy="no", seed=0,
        **setup.training_args(8),
    )  # fmt: skip
    SentenceTransformerTrainer(model=model, args=args, train_dataset=setup.train_dataset, loss=setup.loss).train()


def test_the_preserve_term_keeps_the_model_nearer_the_start_on_its_texts(tiny_bert, tmp_path):
    start = copy.deepcopy(tiny_bert)
    general = start_model_targets(GENERAL, start)
    alone = copy.deepcopy(tiny_bert)
    torch.manual_seed(0)
    _train(alone, [TrainingTask("pairs", "retrieval", _retrieval())], tmp_path / "a", steps=12)
    torch.manual_seed(0)
    _train(tiny_bert, [TrainingTask("pairs", "retrieval", _retrieval()),
                       TrainingTask("general", "preserve", general, weight=10)], tmp_path / "b")  # fmt: skip
    # round robin: about as many retrieval steps in both runs, the preserve steps besides
    assert _drift(alone, start, GENERAL) > 0.01
    assert _drift(tiny_bert, start, GENERAL) < 0.5 * _drift(alone, start, GENERAL)


# ---- the recipe's `preserve` task type: checked with its line before any work, trained and recorded end to end

LABELS_TASK = "      - {name: labels, type: classification, data: data/labels.jsonl}\n"
GENERAL_TASK = "      - {name: general, type: preserve, weight: 2, data: {path: data/general.txt, rows: 12}}\n"
WITH_PRESERVE = RECIPE.replace(LABELS_TASK, LABELS_TASK + GENERAL_TASK)


def _recipe_error(recipe_path, text, base) -> str:
    recipe_path.write_text(text.replace("{base}", str(base)), encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe_path)
    return str(info.value)


def _write_general(folder):
    (folder / "data" / "general.txt").write_text("\n".join(GENERAL), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("data: {path: data/general.txt, rows: 12}", "data: stage1", "reads general texts from a file"),
        ("data: {path: data/general.txt, rows: 12}", "data: {path: data/general.txt, group_column: source}",
         "data.group_column: a preserve task has no negatives"),
        ("weight: 2, data", "weight: 2, prompts: {query: 'q: '}, data",
         "tasks[3].prompts.query: unknown prompt role; use ['text']"),
        ("model: {base: {base}, max_seq_length: 32}",
         "model: {base: null}\nstages:\n  mlm: {data: [data/general.txt]}",
         "tasks[3].type: `preserve` keeps the start model's embeddings: it needs `model.base`"),
    ],
)  # fmt: skip
def test_bad_preserve_tasks_name_the_line(tmp_path, tiny_bert_dir, old, new, expected):
    recipe_path = write_tiny_recipe(tmp_path, tiny_bert_dir, WITH_PRESERVE)
    _write_general(tmp_path)
    text = WITH_PRESERVE.replace(old, new)
    if new.startswith("model:"):
        text = text.replace("stages:\n  contrastive:", "  contrastive:", 1)
    assert text != WITH_PRESERVE
    message = _recipe_error(recipe_path, text, tiny_bert_dir)
    line = 1 + text.splitlines().index(next(x for x in text.splitlines() if "name: general" in x))
    if "base" not in expected:
        assert f"{recipe_path}:{line}: " in message, message
    assert expected in message, message


def test_an_unreadable_preserve_file_is_reported_before_any_work(tmp_path, tiny_bert_dir):
    recipe_path = write_tiny_recipe(tmp_path, tiny_bert_dir, WITH_PRESERVE.replace("general.txt", "general.jsonl"))
    (tmp_path / "data" / "general.jsonl").write_text('{"text": "fine"}\n{"text": broken\n', encoding="utf-8")
    with pytest.raises(RecipeDataError, match=r"general\.jsonl, line 2: invalid JSON"):
        check_recipe_data(load_recipe(recipe_path))
    write_jsonl(tmp_path / "data" / "general.jsonl", [{"sentence": "no text field"}])
    with pytest.raises(RecipeDataError, match="No texts found"):
        check_recipe_data(load_recipe(recipe_path))


def test_a_recipe_with_a_preserve_task_trains_it_and_records_it(tmp_path, tiny_bert_dir):
    dims = "    matryoshka_dims: [32, 16]"
    text = WITH_PRESERVE.replace(dims, "    strategy: round_robin\n" + dims)
    text = text.replace("    max_steps: 6\n", "    max_steps: 8\n")
    recipe_path = write_tiny_recipe(tmp_path, tiny_bert_dir, text)
    _write_general(tmp_path)
    result = run_recipe(recipe_path, output_dir=tmp_path / "out", show_progress_bar=False)
    history = json.loads((result.output_dir / "stages" / "multitask" / "log_history.json").read_text())
    assert "loss/general" in {key for entry in history for key in entry}
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    multitask = info["stages"][1]
    assert "MSECosineDistillLoss" in multitask["losses"]
    assert {"name": "general.txt", "rows": 12, "task_type": "Preserve"}.items() <= multitask["datasets"][3].items()
    preserve = info["extra"]["multitask"]["preserve"]["general"]
    # the model folder's record names the start model relative to the recipe's folder (it travels to the Hub)
    assert preserve["texts"] == 12
    assert (recipe_path.parent / preserve["start_model"]).resolve() == Path(tiny_bert_dir).resolve()
