"""What every poller shares: which systems are configured, clients with the pollers' retry policy, and the
bookkeeping of a cycle (IntegrationStatus, exponential backoff, marking snapshots stale on failure).

A poller never raises: an outside failure is recorded on IntegrationStatus and on the snapshots it would have
refreshed (they keep their last good data), and the system is left alone until `next_attempt_at`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet

from dashboards.models import IntegrationStatus
from integrations.argocd import ArgoCDClient, ArgoCDError, ArgoCDInstance, argocd_instances_from_env
from integrations.github.client import GitHubClient, GitHubError
from integrations.github.config import load as github_config
from integrations.http import RetryPolicy
from integrations.kubernetes import KubernetesClient, KubernetesCluster, KubernetesError, kubernetes_clusters_from_env
from integrations.kubernetes.config import HOST, IN_CLUSTER
from integrations.prometheus import PrometheusClient, PrometheusError, PrometheusServer, prometheus_servers_from_env

logger = logging.getLogger(__name__)

ARGOCD, PROMETHEUS, KUBERNETES, GITHUB = "argocd", "prometheus", "kubernetes", "github"
SYSTEMS = {ARGOCD: "Argo CD", PROMETHEUS: "Prometheus", KUBERNETES: "Kubernetes", GITHUB: "GitHub"}
OUTSIDE_ERRORS = (ArgoCDError, PrometheusError, KubernetesError, GitHubError)
# Pollers retry little: a failed cycle backs off across cycles instead of sleeping inside one.
DEFAULT_POLL_RETRY = RetryPolicy(attempts=2, backoff=0.5, max_backoff=2.0, max_total_wait=5.0)


def setting(name: str, default: Any) -> Any:
    """A dashboards setting: Django settings first, then the environment variable of the same name."""
    if hasattr(settings, name):
        return getattr(settings, name)
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return type(default)(value) if isinstance(default, int | float) else value


def poll_interval() -> float:
    """Seconds between poll cycles (DASHBOARDS_POLL_INTERVAL, default 60); a snapshot older than 3 of them is stale."""
    return float(setting("DASHBOARDS_POLL_INTERVAL", 60))


def poll_retry() -> RetryPolicy:
    return getattr(settings, "DASHBOARDS_RETRY", DEFAULT_POLL_RETRY)


@dataclass(frozen=True)
class Instance:
    """One configured outside system instance, with a safe one-line description."""

    system: str
    name: str
    description: str
    config: Any

    def client(self) -> Any:
        return make_client(self)


@dataclass(frozen=True)
class Configuration:
    """The instances of one system, or the error that stops its settings from being read."""

    system: str
    instances: tuple[Instance, ...]
    error: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.instances)


def configuration(system: str) -> Configuration:
    """Read one system's settings from the environment (cheap; nothing is contacted)."""
    try:
        if system == ARGOCD:
            found = [Instance(ARGOCD, item.name, item.describe(), item) for item in argocd_instances_from_env()]
        elif system == PROMETHEUS:
            found = [Instance(PROMETHEUS, item.name, item.describe(), item) for item in prometheus_servers_from_env()]
        elif system == KUBERNETES:
            found = [Instance(KUBERNETES, item.name, item.describe(), item) for item in kubernetes_clusters_from_env()]
        elif system == GITHUB:
            config = github_config()
            found = [Instance(GITHUB, "default", f"GitHub at {config.url}", config)] if config.configured else []
        else:
            raise ValueError(f"unknown system {system!r}")
    except OUTSIDE_ERRORS as exc:
        return Configuration(system, (), error=str(exc))
    return Configuration(system, tuple(found))


def make_client(instance: Instance) -> Any:
    config, retry = instance.config, poll_retry()
    if isinstance(config, ArgoCDInstance):
        return ArgoCDClient(
            config.url,
            token=config.token,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
            verify=config.verify_tls,
            name=config.name,
            retry=retry,
        )
    if isinstance(config, PrometheusServer):
        return PrometheusClient(
            config.url,
            timeout=config.timeout,
            token=config.token,
            headers=config.headers,
            verify=config.verify_tls,
            retry=retry,
        )
    if isinstance(config, KubernetesCluster):
        return _kubernetes_client(config, retry)
    return GitHubClient(base_url=config.url, token=config.token, retries=retry.attempts - 1, max_rate_limit_wait=5)


def _kubernetes_client(cluster: KubernetesCluster, retry: RetryPolicy) -> KubernetesClient:
    if cluster.mode == IN_CLUSTER:
        return KubernetesClient.in_cluster(name=cluster.name, timeout=cluster.timeout, retry=retry)
    if cluster.mode == HOST:
        return KubernetesClient.from_host(
            cluster.host or "",
            cluster.token or "",
            cluster.verify_tls,
            ca_file=cluster.ca_file,
            name=cluster.name,
            timeout=cluster.timeout,
            retry=retry,
        )
    return KubernetesClient.from_kubeconfig(
        cluster.kubeconfig, cluster.context, name=cluster.name, timeout=cluster.timeout, retry=retry
    )


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


# The bookkeeping of a cycle.


def is_due(system: str, instance: str, now: datetime) -> bool:
    """False while the system backs off after failures."""
    status = IntegrationStatus.objects.filter(system=system, instance=instance).only("next_attempt_at").first()
    return status is None or status.next_attempt_at is None or status.next_attempt_at <= now


def record_success(*, system: str, instance: str, now: datetime, calls: int, message: str) -> None:
    IntegrationStatus.objects.update_or_create(
        system=system,
        instance=instance,
        defaults={
            "ok": True,
            "message": message,
            "checked_at": now,
            "last_success_at": now,
            "consecutive_failures": 0,
            "next_attempt_at": None,
            "calls": calls,
        },
    )


def backoff_seconds(failures: int, *, hint: float | None = None) -> float:
    """Exponential backoff after `failures` failed cycles in a row, never shorter than what the server asked for."""
    base = float(setting("DASHBOARDS_BACKOFF_BASE", 30))
    ceiling = float(setting("DASHBOARDS_BACKOFF_MAX", 3600))
    delay = min(ceiling, base * (2 ** max(failures - 1, 0)))
    return max(delay, hint) if hint is not None else delay


def retry_hint(error: Exception) -> float | None:
    """The wait a server asked for (Retry-After or rate-limit headers), as the client's error carries it."""
    return getattr(error, "retry_after", None)


def record_failure(
    *, system: str, instance: str, now: datetime, error: Exception | str, calls: int, snapshots: QuerySet | None
) -> float:
    """Record a failed cycle; mark the snapshots it would have refreshed as failing (their data stays). Returns the
    backoff in seconds."""
    message = str(error) or type(error).__name__
    status, _ = IntegrationStatus.objects.get_or_create(system=system, instance=instance)
    failures = status.consecutive_failures + 1
    delay = backoff_seconds(failures, hint=retry_hint(error) if isinstance(error, Exception) else None)
    next_attempt = now + timedelta(seconds=delay)
    IntegrationStatus.objects.filter(pk=status.pk).update(
        ok=False,
        message=message,
        checked_at=now,
        consecutive_failures=failures,
        next_attempt_at=next_attempt,
        calls=calls,
    )
    if snapshots is not None:
        snapshots.update(
            last_error=message,
            last_error_at=now,
            consecutive_failures=F("consecutive_failures") + 1,
            next_attempt_at=next_attempt,
        )
    logger.warning(
        "%s/%s poll failed (%d in a row), next try in %.0f s: %s", system, instance, failures, delay, message[:300]
    )
    return delay


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
