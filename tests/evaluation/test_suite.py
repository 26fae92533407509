"""evaluate_suite: validation first, one encoding per distinct text across tasks, MTEB-layout files, tables."""

from __future__ import annotations

import json

import pytest
from tests_helpers import CORPUS, write_jsonl

from st_plus.data import load_task
from st_plus.evaluation import EmbeddingCache, build_evaluator, evaluate_suite, results_table

SENTENCES = CORPUS[:6]


@pytest.fixture()
def task_dirs(tmp_path):
    sts = [
        {"sentence1": a, "sentence2": b, "score": float(i % 6)}
        for i, (a, b) in enumerate(zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1], strict=True))
    ]
    write_jsonl(tmp_path / "sts" / "test.jsonl", sts)
    (tmp_path / "sts" / "task.json").write_text(json.dumps({"task_type": "STS", "language": "en"}))
    clustering = [{"text": text, "label": i % 2} for i, text in enumerate(SENTENCES)]
    write_jsonl(tmp_path / "clu" / "test.jsonl", clustering)
    (tmp_path / "clu" / "task.json").write_text(
        json.dumps({"task_type": "Clustering", "settings": {"n_experiments": 2, "documents_per_experiment": 50}})
    )
    return [tmp_path / "sts", tmp_path / "clu"]


def test_suite_encodes_each_distinct_text_once_across_tasks(tiny_model, task_dirs, monkeypatch):
    created = []
    original_init = EmbeddingCache.__init__

    def spy(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(EmbeddingCache, "__init__", spy)
    results = evaluate_suite(tiny_model, task_dirs, show_progress_bar=False)
    [cache] = created
    assert [r.task_name for r in results] == ["sts", "clu"]
    assert cache.texts_encoded == len(set(SENTENCES))
    assert cache.texts_requested == 3 * len(SENTENCES)


def test_suite_applies_task_json_settings_and_writes_mteb_layout(tiny_model, task_dirs, tmp_path):
    out = tmp_path / "out"
    results = evaluate_suite(
        tiny_model, task_dirs, truncate_dims=[8], output_dir=out, show_progress_bar=False, model_name="org/tiny"
    )
    clustering = results[1]
    assert len(clustering.scores["v_measures"]) == 2
    folder = out / "org__tiny" / "no_revision_available"
    payload = json.loads((folder / "sts.json").read_text())
    entry = payload["scores"]["test"][0]
    assert entry["main_score"] == pytest.approx(results[0].main_score, abs=1e-5)
    assert entry["languages"] == ["eng-Latn"]
    assert "dim_8" in entry
    assert json.loads((folder / "model_meta.json").read_text())["name"] == "org/tiny"
    table = (folder / "results.md").read_text()
    assert "| sts | STS | en | test | cosine_spearman |" in table
    assert "dim 16" in table and "dim 8" in table


def test_suite_validates_every_folder_before_encoding(tiny_model, task_dirs, tmp_path):
    write_jsonl(tmp_path / "bad" / "test.jsonl", [{"text": "x", "label": 1}, {"text": "", "label": 2}])
    (tmp_path / "bad" / "task.json").write_text(json.dumps({"task_type": "Clustering"}))
    with pytest.raises(ValueError, match=r"test.jsonl:2: field 'text': empty text"):
        evaluate_suite(tiny_model, [*task_dirs, tmp_path / "bad"], show_progress_bar=False)


def test_suite_rejects_repeated_task_names(tiny_model, task_dirs):
    with pytest.raises(ValueError, match="Task names must be unique"):
        evaluate_suite(tiny_model, [task_dirs[0], task_dirs[0]], show_progress_bar=False)


def test_unknown_task_json_setting_names_the_key_and_the_accepted_ones(task_dirs):
    (task_dirs[1] / "task.json").write_text(json.dumps({"task_type": "Clustering", "settings": {"n_clusters": 3}}))
    with pytest.raises(ValueError, match=r"unknown ClusteringEvaluator setting\(s\) \['n_clusters'\]; accepted: .*"):
        build_evaluator(load_task(task_dirs[1]))


def test_descriptor_prompts_reach_the_encoder(tiny_model, task_dirs):
    (task_dirs[0] / "task.json").write_text(json.dumps({"task_type": "STS", "prompts": {"text": "similar: "}}))
    evaluator = build_evaluator(load_task(task_dirs[0]))
    cache = EmbeddingCache(tiny_model)
    evaluator.evaluate(tiny_model, cache=cache)
    assert {prompt for prompt, _ in cache._store} == {"similar: "}


def test_results_table_has_average_row(tiny_model, task_dirs):
    results = evaluate_suite(tiny_model, task_dirs, show_progress_bar=False)
    table = results_table(results)
    assert table.splitlines()[0].startswith("| task | type |")
    assert "**average**" in table


def test_results_written_by_st_plus_are_refreshed_but_foreign_files_are_kept(tiny_model, task_dirs, tmp_path):
    out = tmp_path / "results"
    evaluate_suite(tiny_model, task_dirs, output_dir=out, model_name="m", show_progress_bar=False)
    evaluate_suite(tiny_model, task_dirs, output_dir=out, model_name="m", show_progress_bar=False)  # ours: refreshed
    foreign = out / "m" / "no_revision_available" / "sts.json"
    foreign.write_text('{"scores": {"test": [{"main_score": 1.0}]}}')
    with pytest.raises(FileExistsError, match="was not written by st_plus"):
        evaluate_suite(tiny_model, task_dirs, output_dir=out, model_name="m", show_progress_bar=False)
    assert foreign.read_text() == '{"scores": {"test": [{"main_score": 1.0}]}}'
    evaluate_suite(tiny_model, task_dirs, output_dir=out, model_name="m", show_progress_bar=False, overwrite=True)
    assert "st_plus" in foreign.read_text()
