"""The Prometheus server from environment variables.

    PROMETHEUS_URL          base URL of the query API, e.g. http://prometheus.monitoring:9090 (without /api/v1); a
                            Thanos Query, Mimir or VictoriaMetrics URL works as well
    PROMETHEUS_TOKEN        bearer token, when an authenticating proxy sits in front of it
    PROMETHEUS_HEADERS      more request headers, "Name: value" pairs separated by ';' (e.g. "X-Scope-OrgID: team-a")
    PROMETHEUS_VERIFY_TLS   true (default) or false; to trust a private CA instead, set SSL_CERT_FILE for the process
    PROMETHEUS_TIMEOUT      seconds per request, default 10

Without PROMETHEUS_URL, Prometheus is not configured and `prometheus_servers_from_env()` returns an empty list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from integrations.http import check_base_url, parse_flag, parse_timeout
from integrations.prometheus.client import PrometheusClient, PrometheusError, setting_name

_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class PrometheusServer:
    """The settings of the Prometheus server; the token and header values stay out of repr() and describe()."""

    url: str
    token: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify_tls: bool = True
    timeout: float = 10.0
    name: str = "default"

    def describe(self) -> str:
        """One line for admin pages and logs, without secrets."""
        details = [f"bearer token from {setting_name('TOKEN')}" if self.token else "no token"]
        if self.headers:
            details.append("extra headers: " + ", ".join(sorted(self.headers)))
        if not self.verify_tls and self.url.startswith("https"):
            details.append("TLS certificate NOT verified")
        details.append(f"timeout {self.timeout:g} s")
        return f"Prometheus at {self.url} ({', '.join(details)})"

    def client(self) -> PrometheusClient:
        return PrometheusClient(
            self.url, timeout=self.timeout, token=self.token, headers=self.headers, verify=self.verify_tls
        )


def prometheus_servers_from_env(environ: Mapping[str, str] | None = None) -> list[PrometheusServer]:
    """The configured Prometheus server as a one-item list, or an empty list. Raises PrometheusError naming the
    variable to fix when a setting is wrong."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(setting_name(name))
        return value.strip() if value and value.strip() else None

    url = get("URL")
    if not url:
        return []
    try:
        return [
            PrometheusServer(
                url=check_base_url(url, system=setting_name("URL")),
                token=get("TOKEN"),
                headers=_parse_headers(get("HEADERS")),
                verify_tls=parse_flag(get("VERIFY_TLS"), setting=setting_name("VERIFY_TLS"), default=True),
                timeout=parse_timeout(get("TIMEOUT"), setting=setting_name("TIMEOUT"), default=10.0),
            )
        ]
    except ValueError as exc:
        raise PrometheusError(str(exc)) from None


def _parse_headers(text: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, separator, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not separator or not _HEADER_NAME_RE.match(name) or not value or "\n" in value or "\r" in value:
            raise ValueError(f"{setting_name('HEADERS')} must be 'Name: value' pairs separated by ';'")
        if name.lower() in ("authorization", "host", "content-length"):
            raise ValueError(f"{setting_name('HEADERS')} must not set {name}; use {setting_name('TOKEN')} for tokens")
        headers[name] = value
    return headers
