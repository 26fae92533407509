"""Publishing to the Hugging Face Hub: model card, ``model-index`` of the results, checked single-commit upload.

The card extends sentence-transformers' card data with the training run (``st_plus_run.json``).
"""

from __future__ import annotations

from st_plus.hub.citations import recorded_losses, technique_citations
from st_plus.hub.model_card import ModelCardError, StPlusModelCardData, check_card, render_model_card
from st_plus.hub.publishing import PublishError, PublishResult, check_model_folder, check_repo_id, publish
from st_plus.hub.run_info import (
    RUN_INFO_FILE,
    RunInfoError,
    load_run_info,
    load_run_record,
    matryoshka_to_run_info,
    results_to_run_info,
    validate_run_info,
    write_run_info,
)

__all__ = [
    "RUN_INFO_FILE",
    "ModelCardError",
    "PublishError",
    "PublishResult",
    "RunInfoError",
    "StPlusModelCardData",
    "check_card",
    "check_model_folder",
    "check_repo_id",
    "load_run_info",
    "load_run_record",
    "matryoshka_to_run_info",
    "publish",
    "recorded_losses",
    "render_model_card",
    "results_to_run_info",
    "technique_citations",
    "validate_run_info",
    "write_run_info",
]
