"""Celery tasks of the scaffolder. They take ids, load state from the database and are safe to repeat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from scaffolder import engine
from scaffolder.models import ActionRun

logger = logging.getLogger("scaffolder.tasks")

PENDING_GRACE_SECONDS = 60  # a pending run nobody picked up in this time lost its message: enqueue it again


@shared_task(name="scaffolder.execute_run", acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: int) -> str:
    return engine.execute_run(int(run_id))


@shared_task(name="scaffolder.recover_stale_runs")
def recover_stale_runs() -> int:
    """Enqueue runs whose worker died (lease expired) and pending runs whose message was lost; remove the
    workspaces dead workers left behind."""
    now = timezone.now()
    stale = ActionRun.objects.filter(
        Q(status=ActionRun.Status.RUNNING, lease_expires_at__lt=now)
        | Q(status=ActionRun.Status.PENDING, created_at__lt=now - timezone.timedelta(seconds=PENDING_GRACE_SECONDS))
    ).values_list("pk", flat=True)[:500]
    count = 0
    for run_id in stale:
        logger.warning("run %s has no live worker; enqueueing it again", run_id)
        execute_run.delay(run_id)
        count += 1
    engine.remove_stale_workspaces()
    return count


@shared_task(name="scaffolder.sync_catalog_actions")
def sync_catalog_actions() -> dict:
    from scaffolder.services import actions_sync_from_catalog

    return actions_sync_from_catalog()
