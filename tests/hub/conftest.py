"""Fixtures of the hub tests: a run description as the training pipeline writes it, and saved tiny models."""

from __future__ import annotations

import copy

import pytest

RUN_INFO = {
    "st_plus_version": "0.1.0",
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "recipe": {"name": "quickstart", "file": "recipe.resolved.yaml"},
    "stages": [
        {
            "name": "stage1",
            "kind": "contrastive",
            "datasets": [
                {
                    "name": "debian-descriptions-en",
                    "path": "examples/training_data/debian_pairs_en.jsonl",
                    "license": "GPL-2.0-or-later",
                    "rows": 3000,
                    "task_type": "Retrieval",
                }
            ],
            "losses": ["CachedMultipleNegativesRankingLoss", "MatryoshkaLoss"],
            "steps": 100,
            "batch_size": 64,
            "seconds": 200.5,
            "filtering": {"rows_in": 3000, "rows_dropped": 120, "side_file": "dropped.jsonl"},
            "mining": {"method": "hybrid", "range_min": 10, "range_max": 100, "negatives_per_row": 1},
            "dynamic_negatives": {"refreshes": 4, "rows_replaced": 120, "config": {"refresh_steps": 25}},
        },
        {
            "name": "stage2",
            "kind": "multitask",
            "datasets": [{"name": "stsb", "hub_id": "sentence-transformers/stsb", "rows": 500, "task_type": "STS"}],
            "losses": ["InfoNCELoss", "ConsentLoss"],
        },
    ],
    "matryoshka": {
        "dims": [32, 16],
        "scores": {"32": {"retrieval_xquad_en": 0.93, "sts_stsb_en": 0.81}, "16": {"retrieval_xquad_en": 0.9}},
    },
    "late_chunking": {"mode": "late", "window": 512, "overlap": 128},
    "results": [
        {
            "task": "retrieval_xquad_en",
            "task_type": "Retrieval",
            "dataset": "retrieval_xquad_en",
            "language": "en",
            "split": "test",
            "metric": "ndcg_at_10",
            "value": 0.9318,
            "before": 0.93,
        },
        {"task": "sts_stsb_en", "task_type": "STS", "language": ["en"], "metric": "cosine_spearman", "value": 0.81},
    ],
    "hardware": {"cpu": "2 cores", "gpu": None, "processes": 1},
    "training_seconds": 612.0,
}


@pytest.fixture
def run_info():
    """A fresh copy of a complete ``st_plus_run.json`` dictionary."""
    return copy.deepcopy(RUN_INFO)


@pytest.fixture
def trained_dir(tiny_bert, tmp_path, run_info):
    """A tiny BERT (Transformer + mean Pooling) saved with ``model.save`` plus ``st_plus_run.json``."""
    from st_plus.hub import write_run_info

    folder = tmp_path / "trained"
    tiny_bert.save(str(folder))
    write_run_info(folder, run_info)
    return folder
