"""Writes of the dashboards: syncing an Argo CD application, testing a connection."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from dashboards.models import DeploymentSnapshot
from dashboards.polling import ARGOCD, GITHUB, KUBERNETES, OUTSIDE_ERRORS, SYSTEMS, close_client, configuration
from rbac.services import audit_record


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


def deployment_sync(*, actor, snapshot: DeploymentSnapshot) -> ActionResult:
    """Ask Argo CD to sync the application of `snapshot` (the caller has checked change permission on its entity)."""
    instance = next((item for item in configuration(ARGOCD).instances if item.name == snapshot.instance), None)
    if instance is None:
        return ActionResult(False, f"Argo CD instance '{snapshot.instance}' is not configured any more.")
    client = None
    try:
        client = instance.client()
        app = client.sync(snapshot.app_name, project=snapshot.project or "default")
    except OUTSIDE_ERRORS as exc:
        return ActionResult(False, f"Sync of {snapshot.app_name} failed: {exc}")
    finally:
        if client is not None:
            close_client(client)
    with transaction.atomic():
        DeploymentSnapshot.objects.filter(pk=snapshot.pk).update(operation_phase="Requested", operation_message="")
        audit_record(
            actor=actor,
            verb="dashboards.sync",
            target=snapshot.entity,
            changes={"application": snapshot.app_name, "instance": snapshot.instance},
        )
    phase = app.operation_phase or "requested"
    return ActionResult(True, f"Sync of {snapshot.app_name} started ({phase}); the page updates with the next poll.")


def integration_test(*, actor, system: str, instance: str) -> ActionResult:
    """Try one configured instance's connection now, and say what came back."""
    config = configuration(system)
    if config.error:
        return ActionResult(False, config.error)
    found = next((item for item in config.instances if item.name == instance), None)
    if found is None:
        return ActionResult(False, f"{SYSTEMS.get(system, system)} instance '{instance}' is not configured.")
    client = None
    try:
        client = found.client()
        info = client.check_connection()
    except OUTSIDE_ERRORS as exc:
        return ActionResult(False, str(exc))
    finally:
        if client is not None:
            close_client(client)
    if system == GITHUB:
        detail = f"signed in as {info.login}"
    elif system == KUBERNETES:
        detail = f"API server {info.version}"
    else:
        detail = f"version {info.version}" + (
            f", signed in as {info.username}" if getattr(info, "username", "") else ""
        )
    audit_record(
        actor=actor, verb="dashboards.test_connection", target_type="integration", target_id=f"{system}/{instance}"
    )
    return ActionResult(True, f"Connected to {found.description}: {detail}.")
