"""Argo CD instances from environment variables.

One instance, named "default":

    ARGOCD_URL           base URL of the Argo CD API server, e.g. https://argocd.example.com
    ARGOCD_TOKEN         an Argo CD API token (Settings > Accounts > Generate token; the account needs `apiKey`)
    ARGOCD_USERNAME      or a local account's username...
    ARGOCD_PASSWORD      ...and password; Portico logs in and renews the session token when it expires
    ARGOCD_VERIFY_TLS    true (default) or false; to trust a private CA instead, set SSL_CERT_FILE for the process
    ARGOCD_TIMEOUT       seconds per request, default 10

Several instances:

    ARGOCD_INSTANCES     comma-separated names, e.g. prod,staging
    ARGOCD_PROD_URL, ARGOCD_PROD_TOKEN (or ARGOCD_PROD_USERNAME and ARGOCD_PROD_PASSWORD), ARGOCD_PROD_VERIFY_TLS,
    ARGOCD_PROD_TIMEOUT  the same settings per instance, the name upper-cased with '-' turned into '_'

ARGOCD_URL may be combined with ARGOCD_INSTANCES; it then adds the "default" instance. With neither set, Argo CD is
not configured and `argocd_instances_from_env()` returns an empty list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from integrations.argocd.client import ArgoCDClient, ArgoCDError, setting_name
from integrations.http import check_base_url, parse_flag, parse_names, parse_timeout


@dataclass(frozen=True)
class ArgoCDInstance:
    """The settings of one Argo CD instance. Secrets are kept out of repr() and describe()."""

    name: str
    url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    timeout: float = 10.0

    def describe(self) -> str:
        """One line for admin pages and logs, without secrets."""
        if self.token:
            auth = f"API token from {setting_name(self.name, 'TOKEN')}"
        elif self.username:
            auth = f"user '{self.username}'"
        else:
            auth = "no credentials (anonymous)"
        tls = "" if self.verify_tls or not self.url.startswith("https") else ", TLS certificate NOT verified"
        return f"Argo CD '{self.name}' at {self.url} ({auth}{tls}, timeout {self.timeout:g} s)"

    def client(self) -> ArgoCDClient:
        return ArgoCDClient(
            self.url,
            token=self.token,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
            verify=self.verify_tls,
            name=self.name,
        )


def argocd_instances_from_env(environ: Mapping[str, str] | None = None) -> list[ArgoCDInstance]:
    """Every Argo CD instance the environment configures ("default" first). Raises ArgoCDError naming the variable
    to fix when a setting is missing or wrong."""
    env = os.environ if environ is None else environ
    try:
        names = parse_names(env.get("ARGOCD_INSTANCES"), setting="ARGOCD_INSTANCES")
        if (env.get("ARGOCD_URL") or "").strip() and "default" not in names:
            names.insert(0, "default")
        return [_instance(env, name) for name in names]
    except ValueError as exc:
        raise ArgoCDError(str(exc)) from None


def _instance(env: Mapping[str, str], name: str) -> ArgoCDInstance:
    def get(field_name: str) -> str | None:
        value = env.get(setting_name(name, field_name))
        return value.strip() if value and value.strip() else None

    url = get("URL")
    if not url:
        raise ValueError(f"ARGOCD_INSTANCES lists '{name}' but {setting_name(name, 'URL')} is not set")
    url = check_base_url(url, system=setting_name(name, "URL"))
    token, username, password = get("TOKEN"), get("USERNAME"), get("PASSWORD")
    if token and (username or password):
        raise ValueError(
            f"set either {setting_name(name, 'TOKEN')} or {setting_name(name, 'USERNAME')}/"
            f"{setting_name(name, 'PASSWORD')} for Argo CD '{name}', not both"
        )
    if bool(username) != bool(password):
        raise ValueError(
            f"{setting_name(name, 'USERNAME')} and {setting_name(name, 'PASSWORD')} must be set together "
            f"for Argo CD '{name}'"
        )
    return ArgoCDInstance(
        name=name,
        url=url,
        token=token,
        username=username,
        password=password,
        verify_tls=parse_flag(get("VERIFY_TLS"), setting=setting_name(name, "VERIFY_TLS"), default=True),
        timeout=parse_timeout(get("TIMEOUT"), setting=setting_name(name, "TIMEOUT"), default=10.0),
    )
