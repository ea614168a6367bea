"""Snapshots the dashboard pages render from, written by the pollers (dashboards/pollers.py).

A page view never waits on Argo CD, Prometheus, Kubernetes or GitHub: it reads these rows. Each row keeps when it was
read and the last error, so a page can say "read 40 s ago" or "stale since 10:02: Argo CD answered 401".
"""

from __future__ import annotations

from django.db import models


class Snapshot(models.Model):
    """What every snapshot knows about its own freshness."""

    read_at = models.DateTimeField(null=True, blank=True, help_text="When the data shown was read.")
    last_error = models.TextField(blank=True, help_text="Why the latest attempt failed; empty when it worked.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Backoff: not polled again before this.")

    class Meta:
        abstract = True


class DeploymentSnapshot(Snapshot):
    """One Argo CD application of a service, as the latest application list showed it."""

    entity = models.ForeignKey("catalog.Entity", on_delete=models.CASCADE, related_name="deployment_snapshots")
    instance = models.CharField(max_length=40, default="default")
    app_name = models.CharField(max_length=253)
    project = models.CharField(max_length=253, blank=True)
    sync_status = models.CharField(max_length=32, blank=True)
    health_status = models.CharField(max_length=32, blank=True)
    health_message = models.TextField(blank=True)
    revision = models.CharField(max_length=200, blank=True)
    target_revision = models.CharField(max_length=200, blank=True)
    repo_url = models.CharField(max_length=2000, blank=True)
    path = models.CharField(max_length=1000, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="Recent deployments, newest first.")
    out_of_sync = models.JSONField(default=list, blank=True, help_text="Resources not in sync.")
    operation_phase = models.CharField(max_length=32, blank=True)
    operation_message = models.TextField(blank=True)
    images = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["instance", "app_name"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "instance", "app_name"], name="dashboards_deployment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.app_name} ({self.instance})"


class MetricSnapshot(Snapshot):
    """A service's golden signals: current values, and chart series over one window (1h, 6h or 24h)."""

    class Window(models.TextChoices):
        HOUR = "1h", "1 hour"
        SIX_HOURS = "6h", "6 hours"
        DAY = "24h", "24 hours"

    entity = models.ForeignKey("catalog.Entity", on_delete=models.CASCADE, related_name="metric_snapshots")
    window = models.CharField(max_length=4, choices=Window.choices)
    label = models.CharField(max_length=400, blank=True, help_text="The Prometheus selector, e.g. service=checkout.")
    request_rate = models.FloatField(null=True, blank=True, help_text="Requests per second, now.")
    error_ratio = models.FloatField(null=True, blank=True, help_text="Share of 5xx answers (0..1), now.")
    p50 = models.FloatField(null=True, blank=True, help_text="Median latency in seconds, now.")
    p95 = models.FloatField(null=True, blank=True, help_text="95th percentile latency in seconds, now.")
    series = models.JSONField(default=dict, blank=True, help_text="{signal: [[unix seconds, value], ...]}")

    class Meta:
        ordering = ["window"]
        constraints = [models.UniqueConstraint(fields=["entity", "window"], name="dashboards_metric_unique")]

    def __str__(self) -> str:
        return f"metrics {self.window}"


class WorkloadSnapshot(Snapshot):
    """A service's deployments, pods and recent warning events in one cluster."""

    entity = models.ForeignKey("catalog.Entity", on_delete=models.CASCADE, related_name="workload_snapshots")
    cluster = models.CharField(max_length=40, default="default")
    deployments = models.JSONField(default=list, blank=True)
    pods = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["cluster"]
        constraints = [models.UniqueConstraint(fields=["entity", "cluster"], name="dashboards_workload_unique")]

    def __str__(self) -> str:
        return f"workloads in {self.cluster}"


class CIStatusSnapshot(Snapshot):
    """A service repository's latest workflow runs and open pull requests on GitHub."""

    entity = models.OneToOneField("catalog.Entity", on_delete=models.CASCADE, related_name="ci_snapshot")
    repo = models.CharField(max_length=200)
    runs = models.JSONField(default=list, blank=True)
    pulls = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"CI of {self.repo}"


class IntegrationStatus(models.Model):
    """How the latest poll of one outside system (one Argo CD instance, one cluster...) went, and its backoff."""

    system = models.CharField(max_length=20)  # argocd, prometheus, kubernetes, github
    instance = models.CharField(max_length=40, default="default")
    ok = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveIntegerField(default=0, help_text="Calls the latest cycle made (before client retries).")

    class Meta:
        ordering = ["system", "instance"]
        constraints = [models.UniqueConstraint(fields=["system", "instance"], name="dashboards_integration_unique")]

    def __str__(self) -> str:
        return f"{self.system}/{self.instance}"
