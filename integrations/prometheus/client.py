"""Prometheus HTTP API client (httpx): instant and range queries with typed results.

Works with Prometheus itself and with the servers that speak its query API (Thanos, Mimir, VictoriaMetrics), also
behind an authenticating proxy (`token` is sent as a bearer token, `headers` for the rest, such as X-Scope-OrgID).
Values arrive as strings ("NaN" and "+Inf" included) and become floats; timestamps are float seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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

MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses range queries that would return more
_LONG_QUERY = 2_000  # longer queries go in a POST body rather than the URL
_ERROR_TYPES = {
    "bad_data": "rejected the query as invalid",
    "execution": "could not evaluate the query",
    "timeout": "timed out evaluating the query (narrow the time range or simplify the query)",
    "canceled": "canceled the query",
    "internal": "hit an internal error evaluating the query",
    "unavailable": "is not ready to answer queries yet",
    "not_found": "does not serve this API endpoint",
    "not_acceptable": "cannot answer in the requested format",
}

Timestamp = datetime | float | int


class PrometheusError(Exception):
    """Anything that went wrong querying Prometheus, with a message a person can act on.

    `status` is the HTTP status (None when no answer came back); `error_type` Prometheus's errorType (bad_data,
    execution, timeout, canceled, internal, unavailable...) when it sent one; `retry_after` the seconds the server
    asked to wait, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.retry_after = retry_after


@dataclass(frozen=True)
class InstantSample:
    labels: dict[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class ConnectionInfo:
    """What `check_connection()` learned: the server's version ("unknown" when it does not say)."""

    version: str


def setting_name(field: str) -> str:
    return setting_key("PROMETHEUS", "default", field)


class PrometheusClient:
    """One Prometheus (or compatible) server. Thread-safe; keep one and reuse it."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        try:
            self.base_url = check_base_url(base_url, system=f"Prometheus ({setting_name('URL')})")
        except ValueError as exc:
            raise PrometheusError(str(exc)) from None
        extra = dict(headers or {})
        if token and any(name.lower() == "authorization" for name in extra):
            raise PrometheusError("give the Prometheus token either as `token` or as an Authorization header, not both")
        if token:
            extra["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self._retry = retry
        self._secrets = [value for value in extra.values() if value]
        try:
            self._http = build_client(
                self.base_url, timeout=timeout, verify=verify, headers={"Accept": "application/json", **extra}
            )
        except ValueError as exc:
            raise PrometheusError(f"Prometheus: {exc}") from None

    def __repr__(self) -> str:
        return f"PrometheusClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def query(self, promql: str, *, time: Timestamp | None = None) -> list[InstantSample]:
        """Evaluate `promql` at `time` (default: now). A scalar result comes back as one sample without labels."""
        params = {"query": _checked_query(promql)}
        if time is not None:
            params["time"] = _format_time(time)
        data = self._call("api/v1/query", params, action="run the query")
        result_type, result = data.get("resultType"), data.get("result")
        if result_type == "vector" and isinstance(result, list):
            return [sample for item in result if (sample := _instant_sample(item)) is not None]
        if result_type == "scalar" and isinstance(result, list) and len(result) == 2:
            return [InstantSample(labels={}, value=_number(result[1]), timestamp=float(result[0]))]
        if result_type == "matrix":
            raise PrometheusError(
                "the query returned a range vector (it ends in a [range] selector); use query_range, or wrap it in "
                "a function such as rate() or max_over_time()",
                error_type="bad_data",
            )
        raise PrometheusError(f"the query returned a {result_type or 'malformed'} result, not numbers")

    def query_range(
        self, promql: str, *, start: Timestamp, end: Timestamp, step: float | timedelta
    ) -> list[RangeSeries]:
        """Evaluate `promql` from `start` to `end` every `step` (seconds or a timedelta)."""
        step_seconds = step.total_seconds() if isinstance(step, timedelta) else float(step)
        start_seconds, end_seconds = _seconds(start), _seconds(end)
        if not step_seconds > 0:
            raise PrometheusError("the step of a range query must be more than 0 seconds")
        if end_seconds < start_seconds:
            raise PrometheusError("the end of a range query must not be before its start")
        points = math.floor((end_seconds - start_seconds) / step_seconds) + 1
        if points > MAX_POINTS_PER_SERIES:
            smallest_step = math.ceil((end_seconds - start_seconds) / MAX_POINTS_PER_SERIES)
            raise PrometheusError(
                f"the range query would return {points} points per series, more than Prometheus allows "
                f"({MAX_POINTS_PER_SERIES}); use a step of at least {smallest_step} s",
                error_type="bad_data",
            )
        params = {
            "query": _checked_query(promql),
            "start": _format_time(start_seconds),
            "end": _format_time(end_seconds),
            "step": f"{step_seconds:g}",
        }
        data = self._call("api/v1/query_range", params, action="run the range query")
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise PrometheusError(f"the range query returned a {data.get('resultType') or 'malformed'} result")
        series = []
        for item in result:
            if not isinstance(item, dict):
                continue
            values = item.get("values") if isinstance(item.get("values"), list) else []
            series.append(
                RangeSeries(
                    labels=_labels(item.get("metric")),
                    points=[(float(ts), _number(value)) for ts, value in values],
                )
            )
        return series

    def check_connection(self) -> ConnectionInfo:
        """Check that the URL answers Prometheus queries with these credentials; for an admin "test connection"
        button. Raises PrometheusError with the reason otherwise."""
        try:
            data = self._call("api/v1/status/buildinfo", None, action="read the build information")
        except PrometheusError as exc:
            if exc.status != 404:
                raise
            # Some Prometheus-compatible servers have no buildinfo endpoint; a trivial query proves the rest.
            self.query("vector(1)")
            return ConnectionInfo(version="unknown")
        return ConnectionInfo(version=str(data.get("version") or "unknown"))

    # Plumbing

    def _call(self, path: str, params: dict[str, str] | None, *, action: str) -> dict[str, Any]:
        long_query = params is not None and len(params.get("query", "")) > _LONG_QUERY
        try:
            if long_query:
                # The query endpoints accept form posts for queries too long for a URL; repeating one is harmless.
                response = send(self._http, "POST", path, retry=self._retry, idempotent=True, data=params)
            else:
                response = send(self._http, "GET", path, retry=self._retry, params=params)
        except TransportFailure as failure:
            raise self._transport_error(failure, action) from None
        body = self._json(response)
        if not response.is_success or not isinstance(body, dict) or body.get("status") != "success":
            raise self._error(response, body, action)
        data = body.get("data")
        if not isinstance(data, dict):
            raise PrometheusError(f"Prometheus at {self.base_url} answered without data", status=response.status_code)
        return data

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _transport_error(self, failure: TransportFailure, action: str) -> PrometheusError:
        tries = f"{failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
        if failure.kind == "timeout":
            message = (
                f"Prometheus at {self.base_url} did not answer within {self.timeout:g} s while trying to {action} "
                f"({tries}); the query may be too heavy, or raise {setting_name('TIMEOUT')}"
            )
        elif failure.kind == "tls":
            message = (
                f"Prometheus at {self.base_url} presented a TLS certificate Portico could not verify "
                f"({describe_transport_error(failure.cause)}); point SSL_CERT_FILE at the CA bundle that signed it, "
                f"or set {setting_name('VERIFY_TLS')}=false to skip the check"
            )
        elif failure.kind == "connect":
            message = (
                f"Could not connect to Prometheus at {self.base_url} ({describe_transport_error(failure.cause)}, "
                f"{tries}); check {setting_name('URL')} and that the server is reachable from Portico"
            )
        else:
            message = (
                f"The connection to Prometheus at {self.base_url} failed while trying to {action} "
                f"({describe_transport_error(failure.cause)}, {tries})"
            )
        return PrometheusError(self._redact(message))

    def _error(self, response: httpx.Response, body: Any, action: str) -> PrometheusError:
        status = response.status_code
        where = f"Prometheus at {self.base_url}"
        if isinstance(body, dict) and body.get("status") == "error":
            error_type = str(body.get("errorType") or "")
            error = str(body.get("error") or "no details")[:500]
            explanation = _ERROR_TYPES.get(error_type, f"failed ({error_type or 'unknown error'})")
            message = f"{where} {explanation} [{error_type}]: {error}"
            return PrometheusError(
                self._redact(message),
                status=status,
                error_type=error_type or None,
                retry_after=server_wait_hint(response.headers),
            )
        if status == 200:
            message = (
                f"{where} answered '{action}' with something that is not the Prometheus API's JSON; check that "
                f"{setting_name('URL')} is the server's base URL (without /api/v1)"
            )
        elif status == 401:
            message = f"{where} rejected the credentials (401) while trying to {action}; check {setting_name('TOKEN')}"
        elif status == 403:
            message = (
                f"{where} denied access (403) while trying to {action}; check that the token in "
                f"{setting_name('TOKEN')} may read metrics"
            )
        elif status == 404:
            message = (
                f"{where} answered 404 to '{action}'; check that {setting_name('URL')} is the server's base URL "
                "(without /api/v1)"
            )
        elif status == 429:
            wait = server_wait_hint(response.headers)
            after = f"; it asks to wait {wait:.0f} s" if wait is not None else ""
            message = f"{where} is rate limiting Portico (429){after}; try again later"
        elif 300 <= status < 400:
            location = response.headers.get("Location")
            target = f" to {loggable_url(location)}" if location else ""
            message = (
                f"{where} redirected '{action}'{target} ({status}); point {setting_name('URL')} at the query API "
                "directly (a redirect usually means a login proxy in front of it)"
            )
        else:
            text = " ".join(response.text.split())[:200] or response.reason_phrase
            message = f"{where} failed to {action} ({status}: {text})"
        return PrometheusError(self._redact(message), status=status, retry_after=server_wait_hint(response.headers))

    def _redact(self, text: str) -> str:
        # A proxy may echo request headers into an error page; never pass a credential on.
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _checked_query(promql: str) -> str:
    if not isinstance(promql, str) or not promql.strip():
        raise PrometheusError("the PromQL query is empty")
    return promql


def _seconds(value: Timestamp) -> float:
    if isinstance(value, datetime):
        # A naive datetime is taken as UTC: Prometheus has no notion of local time.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return float(value)


def _format_time(value: Timestamp) -> str:
    return f"{_seconds(value):.3f}"


def _number(value: Any) -> float:
    # Prometheus sends sample values as strings, "NaN", "+Inf" and "-Inf" included; float() reads them all.
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _labels(metric: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in metric.items()} if isinstance(metric, dict) else {}


def _instant_sample(item: Any) -> InstantSample | None:
    # Native histogram samples carry "histogram" instead of "value"; the dashboards read classic buckets only.
    if not isinstance(item, dict) or not isinstance(item.get("value"), list) or len(item["value"]) != 2:
        return None
    timestamp, value = item["value"]
    return InstantSample(labels=_labels(item.get("metric")), value=_number(value), timestamp=float(timestamp))
