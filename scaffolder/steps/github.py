"""publish:github and github:archive, through integrations.github (PyGithub) and a git push with the token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from integrations.git import GitError, push_directory
from integrations.github import GitHubError
from integrations.github import config as github_config
from scaffolder.config import COMMIT_AUTHOR_EMAIL, COMMIT_AUTHOR_NAME
from scaffolder.steps.base import StepContext, StepError, register
from scaffolder.steps.git import workspace_dir


def github_client():
    try:
        return github_config.client_from_config(github_config.load())
    except GitHubError as exc:
        raise StepError(str(exc)) from exc


def parse_repo_url(repo_url: str) -> tuple[str, str, str]:
    """Backstage's RepoUrlPicker value `host?owner=o&repo=r` as (host, owner, repo)."""
    parts = urlsplit(repo_url if "://" in repo_url else f"https://{repo_url}")
    query = parse_qs(parts.query)
    owner, repo = (query.get("owner") or [""])[0], (query.get("repo") or [""])[0]
    if not owner or not repo:
        raise StepError(f"repoUrl {repo_url!r} must look like github.com?owner=acme&repo=payments-api")
    return parts.hostname or "", owner, repo


def _retryable(exc: GitHubError) -> bool:
    return exc.status is None or exc.status >= 500 or exc.status == 429


@register(
    "publish:github",
    input_schema={
        "type": "object",
        "required": ["repoUrl"],
        "additionalProperties": False,
        "properties": {
            "repoUrl": {"type": "string", "minLength": 3},
            "description": {"type": "string"},
            "repoVisibility": {"enum": ["private", "internal", "public"]},
            "defaultBranch": {"type": "string"},
            "topics": {"type": "array", "items": {"type": "string"}},
            "sourcePath": {"type": "string"},
            "gitCommitMessage": {"type": "string"},
        },
    },
    output_keys=("remoteUrl", "repoContentsUrl", "commitHash"),
    description="Create a GitHub repository (organisation or user) and push the workspace folder as its first commit.",
    side_effects=True,
)
def publish_github(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    _host, owner, name = parse_repo_url(step_input["repoUrl"])
    branch = step_input.get("defaultBranch") or "main"
    source = workspace_dir(ctx, step_input.get("sourcePath") or ".")
    if ctx.dry_run:
        url = f"https://{_host}/{owner}/{name}"
        ctx.log(
            "info", f"dry run: would create {owner}/{name} on GitHub and push {step_input.get('sourcePath') or '.'}"
        )
        return {"remoteUrl": url, "repoContentsUrl": f"{url}/blob/{branch}", "commitHash": ""}
    client = github_client()
    try:
        repo = client.create_repository(
            owner=owner,
            name=name,
            description=step_input.get("description", ""),
            private=step_input.get("repoVisibility", "private") != "public",
            topics=step_input.get("topics") or (),
            default_branch=branch,
        )
        ctx.checkpoint["repository"] = repo.html_url
        ctx.log("info", f"{'created' if repo.created else 'found'} {repo.full_name}")
        remote = client.git_remote(repo.clone_url)
        result = push_directory(
            source,
            remote_url=remote.url,
            branch=branch,
            message=step_input.get("gitCommitMessage") or "Initial commit",
            author_name=COMMIT_AUTHOR_NAME,
            author_email=COMMIT_AUTHOR_EMAIL,
            token=remote.token,
        )
    except GitHubError as exc:
        raise StepError(str(exc), retryable=_retryable(exc)) from exc
    except GitError as exc:
        raise StepError(f"pushing to {owner}/{name}: {exc}") from exc
    ctx.checkpoint["commitHash"] = result.sha
    ctx.log("info", f"pushed {str(result.sha)[:12]} to {repo.full_name}")
    return {
        "remoteUrl": repo.html_url,
        "repoContentsUrl": f"{repo.html_url}/blob/{branch}",
        "cloneUrl": repo.clone_url,
        "commitHash": result.sha,
    }


@register(
    "github:archive",
    input_schema={
        "type": "object",
        "required": ["projectSlug"],
        "additionalProperties": False,
        "properties": {"projectSlug": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"}},
    },
    output_keys=("archived",),
    description="Archive a GitHub repository (owner/name).",
    side_effects=True,
)
def github_archive(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    if ctx.dry_run:
        ctx.log("info", f"dry run: would archive {step_input['projectSlug']} on GitHub")
        return {"archived": False}
    try:
        repo = github_client().archive_repository(step_input["projectSlug"])
    except GitHubError as exc:
        raise StepError(str(exc), retryable=_retryable(exc)) from exc
    ctx.log("info", f"archived {repo.full_name}")
    return {"archived": True, "remoteUrl": repo.html_url}
