"""The run engine: claim a run, run its steps in order with checkpoints, retries and cancellation, record the outcome.

`execute_run(run_id)` is what the Celery task calls. It is safe to call twice, at once or after a crash:
- a run is claimed with one conditional UPDATE (pending, or running with an expired lease), so only one worker
  holds it; a heartbeat thread renews the lease and saves the running step's checkpoint while the step works;
- a step with side effects that finished is never run again (its stored output is reused); steps without side
  effects only touch the workspace, which is rebuilt from scratch on every claim, so they simply run again;
- steps themselves are idempotent inside (push the same tree, write the same files, upsert the same entity).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from catalog.models import Entity
from scaffolder import config
from scaffolder.definitions import GOLDEN_PATHS_DIR, ActionDefinition, DefinitionError, parse_definition
from scaffolder.expressions import ExpressionError, evaluate_condition, expression_context, render_value
from scaffolder.models import Action, ActionRun, RunLogLine, RunStep
from scaffolder.steps import STEP_LIBRARY, StepContext, StepError, run_step
from scaffolder.workspace import WorkspaceError, tree_snapshot

logger = logging.getLogger("scaffolder.engine")

MAX_CLAIMS = 5  # a run whose worker died this many times is failed rather than tried forever
MAX_LOG_CHARS = 20_000
DRY_RUN_FILE_CHARS = 100_000
DRY_RUN_MAX_FILES = 300


class _LeaseLost(Exception):
    """Another worker took the run over (our lease expired); stop without touching it."""


def workspace_path(run: ActionRun) -> Path:
    # One folder per claim (the lease owner ends in a random token): a worker that lost its lease never shares a
    # folder with the one that took over, nor do test processes that share a data directory.
    return Path(settings.DATA_DIR) / "runs" / f"{run.pk}-{run.attempts}-{run.lease_owner.rsplit(':', 1)[-1]}"


def remove_stale_workspaces() -> int:
    """Delete the workspaces a killed worker left behind (runs that finished since, or that another claim took)."""
    root = Path(settings.DATA_DIR) / "runs"
    if not root.is_dir():
        return 0
    live = {
        workspace_path(run).name
        for run in ActionRun.objects.filter(status=ActionRun.Status.RUNNING).only("pk", "attempts", "lease_owner")
    }
    cutoff = time.time() - config.lease_seconds()
    removed = 0
    for folder in root.iterdir():
        if folder.name not in live and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def action_dir(action: Action) -> Path | None:
    """The folder relative template urls resolve against: only shipped golden paths have one."""
    if action.source != Action.Source.SHIPPED or not action.source_path:
        return None
    path = Path(action.source_path).resolve()
    return path if path.is_relative_to(GOLDEN_PATHS_DIR) and path.is_dir() else None


def user_context(user) -> dict[str, Any]:
    if user is None:
        return {"ref": "", "username": "", "email": "", "entity": ""}
    ref = f"user:default/{user.get_username().lower()}"
    return {"ref": ref, "username": user.get_username(), "email": user.email or "", "entity": ref}


def entity_context(run: ActionRun) -> dict[str, Any] | None:
    entity = run.target_entity
    if entity is None:
        return None
    descriptor = dict(entity.descriptor or {})
    metadata = dict(descriptor.get("metadata") or {})
    metadata.setdefault("name", entity.name)
    metadata.setdefault("namespace", entity.namespace)
    metadata.setdefault("annotations", dict(entity.annotations or {}))
    return {
        **descriptor,
        "kind": entity.kind,
        "metadata": metadata,
        "spec": descriptor.get("spec") or {},
        "ref": entity.ref,
    }


def claim(run_id: int, owner: str) -> ActionRun | None:
    """Take the run for this worker, or None when it is finished, waiting for approval or held by a live worker."""
    now = timezone.now()
    claimable = Q(status=ActionRun.Status.PENDING) | Q(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True), status=ActionRun.Status.RUNNING
    )
    taken = ActionRun.objects.filter(claimable, pk=run_id).update(
        status=ActionRun.Status.RUNNING,
        lease_owner=owner,
        lease_expires_at=now + timezone.timedelta(seconds=config.lease_seconds()),
        attempts=F("attempts") + 1,
        started_at=Coalesce("started_at", now),
    )
    if not taken:
        return None
    return ActionRun.objects.select_related("action", "target_entity", "requested_by").get(pk=run_id)


def _renew(run: ActionRun, owner: str) -> None:
    expires = timezone.now() + timezone.timedelta(seconds=config.lease_seconds())
    if not ActionRun.objects.filter(pk=run.pk, lease_owner=owner, status=ActionRun.Status.RUNNING).update(
        lease_expires_at=expires
    ):
        raise _LeaseLost()


class _Heartbeat(threading.Thread):
    """Renews the lease and saves the running step's checkpoint while a step works (it may take minutes)."""

    def __init__(self, run: ActionRun, owner: str) -> None:
        super().__init__(daemon=True, name=f"run-{run.pk}-heartbeat")
        self.run_obj, self.owner = run, owner
        self.stop = threading.Event()
        self.step: RunStep | None = None
        self.checkpoint: dict[str, Any] | None = None

    def run(self) -> None:
        interval = max(0.2, config.lease_seconds() / 3)
        try:
            while not self.stop.wait(interval):
                try:
                    _renew(self.run_obj, self.owner)
                    if self.step is not None and self.checkpoint:
                        RunStep.objects.filter(pk=self.step.pk).update(checkpoint=dict(self.checkpoint))
                except _LeaseLost:
                    return
                except Exception:  # a database hiccup: try again at the next beat
                    logger.warning("heartbeat of run %s failed", self.run_obj.pk, exc_info=True)
        finally:
            connection.close()


def _log(run: ActionRun, step: RunStep | None, level: str, message: str) -> None:
    RunLogLine.objects.create(run=run, step=step, level=level, message=str(message)[:MAX_LOG_CHARS])


def _finish(run: ActionRun, status: str, *, error: str = "", outputs: dict | None = None) -> None:
    """Record the outcome, only while this worker still holds the lease (else another worker owns the run now)."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "finished_at": timezone.now(),
        "lease_owner": "",
        "lease_expires_at": None,
    }
    if outputs is not None:
        values["outputs"] = outputs
    if not ActionRun.objects.filter(pk=run.pk, lease_owner=run.lease_owner).update(**values):
        raise _LeaseLost()
    for key, value in values.items():
        setattr(run, key, value)


def _cancel_requested(run: ActionRun) -> bool:
    return ActionRun.objects.filter(pk=run.pk, cancel_requested=True).exists()


def execute_run(run_id: int) -> str:
    """Run (or resume) one run; returns what happened, for the task's log. Never raises for a step's failure."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    run = claim(run_id, owner)
    if run is None:
        return "not claimed"
    if run.attempts > MAX_CLAIMS:
        _log(run, None, "error", f"the run was interrupted {MAX_CLAIMS} times; giving up")
        _finish(run, ActionRun.Status.FAILED, error=f"The worker running it stopped {MAX_CLAIMS} times. Re-run it.")
        return "failed"
    if run.attempts > 1:
        _log(run, None, "warning", f"resuming after an interrupted attempt (claim {run.attempts})")
    heartbeat = _Heartbeat(run, owner)
    heartbeat.start()
    try:
        return _execute(run, owner, heartbeat)
    except _LeaseLost:
        logger.warning("run %s was taken over by another worker", run.pk)
        return "lease lost"
    finally:
        heartbeat.stop.set()
        heartbeat.join(timeout=5)


def _execute(run: ActionRun, owner: str, heartbeat: _Heartbeat) -> str:
    try:
        # The definition as it was when the run was requested (and approved), not as the action reads today.
        definition = parse_definition(run.definition or run.action.definition)
    except DefinitionError as exc:
        _finish(run, ActionRun.Status.FAILED, error=f"The action's definition cannot be used: {exc}")
        return "failed"
    workspace = workspace_path(run)
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    if run.workspace != str(workspace):
        run.workspace = str(workspace)
        run.save(update_fields=["workspace"])
    rows = {row.step_id: row for row in run.steps.all()}
    user = user_context(run.requested_by)
    entity = entity_context(run)
    platform = config.platform_context()
    step_settings = config.step_settings()
    outputs: dict[str, dict[str, Any]] = {}
    try:
        for position, step in enumerate(definition.steps):
            row = rows.get(step.id) or RunStep.objects.create(
                run=run, position=position, step_id=step.id, name=step.name, action=step.action
            )
            if _cancel_requested(run):
                return _cancel(run)
            _renew(run, owner)
            spec = STEP_LIBRARY.get(step.action)
            if row.status == RunStep.Status.SUCCEEDED and spec is not None and spec.side_effects:
                outputs[step.id] = dict(row.output)
                continue
            context = expression_context(
                parameters=run.inputs, steps_outputs=outputs, user=user, entity=entity, platform=platform
            )
            try:
                if not evaluate_condition(step.if_, context):
                    if row.status != RunStep.Status.SKIPPED:
                        row.status, row.finished_at = RunStep.Status.SKIPPED, timezone.now()
                        row.save(update_fields=["status", "finished_at"])
                    continue
                step_input = render_value(step.input, context)
            except ExpressionError as exc:
                return _fail_step(run, row, f"step {step.name!r}: {exc}")
            result = _run_one(run, row, step, step_input, workspace, outputs, user, entity, step_settings, heartbeat)
            if isinstance(result, str):
                return _fail_step(run, row, result)
            outputs[step.id] = result
        final = _outputs(run, definition, outputs, user, entity, platform, workspace)
        if run.target_entity_id is None and not run.dry_run:
            _link_created_entity(run, definition, outputs)
        _finish(run, ActionRun.Status.SUCCEEDED, outputs=final)
        _log(run, None, "info", "dry run finished: nothing was changed" if run.dry_run else "the run succeeded")
        return "succeeded"
    finally:
        if not ActionRun.objects.filter(pk=run.pk, status=ActionRun.Status.RUNNING, lease_owner=owner).exists():
            shutil.rmtree(workspace, ignore_errors=True)


def _run_one(run, row, step, step_input, workspace, outputs, user, entity, step_settings, heartbeat) -> dict | str:
    """Run one step with retries; its outputs, or the error message when it failed for good."""
    checkpoint = dict(row.checkpoint)
    row.status, row.started_at, row.finished_at, row.error = RunStep.Status.RUNNING, timezone.now(), None, ""
    row.save(update_fields=["status", "started_at", "finished_at", "error"])
    _log(run, row, "info", f"{step.name} ({step.action})")
    attempts = config.step_attempts()
    for attempt in range(1, attempts + 1):
        RunStep.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
        ctx = StepContext(
            workspace=workspace,
            parameters=dict(run.inputs),
            user=user,
            steps_outputs=dict(outputs),
            checkpoint=checkpoint,
            dry_run=run.dry_run,
            log=lambda level, message: _log(run, row, level, message),
            settings=step_settings,
            action_dir=action_dir(run.action),
            step_id=step.id,
            entity=entity,
        )
        heartbeat.step, heartbeat.checkpoint = row, checkpoint
        try:
            result = run_step(step.action, ctx, step_input)
        except StepError as exc:
            RunStep.objects.filter(pk=row.pk).update(checkpoint=dict(checkpoint))
            if exc.retryable and attempt < attempts:
                delay = config.retry_backoff() * 2 ** (attempt - 1)
                _log(run, row, "warning", f"attempt {attempt} of {attempts} failed: {exc}; trying again in {delay:g} s")
                time.sleep(delay)
                continue
            return f"{step.name}: {exc}"
        except (WorkspaceError, OSError) as exc:
            return f"{step.name}: {exc}"
        except Exception as exc:
            logger.exception("step %s of run %s crashed", step.id, run.pk)
            return f"{step.name}: an unexpected error ({type(exc).__name__}); the worker log has the details"
        finally:
            heartbeat.step = heartbeat.checkpoint = None
        row.refresh_from_db(fields=["attempts"])
        row.status, row.output, row.checkpoint = RunStep.Status.SUCCEEDED, result, dict(checkpoint)
        row.finished_at = timezone.now()
        row.save(update_fields=["status", "output", "checkpoint", "finished_at"])
        return result
    raise AssertionError("unreachable: the last attempt returns")


def _fail_step(run: ActionRun, row: RunStep, message: str) -> str:
    row.status, row.error, row.finished_at = RunStep.Status.FAILED, message, timezone.now()
    row.save(update_fields=["status", "error", "finished_at"])
    _log(run, row, "error", message)
    _finish(run, ActionRun.Status.FAILED, error=message)
    return "failed"


def _cancel(run: ActionRun) -> str:
    RunStep.objects.filter(run=run, status__in=[RunStep.Status.PENDING, RunStep.Status.RUNNING]).update(
        status=RunStep.Status.CANCELLED
    )
    _log(run, None, "warning", "cancelled before the next step")
    _finish(run, ActionRun.Status.CANCELLED, error="Cancelled.")
    return "cancelled"


def _link_created_entity(run: ActionRun, definition: ActionDefinition, outputs: dict[str, dict]) -> None:
    """A create run shows on the Runs tab of the entity it registered."""
    for step in definition.steps:
        ref = str(outputs.get(step.id, {}).get("entityRef") or "") if step.action == "catalog:register" else ""
        entity = Entity.objects.filter(ref=ref.lower()).first() if ref else None
        if entity is not None:
            run.target_entity, run.target_ref = entity, entity.ref
            ActionRun.objects.filter(pk=run.pk).update(target_entity=entity, target_ref=entity.ref)
            return


def _entity_url(ref: str) -> str:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    try:
        return reverse("catalog:entity", kwargs={"kind": kind.lower(), "namespace": namespace, "name": name})
    except NoReverseMatch:
        return f"/catalog/{kind.lower()}/{namespace}/{name}/"


def _outputs(run, definition: ActionDefinition, outputs, user, entity, platform, workspace: Path) -> dict[str, Any]:
    """Output links and texts rendered with the steps' outputs; for a dry run also the files and the diffs."""
    context = expression_context(
        parameters=run.inputs, steps_outputs=outputs, user=user, entity=entity, platform=platform
    )
    result: dict[str, Any] = {"links": [], "text": [], "steps": outputs}
    for link in definition.output.get("links", []):
        try:
            if not evaluate_condition(link.get("if"), context):
                continue
            rendered = render_value({k: v for k, v in link.items() if k != "if"}, context)
        except ExpressionError as exc:
            _log(run, None, "warning", f"output link {link.get('title')!r}: {exc}")
            continue
        url = str(rendered.get("url") or "")
        if rendered.get("entityRef"):
            url = _entity_url(str(rendered["entityRef"]).lower())
        if url and not url.startswith(("https://", "http://", "/", "file://")):
            continue  # a link must not become javascript: or similar
        if url:
            result["links"].append({"title": str(rendered.get("title") or url), "url": url})
    for text in definition.output.get("text", []):
        try:
            if evaluate_condition(text.get("if"), context):
                rendered = render_value({k: v for k, v in text.items() if k != "if"}, context)
                result["text"].append(
                    {"title": str(rendered.get("title", "")), "content": str(rendered.get("content", ""))}
                )
        except ExpressionError as exc:
            _log(run, None, "warning", f"output text {text.get('title')!r}: {exc}")
    notes = [value["note"] for value in outputs.values() if isinstance(value, dict) and value.get("note")]
    if notes:
        result["text"] += [{"title": "Note", "content": note} for note in notes]
    if run.dry_run:
        result["files"] = _dry_run_files(workspace)
        result["diffs"] = [
            {"step": step_id, "diff": value["diff"]}
            for step_id, value in outputs.items()
            if isinstance(value, dict) and value.get("diff")
        ]
    return result


def _dry_run_files(workspace: Path) -> list[dict[str, Any]]:
    try:
        snapshot = tree_snapshot(workspace)
    except WorkspaceError as exc:
        return [{"path": "(workspace)", "content": str(exc), "binary": False}]
    files = []
    for path, data in sorted(snapshot.items())[:DRY_RUN_MAX_FILES]:
        binary = b"\0" in data[:8000]
        content = "" if binary else data[:DRY_RUN_FILE_CHARS].decode("utf-8", errors="replace")
        files.append({"path": path, "content": content, "binary": binary, "size": len(data)})
    return files
