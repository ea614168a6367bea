"""Argo CD REST API client, written against Argo CD's own swagger (`/api/v1/...`, grpc-gateway).

Authentication is a bearer token: either a long-lived API token given to us, or a session token obtained from
`POST /api/v1/session` with a username and password, cached, and renewed once when Argo CD answers 401.

Argo CD hides which applications exist: without a project, getting a missing (or forbidden) application answers 403;
with a project it answers 404. Every per-application call here therefore requires the project.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from integrations.argocd.results import (
    Application,
    ConnectionInfo,
    ResourceTree,
    parse_application,
    parse_application_list,
    parse_resource_tree,
)
from integrations.http import (
    DEFAULT_RETRY,
    RetryPolicy,
    TransportFailure,
    build_client,
    check_base_url,
    describe_transport_error,
    loggable_url,
    send,
    server_wait_hint,
    setting_key,
)

# Application and project names are Kubernetes object names (DNS subdomains).
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_MAX_SERVER_MESSAGE = 500


class ArgoCDError(Exception):
    """Anything that went wrong talking to Argo CD, with a message a person can act on.

    `status` is the HTTP status (None when no answer came back); `code` the gRPC code from Argo CD's error body;
    `retry_after` the seconds the server asked to wait (Retry-After or rate-limit headers), when it said.
    """

    def __init__(
        self, message: str, *, status: int | None = None, code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


def setting_name(instance: str, field: str) -> str:
    """The environment variable holding `field` for an instance: ARGOCD_TOKEN for "default", ARGOCD_PROD_TOKEN for
    "prod". Error messages use it so a person knows what to fix."""
    return setting_key("ARGOCD", instance, field)


class ArgoCDClient:
    """One Argo CD instance. Thread-safe; keep one per instance and reuse it (it pools connections)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        verify: bool | str = True,
        name: str = "default",
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        try:
            self.base_url = check_base_url(base_url, system=f"Argo CD ({setting_name(name, 'URL')})")
        except ValueError as exc:
            raise ArgoCDError(str(exc)) from None
        if token and (username or password):
            raise ArgoCDError(f"Argo CD '{name}': configure either a token or a username and password, not both")
        if bool(username) != bool(password):
            raise ArgoCDError(
                f"Argo CD '{name}': {setting_name(name, 'USERNAME')} and {setting_name(name, 'PASSWORD')} go together"
            )
        self.name = name
        self.timeout = timeout
        self._retry = retry
        self._static_token = token or None
        self._username = username or None
        self._password = password or None
        self._session_token: str | None = None
        self._login_lock = threading.Lock()
        try:
            self._http = build_client(
                self.base_url, timeout=timeout, verify=verify, headers={"Accept": "application/json"}
            )
        except ValueError as exc:
            raise ArgoCDError(f"Argo CD '{name}': {exc}") from None

    def __repr__(self) -> str:
        return f"ArgoCDClient(name={self.name!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ArgoCDClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reads

    def list_applications(
        self, *, selector: str | None = None, projects: Sequence[str] | None = None
    ) -> list[Application]:
        """All applications the account may read, in one call, sorted by name. Argo CD silently leaves out the ones
        it may not read. `selector` is a Kubernetes label selector; `projects` restricts to those projects."""
        params: list[tuple[str, str]] = []
        if selector:
            params.append(("selector", selector))
        for project in projects or ():
            params.append(("projects", _checked_name(project, "project")))
        data = self._call("GET", "/api/v1/applications", action="list applications", params=params)
        return self._parse(parse_application_list, data, "the application list")

    def get_application(self, name: str, *, project: str, app_namespace: str | None = None) -> Application:
        params = self._app_params(project, app_namespace)
        data = self._call(
            "GET", self._app_path(name), action=f"read application '{name}'", params=params, app=name, project=project
        )
        return self._parse(parse_application, data, f"application '{name}'")

    def resource_tree(self, name: str, *, project: str, app_namespace: str | None = None) -> ResourceTree:
        params = self._app_params(project, app_namespace)
        data = self._call(
            "GET",
            self._app_path(name) + "/resource-tree",
            action=f"read the resource tree of application '{name}'",
            params=params,
            app=name,
            project=project,
        )
        return self._parse(parse_resource_tree, data, f"the resource tree of '{name}'")

    def check_connection(self) -> ConnectionInfo:
        """Check that the URL reaches Argo CD and the credentials are accepted; for an admin "test connection" button.
        Raises ArgoCDError with the reason otherwise."""
        # Both endpoints answer without credentials, so we must look at `loggedIn` ourselves.
        info = self._call("GET", "/api/v1/session/userinfo", action="check the session")
        if not isinstance(info, dict) or not info.get("loggedIn"):
            raise ArgoCDError(
                f"{self._where} does not accept our credentials (not logged in); {self._credentials_hint()}", status=401
            )
        version = self._call("GET", "/api/version", action="read the server version")
        return ConnectionInfo(
            version=str(version.get("Version", "")) if isinstance(version, dict) else "",
            username=str(info.get("username", "")),
        )

    # Writes

    def sync(
        self,
        name: str,
        *,
        project: str,
        revision: str | None = None,
        prune: bool = False,
        dry_run: bool = False,
        app_namespace: str | None = None,
    ) -> Application:
        """Ask Argo CD to sync. Returns at once with the application (its `operation_requested` set); the sync runs in
        the background, so poll `get_application` for `operation_phase`. A sync while another operation runs fails
        with 400 "another operation is already in progress"."""
        body: dict[str, Any] = {"name": name, "project": _checked_name(project, "project"), "prune": prune}
        if dry_run:
            body["dryRun"] = True
        if revision:
            body["revision"] = revision
        if app_namespace:
            body["appNamespace"] = _checked_name(app_namespace, "namespace")
        # Not idempotent: a repeated sync after a lost answer would fail or start a second operation.
        data = self._call(
            "POST",
            self._app_path(name) + "/sync",
            action=f"sync application '{name}'",
            json=body,
            app=name,
            project=project,
        )
        return self._parse(parse_application, data, f"application '{name}'")

    def create_application(self, manifest: Mapping[str, Any], *, upsert: bool = True) -> Application:
        """Create an Application from its manifest (the same JSON/YAML structure as the CRD). With `upsert`, an
        existing application with a different spec is updated; without it Argo CD refuses with 400."""
        if not isinstance(manifest, Mapping):
            raise ArgoCDError("an Application manifest must be a mapping")
        metadata = manifest.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not isinstance(name, str):
            raise ArgoCDError("the Application manifest has no metadata.name")
        _checked_name(name, "application")
        spec = manifest.get("spec")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("project"), str):
            raise ArgoCDError(f"the Application manifest for '{name}' has no spec.project")
        data = self._call(
            "POST",
            "/api/v1/applications",
            action=f"create application '{name}'",
            params=[("upsert", "true" if upsert else "false")],
            json=dict(manifest),
            # With upsert, sending the same manifest twice leaves the same result, so a retry is safe.
            idempotent=upsert,
            app=name,
            project=str(spec["project"]),
        )
        return self._parse(parse_application, data, f"application '{name}'")

    # Plumbing

    @property
    def _where(self) -> str:
        label = "" if self.name == "default" else f" '{self.name}'"
        return f"Argo CD{label} at {self.base_url}"

    def _app_path(self, name: str) -> str:
        return "/api/v1/applications/" + quote(_checked_name(name, "application"), safe="")

    def _app_params(self, project: str, app_namespace: str | None) -> list[tuple[str, str]]:
        params = [("project", _checked_name(project, "project"))]
        if app_namespace:
            params.append(("appNamespace", _checked_name(app_namespace, "namespace")))
        return params

    def _credentials_hint(self) -> str:
        if self._username:
            return f"check {setting_name(self.name, 'USERNAME')} and {setting_name(self.name, 'PASSWORD')}"
        if self._static_token:
            return f"check {setting_name(self.name, 'TOKEN')}: the token may have expired or been revoked"
        return (
            f"set {setting_name(self.name, 'TOKEN')} (an Argo CD API token), or "
            f"{setting_name(self.name, 'USERNAME')} and {setting_name(self.name, 'PASSWORD')}"
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: list[tuple[str, str]] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        app: str | None = None,
        project: str | None = None,
    ) -> Any:
        token = self._token()
        response = self._send(method, path, token, action, params=params, json=json, idempotent=idempotent)
        if response.status_code == 401 and self._username:
            # Session tokens expire (24 h by default) and die when Argo CD rotates its key: log in again, once.
            token = self._login(stale=token)
            response = self._send(method, path, token, action, params=params, json=json, idempotent=idempotent)
        if not response.is_success:
            raise self._error(response, action=action, app=app, project=project)
        content_type = response.headers.get("Content-Type", "")
        try:
            if "json" not in content_type:
                raise ValueError(content_type)
            return response.json()
        except ValueError:
            raise ArgoCDError(
                f"{self._where} answered '{action}' with something that is not JSON "
                f"({content_type or 'no content type'}); check that {setting_name(self.name, 'URL')} points at the "
                f"Argo CD API server itself, not a login page or proxy in front of it",
                status=response.status_code,
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        token: str | None,
        action: str,
        **request_kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return send(self._http, method, path, retry=self._retry, headers=headers, **request_kwargs)
        except TransportFailure as failure:
            raise self._transport_error(failure, action) from None

    def _transport_error(self, failure: TransportFailure, action: str) -> ArgoCDError:
        tries = f"{failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
        if failure.kind == "timeout":
            message = (
                f"{self._where} did not answer within {self.timeout:g} s while trying to {action} ({tries}); "
                f"the server may be overloaded, or raise {setting_name(self.name, 'TIMEOUT')}"
            )
        elif failure.kind == "tls":
            message = (
                f"{self._where} presented a TLS certificate Portico could not verify "
                f"({describe_transport_error(failure.cause)}); point SSL_CERT_FILE at the CA bundle that signed it, "
                f"or set {setting_name(self.name, 'VERIFY_TLS')}=false to skip the check"
            )
        elif failure.kind == "connect":
            message = (
                f"Could not connect to {self._where} to {action} ({describe_transport_error(failure.cause)}, "
                f"{tries}); check {setting_name(self.name, 'URL')} and that the server is reachable from Portico"
            )
        else:
            message = (
                f"The connection to {self._where} failed while trying to {action} "
                f"({describe_transport_error(failure.cause)}, {tries})"
            )
        return ArgoCDError(self._redact(message))

    def _token(self) -> str | None:
        if self._static_token:
            return self._static_token
        if not self._username:
            return None
        with self._login_lock:
            if self._session_token:
                return self._session_token
        return self._login(stale=None)

    def _login(self, *, stale: str | None) -> str:
        with self._login_lock:
            if self._session_token and self._session_token != stale:
                return self._session_token  # another thread logged in meanwhile
            response = self._send(
                "POST",
                "/api/v1/session",
                None,
                "log in",
                json={"username": self._username, "password": self._password},
                idempotent=True,
            )
            if response.status_code == 401:
                raise ArgoCDError(
                    f"{self._where} rejected the username and password (401); "
                    f"check {setting_name(self.name, 'USERNAME')} and {setting_name(self.name, 'PASSWORD')}",
                    status=401,
                    code=16,
                )
            if not response.is_success:
                raise self._error(response, action="log in", app=None, project=None)
            try:
                token = response.json().get("token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str) or not token:
                raise ArgoCDError(
                    f"{self._where} answered the login without a token; "
                    f"check that {setting_name(self.name, 'URL')} points at the Argo CD API server",
                    status=response.status_code,
                )
            self._session_token = token
            return token

    def _error(self, response: httpx.Response, *, action: str, app: str | None, project: str | None) -> ArgoCDError:
        status = response.status_code
        detail, code = self._error_detail(response)
        where = self._where
        if status == 401:
            message = f"{where} rejected the token (401: {detail}) while trying to {action}; {self._credentials_hint()}"
        elif status == 403:
            message = (
                f"{where} denied permission to {action} (403: {detail}); the account needs Argo CD RBAC access"
                + (f" to applications in project '{project}'" if project else "")
            )
        elif status == 404 and app:
            message = f"{where} has no application '{app}' in project '{project}' (404: {detail})"
        elif status == 404:
            message = (
                f"{where} answered 404 to '{action}' ({detail}); check that {setting_name(self.name, 'URL')} "
                "is the Argo CD server's base URL"
            )
        elif status == 429:
            wait = server_wait_hint(response.headers)
            after = f"; it asks to wait {wait:.0f} s" if wait is not None else ""
            message = f"{where} is rate limiting Portico (429) while trying to {action}{after}; try again later"
        elif 300 <= status < 400:
            location = response.headers.get("Location")
            target = f" to {loggable_url(location)}" if location else ""
            message = (
                f"{where} redirected '{action}'{target} ({status}); point {setting_name(self.name, 'URL')} at the "
                "Argo CD API server directly (a redirect usually means a login proxy in front of it)"
            )
        elif status >= 500:
            message = f"{where} failed to {action} ({status}: {detail}); Argo CD may be restarting, try again later"
        else:
            message = f"{where} refused to {action} ({status}: {detail})"
        return ArgoCDError(
            self._redact(message), status=status, code=code, retry_after=server_wait_hint(response.headers)
        )

    def _error_detail(self, response: httpx.Response) -> tuple[str, int | None]:
        """The message and gRPC code from Argo CD's error body `{"error", "code", "message"}`, or a short summary of a
        body that is not one (an HTML page from a proxy, say)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            text = body.get("message") or body.get("error")
            code = body.get("code")
            if isinstance(text, str) and text:
                return text[:_MAX_SERVER_MESSAGE], code if isinstance(code, int) else None
        if "html" in response.headers.get("Content-Type", ""):
            return "an HTML page instead of an API answer", None
        text = response.text.strip()[:200]
        return text or response.reason_phrase or "no details", None

    def _parse(self, parser: Any, data: Any, what: str) -> Any:
        try:
            return parser(data)
        except ValueError as exc:
            raise ArgoCDError(f"{self._where} sent {what} in an unexpected shape ({exc})") from None

    def _redact(self, text: str) -> str:
        # Belt and braces: a misbehaving server or proxy could echo credentials back into an error body.
        for secret in (self._static_token, self._session_token, self._password):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text


def _checked_name(value: str, what: str) -> str:
    """Refuse names that are not Kubernetes object names before they reach a URL (no path tricks, no query tricks)."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        shown = repr(value)[:80]
        raise ArgoCDError(f"{shown} is not a valid {what} name (lowercase letters, digits, '-' and '.')")
    return value
