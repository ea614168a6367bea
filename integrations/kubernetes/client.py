"""Kubernetes API client for the dashboards: lists of deployments, pods and events, through the official client.

Each KubernetesClient owns its own `Configuration` and `ApiClient` (never the library's global default), so Portico
can talk to several clusters at once. Lists follow `continue` pages to the end. Requests have timeouts and are retried
(they are all reads) with the backoff and `Retry-After` handling of `integrations.http`; urllib3's own retries are
switched off so the two do not multiply.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from integrations.http import DEFAULT_RETRY, RETRYABLE_STATUSES, RetryPolicy, next_wait, server_wait_hint, setting_key
from integrations.kubernetes.results import (
    ConnectionInfo,
    Deployment,
    Event,
    Pod,
    deployment_from_model,
    event_from_model,
    pod_from_model,
)

logger = logging.getLogger(__name__)

_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MAX_PAGES = 1000  # a server handing out `continue` tokens forever must not keep a poller busy forever


class KubernetesError(Exception):
    """Anything that went wrong talking to a cluster, with a message a person can act on.

    `status` is the HTTP status (None when no answer came back); `reason` the Status object's reason
    (Unauthorized, Forbidden, NotFound, Expired, TooManyRequests...); `retry_after` the seconds the API server asked
    to wait, when it said.
    """

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def setting_name(cluster: str, field: str) -> str:
    """KUBERNETES_TOKEN for the "default" cluster, KUBERNETES_PROD_TOKEN for "prod"."""
    return setting_key("KUBERNETES", cluster, field)


class KubernetesClient:
    """One cluster. Build it with `from_kubeconfig`, `in_cluster` or `from_host`; close it when done.

    Given an ApiClient directly, its configuration should have `retries = False` (see `new_api_client`).
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        name: str = "default",
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = 500,
        credentials_hint: str = "check the cluster credentials",
        tls_hint: str = "check the cluster's CA certificate",
    ) -> None:
        self._api = api_client
        self._apps = kubernetes.client.AppsV1Api(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._version = kubernetes.client.VersionApi(api_client)
        self.name = name
        self.host = api_client.configuration.host
        self.timeout = timeout
        self._retry = retry
        self.page_size = page_size
        self._credentials_hint = credentials_hint
        self._tls_hint = tls_hint

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        name: str = "default",
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> KubernetesClient:
        """A client for `context` of the kubeconfig at `path` (default: $KUBECONFIG or ~/.kube/config)."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            where = f"context '{context}' of " if context else ""
            raise KubernetesError(
                f"Kubernetes cluster '{name}': could not load {where}kubeconfig {path or '(default)'}: {exc}; "
                f"check {setting_name(name, 'CONTEXT')} and KUBECONFIG"
            ) from None
        where = f"context '{context or '(current)'}' in kubeconfig {path or '(default)'}"
        return cls(
            new_api_client(configuration),
            name=name,
            timeout=timeout,
            retry=retry,
            credentials_hint=f"check the user of {where}",
            tls_hint=f"check certificate-authority(-data) of the cluster of {where}",
        )

    @classmethod
    def in_cluster(
        cls, *, name: str = "default", timeout: float = 10.0, retry: RetryPolicy = DEFAULT_RETRY
    ) -> KubernetesClient:
        """A client using the pod's service account (Portico running inside the cluster it watches)."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise KubernetesError(
                f"Kubernetes cluster '{name}': in-cluster configuration is not available ({exc}); Portico is not "
                f"running in a pod with a service account, so unset {setting_name(name, 'IN_CLUSTER')}"
            ) from None
        hint = "check the pod's service account token and that the service account still exists"
        return cls(
            new_api_client(configuration),
            name=name,
            timeout=timeout,
            retry=retry,
            credentials_hint=hint,
        )

    @classmethod
    def from_host(
        cls,
        host: str,
        token: str,
        verify_ssl: bool = True,
        *,
        ca_file: str | None = None,
        name: str = "default",
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = 500,
    ) -> KubernetesClient:
        """A client for the API server at `host` with a bearer token (a service account token, say)."""
        if not re.match(r"^https?://[^/\s]+", host or ""):
            raise KubernetesError(
                f"Kubernetes cluster '{name}': {setting_name(name, 'HOST')} must be an http(s) URL of the API server"
            )
        configuration = kubernetes.client.Configuration(
            host=host.rstrip("/"),
            api_key={"BearerToken": token},
            api_key_prefix={"BearerToken": "Bearer"},
            verify_ssl=verify_ssl,
            ssl_ca_cert=ca_file,
        )
        hint = f"check {setting_name(name, 'TOKEN')}: the token may have expired or been revoked"
        return cls(
            new_api_client(configuration),
            name=name,
            timeout=timeout,
            retry=retry,
            page_size=page_size,
            credentials_hint=hint,
            tls_hint=(
                f"set {setting_name(name, 'CA_FILE')} to the cluster's CA certificate, or "
                f"{setting_name(name, 'VERIFY_TLS')}=false to skip the check"
            ),
        )

    def __repr__(self) -> str:
        return f"KubernetesClient(name={self.name!r}, host={self.host!r})"

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubernetesClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reads

    def list_deployments(self, *, label_selector: str | None = None, namespace: str | None = None) -> list[Deployment]:
        """Deployments in `namespace`, or in all namespaces when None."""
        scope = _scope(namespace)
        if namespace is None:
            call: Callable[..., Any] = self._apps.list_deployment_for_all_namespaces
        else:
            call = _bind(self._apps.list_namespaced_deployment, namespace)
        items = self._list_all(
            call, action=f"list deployments {scope}", resource="deployments.apps", label_selector=label_selector
        )
        return [deployment_from_model(item) for item in items]

    def list_pods(
        self,
        *,
        label_selector: str | None = None,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> list[Pod]:
        """Pods in `namespace`, or in all namespaces when None."""
        scope = _scope(namespace)
        if namespace is None:
            call: Callable[..., Any] = self._core.list_pod_for_all_namespaces
        else:
            call = _bind(self._core.list_namespaced_pod, namespace)
        items = self._list_all(
            call,
            action=f"list pods {scope}",
            resource="pods",
            label_selector=label_selector,
            field_selector=field_selector,
        )
        return [pod_from_model(item) for item in items]

    def list_events(
        self,
        *,
        namespace: str | None = None,
        field_selector: str | None = None,
        warnings_only: bool = True,
    ) -> list[Event]:
        """Events (by default only warnings), newest first. `field_selector` narrows them, for example
        `involvedObject.kind=Pod,involvedObject.name=web-1`."""
        scope = _scope(namespace)
        selectors = [part for part in (field_selector, "type=Warning" if warnings_only else None) if part]
        if namespace is None:
            call: Callable[..., Any] = self._core.list_event_for_all_namespaces
        else:
            call = _bind(self._core.list_namespaced_event, namespace)
        items = self._list_all(
            call, action=f"list events {scope}", resource="events", field_selector=",".join(selectors) or None
        )
        events = [event_from_model(item) for item in items]
        events.sort(key=lambda event: event.last_seen.timestamp() if event.last_seen else 0.0, reverse=True)
        return events

    def check_connection(self, *, namespace: str | None = None) -> ConnectionInfo:
        """Check that the API server answers and that the credentials may list deployments (in `namespace`, or
        cluster-wide); for an admin "test connection" button. Raises KubernetesError with the reason otherwise."""
        version = self._call(
            lambda: self._version.get_code(_request_timeout=self._request_timeout), "read the server version"
        )
        scope = _scope(namespace)
        if namespace is None:
            call: Callable[..., Any] = self._apps.list_deployment_for_all_namespaces
        else:
            call = _bind(self._apps.list_namespaced_deployment, namespace)
        self._call(
            lambda: call(limit=1, _request_timeout=self._request_timeout),
            f"list deployments {scope}",
            resource="deployments.apps",
        )
        return ConnectionInfo(version=version.git_version)

    # Plumbing

    @property
    def _where(self) -> str:
        return f"Kubernetes cluster '{self.name}' at {self.host}"

    @property
    def _request_timeout(self) -> tuple[float, float]:
        return (self.timeout, self.timeout)

    def _list_all(self, call: Callable[..., Any], *, action: str, resource: str, **selectors: Any) -> list[Any]:
        selectors = {key: value for key, value in selectors.items() if value}
        restarted = False
        items: list[Any] = []
        token: str | None = None
        for _page in range(_MAX_PAGES):
            page_token = token

            def fetch(page_token: str | None = page_token) -> Any:
                return call(
                    limit=self.page_size,
                    _continue=page_token,
                    _request_timeout=self._request_timeout,
                    **selectors,
                )

            try:
                result = self._call(fetch, action, resource=resource)
            except KubernetesError as exc:
                # A continue token expires after a few minutes (410 Gone); Kubernetes says to list again from the
                # start, which we do once.
                if exc.status == 410 and page_token is not None and not restarted:
                    restarted, items, token = True, [], None
                    continue
                raise
            items.extend(result.items or [])
            token = result.metadata.var_continue if result.metadata is not None else None
            if not token:
                return items
        raise KubernetesError(f"{self._where} kept returning more pages while trying to {action}; giving up")

    def _call(self, fetch: Callable[[], Any], action: str, *, resource: str = "") -> Any:
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return fetch()
            except ApiException as exc:
                status = exc.status or 0
                if status in RETRYABLE_STATUSES:
                    hint = server_wait_hint(exc.headers or {}) if status in (429, 503) else None
                    hint = hint if hint is not None else _status_retry_after(exc)
                    wait = next_wait(self._retry, retry_number=attempt, waited=waited, hint=hint)
                    if wait is not None:
                        waited += self._pause(action, f"answered {status}", wait, attempt)
                        continue
                raise self._api_error(exc, action, resource) from None
            except urllib3.exceptions.HTTPError as exc:
                wait = next_wait(self._retry, retry_number=attempt, waited=waited, hint=None)
                if wait is not None:
                    waited += self._pause(action, type(exc).__name__, wait, attempt)
                    continue
                raise self._transport_error(exc, action, attempt) from None
            except ValueError as exc:
                # Bad JSON (json.JSONDecodeError) or an object the client's models reject (pydantic.ValidationError).
                summary = " ".join(str(exc).split())[:300]
                raise KubernetesError(
                    f"{self._where} answered '{action}' with a body that is not a valid Kubernetes object "
                    f"({summary}); check that {setting_name(self.name, 'HOST')} or the kubeconfig points at the "
                    "API server itself"
                ) from None

    def _pause(self, action: str, why: str, wait: float, attempt: int) -> float:
        logger.warning(
            "%s: %s %s; retrying in %.2f s (attempt %d of %d)",
            self._where,
            action,
            why,
            wait,
            attempt + 1,
            self._retry.attempts,
        )
        time.sleep(wait)
        return wait

    def _transport_error(self, exc: urllib3.exceptions.HTTPError, action: str, attempts: int) -> KubernetesError:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        # NewConnectionError is a ConnectTimeoutError in urllib3, so it must be checked first.
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            cause = str(exc).rsplit(":", 1)[-1].strip()
            return KubernetesError(
                f"Could not connect to {self._where} to {action} ({cause}, {tries}); check "
                f"{setting_name(self.name, 'HOST')} or the kubeconfig, and that the API server is reachable"
            )
        if isinstance(exc, urllib3.exceptions.TimeoutError):
            return KubernetesError(
                f"{self._where} did not answer within {self.timeout:g} s while trying to {action} ({tries}); "
                f"the API server may be overloaded, or raise {setting_name(self.name, 'TIMEOUT')}"
            )
        return KubernetesError(f"The connection to {self._where} failed while trying to {action} ({exc}, {tries})")

    def _api_error(self, exc: ApiException, action: str, resource: str) -> KubernetesError:
        status = exc.status or None
        message, reason = _status_message(exc)
        where = self._where
        if status == 401:
            text = f"{where} rejected the credentials (401 Unauthorized) while trying to {action}; " + (
                self._credentials_hint
            )
        elif status == 403:
            grant = f" grant the account 'list' on {resource}" if resource else " grant the account access"
            text = (
                f"{where} does not allow Portico to {action} (403: {message});{grant} "
                "(a ClusterRole for all namespaces, or a Role in each namespace)"
            )
        elif status == 404:
            text = (
                f"{where} answered 404 to '{action}' ({message}); check that {setting_name(self.name, 'HOST')} or "
                "the kubeconfig points at the API server and that the API is served"
            )
        elif status == 400:
            text = f"{where} refused to {action} (400: {message}); check the label or field selector"
        elif status == 410:
            text = f"{where} expired the list while paging through it (410: {message}); try again"
        elif status == 429:
            text = f"{where} is rate limiting Portico (429) while trying to {action}; try again later"
        elif status is not None and status >= 500:
            text = f"{where} failed to {action} ({status}: {message}); the API server may be restarting"
        elif status is None and "SSL" in str(exc.reason):
            # The client turns TLS failures into an ApiException with status 0.
            detail = " ".join(str(exc.reason).split())[:300]
            text = f"{where} presented a TLS certificate Portico could not verify ({detail}); {self._tls_hint}"
        elif status is None:
            text = f"{where}: {action} failed ({' '.join(str(exc.reason).split())[:300]})"
        else:
            text = f"{where} refused to {action} ({status}: {message})"
        retry_after = server_wait_hint(exc.headers) if exc.headers else None
        return KubernetesError(text, status=status, reason=reason, retry_after=retry_after)


def new_api_client(configuration: kubernetes.client.Configuration) -> kubernetes.client.ApiClient:
    """An ApiClient of its own for `configuration`, with urllib3's retries off: urllib3 would otherwise retry on its
    own, multiplying ours, and sleep for any Retry-After the server sends, however long."""
    configuration.retries = False
    return kubernetes.client.ApiClient(configuration)


def _scope(namespace: str | None) -> str:
    if namespace is None:
        return "in all namespaces"
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise KubernetesError(f"{repr(namespace)[:80]} is not a valid namespace name")
    return f"in namespace '{namespace}'"


def _bind(call: Callable[..., Any], namespace: str) -> Callable[..., Any]:
    return lambda **kwargs: call(namespace, **kwargs)


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _status_message(exc: ApiException) -> tuple[str, str | None]:
    """The message and reason of the Status object Kubernetes sends with errors, or the HTTP reason phrase."""
    body = _status_body(exc)
    message = body.get("message") if isinstance(body.get("message"), str) else None
    reason = body.get("reason") if isinstance(body.get("reason"), str) else None
    return (message or str(exc.reason or "no details"))[:500], reason or (str(exc.reason) if exc.reason else None)


def _status_retry_after(exc: ApiException) -> float | None:
    # A 429 Status may carry details.retryAfterSeconds instead of (or as well as) the Retry-After header.
    details = _status_body(exc).get("details")
    seconds = details.get("retryAfterSeconds") if isinstance(details, dict) else None
    return float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else None
