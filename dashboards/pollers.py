"""Poll cycles: read Argo CD, Prometheus, Kubernetes and GitHub in batches and store snapshots.

Calls per cycle do not grow with the number of services:
- Argo CD: ONE application list per instance (plus a login when it uses a username and password);
- Prometheus: per distinct service label name (normally one), 4 instant queries (request rate, error ratio, p50,
  p95) and 4 range queries per chart window (1h, 6h, 24h), each grouped `by (<label>)`: 16 queries;
- Kubernetes: ONE deployment list, ONE pod list and ONE warning-event list per cluster (each followed through its
  `continue` pages);
- GitHub has no batch endpoint for workflow runs, so it is the exception: two calls per repository (runs and open
  pull requests), only for entities with `github.com/project-slug`, at most DASHBOARDS_GITHUB_MAX_REPOS
  (default 30) repositories per cycle, least recently read first.
Snapshots are written with bulk upserts: a constant number of queries per cycle and system.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from catalog.models import Entity
from dashboards.mapping import (
    KUBERNETES_ID,
    ServiceTargets,
    kubernetes_matcher,
    selector_predicate,
    services_queryset,
    targets_for,
)
from dashboards.models import CIStatusSnapshot, DeploymentSnapshot, MetricSnapshot, WorkloadSnapshot
from dashboards.polling import (
    ARGOCD,
    GITHUB,
    KUBERNETES,
    OUTSIDE_ERRORS,
    PROMETHEUS,
    Instance,
    close_client,
    configuration,
    is_due,
    iso,
    record_failure,
    record_success,
    setting,
)

logger = logging.getLogger(__name__)

WINDOWS = {"1h": (3600, 60), "6h": (6 * 3600, 360), "24h": (24 * 3600, 1440)}  # window: (seconds, step)
SIGNALS = ("request_rate", "error_ratio", "p50", "p95")
_HISTORY_KEPT = 10
_EVENTS_KEPT = 20
_BATCH = 500


@dataclass(frozen=True)
class CycleReport:
    system: str
    instance: str
    outcome: str  # "ok", "failed", "backing off", "not configured", "misconfigured"
    calls: int = 0
    snapshots: int = 0
    message: str = ""


def poll_all(*, now: datetime | None = None) -> list[CycleReport]:
    """One cycle of Argo CD, Prometheus and Kubernetes (GitHub runs on its own, slower schedule)."""
    now = now or timezone.now()
    services = _services()
    return [
        *poll_argocd(now=now, services=services),
        *poll_prometheus(now=now, services=services),
        *poll_kubernetes(now=now, services=services),
    ]


def _services() -> list[tuple[Entity, ServiceTargets]]:
    entities = services_queryset().only("id", "name", "annotations", "kind", "type")
    return [(entity, targets_for(entity)) for entity in entities]


def _instances(system: str) -> tuple[list[Instance], list[CycleReport]]:
    config = configuration(system)
    if config.error:
        return [], [CycleReport(system, "-", "misconfigured", message=config.error)]
    if not config.configured:
        return [], [CycleReport(system, "-", "not configured")]
    return list(config.instances), []


def _upsert(model: type, rows: list, unique: list[str]) -> None:
    if not rows:
        return
    fields = [field.name for field in model._meta.concrete_fields if not field.primary_key and field.name not in unique]
    model.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=unique, update_fields=fields, batch_size=_BATCH
    )


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _fresh(now: datetime) -> dict:
    return {"read_at": now, "last_error": "", "last_error_at": None, "consecutive_failures": 0, "next_attempt_at": None}


# Argo CD


def poll_argocd(*, now: datetime | None = None, services: list | None = None) -> list[CycleReport]:
    now = now or timezone.now()
    instances, reports = _instances(ARGOCD)
    services = _services() if services is None and instances else services or []
    for instance in instances:
        reports.append(_poll_argocd_instance(instance, services, now))
    return reports


def _poll_argocd_instance(instance: Instance, services: list, now: datetime) -> CycleReport:
    if not is_due(ARGOCD, instance.name, now):
        return CycleReport(ARGOCD, instance.name, "backing off")
    client = None
    try:
        client = instance.client()
        apps = client.list_applications()
    except OUTSIDE_ERRORS as exc:
        snapshots = DeploymentSnapshot.objects.filter(instance=instance.name)
        record_failure(system=ARGOCD, instance=instance.name, now=now, error=exc, calls=1, snapshots=snapshots)
        return CycleReport(ARGOCD, instance.name, "failed", calls=1, message=str(exc))
    finally:
        if client is not None:
            close_client(client)
    by_name = {app.name: app for app in apps}
    rows = []
    for entity, targets in services:
        if targets.argocd_instance and targets.argocd_instance != instance.name:
            continue
        if targets.argocd_selector:
            matches = selector_predicate(targets.argocd_selector)
            found = [app for app in apps if matches(app.labels)]
        else:
            found = [by_name[targets.argocd_app_name]] if targets.argocd_app_name in by_name else []
        rows += [_deployment_row(entity, instance.name, app, now) for app in found]
    _upsert(DeploymentSnapshot, rows, ["entity", "instance", "app_name"])
    DeploymentSnapshot.objects.filter(instance=instance.name, read_at__lt=now).delete()
    message = f"{_count(len(apps), 'application')} read, {len(rows)} belonging to services"
    record_success(system=ARGOCD, instance=instance.name, now=now, calls=1, message=message)
    return CycleReport(ARGOCD, instance.name, "ok", calls=1, snapshots=len(rows), message=message)


def _deployment_row(entity: Entity, instance: str, app, now: datetime) -> DeploymentSnapshot:
    history = sorted(app.history, key=lambda entry: entry.id, reverse=True)[:_HISTORY_KEPT]
    last = app.last_deployment
    return DeploymentSnapshot(
        entity=entity,
        instance=instance,
        app_name=app.name,
        project=app.project,
        sync_status=app.sync_status,
        health_status=app.health_status,
        health_message=app.health_message,
        revision=app.sync_revision,
        target_revision=app.target_revision,
        repo_url=app.repo_url,
        path=app.path,
        last_synced_at=last.deployed_at if last else None,
        history=[
            {
                "id": entry.id,
                "revision": entry.revision,
                "deployed_at": iso(entry.deployed_at),
                "initiated_by": entry.initiated_by or ("automated" if entry.automated else ""),
            }
            for entry in history
        ],
        out_of_sync=[
            {"kind": res.kind, "namespace": res.namespace, "name": res.name, "status": res.status, "health": res.health}
            for res in app.out_of_sync_resources
        ],
        operation_phase=app.operation_phase or ("Requested" if app.operation_requested else ""),
        operation_message=app.operation_message,
        images=list(app.images),
        **_fresh(now),
    )


# Prometheus


def metric_names() -> tuple[str, str, str]:
    """(requests counter, duration histogram, status code label), configurable."""
    return (
        setting("DASHBOARDS_REQUESTS_METRIC", "http_requests_total"),
        setting("DASHBOARDS_DURATION_METRIC", "http_request_duration_seconds"),
        setting("DASHBOARDS_CODE_LABEL", "code"),
    )


def queries(label: str, rate_window: str) -> dict[str, str]:
    """The four golden-signal queries, each grouped by the service label so one query answers for every service."""
    requests, duration, code = metric_names()
    selector = f'{label}!=""'
    total = f"sum by ({label}) (rate({requests}{{{selector}}}[{rate_window}]))"
    errors = f'sum by ({label}) (rate({requests}{{{selector},{code}=~"5.."}}[{rate_window}]))'
    buckets = f"sum by ({label}, le) (rate({duration}_bucket{{{selector}}}[{rate_window}]))"
    return {
        "request_rate": total,
        # A service without any 5xx has no error series at all; `or ... * 0` gives it a ratio of 0 instead of nothing.
        "error_ratio": f"({errors} or {total} * 0) / {total}",
        "p50": f"histogram_quantile(0.5, {buckets})",
        "p95": f"histogram_quantile(0.95, {buckets})",
    }


def _number(value: float) -> float | None:
    # NaN (0/0) and infinities cannot go into JSON columns, and mean "no data" on a chart anyway.
    return value if math.isfinite(value) else None


def poll_prometheus(*, now: datetime | None = None, services: list | None = None) -> list[CycleReport]:
    now = now or timezone.now()
    instances, reports = _instances(PROMETHEUS)
    services = _services() if services is None and instances else services or []
    for instance in instances:
        reports.append(_poll_prometheus_instance(instance, services, now))
    return reports


def _poll_prometheus_instance(instance: Instance, services: list, now: datetime) -> CycleReport:
    if not is_due(PROMETHEUS, instance.name, now):
        return CycleReport(PROMETHEUS, instance.name, "backing off")
    by_label: dict[str, dict[str, list[Entity]]] = defaultdict(lambda: defaultdict(list))
    for entity, targets in services:
        by_label[targets.prometheus_label][targets.prometheus_value].append(entity)
    calls = 0
    rows = []
    client = None
    try:
        client = instance.client()
        for label, by_value in by_label.items():
            current: dict[str, dict[str, float | None]] = {}
            for signal, promql in queries(label, "5m").items():
                calls += 1
                samples = client.query(promql, time=now)
                current[signal] = {sample.labels.get(label, ""): _number(sample.value) for sample in samples}
            series: dict[str, dict[str, dict[str, list]]] = {}
            for window, (seconds, step) in WINDOWS.items():
                series[window] = {}
                for signal, promql in queries(label, f"{max(step, 300)}s").items():
                    calls += 1
                    end = now.timestamp()
                    result = client.query_range(promql, start=end - seconds, end=end, step=step)
                    series[window][signal] = {
                        item.labels.get(label, ""): [[ts, _number(value)] for ts, value in item.points]
                        for item in result
                    }
            for value, entities in by_value.items():
                for entity in entities:
                    for window in WINDOWS:
                        rows.append(
                            MetricSnapshot(
                                entity=entity,
                                window=window,
                                label=f"{label}={value}",
                                series={signal: series[window][signal].get(value, []) for signal in SIGNALS},
                                **{signal: current[signal].get(value) for signal in SIGNALS},
                                **_fresh(now),
                            )
                        )
    except OUTSIDE_ERRORS as exc:
        record_failure(
            system=PROMETHEUS, instance=instance.name, now=now, error=exc, calls=calls, snapshots=MetricSnapshot.objects
        )
        return CycleReport(PROMETHEUS, instance.name, "failed", calls=calls, message=str(exc))
    finally:
        if client is not None:
            close_client(client)
    _upsert(MetricSnapshot, rows, ["entity", "window"])
    MetricSnapshot.objects.filter(read_at__lt=now).delete()
    message = f"{calls} queries for {_count(len(services), 'service')}"
    record_success(system=PROMETHEUS, instance=instance.name, now=now, calls=calls, message=message)
    return CycleReport(PROMETHEUS, instance.name, "ok", calls=calls, snapshots=len(rows), message=message)


# Kubernetes


def poll_kubernetes(*, now: datetime | None = None, services: list | None = None) -> list[CycleReport]:
    now = now or timezone.now()
    instances, reports = _instances(KUBERNETES)
    services = _services() if services is None and instances else services or []
    for instance in instances:
        reports.append(_poll_cluster(instance, services, now))
    return reports


def _poll_cluster(instance: Instance, services: list, now: datetime) -> CycleReport:
    if not is_due(KUBERNETES, instance.name, now):
        return CycleReport(KUBERNETES, instance.name, "backing off")
    calls = 0
    client = None
    try:
        client = instance.client()
        calls += 1
        deployments = client.list_deployments()
        calls += 1
        pods = client.list_pods()
        calls += 1
        events = client.list_events(warnings_only=True)
    except OUTSIDE_ERRORS as exc:
        snapshots = WorkloadSnapshot.objects.filter(cluster=instance.name)
        record_failure(system=KUBERNETES, instance=instance.name, now=now, error=exc, calls=calls, snapshots=snapshots)
        return CycleReport(KUBERNETES, instance.name, "failed", calls=calls, message=str(exc))
    finally:
        if client is not None:
            close_client(client)
    deployments_by_id, pods_by_id, events_by_owner = _by_id(deployments), _by_id(pods), _events_by_owner(events)
    rows = []
    for entity, targets in services:
        matches = kubernetes_matcher(targets)
        # Services found by their id label are looked up; only label-selector services scan every object.
        scan = targets.kubernetes_selector is not None
        candidates = deployments if scan else deployments_by_id.get(targets.kubernetes_id, [])
        mine = [item for item in candidates if matches(item.namespace, item.labels)]
        candidates = pods if scan else pods_by_id.get(targets.kubernetes_id, [])
        my_pods = [item for item in candidates if matches(item.namespace, item.labels)]
        if not mine and not my_pods:
            continue
        rows.append(
            WorkloadSnapshot(
                entity=entity,
                cluster=instance.name,
                deployments=[_deployment_json(item) for item in mine],
                pods=[_pod_json(item) for item in my_pods],
                events=_events_for(events_by_owner, mine, my_pods),
                **_fresh(now),
            )
        )
    _upsert(WorkloadSnapshot, rows, ["entity", "cluster"])
    WorkloadSnapshot.objects.filter(cluster=instance.name, read_at__lt=now).delete()
    read = f"{_count(len(deployments), 'deployment')} and {_count(len(pods), 'pod')} read"
    message = f"{read}, {_count(len(rows), 'service')} matched"
    record_success(system=KUBERNETES, instance=instance.name, now=now, calls=calls, message=message)
    return CycleReport(KUBERNETES, instance.name, "ok", calls=calls, snapshots=len(rows), message=message)


def _deployment_json(item) -> dict:
    return {
        "namespace": item.namespace,
        "name": item.name,
        "replicas": item.replicas,
        "ready": item.ready,
        "updated": item.updated,
        "available": item.available,
        "images": list(item.images),
        "rolled_out": item.rolled_out,
    }


def _pod_json(item) -> dict:
    return {
        "namespace": item.namespace,
        "name": item.name,
        "phase": item.phase,
        "ready": item.ready,
        "restarts": item.restarts,
        "reason": item.reason,
        "started_at": iso(item.started_at or item.created_at),
        "images": list(item.images),
        "node": item.node,
    }


def _by_id(items: list) -> dict[str, list]:
    """Deployments or pods by the value of their id labels (each object once per distinct value)."""
    index: dict[str, list] = defaultdict(list)
    for item in items:
        for value in {item.labels.get(KUBERNETES_ID), item.labels.get("app.kubernetes.io/name")} - {None}:
            index[value].append(item)
    return index


def _events_by_owner(events: list) -> dict[tuple[str, str], list]:
    """Events by (namespace, name) of the object and of the objects that may own it: a pod `web-5d4f-x2` and a
    ReplicaSet `web-5d4f` both file under the Deployment `web`."""
    index: dict[tuple[str, str], list] = defaultdict(list)
    for event in events:
        parts = event.involved_name.split("-")
        names = {event.involved_name, "-".join(parts[:-1]), "-".join(parts[:-2])} - {""}
        for name in names:
            index[(event.namespace, name)].append(event)
    return index


def _events_for(index: dict[tuple[str, str], list], deployments: list, pods: list) -> list[dict]:
    """The newest warning events about the service's deployments, their ReplicaSets, or its pods."""
    found: dict[int, object] = {}
    for item in [*deployments, *pods]:
        for event in index.get((item.namespace, item.name), []):
            found[id(event)] = event
    newest = sorted(found.values(), key=lambda event: event.last_seen.timestamp() if event.last_seen else 0.0)
    return [
        {
            "namespace": event.namespace,
            "object": f"{event.involved_kind}/{event.involved_name}",
            "reason": event.reason,
            "message": event.message[:500],
            "count": event.count,
            "last_seen": iso(event.last_seen),
        }
        for event in reversed(newest[-_EVENTS_KEPT:])
    ]


# GitHub


def poll_github(*, now: datetime | None = None) -> list[CycleReport]:
    """CI status for at most DASHBOARDS_GITHUB_MAX_REPOS repositories, least recently read first."""
    now = now or timezone.now()
    instances, reports = _instances(GITHUB)
    for instance in instances:
        reports.append(_poll_github(instance, now))
    return reports


def _poll_github(instance: Instance, now: datetime) -> CycleReport:
    if not is_due(GITHUB, instance.name, now):
        return CycleReport(GITHUB, instance.name, "backing off")
    limit = int(setting("DASHBOARDS_GITHUB_MAX_REPOS", 30))
    candidates = (
        services_queryset()
        .filter(annotations__has_key="github.com/project-slug")
        .order_by(F("ci_snapshot__read_at").asc(nulls_first=True), "id")
        .only("id", "name", "annotations", "kind", "type")
    )
    due = []
    for entity in candidates.iterator():
        targets = targets_for(entity)
        if targets.github_slug:
            due.append((entity, targets.github_slug))
        if len(due) >= limit:
            break
    client = None
    calls, rows = 0, []
    try:
        client = instance.client()
        for entity, slug in due:
            calls += 2
            runs = client.latest_workflow_runs(full_name=slug, limit=5)
            pulls = client.open_pull_requests(full_name=slug, limit=5)
            rows.append(
                CIStatusSnapshot(
                    entity=entity,
                    repo=slug,
                    runs=[
                        {
                            "name": run.name,
                            "status": run.status,
                            "conclusion": run.conclusion,
                            "branch": run.branch,
                            "sha": run.head_sha,
                            "event": run.event,
                            "url": run.html_url,
                            "created_at": iso(run.created_at),
                        }
                        for run in runs
                    ],
                    pulls=[
                        {"number": pull.number, "title": pull.title, "author": pull.author, "url": pull.html_url}
                        for pull in pulls
                    ],
                    **_fresh(now),
                )
            )
    except OUTSIDE_ERRORS as exc:
        # Keep what was read before the failure; the rest is marked as failing and waits for the backoff.
        _upsert(CIStatusSnapshot, rows, ["entity"])
        done = [row.entity.pk for row in rows]
        pending = CIStatusSnapshot.objects.filter(entity__in=[e.pk for e, _ in due]).exclude(entity__in=done)
        record_failure(system=GITHUB, instance=instance.name, now=now, error=exc, calls=calls, snapshots=pending)
        return CycleReport(GITHUB, instance.name, "failed", calls=calls, message=str(exc))
    _upsert(CIStatusSnapshot, rows, ["entity"])
    message = f"{_count(len(rows), 'repository', 'repositories')} read ({calls} calls, at most {limit} per cycle)"
    record_success(system=GITHUB, instance=instance.name, now=now, calls=calls, message=message)
    return CycleReport(GITHUB, instance.name, "ok", calls=calls, snapshots=len(rows), message=message)
