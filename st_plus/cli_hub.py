"""``st-plus publish``: a trained model folder to the Hugging Face Hub (or, with ``--dry-run``, to a local folder)."""

from __future__ import annotations

import argparse
import json


class HubCliError(Exception):
    """An error shown to the user as one line, with exit code 2."""


def cmd_publish(args: argparse.Namespace) -> int:
    """Prepares MODEL_DIR for ``--repo-id`` and uploads it, or writes it to ``--dry-run OUT_DIR``."""
    from st_plus.hub import PublishError, publish

    try:
        result = publish(
            args.model_dir,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            dry_run=args.dry_run,
            overwrite=args.overwrite,
            license=args.license,
            commit_message=args.commit_message,
            verify=not args.no_verify,
        )
    except (ValueError, PublishError, ImportError) as exc:
        raise HubCliError(str(exc)) from None
    summary = {"repo_id": result.repo_id, "files": result.files, "uploaded": result.uploaded}
    if result.folder is not None:
        summary["folder"] = str(result.folder)
    if result.revision:
        summary["revision"] = result.revision
    if result.commit_url:
        summary["commit_url"] = result.commit_url
    print(json.dumps(summary, indent=2))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``publish`` to the ``st-plus`` parser."""
    pub = commands.add_parser(
        "publish",
        help="Publish a trained model folder to the Hugging Face Hub with an st_plus model card",
        description="Check MODEL_DIR, render its model card (st_plus_run.json when present), check that the folder "
        "loads with plain SentenceTransformer and gives the same embeddings, then upload it in one commit (or write "
        "it to --dry-run OUT_DIR). The token comes from HF_TOKEN or `hf auth login` and is never written anywhere.",
    )
    pub.add_argument("model_dir", metavar="MODEL_DIR", help="A folder saved with model.save(path)")
    pub.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="The Hub repository")
    pub.add_argument("--private", action="store_true", help="Create the repository as private")
    pub.add_argument("--revision", metavar="R", help="Branch to push to (created when missing; default main)")
    pub.add_argument("--dry-run", metavar="OUT_DIR", help="Write the folder that would be uploaded here; no upload")
    pub.add_argument("--overwrite", action="store_true", help="Replace a non-empty --dry-run OUT_DIR")
    pub.add_argument("--license", help="Licence for the card metadata, e.g. apache-2.0")
    pub.add_argument("--commit-message", help="Default: 'Upload model trained with st_plus'")
    pub.add_argument("--no-verify", action="store_true", help="Skip the plain-load embedding check")
    pub.set_defaults(func=cmd_publish)
