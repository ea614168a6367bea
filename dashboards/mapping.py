"""Which outside objects belong to a service, read from its catalog annotations (Backstage's well-known ones).

    argocd/app-name                        the Argo CD application (default: the entity name)
    argocd/app-selector                    or a label selector over applications, e.g. team=payments,tier=web
    argocd/instance-name                   which configured Argo CD instance (default: every instance)
    backstage.io/kubernetes-id             matches workloads labelled backstage.io/kubernetes-id=<id> or
                                           app.kubernetes.io/name=<id> (default id: the entity name)
    backstage.io/kubernetes-label-selector or a label selector over deployments and pods
    backstage.io/kubernetes-namespace      only this namespace
    prometheus.io/label                    the metric label, "service=checkout" (the golden path writes this)
    prometheus.io/service-label            the label's value alone; the label name is DASHBOARDS_SERVICE_LABEL
    github.com/project-slug                owner/repo for CI status

Services are Component entities of type service or website, and any entity carrying one of these annotations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from catalog.models import Entity

ARGOCD_APP_NAME = "argocd/app-name"
ARGOCD_APP_SELECTOR = "argocd/app-selector"
ARGOCD_INSTANCE = "argocd/instance-name"
KUBERNETES_ID = "backstage.io/kubernetes-id"
KUBERNETES_SELECTOR = "backstage.io/kubernetes-label-selector"
KUBERNETES_NAMESPACE = "backstage.io/kubernetes-namespace"
PROMETHEUS_LABEL = "prometheus.io/label"
PROMETHEUS_SERVICE_LABEL = "prometheus.io/service-label"
GITHUB_SLUG = "github.com/project-slug"
DASHBOARD_ANNOTATIONS = (
    ARGOCD_APP_NAME,
    ARGOCD_APP_SELECTOR,
    KUBERNETES_ID,
    KUBERNETES_SELECTOR,
    PROMETHEUS_LABEL,
    PROMETHEUS_SERVICE_LABEL,
    GITHUB_SLUG,
)
SERVICE_TYPES = ("service", "website")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def service_label() -> str:
    """The Prometheus label that names the service (DASHBOARDS_SERVICE_LABEL, default `service`)."""
    return getattr(settings, "DASHBOARDS_SERVICE_LABEL", "service")


@dataclass(frozen=True)
class ServiceTargets:
    """Where one service's deployment, metrics, workloads and CI live. `problems` lists annotations we could not use."""

    argocd_instance: str | None
    argocd_app_name: str | None
    argocd_selector: str | None
    kubernetes_selector: str | None
    kubernetes_id: str | None
    kubernetes_namespace: str | None
    prometheus_label: str
    prometheus_value: str
    github_slug: str | None
    problems: tuple[str, ...] = ()


def services_queryset() -> QuerySet:
    """Every entity the dashboards poll and list (unrestricted: callers showing it to a person restrict it)."""
    carries = Q()
    for name in DASHBOARD_ANNOTATIONS:
        carries |= Q(annotations__has_key=name)
    return Entity.objects.filter(Q(kind__iexact="component", type__in=SERVICE_TYPES) | carries)


def _text(annotations: Mapping[str, object], key: str) -> str | None:
    value = annotations.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def targets_for(entity: Entity) -> ServiceTargets:
    annotations = entity.annotations if isinstance(entity.annotations, dict) else {}
    problems: list[str] = []
    label, value = service_label(), entity.name
    if raw := _text(annotations, PROMETHEUS_LABEL):
        name, sep, rest = raw.partition("=")
        name, rest = name.strip(), rest.strip().strip("\"'")
        if sep and _LABEL_NAME_RE.match(name) and rest:
            label, value = name, rest
        else:
            problems.append(f"{PROMETHEUS_LABEL} must read label=value (e.g. service={entity.name}), got {raw[:80]!r}")
    elif raw := _text(annotations, PROMETHEUS_SERVICE_LABEL):
        value = raw
    slug = _text(annotations, GITHUB_SLUG)
    if slug and not _SLUG_RE.match(slug):
        problems.append(f"{GITHUB_SLUG} must read owner/repository, got {slug[:80]!r}")
        slug = None
    selector = _text(annotations, ARGOCD_APP_SELECTOR)
    return ServiceTargets(
        argocd_instance=_text(annotations, ARGOCD_INSTANCE),
        argocd_app_name=None if selector else (_text(annotations, ARGOCD_APP_NAME) or entity.name),
        argocd_selector=selector,
        kubernetes_selector=_text(annotations, KUBERNETES_SELECTOR),
        kubernetes_id=_text(annotations, KUBERNETES_ID) or entity.name,
        kubernetes_namespace=_text(annotations, KUBERNETES_NAMESPACE),
        prometheus_label=label,
        prometheus_value=value,
        github_slug=slug,
        problems=tuple(problems),
    )


def kubernetes_matcher(targets: ServiceTargets) -> Callable[[str, Mapping[str, str]], bool]:
    """A predicate over a deployment's or pod's (namespace, labels): does it belong to the service?"""
    namespace = targets.kubernetes_namespace
    if targets.kubernetes_selector:
        selector = selector_predicate(targets.kubernetes_selector)
        return lambda ns, labels: (not namespace or ns == namespace) and selector(labels)
    ident = targets.kubernetes_id
    return lambda ns, labels: (
        (not namespace or ns == namespace)
        and ident
        in (
            labels.get(KUBERNETES_ID),
            labels.get("app.kubernetes.io/name"),
        )
    )


# Label selectors (k8s.io/apimachinery/pkg/labels): a=b, a==b, a!=b, a in (b,c), a notin (b,c), a, !a.
_SET_RE = re.compile(r"^\s*(?P<key>[\w./-]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*(?P<key>[\w./-]+)\s*(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(?P<not>!?)\s*(?P<key>[\w./-]+)\s*$")


def selector_predicate(text: str) -> Callable[[Mapping[str, str]], bool]:
    """A label selector as a predicate; an unreadable selector matches nothing (and the page says why)."""
    parts = re.split(r",(?![^()]*\))", text)
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for part in parts:
        if match := _SET_RE.match(part):
            values = {item.strip() for item in match["values"].split(",")}
            key, negate = match["key"], match["op"] == "notin"
            checks.append(lambda labels, k=key, v=values, n=negate: (labels.get(k) in v) != n)
        elif match := _EQ_RE.match(part):
            key, value, negate = match["key"], match["value"], match["op"] == "!="
            checks.append(lambda labels, k=key, v=value, n=negate: (labels.get(k) == v) != n)
        elif match := _EXISTS_RE.match(part):
            key, negate = match["key"], bool(match["not"])
            checks.append(lambda labels, k=key, n=negate: (k in labels) != n)
        else:
            return lambda labels: False
    return lambda labels: all(check(labels) for check in checks)
