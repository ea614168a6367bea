"""Typed results of the Kubernetes client, built from the official client's models.

Kubernetes leaves out zero values: a Deployment with no ready pods has no `readyReplicas`, so every count here
reads a missing number as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeploymentCondition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class Deployment:
    """`replicas` is the desired count (spec); `ready`, `updated` and `available` come from the status."""

    namespace: str
    name: str
    labels: dict[str, str]
    replicas: int
    ready: int
    updated: int
    available: int
    images: tuple[str, ...]
    conditions: tuple[DeploymentCondition, ...]
    created_at: datetime | None

    @property
    def rolled_out(self) -> bool:
        """Every desired replica runs the current template and is available."""
        return self.updated == self.replicas and self.available == self.replicas and self.ready == self.replicas


@dataclass(frozen=True)
class Pod:
    """`ready` is the pod's Ready condition; `restarts` sums its containers' restart counts; `reason` says what is
    wrong in a word (CrashLoopBackOff, ImagePullBackOff, Evicted, Unschedulable, Terminating...) or is None."""

    namespace: str
    name: str
    labels: dict[str, str]
    phase: str
    ready: bool
    restarts: int
    started_at: datetime | None
    created_at: datetime | None
    images: tuple[str, ...]
    node: str | None
    reason: str | None


@dataclass(frozen=True)
class Event:
    namespace: str
    involved_kind: str
    involved_name: str
    type: str
    reason: str
    message: str
    count: int
    last_seen: datetime | None


@dataclass(frozen=True)
class ConnectionInfo:
    """What `check_connection()` learned: the API server's version."""

    version: str


def _labels(metadata: Any) -> dict[str, str]:
    return dict(metadata.labels or {}) if metadata is not None else {}


def _images(pod_spec: Any) -> tuple[str, ...]:
    if pod_spec is None:
        return ()
    return tuple(container.image for container in pod_spec.containers or [] if container.image)


def deployment_from_model(item: Any) -> Deployment:
    metadata, spec, status = item.metadata, item.spec, item.status
    template_spec = spec.template.spec if spec.template is not None else None
    conditions = tuple(
        DeploymentCondition(
            type=condition.type or "",
            status=condition.status or "",
            reason=condition.reason or "",
            message=condition.message or "",
        )
        for condition in (status.conditions if status is not None else None) or []
    )
    return Deployment(
        namespace=metadata.namespace or "",
        name=metadata.name or "",
        labels=_labels(metadata),
        # The API server defaults spec.replicas to 1, so a missing value means 1, not 0.
        replicas=spec.replicas if spec.replicas is not None else 1,
        ready=(status.ready_replicas or 0) if status is not None else 0,
        updated=(status.updated_replicas or 0) if status is not None else 0,
        available=(status.available_replicas or 0) if status is not None else 0,
        images=_images(template_spec),
        conditions=conditions,
        created_at=metadata.creation_timestamp,
    )


def _pod_reason(item: Any) -> str | None:
    metadata, status = item.metadata, item.status
    if metadata.deletion_timestamp is not None:
        return "Terminating"
    if status is None:
        return None
    if status.reason:
        return status.reason
    for container in status.container_statuses or []:
        state = container.state
        if state is not None and state.waiting is not None and state.waiting.reason:
            return state.waiting.reason
        if state is not None and state.terminated is not None and state.terminated.reason not in (None, "Completed"):
            return state.terminated.reason
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason:
            return condition.reason
    return None


def pod_from_model(item: Any) -> Pod:
    metadata, spec, status = item.metadata, item.spec, item.status
    conditions = (status.conditions if status is not None else None) or []
    containers = (status.container_statuses if status is not None else None) or []
    return Pod(
        namespace=metadata.namespace or "",
        name=metadata.name or "",
        labels=_labels(metadata),
        phase=(status.phase if status is not None else None) or "Unknown",
        ready=any(condition.type == "Ready" and condition.status == "True" for condition in conditions),
        restarts=sum(container.restart_count or 0 for container in containers),
        started_at=status.start_time if status is not None else None,
        created_at=metadata.creation_timestamp,
        images=_images(spec),
        node=(spec.node_name if spec is not None else None) or None,
        reason=_pod_reason(item),
    )


def event_from_model(item: Any) -> Event:
    metadata, involved, series = item.metadata, item.involved_object, item.series
    # Events written through events.k8s.io/v1 carry `series` and `eventTime` instead of count and lastTimestamp.
    last_seen = (
        item.last_timestamp
        or (series.last_observed_time if series is not None else None)
        or item.event_time
        or item.first_timestamp
        or metadata.creation_timestamp
    )
    return Event(
        namespace=metadata.namespace or involved.namespace or "",
        involved_kind=involved.kind or "",
        involved_name=involved.name or "",
        type=item.type or "",
        reason=item.reason or "",
        message=item.message or "",
        count=item.count or (series.count if series is not None else None) or 1,
        last_seen=last_seen,
    )
