"""Kubernetes clusters from environment variables.

One cluster, named "default", set up by exactly one of:

    KUBERNETES_IN_CLUSTER=1      use the service account of the pod Portico runs in
    KUBERNETES_HOST              API server URL, e.g. https://10.0.0.1:6443, with
    KUBERNETES_TOKEN             a bearer token (a service account token with list access)
    KUBERNETES_CONTEXT           a context of the kubeconfig file: KUBERNETES_KUBECONFIG if set, else KUBECONFIG,
                                 else ~/.kube/config

and optionally:

    KUBERNETES_VERIFY_TLS        true (default) or false, for KUBERNETES_HOST
    KUBERNETES_CA_FILE           CA bundle to verify the API server with, for KUBERNETES_HOST
    KUBERNETES_TIMEOUT           seconds per request, default 10

Several clusters:

    KUBERNETES_CLUSTERS          comma-separated names, e.g. prod,staging
    KUBERNETES_PROD_CONTEXT (+ KUBERNETES_PROD_KUBECONFIG), or KUBERNETES_PROD_HOST + KUBERNETES_PROD_TOKEN
    (+ _VERIFY_TLS, _CA_FILE), or KUBERNETES_PROD_IN_CLUSTER=1; KUBERNETES_PROD_TIMEOUT. Names are upper-cased with '-'
    turned into '_'. "service" and "port" are not allowed as names: Kubernetes itself sets KUBERNETES_SERVICE_HOST and
    KUBERNETES_PORT_* in every pod.

With none of these set, Kubernetes is not configured and `kubernetes_clusters_from_env()` returns an empty list.
KUBECONFIG alone does not configure a cluster; it only says where kubeconfig files are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from integrations.http import parse_flag, parse_names, parse_timeout
from integrations.kubernetes.client import KubernetesClient, KubernetesError, setting_name

IN_CLUSTER = "in-cluster"
KUBECONFIG = "kubeconfig"
HOST = "host"
_RESERVED_NAMES = frozenset({"service", "port"})


@dataclass(frozen=True)
class KubernetesCluster:
    """The settings of one cluster; `mode` is "in-cluster", "kubeconfig" or "host". The token stays out of repr()."""

    name: str
    mode: str
    context: str | None = None
    kubeconfig: str | None = None
    host: str | None = None
    token: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 10.0

    def describe(self) -> str:
        """One line for admin pages and logs, without secrets."""
        if self.mode == IN_CLUSTER:
            how = "the pod's service account"
        elif self.mode == KUBECONFIG:
            how = f"context '{self.context}' of kubeconfig {self.kubeconfig or '~/.kube/config'}"
        else:
            tls = ", TLS certificate NOT verified" if not self.verify_tls else ""
            how = f"{self.host} with the token from {setting_name(self.name, 'TOKEN')}{tls}"
        return f"Kubernetes cluster '{self.name}' through {how} (timeout {self.timeout:g} s)"

    def client(self) -> KubernetesClient:
        if self.mode == IN_CLUSTER:
            return KubernetesClient.in_cluster(name=self.name, timeout=self.timeout)
        if self.mode == KUBECONFIG:
            return KubernetesClient.from_kubeconfig(self.kubeconfig, self.context, name=self.name, timeout=self.timeout)
        return KubernetesClient.from_host(
            self.host or "",
            self.token or "",
            self.verify_tls,
            ca_file=self.ca_file,
            name=self.name,
            timeout=self.timeout,
        )


def kubernetes_clusters_from_env(environ: Mapping[str, str] | None = None) -> list[KubernetesCluster]:
    """Every cluster the environment configures. Raises KubernetesError naming the variable to fix when a setting is
    missing, contradictory or malformed."""
    env = os.environ if environ is None else environ
    try:
        names = parse_names(env.get("KUBERNETES_CLUSTERS"), setting="KUBERNETES_CLUSTERS")
        if not names:
            default_fields = ("IN_CLUSTER", "HOST", "TOKEN", "CONTEXT")
            names = ["default"] if any(_get(env, "default", name) for name in default_fields) else []
        return [_cluster(env, name) for name in names]
    except ValueError as exc:
        raise KubernetesError(str(exc)) from None


def _get(env: Mapping[str, str], cluster: str, field_name: str) -> str | None:
    value = env.get(setting_name(cluster, field_name))
    return value.strip() if value and value.strip() else None


def _cluster(env: Mapping[str, str], name: str) -> KubernetesCluster:
    if name in _RESERVED_NAMES:
        raise ValueError(
            f"KUBERNETES_CLUSTERS lists '{name}', which would read variables Kubernetes sets in every pod "
            f"({setting_name(name, 'HOST')}...); choose another name"
        )
    in_cluster = parse_flag(_get(env, name, "IN_CLUSTER"), setting=setting_name(name, "IN_CLUSTER"), default=False)
    host, token, context = _get(env, name, "HOST"), _get(env, name, "TOKEN"), _get(env, name, "CONTEXT")
    timeout = parse_timeout(_get(env, name, "TIMEOUT"), setting=setting_name(name, "TIMEOUT"), default=10.0)
    chosen = [
        mode for mode, is_set in ((IN_CLUSTER, in_cluster), (HOST, host or token), (KUBECONFIG, context)) if is_set
    ]
    if len(chosen) > 1:
        raise ValueError(
            f"Kubernetes cluster '{name}' has more than one connection setting ({', '.join(chosen)}); set only one of "
            f"{setting_name(name, 'IN_CLUSTER')}, {setting_name(name, 'HOST')}, {setting_name(name, 'CONTEXT')}"
        )
    if not chosen:
        raise ValueError(
            f"KUBERNETES_CLUSTERS lists '{name}' but it has no connection settings: set "
            f"{setting_name(name, 'CONTEXT')}, or {setting_name(name, 'HOST')} and {setting_name(name, 'TOKEN')}, "
            f"or {setting_name(name, 'IN_CLUSTER')}=1"
        )
    if chosen[0] == IN_CLUSTER:
        return KubernetesCluster(name=name, mode=IN_CLUSTER, timeout=timeout)
    if chosen[0] == KUBECONFIG:
        kubeconfig = _get(env, name, "KUBECONFIG") or (env.get("KUBECONFIG") or "").strip() or None
        return KubernetesCluster(name=name, mode=KUBECONFIG, context=context, kubeconfig=kubeconfig, timeout=timeout)
    if not host or not token:
        missing = setting_name(name, "TOKEN") if host else setting_name(name, "HOST")
        raise ValueError(f"Kubernetes cluster '{name}' needs {missing} as well")
    if not host.startswith(("https://", "http://")):
        raise ValueError(f"{setting_name(name, 'HOST')} must be an http(s) URL of the API server")
    return KubernetesCluster(
        name=name,
        mode=HOST,
        host=host.rstrip("/"),
        token=token,
        verify_tls=parse_flag(_get(env, name, "VERIFY_TLS"), setting=setting_name(name, "VERIFY_TLS"), default=True),
        ca_file=_get(env, name, "CA_FILE"),
        timeout=timeout,
    )
