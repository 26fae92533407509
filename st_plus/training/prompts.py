"""The query and document prompts a stage trains with, kept in the model so that it is read as it was trained.

sentence-transformers applies a trainer's ``prompts`` to the training columns only: the saved model does not
know them, so ``encode_query``, MTEB and st_plus's evaluations would read it without the prefixes it learned. The
contrastive and multi-task stages therefore record their prompts in ``model.prompts`` (saved in
``config_sentence_transformers.json``) before they train, so the stage's own mining and refreshes, the consistency
filter, every later stage and evaluation, and the published model use them too. ``model.encode`` adds neither
prompt; ``encode_query`` / ``encode_document`` (or ``prompt_name=``) do.
"""

from __future__ import annotations

import logging
from typing import Any

from sentence_transformers import SentenceTransformer

from st_plus.training.multitask import _RETRIEVAL_LIKE, _task_type

logger = logging.getLogger(__name__)

ROLES = ("query", "document")
#: Multi-task types whose first column is read as a query and the others as documents (graded lists included).
ROLE_TASKS = _RETRIEVAL_LIKE | {"Graded"}


def _effective(prompts: dict[str, str]) -> dict[str, str]:
    """What training prepends to a source's queries and documents: ``text`` wins, a missing role gets none."""
    if "text" in prompts:
        return dict.fromkeys(ROLES, prompts["text"])
    return {role: prompts.get(role, "") for role in ROLES}


def role_prompts(stage: Any) -> list[tuple[int | None, dict[str, str]]]:
    """``(task index or None for the contrastive stage, {role: prompt training prepends})`` for each source."""
    if hasattr(stage, "tasks"):
        return [(i, _effective(task.prompts or {})) for i, task in enumerate(stage.tasks)
                if _task_type(task.type) in ROLE_TASKS]  # fmt: skip
    return [(None, _effective(getattr(stage, "prompts", None) or {}))]


def stage_prompts(stage: Any) -> tuple[dict[str, str], dict[str, list[str]], bool]:
    """The ``query`` / ``document`` prompts a contrastive or multi-task stage trains with.

    Sources: the contrastive stage itself, or each multi-task task whose rows have queries and documents
    (retrieval, reranking, NLI, graded lists; STS, pair-classification, label and preserve tasks have neither).
    Each source's prompt for a role is what training prepends: its ``text`` prompt if set, else its role prompt,
    else none (``""``).

    Returns:
        ``(agreed, conflicts, has_sources)``: for each role that some source prompts, the one value every source
        gives; for each role whose sources differ (a source without a prompt counts as ``""``), the distinct values,
        sorted; and whether the stage trains any query / document at all.
    """
    sources = [prompts for _, prompts in role_prompts(stage)]
    agreed: dict[str, str] = {}
    conflicts: dict[str, list[str]] = {}
    for role in ROLES:
        values = {source[role] for source in sources}
        if len(values) > 1:
            conflicts[role] = sorted(values)
        elif values and values != {""}:
            agreed[role] = next(iter(values))
    return agreed, conflicts, bool(sources)


def record_prompts(
    model: SentenceTransformer, stage: Any, stage_name: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Sets ``model.prompts[role]`` to the stage's agreed prompts; returns ``(recorded, conflicts)``.

    A role whose sources disagree keeps the model's value, with a warning naming it: the model holds one prompt per
    role, so pass the prompt when encoding with such a model. A role the stage trains without any prompt keeps the
    model's value too, with a warning when that value is not empty (it came from an earlier stage or the base model,
    and every later read will add it).
    """
    agreed, conflicts, has_sources = stage_prompts(stage)
    held = dict(getattr(model, "prompts", None) or {})
    for role, values in conflicts.items():
        logger.warning(
            "Stage %s trains its %s texts with %d different prompts (%s): the model keeps its %s prompt %r, which "
            "mining, evaluations and encode_%s use. Give every task the same prompt, or pass the prompt when "
            "encoding.", stage_name, role, len(values), ", ".join(repr(v) for v in values), role,
            held.get(role, ""), role,
        )  # fmt: skip
    for role in ROLES:
        if has_sources and role not in agreed and role not in conflicts and held.get(role):
            logger.warning(
                "Stage %s trains its %s texts without a prompt, but the model holds the %s prompt %r (from an "
                "earlier stage or the base model): it is kept, and every later read adds it.",
                stage_name, role, role, held[role],
            )  # fmt: skip
    if agreed:
        model.prompts = {**held, **agreed}
    return agreed, conflicts
