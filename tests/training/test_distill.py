"""Distillation: students, teacher labels, a short run, the recipe stage and `st-plus distill`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pipeline_fixtures import RECIPE, write_tiny_recipe
from tests_helpers import CORPUS, encode_in_plain_subprocess, write_jsonl

from st_plus.cli import main
from st_plus.hub.run_info import validate_run_info
from st_plus.training.distill import (
    build_student,
    distill_dataset,
    distill_model,
    read_parallel,
    teacher_embeddings,
)
from st_plus.training.pipeline import run_recipe
from st_plus.training.recipe import DistillStage, RecipeError, load_recipe

PARALLEL = [{"source": t, "translation": " ".join(reversed(t.split()))} for t in CORPUS]


def test_students_are_a_pruned_copy_a_full_copy_or_a_new_preset_encoder(tiny_bert):
    assert build_student(tiny_bert, layers=[1]).transformers_model.config.num_hidden_layers == 1
    copy = build_student(tiny_bert)
    np.testing.assert_allclose(copy.encode(CORPUS), tiny_bert.encode(CORPUS), atol=1e-6)
    new = build_student(tiny_bert, preset="tiny", seed=0)
    assert type(new.transformers_model).__name__ == "NomicBertModel"
    assert new.tokenizer.get_vocab() == tiny_bert.tokenizer.get_vocab()
    with pytest.raises(ValueError, match="not both"):
        build_student(tiny_bert, layers=[0], preset="tiny")


def test_a_narrower_student_learns_the_teachers_renormalised_matryoshka_prefix(tiny_bert):
    full = tiny_bert.encode(CORPUS)
    prefix = teacher_embeddings(tiny_bert, CORPUS, 16)
    expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    np.testing.assert_allclose(prefix, expected, atol=1e-6)
    with pytest.raises(ValueError, match="wider than the teacher"):
        teacher_embeddings(tiny_bert, CORPUS, 64)


def test_parallel_pairs_target_the_teachers_embedding_of_the_source(tiny_bert):
    pairs = [(r["source"], r["translation"]) for r in PARALLEL[:3]]
    rows = distill_dataset(tiny_bert, 32, texts=CORPUS[5:7], parallel=pairs)
    assert rows["text"] == CORPUS[5:7] + [s for s, _ in pairs] + [t for _, t in pairs]
    labels = np.array(rows["label"])
    np.testing.assert_allclose(labels[2:5], labels[5:8])
    np.testing.assert_allclose(labels[2:5], tiny_bert.encode([s for s, _ in pairs]), atol=1e-6)


def test_read_parallel_names_file_line_and_field(tmp_path):
    good = write_jsonl(tmp_path / "p.jsonl", PARALLEL[:2] + PARALLEL[:1])
    assert read_parallel([good]) == [(r["source"], r["translation"]) for r in PARALLEL[:2]]  # duplicates dropped
    bad = write_jsonl(tmp_path / "bad.jsonl", [PARALLEL[0], {"source": "x", "translation": ""}])
    with pytest.raises(ValueError, match=r"bad.jsonl:2: translation"):
        read_parallel([bad])


def test_distillation_moves_a_new_student_towards_the_teacher(tiny_bert, tmp_path):
    student = build_student(tiny_bert, preset="tiny", seed=0)
    target = tiny_bert.encode(CORPUS)
    before = np.mean(np.sum((student.encode(CORPUS) - target) ** 2, axis=1))
    stage = DistillStage(data=[], max_steps=30, batch_size=5, learning_rate=1e-3, save_steps=1000, warmup_ratio=0.0)
    info = distill_model(student, tiny_bert, stage, tmp_path / "run", texts=CORPUS * 3, seed=0)
    after = np.mean(np.sum((student.encode(CORPUS) - target) ** 2, axis=1))
    assert info["steps"] == 30 and info["extra"]["rows"] == 30 and after < 0.5 * before


DISTILL = """\
  distill:
    data: [data/pairs.jsonl]
    student_layers: [1]
    max_steps: 3
    batch_size: 8
    save_steps: 2
    matryoshka_dims: [16]
    evaluate: [sts_tiny]
"""


def test_recipe_distill_stage_runs_before_stage_1_and_the_final_model_is_the_pruned_student(tmp_path, tiny_bert_dir):
    only_stage1 = RECIPE[: RECIPE.index("  multitask:")] + RECIPE[RECIPE.index("evaluation:") :]
    text = only_stage1.replace("stages:\n", "stages:\n" + DISTILL)
    result = run_recipe(write_tiny_recipe(tmp_path, tiny_bert_dir, text), output_dir=tmp_path / "out",
                        show_progress_bar=False)  # fmt: skip
    assert list(result.evaluations) == ["start", "distill", "contrastive", "final"]
    info = validate_run_info(json.loads((result.model_path / "st_plus_run.json").read_text()))
    assert [s["kind"] for s in info["stages"]] == ["distill", "contrastive"]
    assert info["stages"][0]["losses"] == ["MatryoshkaLoss", "MSECosineDistillLoss"]
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
    plain = encode_in_plain_subprocess(result.model_path, CORPUS[:3])
    from st_plus import load_model

    np.testing.assert_allclose(plain, load_model(result.model_path).encode(CORPUS[:3]), atol=1e-6)


def test_recipe_distill_settings_are_validated(tmp_path, tiny_bert_dir):
    bad = DISTILL.replace("student_layers: [1]", "student_layers: [1]\n    student_preset: tiny")
    recipe = write_tiny_recipe(tmp_path, tiny_bert_dir, RECIPE.replace("stages:\n", "stages:\n" + bad))
    with pytest.raises(RecipeError, match=r"stages\.distill: set `student_layers` .* not both"):
        load_recipe(recipe)
    bad = DISTILL.replace("student_layers: [1]", "student_preset: huge")
    recipe.write_text(RECIPE.replace("stages:\n", "stages:\n" + bad).replace("{base}", str(tiny_bert_dir)))
    with pytest.raises(RecipeError, match=r"student_preset: unknown preset 'huge'"):
        load_recipe(recipe)


def test_cli_distill_writes_a_plain_student_folder(tmp_path, tiny_bert_dir, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(CORPUS) + "\n")
    parallel = write_jsonl(tmp_path / "parallel.jsonl", PARALLEL)
    out = tmp_path / "student"
    argv = ["distill", "--teacher", str(tiny_bert_dir), "--student-layers", "0", "--texts", str(texts),
            "--parallel", str(parallel), "--output", str(out), "--max-steps", "2", "--batch-size", "4"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["parallel_pairs"] == len(CORPUS) and summary["texts"] == len(CORPUS)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    assert (out / "st_plus_distill.json").is_file()
    assert encode_in_plain_subprocess(out, CORPUS[:2]).shape == (2, 32)
    assert main(argv) == 2 and "exists and is not empty" in capsys.readouterr().err
    assert main([*argv[:-4], "--max-steps", "0", "--overwrite"]) == 2
