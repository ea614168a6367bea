"""publish:git and git:archive: the embedded default, where repositories are local bare git repositories under
SCAFFOLDER_REPOS_DIR (DATA_DIR/repos)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from integrations.git import GitError, init_bare, push_directory
from scaffolder.config import COMMIT_AUTHOR_EMAIL, COMMIT_AUTHOR_NAME
from scaffolder.steps.base import StepContext, StepError, register
from scaffolder.workspace import WorkspaceError, resolve_inside

_REPO_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$")
ARCHIVED_MARKER = "portico-archived"


def local_repo_path(ctx: StepContext, name: str) -> Path:
    """The bare repository for name; the name may not climb out of the repositories folder."""
    if not isinstance(name, str) or not _REPO_NAME.match(name) or name.endswith(".git") or ".." in name:
        raise StepError(f"{name!r} is not a repository name: use letters, digits, - _ and . (not ending in .git)")
    return Path(ctx.settings["REPOS_DIR"]) / f"{name}.git"


def workspace_dir(ctx: StepContext, relative: str) -> Path:
    try:
        path = resolve_inside(ctx.workspace, relative or ".")
    except WorkspaceError as exc:
        raise StepError(f"sourcePath: {exc}") from exc
    if not path.is_dir():
        raise StepError(f"sourcePath {relative!r} is not a folder of the workspace; did an earlier step render it?")
    return path


@register(
    "publish:git",
    input_schema={
        "type": "object",
        "required": ["repoName"],
        "additionalProperties": False,
        "properties": {
            "repoName": {"type": "string", "minLength": 1, "maxLength": 100},
            "description": {"type": "string"},
            "sourcePath": {"type": "string"},
            "defaultBranch": {"type": "string", "default": "main"},
            "gitCommitMessage": {"type": "string"},
        },
    },
    output_keys=("remoteUrl", "repoContentsUrl", "commitHash"),
    description="Create a local bare git repository (the embedded default) and push the workspace folder to it.",
    side_effects=True,
)
def publish_git(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    repo = local_repo_path(ctx, step_input["repoName"])
    source = workspace_dir(ctx, step_input.get("sourcePath") or ".")
    branch = step_input.get("defaultBranch") or "main"
    url = repo.as_uri()
    outputs = {"remoteUrl": url, "repoContentsUrl": url, "defaultBranch": branch}
    if ctx.dry_run:
        ctx.log("info", f"dry run: would create {repo.name} and push {step_input.get('sourcePath') or '.'} to {branch}")
        return outputs | {"commitHash": ""}
    if ctx.checkpoint.get("commitHash"):
        ctx.log("info", f"{repo.name} was pushed by an earlier attempt ({ctx.checkpoint['commitHash'][:12]})")
        return outputs | {"commitHash": ctx.checkpoint["commitHash"]}
    if (repo / ARCHIVED_MARKER).exists():
        raise StepError(f"a repository named {repo.name} exists and is archived; choose another name")
    try:
        init_bare(repo, default_branch=branch)
        ctx.checkpoint["created"] = url
        result = push_directory(
            source,
            remote_url=url,
            branch=branch,
            message=step_input.get("gitCommitMessage") or "Initial commit",
            author_name=COMMIT_AUTHOR_NAME,
            author_email=COMMIT_AUTHOR_EMAIL,
        )
    except GitError as exc:
        raise StepError(
            f"pushing to {repo.name}: {exc}. A repository of that name may already hold other code."
        ) from exc
    ctx.checkpoint["commitHash"] = result.sha
    ctx.log("info", f"pushed {result.sha[:12]} to {repo.name} ({'new commit' if result.changed else 'already there'})")
    return outputs | {"commitHash": result.sha}


@register(
    "git:archive",
    input_schema={
        "type": "object",
        "required": ["repoName"],
        "additionalProperties": False,
        "properties": {"repoName": {"type": "string", "minLength": 1}},
    },
    output_keys=("archived",),
    description="Mark a local bare repository archived (the embedded default's equivalent of GitHub's archive).",
    side_effects=True,
)
def git_archive(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    repo = local_repo_path(ctx, step_input["repoName"])
    if not (repo / "HEAD").is_file():
        ctx.log("warning", f"there is no local repository {repo.name}; nothing to archive")
        return {"archived": False}
    if ctx.dry_run:
        ctx.log("info", f"dry run: would mark {repo.name} archived")
        return {"archived": False}
    # A bare repository has no read-only switch: the marker makes publish:git refuse it and tells people why.
    (repo / ARCHIVED_MARKER).write_text("archived by Portico\n", encoding="utf-8")
    ctx.log("info", f"marked {repo.name} archived")
    return {"archived": True}
