"""Publishing a trained model folder to the Hugging Face Hub: a checked folder, a rendered card, one commit."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import HfApi, ModelCard, get_token
from sentence_transformers import SentenceTransformer

from st_plus.hub.matryoshka_plot import plot_matryoshka
from st_plus.hub.model_card import MATRYOSHKA_PLOT, StPlusModelCardData, render_model_card
from st_plus.hub.run_info import load_run_record
from st_plus.run_record import RunRecord

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# Training leftovers that a published model does not need (the trainer keeps these in checkpoints).
_SKIPPED_DIRS = ("checkpoint-*", "runs", "__pycache__")
_SKIPPED_FILES = ("README.md", "optimizer.pt", "scheduler.pt", "rng_state*.pth", "training_args.bin")
PROBE_TEXTS = [
    "How do I install a package on Debian?",
    "The weather is lovely today.",
    "Sentence embeddings map text to vectors.",
]


class PublishError(RuntimeError):
    """The upload itself failed; the message says what, if anything, reached the Hub."""


@dataclass
class PublishResult:
    """What :func:`publish` did.

    Attributes:
        repo_id: The target repository.
        folder: The prepared folder (the ``dry_run`` folder; ``None`` after a real push, whose folder was
            temporary).
        files: The files of the prepared folder, relative paths, sorted.
        uploaded: Whether a commit was made on the Hub.
        revision: The branch pushed to (``None``: the default branch).
        commit_url: The commit's URL after a real push.
        readme: The rendered model card.
    """

    repo_id: str
    folder: Path | None
    files: list[str]
    uploaded: bool = False
    revision: str | None = None
    commit_url: str | None = None
    readme: str = field(default="", repr=False)


def check_repo_id(repo_id: str) -> str:
    """Checks that ``repo_id`` has the form ``ORG/NAME`` the Hub accepts; returns it.

    Raises:
        ValueError: Anything else (no namespace, spaces, ``--`` or ``..``, more than 96 characters).
    """
    if (
        not isinstance(repo_id, str)
        or not _REPO_ID.match(repo_id)
        or "--" in repo_id
        or ".." in repo_id
        or len(repo_id) > 96
        or repo_id.endswith(".git")
    ):
        raise ValueError(
            f"`repo_id` must look like ORG/NAME (letters, digits, '-', '_', '.'; no '--' or '..'; at most 96 "
            f"characters), got {repo_id!r}."
        )
    return repo_id


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}.") from None


def check_model_folder(model_dir: str | Path) -> Path:
    """Checks that ``model_dir`` is a sentence-transformers folder that loads without remote code.

    Raises:
        ValueError: Not a folder, no ``modules.json``, or a module whose class is not part of
            sentence-transformers (loading it would need ``trust_remote_code``).
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise ValueError(f"MODEL_DIR {str(folder)!r} is not a folder.")
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        raise ValueError(
            f"{folder} is not a sentence-transformers model folder (no modules.json); save the model with "
            "`model.save(path)`."
        )
    modules = _read_json(modules_file)
    if not isinstance(modules, list) or not all(isinstance(module, dict) for module in modules):
        raise ValueError(f"{modules_file}: expected a list of modules, got {type(modules).__name__}.")
    for module in modules:
        class_name = str(module.get("type", ""))
        if not class_name.startswith("sentence_transformers."):
            raise ValueError(
                f"{modules_file}: module {module.get('name', '?')!r} has class {class_name!r}, which is not part "
                "of sentence-transformers; the published model would need trust_remote_code. Save it with stock "
                "modules."
            )
    config = folder / "config.json"
    if config.is_file() and "auto_map" in _read_json(config):
        raise ValueError(f"{config} has an `auto_map` (custom modeling code); the model would need remote code.")
    return folder


def resolve_token(token: str | None = None) -> str | None:
    """The Hub token: ``token``, else ``HF_TOKEN``, else the one ``hf auth login`` stored. Never logged."""
    return token or os.environ.get("HF_TOKEN") or get_token()


def _skipped(relative: Path) -> bool:
    if any(part.startswith(".") for part in relative.parts):
        return True
    if any(Path(part).match(pattern) for part in relative.parts[:-1] for pattern in _SKIPPED_DIRS):
        return True
    return len(relative.parts) == 1 and any(relative.match(pattern) for pattern in _SKIPPED_FILES)


def _copy_model_files(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not _skipped(path.relative_to(source)):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def _folder_card_metadata(folder: Path) -> dict[str, Any]:
    """What the README sentence-transformers wrote at save time says (base model, language, licence, tags)."""
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    try:
        data = ModelCard.load(readme).data.to_dict()
    except Exception as exc:  # noqa: BLE001 - a hand-written README without valid front matter
        logger.warning("%s has no readable card metadata (%s): base model, language, licence, tags and datasets "
                       "from it are not carried into the new card", readme, exc)  # fmt: skip
        return {}
    return {key: data[key] for key in ("base_model", "language", "license", "tags", "datasets") if data.get(key)}


def _card_data(folder: Path, run_info: RunRecord | None, repo_id: str, license: str | None):
    found = _folder_card_metadata(folder)
    language = found.get("language") or []
    card = StPlusModelCardData(
        run_info=run_info,
        model_id=repo_id,
        license=license or found.get("license"),
        language=[language] if isinstance(language, str) else list(language),
    )
    base_model = found.get("base_model")
    if not card.base_model and isinstance(base_model, str):
        card.base_model = base_model
    if not card.base_model:  # sentence-transformers would call it just "SentenceTransformer"
        card.model_name = repo_id.split("/")[1]
    card.add_tags([tag for tag in found.get("tags") or [] if isinstance(tag, str)])
    for dataset in [found["datasets"]] if isinstance(found.get("datasets"), str) else found.get("datasets") or []:
        if dataset not in card.datasets:
            card.datasets.append(dataset)
    return card


def _load(folder: Path) -> SentenceTransformer:
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=False)


def _check_round_trip(model: SentenceTransformer, folder: Path, atol: float = 1e-6) -> None:
    expected = model.encode(PROBE_TEXTS, convert_to_numpy=True)
    actual = _load(folder).encode(PROBE_TEXTS, convert_to_numpy=True)
    if actual.shape != expected.shape or not np.allclose(actual, expected, atol=atol, rtol=0):
        raise ValueError(
            f"the prepared folder {folder} does not reproduce the model's embeddings (shapes {actual.shape} vs "
            f"{expected.shape}); a file the model needs may have been left out."
        )


def _prepare(model_dir: Path, target: Path, *, repo_id: str, license: str | None, verify: bool) -> str:
    """Fills the empty folder ``target``: model files, README.md, the Matryoshka plot. Returns the README."""
    run_info = load_run_record(model_dir)
    card = _card_data(model_dir, run_info, repo_id, license)
    try:
        model = _load(model_dir)
    except Exception as exc:  # noqa: BLE001 - any loading failure is one clear message
        raise ValueError(f"{model_dir} does not load with plain SentenceTransformer: {exc}") from None
    _copy_model_files(model_dir, target)
    if run_info and run_info.matryoshka:  # drawn after the copy: a plot from an earlier publish is replaced
        plot_matryoshka(run_info.matryoshka.to_dict(), target / MATRYOSHKA_PLOT)
        card.matryoshka_plot = MATRYOSHKA_PLOT
    readme = render_model_card(model, card)
    (target / "README.md").write_text(readme, encoding="utf-8")
    if verify:
        _check_round_trip(model, target)
    return readme


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _check_out_dir(out: Path, model_dir: Path, overwrite: bool) -> None:
    out_resolved, model_resolved = out.resolve(), model_dir.resolve()
    if (
        out_resolved == model_resolved
        or model_resolved in out_resolved.parents
        or out_resolved in model_resolved.parents
    ):
        raise ValueError(
            f"--dry-run OUT_DIR {str(out)!r} must be outside MODEL_DIR {str(model_dir)!r} (and not hold it)."
        )
    if out.exists() and not out.is_dir():
        raise ValueError(f"--dry-run OUT_DIR {str(out)!r} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"--dry-run OUT_DIR {str(out)!r} exists and is not empty; pass --overwrite to replace it.")


def publish(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    dry_run: str | Path | None = None,
    overwrite: bool = False,
    token: str | None = None,
    license: str | None = None,
    commit_message: str | None = None,
    verify: bool = True,
    api: HfApi | None = None,
) -> PublishResult:
    """Publishes a trained sentence-transformers folder with an st_plus model card.

    The folder to upload is prepared first: the model's files (without training leftovers such as
    ``checkpoint-*``), ``README.md`` rendered from :class:`~st_plus.hub.StPlusModelCardData` (with
    ``st_plus_run.json`` when the folder has one) and checked with huggingface_hub, the Matryoshka plot under
    ``assets/``; then the folder is loaded with plain ``SentenceTransformer`` and must give the model's
    embeddings (``verify``, to 1e-6). Every check runs before anything is uploaded.

    With ``dry_run`` the folder is written there and nothing is uploaded. Otherwise it goes to the Hub through
    ``huggingface_hub.HfApi``: ``create_repo`` (``exist_ok``), ``create_branch`` for a ``revision`` other than
    ``main``, then one ``upload_folder`` call, which is a single commit: either every file lands or none does.

    Args:
        model_dir: A folder saved with ``model.save(path)``.
        repo_id: ``ORG/NAME``.
        private: Create the repository as private (an existing one keeps its visibility).
        revision: Branch to push to (created from the default branch when missing); default: ``main``.
        dry_run: Write the folder that would be uploaded here instead of uploading.
        overwrite: Replace a non-empty ``dry_run`` folder.
        token: Hub token; default ``HF_TOKEN`` or the stored login. Never written to any file, log or card.
        license: Licence for the card metadata (e.g. ``apache-2.0``); default: the folder's README's.
        commit_message: Default: "Upload model trained with st_plus".
        verify: Check the plain-load round trip of the prepared folder.
        api: An ``HfApi`` to use (tests pass a fake one).

    Returns:
        A :class:`PublishResult`.

    Raises:
        ValueError: Bad ``repo_id``, a folder that is not a sentence-transformers model or needs remote code, a
            bad ``st_plus_run.json``, a card template error, a non-empty ``dry_run`` folder without
            ``overwrite``, no token for a real push. Nothing was uploaded.
        PublishError: The Hub refused or the upload failed; the message says what exists on the Hub.
    """
    check_repo_id(repo_id)
    folder = check_model_folder(model_dir)
    if dry_run is not None:
        out = Path(dry_run)
        _check_out_dir(out, folder, overwrite)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the published folder is an ordinary one
        try:
            readme = _prepare(folder, staging, repo_id=repo_id, license=license, verify=verify)
            if out.exists():
                shutil.rmtree(out)
            os.replace(staging, out)  # the folder appears complete or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return PublishResult(repo_id=repo_id, folder=out, files=_files(out), revision=revision, readme=readme)

    token = resolve_token(token)
    if not token and api is None:
        raise ValueError(
            "no Hugging Face token for the upload: set HF_TOKEN or run `hf auth login` (or use --dry-run OUT_DIR)."
        )
    with tempfile.TemporaryDirectory(prefix="st-plus-publish-") as staging_dir:
        staging = Path(staging_dir)
        readme = _prepare(folder, staging, repo_id=repo_id, license=license, verify=verify)
        files = _files(staging)
        commit_url = _push(
            api or HfApi(token=token), staging, repo_id, private=private, revision=revision, message=commit_message
        )
    return PublishResult(
        repo_id=repo_id,
        folder=None,
        files=files,
        uploaded=True,
        revision=revision,
        commit_url=commit_url,
        readme=readme,
    )


def _push(api: HfApi, folder: Path, repo_id: str, *, private: bool, revision: str | None, message: str | None) -> str:
    try:
        existed = api.repo_exists(repo_id)
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
    except Exception as exc:  # noqa: BLE001 - report any Hub failure the same way
        raise PublishError(f"could not create {repo_id}{f'@{revision}' if revision else ''} on the Hub: {exc}. "
                           "No file was uploaded.") from None  # fmt: skip
    try:
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            revision=revision,
            commit_message=message or "Upload model trained with st_plus",
        )
    except Exception as exc:  # noqa: BLE001
        state = "existing" if existed else "newly created (and still empty)"
        raise PublishError(
            f"upload to {repo_id} failed: {exc}. upload_folder makes a single commit, so no file of this upload was "
            f"committed; the {state} repository is otherwise unchanged. Run the same command again to retry."
        ) from None
    url = getattr(commit, "commit_url", None) or str(commit)
    logger.info("published %s (%d files): %s", repo_id, len(_files(folder)), url)
    return url
