"""A stand-in Argo CD API server (v3.x) for the endpoints Portico uses, following Argo CD's swagger and server code.

    with ArgoCDStandin() as argocd:
        argocd.add_application("payments-api", project="payments", health_status="Degraded")
        token = argocd.issue_token()
        client = ArgoCDClient(argocd.url, token=token)

Behaviour copied from Argo CD, not invented:
- `POST /api/v1/session` with a username and password answers `{"token": <JWT>}` (and the argocd.token cookie);
  other calls need `Authorization: Bearer <token>`, and only a value with three dot-separated segments counts as a
  token. No or bad credentials: 401. `/api/version` and `/api/v1/session/userinfo` answer without credentials.
- List is sorted by name and filters by `selector` (label selector) and `projects`; applications the caller may not
  read are left out silently. Since 3.0 the list leaves per-resource health out.
- Get and resource-tree check RBAC like `getAppEnforceRBAC`: without a project, a missing or forbidden application is
  403 "permission denied"; with a project it is 404, and an application in another project is 404 too.
- Sync sets `operation` and clears `status.operationState`; while `operation` is set another sync is 400
  "another operation is already in progress". The test moves the operation on with `run_operation()` and
  `finish_operation()`, playing the application controller.
- Create: an identical spec returns the existing application; a different spec without `upsert=true` is 400.
- Errors are grpc-gateway bodies `{"error": msg, "code": <gRPC code>, "message": msg}`.
- Go leaves out empty lists and zero values, so this does too (no `history` before the first sync, and so on).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.standins._server import Request, Response, StandinServer, json_response, parse_label_selector

ARGOCD_VERSION = "v3.5.1+standin"
IN_CLUSTER = "https://kubernetes.default.svc"
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 429: 8, 500: 13, 502: 14, 503: 14, 504: 4}
PERMISSION_DENIED = "permission denied"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sha(*parts: str) -> str:
    """A stable 40-hex "commit" for a name and revision, so tests can predict it."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()  # noqa: S324 - not security


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class _Failure(Exception):
    def __init__(self, status: int, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def _not_found(name: str) -> _Failure:
    return _Failure(404, f'applications.argoproj.io "{name}" not found')


class ArgoCDStandin(StandinServer):
    def __init__(self, *, users: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.users = dict(users or {"admin": "password"})
        self.readable_projects: set[str] | None = None  # None: the account may read every project
        self.projects: set[str] = {"default"}
        self._apps: dict[str, dict[str, Any]] = {}
        self._trees: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}  # token -> username
        self._state_lock = threading.RLock()
        self._resource_version = 1000

    # Test-facing state

    def issue_token(self, username: str = "admin") -> str:
        """A valid bearer token, as `argocd account generate-token` would give."""
        header = _b64({"alg": "HS256", "typ": "JWT"})
        payload = _b64({"iss": "argocd", "sub": f"{username}:apiKey", "jti": str(uuid.uuid4())})
        token = f"{header}.{payload}.{secrets.token_urlsafe(32)}"
        with self._state_lock:
            self._tokens[token] = username
        return token

    def revoke_tokens(self) -> None:
        """Invalidate every token (what a server key rotation or session expiry does)."""
        with self._state_lock:
            self._tokens.clear()

    def add_application(
        self,
        name: str,
        *,
        project: str = "default",
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        repo_url: str = "https://github.com/acme/gitops.git",
        path: str | None = None,
        target_revision: str = "HEAD",
        sync_status: str = "Synced",
        health_status: str = "Healthy",
        history: Iterable[str] = (),
        resources: Iterable[Mapping[str, Any]] | None = None,
        images: Iterable[str] = (),
        operation_phase: str | None = None,
        operation_message: str = "",
        auto_sync: bool = False,
        app_namespace: str = "argocd",
    ) -> dict[str, Any]:
        """Add an application as the Argo CD API would show it. `history` lists deployed revisions, oldest first;
        `resources` are status.resources entries (kind, name, status, health); by default a Service and a
        Deployment named after the application."""
        namespace = namespace or name
        history = list(history)
        revision = history[-1] if history else fake_sha(name, target_revision)
        source = {"repoURL": repo_url, "path": path or f"apps/{name}", "targetRevision": target_revision}
        destination = {"server": IN_CLUSTER, "namespace": namespace}
        spec: dict[str, Any] = {"source": source, "destination": destination, "project": project}
        if auto_sync:
            spec["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}}
        if resources is None:
            resources = [
                {"version": "v1", "kind": "Service", "name": name, "status": "Synced", "health": "Healthy"},
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "name": name,
                    "status": sync_status,
                    "health": health_status,
                },
            ]
        status: dict[str, Any] = {
            "resources": [self._resource_entry(item, namespace) for item in resources],
            "sync": {"status": sync_status, "comparedTo": {"source": source, "destination": destination}},
            "health": {"status": health_status, "lastTransitionTime": _ago(30)},
            "reconciledAt": _ago(1),
            "sourceType": "Directory",
            "summary": {"images": list(images)} if images else {},
            "controllerNamespace": "argocd",
            "resourceHealthSource": "appTree",
        }
        if sync_status != "Unknown":
            status["sync"]["revision"] = revision
        if history:
            status["history"] = [
                {
                    "revision": rev,
                    "deployedAt": _ago(10 * (len(history) - index)),
                    "id": index,
                    "source": source,
                    "deployStartedAt": _ago(10 * (len(history) - index) + 1),
                    "initiatedBy": {"username": "admin"} if not auto_sync else {"automated": True},
                }
                for index, rev in enumerate(history)
            ]
        if operation_phase:
            status["operationState"] = {
                "operation": {"sync": {"revision": revision}, "initiatedBy": {"username": "admin"}},
                "phase": operation_phase,
                "message": operation_message,
                "startedAt": _ago(2),
                **({"finishedAt": _ago(1)} if operation_phase not in ("Running", "Terminating") else {}),
            }
        with self._state_lock:
            app = {"metadata": self._metadata(name, app_namespace, labels), "spec": spec, "status": status}
            self.projects.add(project)
            self._apps[name] = app
            self._trees[name] = self._tree_for(app, images)
        return copy.deepcopy(app)

    def put_application(self, raw: Mapping[str, Any], *, tree: Mapping[str, Any] | None = None) -> None:
        """Store an application exactly as given (for tests of odd shapes Argo CD can produce)."""
        name = raw["metadata"]["name"]
        with self._state_lock:
            self._apps[name] = copy.deepcopy(dict(raw))
            self.projects.add(raw.get("spec", {}).get("project") or "default")
            self._trees[name] = copy.deepcopy(dict(tree)) if tree is not None else {"nodes": []}

    def application(self, name: str) -> dict[str, Any]:
        with self._state_lock:
            return copy.deepcopy(self._apps[name])

    def run_operation(self, name: str) -> None:
        """Play the controller picking up the requested operation: phase Running."""
        with self._state_lock:
            app = self._apps[name]
            app["status"]["operationState"] = {
                "operation": copy.deepcopy(app["operation"]),
                "phase": "Running",
                "message": "one or more tasks are running",
                "startedAt": _now(),
            }

    def finish_operation(self, name: str, *, phase: str = "Succeeded", message: str | None = None) -> None:
        """Play the controller finishing the operation; a successful real sync records history and syncs resources."""
        with self._state_lock:
            app = self._apps[name]
            operation = app.pop("operation")
            sync = operation.get("sync", {})
            revision = sync.get("revision") or app["spec"]["source"].get("targetRevision", "HEAD")
            sha = revision if re.fullmatch(r"[0-9a-f]{40}", revision) else fake_sha(name, revision)
            state = app["status"].get("operationState") or {"startedAt": _now()}
            state.update(
                {
                    "operation": operation,
                    "phase": phase,
                    "message": message or ("successfully synced (all tasks run)" if phase == "Succeeded" else "failed"),
                    "finishedAt": _now(),
                    "syncResult": {"revision": sha, "source": app["spec"]["source"]},
                }
            )
            app["status"]["operationState"] = state
            if phase == "Succeeded" and not sync.get("dryRun"):
                history = app["status"].setdefault("history", [])
                history.append(
                    {
                        "revision": sha,
                        "deployedAt": _now(),
                        "id": max((entry.get("id", 0) for entry in history), default=-1) + 1,
                        "source": app["spec"]["source"],
                        "deployStartedAt": state["startedAt"],
                        "initiatedBy": operation.get("initiatedBy", {}),
                    }
                )
                app["status"]["sync"]["status"] = "Synced"
                app["status"]["sync"]["revision"] = sha
                for resource in app["status"].get("resources", []):
                    resource["status"] = "Synced"

    # Routing

    def route(self, request: Request) -> Response:
        routes = [
            ("POST", r"/api/v1/session", self._session, False),
            ("GET", r"/api/v1/session/userinfo", self._userinfo, False),
            ("GET", r"/api/version", self._version, False),
            ("GET", r"/api/v1/applications", self._list, True),
            ("POST", r"/api/v1/applications", self._create, True),
            ("GET", r"/api/v1/applications/(?P<name>[^/]+)", self._get, True),
            ("GET", r"/api/v1/applications/(?P<name>[^/]+)/resource-tree", self._tree, True),
            ("POST", r"/api/v1/applications/(?P<name>[^/]+)/sync", self._sync, True),
        ]
        path_matched = False
        for method, pattern, handler, needs_auth in routes:
            match = re.fullmatch(pattern, request.path)
            if not match:
                continue
            path_matched = True
            if method != request.method:
                continue
            try:
                user = self._authenticate(request) if needs_auth else self._user_or_none(request)
                return handler(request, user, **match.groupdict())
            except _Failure as failure:
                return self._grpc_error(failure.status, failure.message, failure.code)
        if path_matched:
            return self.error_response(405, "Method Not Allowed")
        return self.error_response(404, "Not Found")

    def error_response(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return self._grpc_error(status, message, None, headers)

    @staticmethod
    def _grpc_error(status: int, message: str, code: int | None, headers: Mapping[str, str] | None = None) -> Response:
        code = GRPC_CODES.get(status, 2) if code is None else code
        return json_response(status, {"error": message, "code": code, "message": message}, headers)

    # Authentication

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        for cookie in request.headers.get("cookie", "").split(";"):
            name, _, value = cookie.strip().partition("=")
            if name == "argocd.token":
                return value
        return None

    def _user_or_none(self, request: Request) -> str | None:
        token = self._bearer(request)
        with self._state_lock:
            return self._tokens.get(token) if token else None

    def _authenticate(self, request: Request) -> str:
        token = self._bearer(request)
        if not token:
            raise _Failure(401, "no session information")
        if len(token.split(".")) != 3:
            raise _Failure(401, "invalid session: token contains an invalid number of segments")
        with self._state_lock:
            user = self._tokens.get(token)
        if user is None:
            raise _Failure(401, "invalid session: token signature is invalid")
        return user

    def _session(self, request: Request, user: str | None) -> Response:
        body = request.json() or {}
        username, password = body.get("username"), body.get("password")
        if not username or self.users.get(username) != password:
            raise _Failure(401, "Invalid username or password")
        token = self.issue_token(username)
        return json_response(200, {"token": token}, {"Set-Cookie": f"argocd.token={token}; path=/; SameSite=lax"})

    def _userinfo(self, request: Request, user: str | None) -> Response:
        if user is None:
            return json_response(200, {"loggedIn": False})
        return json_response(200, {"loggedIn": True, "username": user, "iss": "argocd"})

    def _version(self, request: Request, user: str | None) -> Response:
        return json_response(200, {"Version": ARGOCD_VERSION})

    # Applications

    def _may_read(self, project: str) -> bool:
        return self.readable_projects is None or project in self.readable_projects

    def _find(self, request: Request, name: str, project: str | None) -> dict[str, Any]:
        """getAppEnforceRBAC: 403 hides existence when no project was given; with a project, 404."""
        if project and not self._may_read(project):
            raise _Failure(403, PERMISSION_DENIED)
        app = self._apps.get(name)
        app_namespace = request.param("appNamespace")
        if app is not None and app_namespace and app["metadata"].get("namespace") != app_namespace:
            app = None
        if app is None:
            raise _not_found(name) if project else _Failure(403, PERMISSION_DENIED)
        app_project = app["spec"].get("project") or "default"
        if not self._may_read(app_project):
            raise _not_found(name) if project else _Failure(403, PERMISSION_DENIED)
        if project and app_project != project:
            raise _not_found(name)
        return app

    def _requested_project(self, request: Request) -> str | None:
        projects = request.params("project") + request.params("projects")
        if len(projects) > 1:
            raise _Failure(400, "multiple projects specified - the get endpoint accepts either zero or one project")
        return projects[0] if projects else None

    def _list(self, request: Request, user: str) -> Response:
        try:
            selector = parse_label_selector(request.param("selector"))
        except ValueError as exc:
            # Argo CD wraps the parse error in a plain error, which gRPC reports as Unknown (500).
            raise _Failure(500, f"error parsing the selector: {exc}", code=2) from None
        projects = set(request.params("projects") + request.params("project"))
        repo = request.param("repo")
        with self._state_lock:
            items = []
            for name in sorted(self._apps):
                app = self._apps[name]
                project = app["spec"].get("project") or "default"
                if not self._may_read(project) or (projects and project not in projects):
                    continue
                if not selector(app["metadata"].get("labels", {})):
                    continue
                if repo and app["spec"].get("source", {}).get("repoURL") != repo:
                    continue
                listed = copy.deepcopy(app)
                for resource in listed.get("status", {}).get("resources", []):
                    resource.pop("health", None)  # since 3.0, per-resource health only on Get and resource-tree
                items.append(listed)
            resource_version = str(self._resource_version)
        return json_response(200, {"metadata": {"resourceVersion": resource_version}, "items": items})

    def _get(self, request: Request, user: str, name: str) -> Response:
        with self._state_lock:
            app = self._find(request, name, self._requested_project(request))
            return json_response(200, app)

    def _tree(self, request: Request, user: str, name: str) -> Response:
        with self._state_lock:
            self._find(request, name, request.param("project"))
            return json_response(200, self._trees.get(name, {"nodes": []}))

    def _sync(self, request: Request, user: str, name: str) -> Response:
        body = request.json() or {}
        with self._state_lock:
            app = self._find(request, name, body.get("project"))
            if app.get("operation"):
                raise _Failure(400, "another operation is already in progress", code=9)  # FailedPrecondition
            source = app["spec"].get("source", {})
            target = source.get("targetRevision") or "HEAD"
            revision = body.get("revision") or ""
            if app["spec"].get("syncPolicy", {}).get("automated") and not body.get("dryRun"):
                if revision and revision != target:
                    raise _Failure(400, f"Cannot sync to {revision}: auto-sync currently set to {target}", code=9)
            sync: dict[str, Any] = {"revision": revision or target, "syncStrategy": {"hook": {}}}
            if body.get("prune"):
                sync["prune"] = True
            if body.get("dryRun"):
                sync["dryRun"] = True
            app["operation"] = {"sync": sync, "initiatedBy": {"username": user}, "retry": {}}
            app["status"].pop("operationState", None)
            self._bump(app)
            return json_response(200, app)

    def _create(self, request: Request, user: str) -> Response:
        try:
            manifest = request.json()
        except (ValueError, UnicodeDecodeError):
            raise _Failure(400, "invalid character in request body") from None
        if not isinstance(manifest, dict):
            raise _Failure(400, "the request body must be an Application")
        metadata = manifest.get("metadata") or {}
        name = metadata.get("name")
        spec = manifest.get("spec") or {}
        if not name:
            raise _Failure(
                400, 'Application.argoproj.io "" is invalid: metadata.name: Required value: name is required'
            )
        project = spec.get("project") or "default"
        if not self._may_read(project):
            raise _Failure(403, PERMISSION_DENIED)
        if project not in self.projects:
            raise _Failure(400, f"application references project {project} which does not exist")
        if not spec.get("destination"):
            raise _Failure(400, f"application spec for {name} is invalid: InvalidSpecError: destination is missing")
        if not spec.get("source") and not spec.get("sources"):
            raise _Failure(
                400, f"application spec for {name} is invalid: InvalidSpecError: spec.source or spec.sources required"
            )
        upsert = request.param("upsert") == "true"
        with self._state_lock:
            existing = self._apps.get(name)
            if existing is not None:
                same = (
                    existing["spec"] == spec
                    and existing["metadata"].get("labels", {}) == (metadata.get("labels") or {})
                    and existing["metadata"].get("annotations", {}) == (metadata.get("annotations") or {})
                )
                if same:
                    return json_response(200, existing)
                if not upsert:
                    raise _Failure(400, "existing application spec is different, use upsert flag to force update")
                existing["spec"] = copy.deepcopy(spec)
                for key in ("labels", "annotations"):
                    if metadata.get(key):
                        existing["metadata"][key] = dict(metadata[key])
                    else:
                        existing["metadata"].pop(key, None)
                existing["metadata"]["generation"] += 1
                self._bump(existing)
                return json_response(200, existing)
            app = {
                "metadata": self._metadata(
                    name, metadata.get("namespace") or "argocd", metadata.get("labels"), metadata.get("annotations")
                ),
                "spec": copy.deepcopy(spec),
                # A new application has not been reconciled yet; Go still writes the empty structs.
                "status": {"sync": {"comparedTo": {"source": {"repoURL": ""}, "destination": {}}}, "health": {}},
            }
            self._apps[name] = app
            self._trees[name] = {"nodes": []}
            return json_response(200, app)

    # Building blocks

    def _metadata(
        self,
        name: str,
        namespace: str,
        labels: Mapping[str, str] | None,
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        self._resource_version += 1
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": str(self._resource_version),
            "generation": 1,
            "creationTimestamp": _ago(60),
        }
        if labels:
            metadata["labels"] = dict(labels)
        if annotations:
            metadata["annotations"] = dict(annotations)
        return metadata

    def _bump(self, app: dict[str, Any]) -> None:
        self._resource_version += 1
        app["metadata"]["resourceVersion"] = str(self._resource_version)

    @staticmethod
    def _resource_entry(item: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "version": item.get("version", "v1"),
            "kind": item["kind"],
            "namespace": item.get("namespace", namespace),
            "name": item["name"],
            "status": item.get("status", "Synced"),
        }
        if item.get("group"):
            entry["group"] = item["group"]
        if item.get("health"):
            entry["health"] = {"status": item["health"]}
        return entry

    @staticmethod
    def _tree_for(app: Mapping[str, Any], images: Iterable[str]) -> dict[str, Any]:
        """Nodes for each managed resource, plus a ReplicaSet and a Pod under each Deployment."""
        images = list(images)
        nodes: list[dict[str, Any]] = []
        for resource in app["status"]["resources"]:
            node = {key: resource[key] for key in ("group", "version", "kind", "namespace", "name") if key in resource}
            node.update({"uid": str(uuid.uuid4()), "resourceVersion": "1", "createdAt": _ago(60)})
            if "health" in resource:
                node["health"] = resource["health"]
            nodes.append(node)
            if resource["kind"] == "Deployment":
                replica_set = {
                    "group": "apps",
                    "version": "v1",
                    "kind": "ReplicaSet",
                    "namespace": resource["namespace"],
                    "name": f"{resource['name']}-6d4cf56db6",
                    "uid": str(uuid.uuid4()),
                    "parentRefs": [
                        {
                            "group": "apps",
                            "kind": "Deployment",
                            "namespace": resource["namespace"],
                            "name": resource["name"],
                            "uid": node["uid"],
                        }
                    ],
                    "info": [{"name": "Revision", "value": "Rev:1"}],
                    "health": resource.get("health", {"status": "Healthy"}),
                    "createdAt": _ago(60),
                }
                pod = {
                    "version": "v1",
                    "kind": "Pod",
                    "namespace": resource["namespace"],
                    "name": f"{resource['name']}-6d4cf56db6-x7k2p",
                    "uid": str(uuid.uuid4()),
                    "parentRefs": [
                        {
                            "group": "apps",
                            "kind": "ReplicaSet",
                            "namespace": resource["namespace"],
                            "name": replica_set["name"],
                            "uid": replica_set["uid"],
                        }
                    ],
                    "info": [{"name": "Status Reason", "value": "Running"}, {"name": "Containers", "value": "1/1"}],
                    "health": resource.get("health", {"status": "Healthy"}),
                    "createdAt": _ago(59),
                }
                if images:
                    pod["images"] = images
                nodes.extend([replica_set, pod])
        return {"nodes": nodes}
