"""Beat-scheduled poll cycles. They never raise: failures are recorded on IntegrationStatus and the snapshots.

A cycle that outlasts its interval must not overlap the next one (two workers would read everything twice), so each
task holds a cache lock (shared through Redis when REDIS_URL is set) while it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from django.core.cache import cache

from dashboards import pollers
from dashboards.polling import poll_interval

logger = logging.getLogger(__name__)


def _run_alone(name: str, cycle: Callable[[], list]) -> list[dict]:
    key = f"dashboards:lock:{name}"
    # The lock expires on its own, so a worker killed mid-cycle does not stop polling for good.
    if not cache.add(key, "1", timeout=int(max(poll_interval(), 60) * 5)):
        logger.info("dashboards %s cycle skipped: the previous one is still running", name)
        return []
    try:
        return [report.__dict__ for report in cycle()]
    except Exception:
        # A bug or a database hiccup must not kill the beat schedule; the next cycle tries again.
        logger.exception("dashboards %s cycle failed", name)
        return []
    finally:
        cache.delete(key)


@shared_task(name="dashboards.poll_dashboards", ignore_result=True)
def poll_dashboards() -> list[dict]:
    """Argo CD, Prometheus and Kubernetes (every DASHBOARDS_POLL_INTERVAL, 60 s by default)."""
    return _run_alone("poll", pollers.poll_all)


@shared_task(name="dashboards.poll_ci_status", ignore_result=True)
def poll_ci_status() -> list[dict]:
    """GitHub workflow runs and pull requests (every 5 minutes: these calls are per repository)."""
    return _run_alone("ci", pollers.poll_github)
