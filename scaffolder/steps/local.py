"""Steps that touch nothing outside the run's workspace: fetch:template, fetch:plain, debug:log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from scaffolder.steps.base import StepContext, StepError, register
from scaffolder.workspace import WorkspaceError, plain_copy, render_skeleton, resolve_inside, tree_snapshot

_LIST_WORKSPACE_BYTES = 20_000  # debug:log with-contents shows at most this much of each file


def resolve_source(ctx: StepContext, url: str) -> Path:
    """The local folder a fetch step copies from.

    A relative url (./skeleton) is looked up next to the action file and may not leave that folder. An absolute
    path or file:// url must sit under one of settings["SCAFFOLDER_LOCAL_TEMPLATE_ROOTS"], so a template from a
    repository cannot copy the worker's own files (/etc, the data directory) into a repository it publishes.
    """
    if url.startswith(("http://", "https://")):
        raise StepError(
            f"{url} is a remote URL; Portico fetches skeletons only from the action's own folder "
            "(url: ./skeleton) or from a configured local template root"
        )
    path_text = url.removeprefix("file://")
    if Path(path_text).is_absolute():
        path = Path(path_text).resolve()
        roots = [Path(root).resolve() for root in ctx.settings.get("SCAFFOLDER_LOCAL_TEMPLATE_ROOTS", ())]
        if not any(path.is_relative_to(root) for root in roots):
            raise StepError(
                f"{url} is outside the local template roots ({', '.join(map(str, roots)) or 'none configured'}); "
                "set SCAFFOLDER_LOCAL_TEMPLATE_ROOTS or use a path relative to the action file"
            )
    else:
        if ctx.action_dir is None:
            raise StepError(f"{url} is relative, but this action has no folder of its own to resolve it against")
        try:
            path = resolve_inside(ctx.action_dir, path_text)
        except WorkspaceError as exc:
            raise StepError(f"url {url}: {exc}") from exc
    if not path.is_dir():
        raise StepError(f"{url} is not a folder next to the action file")
    return path


def _target(ctx: StepContext, target_path: str) -> Path:
    try:
        return resolve_inside(ctx.workspace, target_path)
    except WorkspaceError as exc:
        raise StepError(f"targetPath: {exc}") from exc


_FETCH_TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "minLength": 1, "description": "The skeleton folder, relative to the action file"},
        "targetPath": {"type": "string", "description": "Where in the workspace to write (default: its root)"},
        "values": {"type": "object", "description": "Available in the skeleton as ${{ values.x }}"},
        "copyWithoutTemplating": {"type": "array", "items": {"type": "string"}},
        "copyWithoutRender": {"type": "array", "items": {"type": "string"}, "description": "Older name"},
    },
}


@register(
    "fetch:template",
    input_schema=_FETCH_TEMPLATE_SCHEMA,
    output_keys=("targetPath", "fileCount"),
    description="Render a skeleton folder (file contents and names) into the workspace with ${{ values.x }}.",
)
def fetch_template(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    source = resolve_source(ctx, step_input["url"])
    target_path = step_input.get("targetPath") or "."
    patterns = [*step_input.get("copyWithoutTemplating", []), *step_input.get("copyWithoutRender", [])]
    try:
        files = render_skeleton(
            source, _target(ctx, target_path), step_input.get("values", {}), copy_without_templating=patterns
        )
    except WorkspaceError as exc:
        raise StepError(f"rendering {step_input['url']}: {exc}") from exc
    ctx.log("info", f"rendered {len(files)} files from {step_input['url']} into {target_path}")
    return {"targetPath": target_path, "fileCount": len(files)}


@register(
    "fetch:plain",
    input_schema={
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {"url": {"type": "string", "minLength": 1}, "targetPath": {"type": "string"}},
    },
    output_keys=("targetPath", "fileCount"),
    description="Copy a folder into the workspace as it is.",
)
def fetch_plain(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    source = resolve_source(ctx, step_input["url"])
    target_path = step_input.get("targetPath") or "."
    try:
        files = plain_copy(source, _target(ctx, target_path))
    except WorkspaceError as exc:
        raise StepError(f"copying {step_input['url']}: {exc}") from exc
    ctx.log("info", f"copied {len(files)} files from {step_input['url']} into {target_path}")
    return {"targetPath": target_path, "fileCount": len(files)}


@register(
    "debug:log",
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "listWorkspace": {"enum": [True, False, "with-filenames", "with-contents"]},
        },
    },
    description="Write a message, and optionally the workspace's files, to the run log.",
)
def debug_log(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    if step_input.get("message"):
        ctx.log("info", step_input["message"])
    listing = step_input.get("listWorkspace")
    if listing:
        try:
            files = tree_snapshot(ctx.workspace)
        except WorkspaceError as exc:
            raise StepError(str(exc)) from exc
        for path, data in files.items():
            if listing == "with-contents":
                text = data[:_LIST_WORKSPACE_BYTES].decode("utf-8", errors="replace")
                ctx.log("info", f"{path}:\n{text}")
            else:
                ctx.log("info", path)
    return {}


@register(
    "debug:wait",
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 600},
            "minutes": {"type": "number", "minimum": 0, "maximum": 10},
        },
    },
    description="Pause the run (Backstage's debug:wait); a dry run does not wait.",
)
def debug_wait(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    seconds = float(step_input.get("seconds", 0)) + 60 * float(step_input.get("minutes", 0))
    if ctx.dry_run:
        return {}
    ctx.log("info", f"waiting {seconds:g} s")
    time.sleep(min(seconds, 600))
    return {}
