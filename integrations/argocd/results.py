"""Typed results of the Argo CD client, and the parsing of Argo CD's JSON into them.

Argo CD is written in Go: empty lists, empty strings and zero numbers are usually left out of its JSON, and fields
appear as the application's life goes on (`operationState` only after the first operation, `history` only after the
first sync, per-resource `health` only on Get since 3.0). Every reader below treats a missing field as empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

UNKNOWN = "Unknown"
RUNNING_PHASES = frozenset({"Running", "Terminating"})


@dataclass(frozen=True)
class HistoryEntry:
    """One deployment from `status.history` (oldest first, as Argo CD keeps them)."""

    id: int
    revision: str
    deployed_at: datetime | None
    started_at: datetime | None
    initiated_by: str | None
    automated: bool


@dataclass(frozen=True)
class ResourceStatus:
    """A resource of the application that is not in sync (from `status.resources`)."""

    group: str
    kind: str
    namespace: str
    name: str
    status: str
    health: str | None


@dataclass(frozen=True)
class Condition:
    """An application condition such as ComparisonError or SyncError."""

    type: str
    message: str


@dataclass(frozen=True)
class Application:
    """An Argo CD Application as a dashboard needs it.

    `namespace` is the destination namespace (where the workloads run); `app_namespace` is the namespace the
    Application object itself lives in (usually "argocd"). `operation_requested` is true while an operation is queued
    or running (`operation` is set); `operation_phase` is the phase of the latest operation (`status.operationState`),
    None before the first one.
    """

    name: str
    project: str
    namespace: str
    app_namespace: str
    labels: dict[str, str]
    repo_url: str
    path: str
    target_revision: str
    destination_server: str
    auto_sync: bool
    sync_status: str
    sync_revision: str
    health_status: str
    health_message: str
    operation_requested: bool
    operation_phase: str | None
    operation_message: str
    reconciled_at: datetime | None
    history: tuple[HistoryEntry, ...]
    out_of_sync_resources: tuple[ResourceStatus, ...]
    images: tuple[str, ...]
    conditions: tuple[Condition, ...]

    @property
    def operation_in_progress(self) -> bool:
        return self.operation_requested or self.operation_phase in RUNNING_PHASES

    @property
    def last_deployment(self) -> HistoryEntry | None:
        return max(self.history, key=lambda entry: entry.id) if self.history else None


@dataclass(frozen=True)
class ResourceNode:
    """A live resource from the application's resource tree."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    uid: str
    health_status: str | None
    health_message: str
    images: tuple[str, ...]
    info: dict[str, str]
    parents: tuple[str, ...]
    created_at: datetime | None


@dataclass(frozen=True)
class ResourceTree:
    nodes: tuple[ResourceNode, ...]
    orphaned_nodes: tuple[ResourceNode, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class ConnectionInfo:
    """What `check_connection()` learned: the server version and who we are logged in as."""

    version: str
    username: str


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: Any) -> int:
    # int64 fields may arrive as numbers or, from some encoders, as strings.
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as Kubernetes and Argo CD write it ("2024-05-01T10:00:00Z"), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _string_map(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in _dict(value).items()}


def _first_source(spec: dict[str, Any]) -> dict[str, Any]:
    # Single-source apps use `source`; multi-source apps use `sources`, whose first entry is the primary one.
    source = _dict(spec.get("source"))
    if source:
        return source
    sources = _list(spec.get("sources"))
    return _dict(sources[0]) if sources else {}


def _history_entry(raw: Any) -> HistoryEntry:
    entry = _dict(raw)
    initiator = _dict(entry.get("initiatedBy"))
    revisions = _list(entry.get("revisions"))
    revision = _str(entry.get("revision")) or (_str(revisions[0]) if revisions else "")
    return HistoryEntry(
        id=_int(entry.get("id")),
        revision=revision,
        deployed_at=parse_time(entry.get("deployedAt")),
        started_at=parse_time(entry.get("deployStartedAt")),
        initiated_by=_str(initiator.get("username")) or None,
        automated=bool(initiator.get("automated")),
    )


def _resource_status(raw: Any) -> ResourceStatus:
    resource = _dict(raw)
    health = _dict(resource.get("health"))
    return ResourceStatus(
        group=_str(resource.get("group")),
        kind=_str(resource.get("kind")),
        namespace=_str(resource.get("namespace")),
        name=_str(resource.get("name")),
        status=_str(resource.get("status"), UNKNOWN),
        health=_str(health.get("status")) or None,
    )


def parse_application(raw: Any) -> Application:
    """Build an Application from Argo CD's JSON; raises ValueError when it is not an Application at all."""
    if not isinstance(raw, dict):
        raise ValueError("an application must be a JSON object")
    metadata = _dict(raw.get("metadata"))
    name = _str(metadata.get("name"))
    if not name:
        raise ValueError("an application without metadata.name")
    spec = _dict(raw.get("spec"))
    status = _dict(raw.get("status"))
    source = _first_source(spec)
    destination = _dict(spec.get("destination"))
    sync = _dict(status.get("sync"))
    sync_revisions = _list(sync.get("revisions"))
    health = _dict(status.get("health"))
    operation_state = _dict(status.get("operationState"))
    automated = _dict(_dict(spec.get("syncPolicy")).get("automated"))
    resources = [_resource_status(item) for item in _list(status.get("resources"))]
    return Application(
        name=name,
        project=_str(spec.get("project")) or "default",
        namespace=_str(destination.get("namespace")),
        app_namespace=_str(metadata.get("namespace")),
        labels=_string_map(metadata.get("labels")),
        repo_url=_str(source.get("repoURL")),
        path=_str(source.get("path")) or _str(source.get("chart")),
        target_revision=_str(source.get("targetRevision")) or "HEAD",
        destination_server=_str(destination.get("server")) or _str(destination.get("name")),
        # `automated: {}` means enabled; `enabled: false` switches it off explicitly.
        auto_sync="automated" in _dict(spec.get("syncPolicy")) and automated.get("enabled", True) is not False,
        sync_status=_str(sync.get("status"), UNKNOWN),
        sync_revision=_str(sync.get("revision")) or (_str(sync_revisions[0]) if sync_revisions else ""),
        health_status=_str(health.get("status"), UNKNOWN),
        health_message=_str(health.get("message")),
        operation_requested=isinstance(raw.get("operation"), dict),
        operation_phase=_str(operation_state.get("phase")) or None,
        operation_message=_str(operation_state.get("message")),
        reconciled_at=parse_time(status.get("reconciledAt")),
        history=tuple(_history_entry(item) for item in _list(status.get("history"))),
        out_of_sync_resources=tuple(item for item in resources if item.status != "Synced"),
        images=tuple(_str(image) for image in _list(_dict(status.get("summary")).get("images")) if _str(image)),
        conditions=tuple(
            Condition(type=_str(_dict(item).get("type")), message=_str(_dict(item).get("message")))
            for item in _list(status.get("conditions"))
        ),
    )


def parse_application_list(raw: Any) -> list[Application]:
    if not isinstance(raw, dict):
        raise ValueError("an application list must be a JSON object")
    # `items` is null rather than [] when some Argo CD versions have nothing to return.
    return [parse_application(item) for item in _list(raw.get("items"))]


def _resource_node(raw: Any) -> ResourceNode:
    node = _dict(raw)
    health = _dict(node.get("health"))
    parents = tuple(
        f"{_str(_dict(ref).get('kind'))}/{_str(_dict(ref).get('name'))}" for ref in _list(node.get("parentRefs"))
    )
    return ResourceNode(
        group=_str(node.get("group")),
        version=_str(node.get("version")),
        kind=_str(node.get("kind")),
        namespace=_str(node.get("namespace")),
        name=_str(node.get("name")),
        uid=_str(node.get("uid")),
        health_status=_str(health.get("status")) or None,
        health_message=_str(health.get("message")),
        images=tuple(_str(image) for image in _list(node.get("images")) if _str(image)),
        info={_str(_dict(item).get("name")): _str(_dict(item).get("value")) for item in _list(node.get("info"))},
        parents=parents,
        created_at=parse_time(node.get("createdAt")),
    )


def parse_resource_tree(raw: Any) -> ResourceTree:
    if not isinstance(raw, dict):
        raise ValueError("a resource tree must be a JSON object")
    return ResourceTree(
        nodes=tuple(_resource_node(item) for item in _list(raw.get("nodes"))),
        orphaned_nodes=tuple(_resource_node(item) for item in _list(raw.get("orphanedNodes"))),
        hosts=tuple(_str(_dict(host).get("name")) for host in _list(raw.get("hosts"))),
    )
