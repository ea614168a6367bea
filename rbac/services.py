"""Writes of the rbac app. `audit_record` is how every other app's services leave an audit trail."""

from typing import Any

from django.db import models

from portal.middleware import current_request_id
from rbac.models import AuditEvent


def audit_record(
    *,
    actor,
    verb: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `verb` to `target`."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:300]
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:300],
        changes=changes or {},
        request_id=current_request_id.get(),
    )
