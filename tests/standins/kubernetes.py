"""A stand-in Kubernetes API server for the list endpoints Portico reads, following the Kubernetes API conventions.

    with KubernetesStandin() as cluster:
        cluster.add_deployment("shop", "web", replicas=3, ready=2)
        client = KubernetesClient.from_host(cluster.url, cluster.issue_token())

Endpoints: `/version`; deployments (`/apis/apps/v1/deployments`, `/apis/apps/v1/namespaces/{ns}/deployments`),
pods (`/api/v1/pods`, `/api/v1/namespaces/{ns}/pods`) and events (`/api/v1/events`,
`/api/v1/namespaces/{ns}/events`). As the real API server does:
- a bearer token is required (401 Status otherwise); a token can be limited to some namespaces, and listing outside
  them, or across all namespaces, is 403 Forbidden with the API server's wording;
- `labelSelector` (=, ==, !=, in, notin, exists, !exists) and `fieldSelector` (=, ==, != on the fields each resource
  supports; others are 400) filter the items;
- `limit` and `continue` page through items in key order (namespace/name); the filter applies after the key range,
  so a page can come back short or empty with a `continue` token; an invalid token is 400, an expired one 410;
- list items carry no `kind` or `apiVersion`; zero values are left out (no `readyReplicas` when none is ready);
- errors are `Status` objects `{"kind": "Status", "status": "Failure", "reason", "code", "message"}`.
Objects carry every field the official client's (v37, pydantic) models require.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.standins._server import Request, Response, StandinServer, json_response, parse_label_selector

SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.1",
    "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T08:19:08Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# resource: (API group, list kind, list apiVersion, the fields a fieldSelector may use)
_META_FIELDS = "metadata.name metadata.namespace"
RESOURCES = {
    "deployments": ("apps", "DeploymentList", "apps/v1", set(_META_FIELDS.split())),
    "pods": (
        "",
        "PodList",
        "v1",
        set(
            f"{_META_FIELDS} spec.nodeName spec.restartPolicy spec.schedulerName spec.serviceAccountName "
            "status.phase status.podIP status.nominatedNodeName".split()
        ),
    ),
    "events": (
        "",
        "EventList",
        "v1",
        set(
            f"{_META_FIELDS} involvedObject.kind involvedObject.namespace involvedObject.name involvedObject.uid "
            "involvedObject.apiVersion involvedObject.resourceVersion involvedObject.fieldPath reason "
            "reportingComponent source type".split()
        ),
    ),
}
ROUTES = [
    (r"/apis/apps/v1/deployments", "deployments"),
    (r"/apis/apps/v1/namespaces/(?P<namespace>[^/]+)/deployments", "deployments"),
    (r"/api/v1/pods", "pods"),
    (r"/api/v1/namespaces/(?P<namespace>[^/]+)/pods", "pods"),
    (r"/api/v1/events", "events"),
    (r"/api/v1/namespaces/(?P<namespace>[^/]+)/events", "events"),
]
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list without "
    "the continue parameter, or use the continue token in this response to retrieve the remainder of the results."
)


def _time(minutes_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(text: str) -> str:
    return format(abs(hash(text)) % 16**10, "010x")


class _Failure(Exception):
    def __init__(self, status: int, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = dict(details or {})


def status_object(status: int, message: str, *, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(status, "Unknown"),
        "code": status,
    }
    if details:
        body["details"] = dict(details)
    return body


class KubernetesStandin(StandinServer):
    def __init__(self) -> None:
        super().__init__()
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {name: {} for name in RESOURCES}
        self._tokens: dict[str, frozenset[str] | None] = {}
        self._state_lock = threading.RLock()
        self._resource_version = 5000
        self._oldest_continue_rv = 0
        self._expire_next_continue = False

    # Test-facing state

    def issue_token(self, *, namespaces: Iterable[str] | None = None) -> str:
        """A valid bearer token; with `namespaces`, its account may list only in those namespaces."""
        token = "sa-" + secrets.token_urlsafe(24)
        with self._state_lock:
            self._tokens[token] = frozenset(namespaces) if namespaces is not None else None
        return token

    def revoke_tokens(self) -> None:
        with self._state_lock:
            self._tokens.clear()

    def expire_continue_tokens(self) -> None:
        """Make every continue token handed out so far too old (410 Expired), as compaction in etcd does."""
        with self._state_lock:
            self._oldest_continue_rv = self._next_rv()

    def expire_next_continue(self) -> None:
        """Answer the next request that carries a continue token with 410 Expired, as if etcd compacted meanwhile."""
        with self._state_lock:
            self._expire_next_continue = True

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        replicas: int = 1,
        ready: int | None = None,
        updated: int | None = None,
        available: int | None = None,
        images: Iterable[str] = ("ghcr.io/acme/app:1.0.0",),
    ) -> dict[str, Any]:
        """A Deployment as the API server returns it; counts default to fully rolled out, and 0 is left out."""
        ready = replicas if ready is None else ready
        updated = replicas if updated is None else updated
        available = ready if available is None else available
        selector = {"app.kubernetes.io/name": name}
        containers = [
            self._container(f"{name}-{index}" if index else name, image) for index, image in enumerate(images)
        ]
        conditions = [
            {
                "type": "Available",
                "status": "True" if available >= replicas else "False",
                "lastUpdateTime": _time(30),
                "lastTransitionTime": _time(30),
                "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available >= replicas
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": _time(29),
                "lastTransitionTime": _time(60),
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}-{_hash(name)}" has successfully progressed.',
            },
        ]
        status: dict[str, Any] = {"observedGeneration": 1, "conditions": conditions}
        for key, value in (
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", max(replicas - available, 0)),
        ):
            if value:
                status[key] = value
        deployment = {
            "metadata": self._metadata(
                namespace, name, {**selector, **(labels or {})}, {"deployment.kubernetes.io/revision": "1"}
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {
                        "containers": containers,
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst",
                        "securityContext": {},
                        "schedulerName": "default-scheduler",
                    },
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": status,
        }
        return self._store("deployments", deployment)

    def add_pod(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        phase: str = "Running",
        ready: bool = True,
        restarts: int = 0,
        images: Iterable[str] = ("ghcr.io/acme/app:1.0.0",),
        node: str | None = "node-1",
        waiting_reason: str | None = None,
        status_reason: str | None = None,
        terminating: bool = False,
    ) -> dict[str, Any]:
        """A Pod as the API server returns it. `waiting_reason` (CrashLoopBackOff, ImagePullBackOff...) puts its
        containers in the waiting state; `node=None` leaves it unscheduled (Pending, PodScheduled False)."""
        images = list(images)
        scheduled = node is not None
        containers = [self._container(f"c{index}" if index else "app", image) for index, image in enumerate(images)]
        metadata = self._metadata(namespace, name, labels or {})
        if terminating:
            metadata["deletionTimestamp"] = _time()
            metadata["deletionGracePeriodSeconds"] = 30
        spec: dict[str, Any] = {
            "containers": containers,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        }
        status: dict[str, Any] = {"phase": phase, "qosClass": "BestEffort"}
        if not scheduled:
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": _time(5),
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ]
        else:
            spec["nodeName"] = node
            flag = "True" if ready else "False"
            status["conditions"] = [
                {"type": condition, "status": value, "lastProbeTime": None, "lastTransitionTime": _time(20)}
                for condition, value in (
                    ("PodReadyToStartContainers", "True"),
                    ("Initialized", "True"),
                    ("Ready", flag),
                    ("ContainersReady", flag),
                    ("PodScheduled", "True"),
                )
            ]
            if not ready:
                for condition in status["conditions"][2:4]:
                    condition["reason"] = "ContainersNotReady"
            status.update(
                {
                    "hostIP": "10.0.0.5",
                    "hostIPs": [{"ip": "10.0.0.5"}],
                    "podIP": "10.244.1.7",
                    "podIPs": [{"ip": "10.244.1.7"}],
                    "startTime": _time(20),
                    "containerStatuses": [
                        self._container_status(container, ready, restarts if index == 0 else 0, waiting_reason)
                        for index, container in enumerate(containers)
                    ],
                }
            )
        if status_reason:
            status["reason"] = status_reason
            status["message"] = f"The pod was {status_reason.lower()}."
        return self._store("pods", {"metadata": metadata, "spec": spec, "status": status})

    def add_event(
        self,
        namespace: str,
        *,
        kind: str = "Pod",
        name: str = "web-0",
        type: str = "Warning",  # noqa: A002 - the Kubernetes field name
        reason: str = "BackOff",
        message: str = "Back-off restarting failed container app",
        count: int = 1,
        minutes_ago: float = 1,
        series: bool = False,
    ) -> dict[str, Any]:
        """An Event. With `series`, it is written the events.k8s.io/v1 way: `eventTime` and `series` instead of
        `count` and `lastTimestamp`."""
        event_name = f"{name}.{secrets.token_hex(8)}"
        event: dict[str, Any] = {
            "metadata": self._metadata(namespace, event_name, {}),
            "involvedObject": {
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "uid": str(uuid.uuid4()),
                "apiVersion": "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1",
                "resourceVersion": str(self._resource_version),
            },
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": "node-1"},
            "type": type,
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        }
        if series:
            event["eventTime"] = (datetime.now(UTC) - timedelta(minutes=minutes_ago + 5)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            )
            event["series"] = {"count": count, "lastObservedTime": _time(minutes_ago)}
            event["action"] = "Pulling"
        else:
            event.update(
                {"firstTimestamp": _time(minutes_ago + 5), "lastTimestamp": _time(minutes_ago), "count": count}
            )
            event["eventTime"] = None
        return self._store("events", event)

    def put_object(self, resource: str, raw: Mapping[str, Any]) -> None:
        """Store an object exactly as given (for tests of shapes the helpers do not build)."""
        self._store(resource, copy.deepcopy(dict(raw)))

    # Routing

    def route(self, request: Request) -> Response:
        if request.path in ("/version", "/version/") and request.method == "GET":
            return json_response(200, SERVER_VERSION)
        for pattern, resource in ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match:
                if request.method != "GET":
                    return self.error_response(405, f"the server does not allow this method on {resource}")
                try:
                    return self._list(request, resource, match.groupdict().get("namespace"))
                except _Failure as failure:
                    return json_response(
                        failure.status, status_object(failure.status, failure.message, details=failure.details)
                    )
        return self.error_response(404, "the server could not find the requested resource")

    def error_response(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
        details: dict[str, Any] = {}
        if status == 429:
            message = "Too many requests, please try again later."
            retry_after = (headers or {}).get("Retry-After", "1")
            details = {"retryAfterSeconds": int(retry_after) if retry_after.isdigit() else 1}
        return json_response(status, status_object(status, message, details=details), headers)

    def _list(self, request: Request, resource: str, namespace: str | None) -> Response:
        group, list_kind, api_version, fields = RESOURCES[resource]
        self._authorize(request, group, resource, namespace)
        try:
            labels = parse_label_selector(request.param("labelSelector"))
        except ValueError as exc:
            raise _Failure(400, str(exc)) from None
        field_match = self._field_selector(request.param("fieldSelector"), fields)
        limit = int(request.param("limit") or 0)
        start_after = self._decode_continue(request.param("continue"))
        with self._state_lock:
            keys = sorted(key for key in self._objects[resource] if namespace is None or key[0] == namespace)
            keys = [key for key in keys if start_after is None or key > start_after]
            items: list[dict[str, Any]] = []
            last_key: tuple[str, str] | None = None
            more = False
            for key in keys:
                if limit and len(items) >= limit:
                    more = True
                    break
                last_key = key
                item = self._objects[resource][key]
                if labels(item["metadata"].get("labels", {})) and field_match(item):
                    items.append(copy.deepcopy(item))
            metadata: dict[str, Any] = {"resourceVersion": str(self._resource_version)}
            if more and last_key is not None:
                metadata["continue"] = self._encode_continue("/".join(last_key))
        return json_response(200, {"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": items})

    # Authentication and authorization

    def _authorize(self, request: Request, group: str, plural: str, namespace: str | None) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self._state_lock:
            if token not in self._tokens:
                raise _Failure(401, "Unauthorized")
            allowed = self._tokens[token]
        if allowed is None or (namespace is not None and namespace in allowed):
            return
        resource = f"{plural}.{group}" if group else plural
        where = "at the cluster scope" if namespace is None else f'in the namespace "{namespace}"'
        raise _Failure(
            403,
            f'{resource} is forbidden: User "system:serviceaccount:portico:portico" cannot list resource '
            f'"{plural}" in API group "{group}" {where}',
            details={"group": group, "kind": plural},
        )

    # Selectors and paging

    @staticmethod
    def _field_selector(text: str | None, fields: set[str]) -> Callable[[Mapping[str, Any]], bool]:
        requirements: list[tuple[str, str, str]] = []
        for part in (text or "").split(","):
            if not part.strip():
                continue
            match = re.fullmatch(r"\s*([A-Za-z.]+)\s*(==|=|!=)\s*([^,]*?)\s*", part)
            if not match:
                raise _Failure(400, f"invalid field selector: {part.strip()!r}")
            field, operator, value = match.groups()
            if field not in fields:
                raise _Failure(400, f"field label not supported: {field}")
            requirements.append((field, operator, value))

        def value_of(item: Mapping[str, Any], path: str) -> str:
            if path == "source":
                return str(item.get("source", {}).get("component", ""))
            current: Any = item
            for step in path.split("."):
                current = current.get(step, {}) if isinstance(current, Mapping) else {}
            return current if isinstance(current, str) else ""

        def matches(item: Mapping[str, Any]) -> bool:
            for field, operator, value in requirements:
                equal = value_of(item, field) == value
                if equal != (operator != "!="):
                    return False
            return True

        return matches

    def _encode_continue(self, start_after: str) -> str:
        payload = {"v": "meta.k8s.io/v1", "rv": self._resource_version, "start": start_after + "\x00"}
        return base64.b64encode(json.dumps(payload).encode()).decode()

    def _decode_continue(self, token: str | None) -> tuple[str, str] | None:
        if not token:
            return None
        try:
            payload = json.loads(base64.b64decode(token, validate=True))
            start, rv = payload["start"], int(payload["rv"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise _Failure(400, "continue key is not valid: incorrect encoded start resourceVersion") from None
        with self._state_lock:
            expire_now, self._expire_next_continue = self._expire_next_continue, False
        if expire_now or rv < self._oldest_continue_rv:
            raise _Failure(410, EXPIRED_MESSAGE)
        namespace, _, name = start.rstrip("\x00").partition("/")
        return namespace, name

    # Building blocks

    def _next_rv(self) -> int:
        with self._state_lock:
            self._resource_version += 1
            return self._resource_version

    def _metadata(
        self,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": str(self._next_rv()),
            "creationTimestamp": _time(60),
        }
        if labels:
            metadata["labels"] = dict(labels)
        if annotations:
            metadata["annotations"] = dict(annotations)
        return metadata

    def _store(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        with self._state_lock:
            self._objects[resource][key] = obj
        return copy.deepcopy(obj)

    @staticmethod
    def _container(name: str, image: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": image,
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }

    @staticmethod
    def _container_status(
        container: Mapping[str, Any], ready: bool, restarts: int, waiting_reason: str | None
    ) -> dict[str, Any]:
        image = container["image"]
        if waiting_reason:
            state: dict[str, Any] = {"waiting": {"reason": waiting_reason, "message": f"{waiting_reason} for {image}"}}
        else:
            state = {"running": {"startedAt": _time(19)}}
        last_state: dict[str, Any] = {}
        if restarts:
            last_state = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": _time(3),
                    "finishedAt": _time(2),
                    "containerID": "containerd://" + secrets.token_hex(32),
                }
            }
        status: dict[str, Any] = {
            "name": container["name"],
            "state": state,
            "lastState": last_state,
            "ready": ready and not waiting_reason,
            "restartCount": restarts,
            "image": image,
            "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{secrets.token_hex(32)}",
            "started": not waiting_reason,
        }
        if not waiting_reason:
            status["containerID"] = "containerd://" + secrets.token_hex(32)
        return status
