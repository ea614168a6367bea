"""Beat-scheduled poll cycles. They never raise: failures are recorded on IntegrationStatus and the snapshots."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboards import pollers

logger = logging.getLogger(__name__)


@shared_task(name="dashboards.poll_dashboards", ignore_result=True)
def poll_dashboards() -> list[dict]:
    """Argo CD, Prometheus and Kubernetes (every DASHBOARDS_POLL_INTERVAL, 60 s by default)."""
    try:
        return [report.__dict__ for report in pollers.poll_all()]
    except Exception:
        # A bug or a database hiccup must not kill the beat schedule; the next cycle tries again.
        logger.exception("dashboards poll cycle failed")
        return []


@shared_task(name="dashboards.poll_ci_status", ignore_result=True)
def poll_ci_status() -> list[dict]:
    """GitHub workflow runs and pull requests (every 5 minutes: these calls are per repository)."""
    try:
        return [report.__dict__ for report in pollers.poll_github()]
    except Exception:
        logger.exception("dashboards CI poll cycle failed")
        return []
