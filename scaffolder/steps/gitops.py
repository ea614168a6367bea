"""gitops:commit (files into the GitOps repository, directly or as a pull request) and argocd:application.

The GitOps repository is SCAFFOLDER_GITOPS_REPO_URL, or on the embedded default a local bare repository
DATA_DIR/repos/gitops.git created on first use. A pull request needs GitHub (SCAFFOLDER_GITOPS_GITHUB_REPO and
GITHUB_TOKEN); on the embedded default the change is pushed to its own branch, and the outputs say that nobody
opened a pull request: merge the branch with git.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from integrations.git import GitError, diff_files, fetch_files, init_bare, ls_remote_head, write_files_and_push
from integrations.github import GitHubError
from scaffolder.config import COMMIT_AUTHOR_EMAIL, COMMIT_AUTHOR_NAME
from scaffolder.definitions import DefinitionError, load_yaml_documents
from scaffolder.steps.base import StepContext, StepError, register
from scaffolder.steps.git import workspace_dir
from scaffolder.steps.github import github_client
from scaffolder.workspace import WorkspaceError, resolve_inside, tree_snapshot


def _remote(ctx: StepContext) -> tuple[str, str | None, str | None]:
    """(url, token, GitHub owner/name) of the GitOps repository; the embedded one is created when missing."""
    url = ctx.settings["GITOPS_REPO_URL"]
    slug = ctx.settings.get("GITOPS_GITHUB_REPO") or None
    if ctx.settings.get("GITOPS_EMBEDDED"):
        path = Path(url.removeprefix("file://"))
        if not ctx.dry_run and not (path / "HEAD").is_file():
            init_bare(path, default_branch=ctx.settings["GITOPS_BRANCH"])
        return url, None, None
    if slug:
        try:
            remote = github_client().git_remote(url)
        except GitHubError as exc:
            raise StepError(str(exc)) from exc
        return remote.url, remote.token, slug
    return url, None, None


def _ensure_base(url: str, base: str, token: str | None) -> None:
    """A pull request branch starts from base, so an empty GitOps repository gets a first commit on base."""
    if ls_remote_head(url, token=token) is None:
        write_files_and_push(
            url,
            branch=base,
            files={"README.md": b"# GitOps repository\n\nManifests written by Portico. See apps/ and teams/.\n"},
            message="Start the GitOps repository",
            author_name=COMMIT_AUTHOR_NAME,
            author_email=COMMIT_AUTHOR_EMAIL,
            token=token,
        )


def _files_to_delete(url: str, base: str, paths: list[str], token: str | None) -> dict[str, None]:
    files: dict[str, None] = {}
    if ls_remote_head(url, token=token) is None:
        return files
    for path in paths:
        with fetch_files(url, ref=base, paths=[path], token=token) as checkout:
            files |= dict.fromkeys(checkout.glob(f"{path.strip('/')}/**"))
            if checkout.exists(path) and Path(checkout.root, path).is_file():
                files[path] = None
    return files


def _new_file_diff(files: dict[str, bytes | None]) -> str:
    chunks = []
    for path, data in sorted(files.items()):
        if data is None:
            continue
        lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff([], lines, "/dev/null", f"b/{path}"))
    return "".join(chunks)


@register(
    "gitops:commit",
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["message"],
        "properties": {
            "sourcePath": {"type": "string", "description": "Workspace folder whose files are written"},
            "targetPath": {"type": "string", "description": "Where they go in the GitOps repository"},
            "deletePaths": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "message": {"type": "string", "minLength": 1},
            "pullRequest": {"type": "boolean"},
            "branchName": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    output_keys=("commitHash", "pullRequestUrl", "branch", "diff"),
    description="Write files into (or delete paths from) the GitOps repository as a commit or a pull request.",
    side_effects=True,
)
def gitops_commit(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    base = ctx.settings["GITOPS_BRANCH"]
    pull_request = bool(step_input.get("pullRequest"))
    branch = (step_input.get("branchName") or f"portico/{ctx.step_id}") if pull_request else base
    files: dict[str, bytes | None] = {}
    if step_input.get("sourcePath"):
        source = workspace_dir(ctx, step_input["sourcePath"])
        target = (step_input.get("targetPath") or "").strip("/")
        try:
            snapshot = tree_snapshot(source)
        except WorkspaceError as exc:
            raise StepError(str(exc)) from exc
        files |= {f"{target}/{path}" if target else path: data for path, data in snapshot.items()}
    if ctx.checkpoint.get("done"):
        ctx.log("info", "the GitOps change was made by an earlier attempt")
        return dict(ctx.checkpoint["done"])
    try:
        url, token, slug = _remote(ctx)
        embedded_missing = ctx.settings.get("GITOPS_EMBEDDED") and not Path(url.removeprefix("file://")).exists()
        if step_input.get("deletePaths") and not embedded_missing:
            files = _files_to_delete(url, base, step_input["deletePaths"], token) | files
        if not files:
            ctx.log("warning", "nothing to write or delete in the GitOps repository")
            return {"commitHash": "", "pullRequestUrl": "", "branch": branch, "diff": ""}
        if ctx.dry_run:
            diff = (
                _new_file_diff(files)
                if embedded_missing or ls_remote_head(url, token=token) is None
                else (
                    diff_files(url, branch=branch, files=files, token=token, base_branch=base if pull_request else None)
                )
            )
            ctx.log("info", f"dry run: {len(files)} files would change in the GitOps repository on {branch}")
            return {"commitHash": "", "pullRequestUrl": "", "branch": branch, "diff": diff, "files": sorted(files)}
        if pull_request:
            _ensure_base(url, base, token)
        result = write_files_and_push(
            url,
            branch=branch,
            files=files,
            message=step_input["message"],
            author_name=COMMIT_AUTHOR_NAME,
            author_email=COMMIT_AUTHOR_EMAIL,
            token=token,
            base_branch=base if pull_request else None,
        )
    except GitError as exc:
        raise StepError(f"GitOps repository: {exc}", retryable=True) from exc
    ctx.log("info", f"{'committed' if result.changed else 'already committed'} {str(result.sha)[:12]} on {branch}")
    outputs: dict[str, Any] = {"commitHash": result.sha or "", "branch": branch, "pullRequestUrl": "", "diff": ""}
    if pull_request and slug:
        ctx.checkpoint["commitHash"] = result.sha
        try:
            pull = github_client().open_pull_request(
                full_name=slug,
                branch=branch,
                base=base,
                title=step_input.get("title") or step_input["message"],
                body=step_input.get("description") or "",
            )
        except GitHubError as exc:
            raise StepError(str(exc), retryable=exc.status is None or exc.status >= 500) from exc
        outputs["pullRequestUrl"] = pull.html_url
        ctx.log("info", f"pull request {pull.html_url}")
    elif pull_request:
        outputs["note"] = (
            f"The GitOps repository is the embedded local one, so no pull request was opened: the change is on "
            f"branch {branch}. Review and merge it with git, or configure GitHub for pull requests."
        )
        ctx.log("info", outputs["note"])
    ctx.checkpoint["done"] = outputs
    return outputs


@register(
    "argocd:application",
    input_schema={
        "type": "object",
        "required": ["manifestPath"],
        "additionalProperties": False,
        "properties": {
            "manifestPath": {"type": "string", "description": "The Application manifest in the workspace"},
            "create": {"type": "boolean", "description": "Also create it through Argo CD's API when configured"},
            "instance": {"type": "string"},
        },
    },
    output_keys=("appName", "namespace", "created"),
    description="Check an Argo CD Application manifest (committed to the GitOps repository by gitops:commit) and "
    "optionally create it through Argo CD's API.",
    side_effects=True,
)
def argocd_application(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    try:
        path = resolve_inside(ctx.workspace, step_input["manifestPath"])
        documents = load_yaml_documents(path.read_text(encoding="utf-8"))
    except (WorkspaceError, DefinitionError, OSError) as exc:
        raise StepError(f"manifestPath {step_input['manifestPath']!r}: {exc}") from exc
    manifest = documents[0] if len(documents) == 1 else None
    if not isinstance(manifest, dict) or manifest.get("kind") != "Application":
        raise StepError(f"{step_input['manifestPath']} is not one Argo CD Application manifest")
    spec = manifest.get("spec") or {}
    if not isinstance(spec, dict) or not spec.get("project") or not spec.get("destination") or not spec.get("source"):
        raise StepError(f"{step_input['manifestPath']}: an Application needs spec.project, spec.source and destination")
    metadata = manifest.get("metadata") or {}
    outputs = {"appName": metadata.get("name", ""), "namespace": metadata.get("namespace", ""), "created": False}
    if not step_input.get("create") or ctx.dry_run:
        ctx.log("info", f"Application {outputs['appName']} is in the GitOps repository; the root app applies it")
        return outputs
    from integrations.argocd import ArgoCDError, argocd_instances_from_env

    try:
        instances = argocd_instances_from_env()
        wanted = step_input.get("instance") or "default"
        instance = next((item for item in instances if item.name == wanted), None)
        if instance is None:
            ctx.log("warning", f"Argo CD instance {wanted!r} is not configured; the Application was only committed")
            return outputs
        with instance.client() as client:
            client.create_application(manifest, upsert=True)
    except ArgoCDError as exc:
        raise StepError(str(exc), retryable=True) from exc
    ctx.log("info", f"created Application {outputs['appName']} in Argo CD {instance.name}")
    return outputs | {"created": True}
