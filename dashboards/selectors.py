"""Reads for the dashboard pages and API: every entity goes through rbac.selectors.restrict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from catalog.models import Entity, Relation
from dashboards.mapping import services_queryset
from dashboards.models import DeploymentSnapshot, IntegrationStatus
from dashboards.polling import SYSTEMS, Configuration, configuration, poll_interval
from rbac.selectors import restrict

HANDBOOK_URL = "/docs/handbook/integrations/"
# Worst first: the overview and "my services" show a service's worst application.
HEALTH_ORDER = ("Missing", "Degraded", "Unknown", "Progressing", "Suspended", "Healthy")


@dataclass(frozen=True)
class Freshness:
    """How fresh a snapshot is, in words for a card: state is "fresh", "stale" or "failing"."""

    state: str
    read_at: datetime | None
    age_seconds: float | None
    error: str
    error_at: datetime | None

    @property
    def ok(self) -> bool:
        return self.state == "fresh"


def freshness(snapshot, *, now: datetime | None = None) -> Freshness:
    """Stale when it is older than three poll intervals; failing when the latest attempt went wrong."""
    now = now or timezone.now()
    read_at = getattr(snapshot, "read_at", None)
    age = (now - read_at).total_seconds() if read_at else None
    error = getattr(snapshot, "last_error", "") or ""
    if error:
        state = "failing"
    elif age is None or age > 3 * poll_interval():
        state = "stale"
    else:
        state = "fresh"
    return Freshness(state, read_at, age, error, getattr(snapshot, "last_error_at", None))


def worst_health(snapshots) -> str:
    statuses = [item.health_status for item in snapshots] or [""]
    return min(statuses, key=lambda status: HEALTH_ORDER.index(status) if status in HEALTH_ORDER else 2)


def service_list(*, user, owner: str = "", system: str = "") -> QuerySet:
    """The services `user` may see, optionally of one owner (ref) and one system (ref), with their deployments."""
    queryset = restrict(services_queryset(), user=user).order_by("name", "namespace")
    if owner:
        queryset = queryset.filter(owner_ref=owner.lower())
    if system:
        queryset = queryset.filter(relations_out__type="partOf", relations_out__target_ref=system.lower())
    return queryset.only(
        "id", "ref", "kind", "namespace", "name", "title", "owner_ref", "type", "lifecycle"
    ).prefetch_related(Prefetch("deployment_snapshots", queryset=DeploymentSnapshot.objects.order_by("instance")))


def filter_choices(*, user) -> dict[str, list[str]]:
    """Owners and systems that occur among the services, for the overview's filters (two queries)."""
    services = restrict(services_queryset(), user=user)
    owners = sorted(set(services.exclude(owner_ref="").values_list("owner_ref", flat=True)))
    systems = sorted(
        set(Relation.objects.filter(source__in=services, type="partOf").values_list("target_ref", flat=True).distinct())
    )
    return {"owners": owners, "systems": systems}


def owner_refs_of(user) -> set[str]:
    """The catalog refs that stand for `user`: their User entity and the groups it is a member of."""
    me = f"user:default/{user.get_username().lower()}"
    groups = set(Relation.objects.filter(source__ref=me, type="memberOf").values_list("target_ref", flat=True))
    groups |= set(Relation.objects.filter(target_ref=me, type="hasMember").values_list("source__ref", flat=True))
    return {me, *groups}


def my_services(user) -> list[Entity]:
    """The services owned by `user` or their groups, each with `.health` (worst application) and `.deployments`."""
    if not user.is_authenticated:
        return []
    services = list(service_list(user=user).filter(owner_ref__in=owner_refs_of(user))[:50])
    for entity in services:
        entity.deployments = list(entity.deployment_snapshots.all())
        entity.health = worst_health(entity.deployments) if entity.deployments else ""
    return services


@dataclass(frozen=True)
class SystemState:
    """One system for the pages: its configuration and the status rows of its instances."""

    key: str
    title: str
    configuration: Configuration
    statuses: dict[str, IntegrationStatus]

    @property
    def configured(self) -> bool:
        return self.configuration.configured

    @property
    def error(self) -> str:
        return self.configuration.error

    @property
    def failing(self) -> list[IntegrationStatus]:
        return [status for status in self.statuses.values() if not status.ok and status.checked_at]


def system_states() -> dict[str, SystemState]:
    """Every system's configuration (from the environment) and latest poll status (one query)."""
    rows: dict[str, dict[str, IntegrationStatus]] = {key: {} for key in SYSTEMS}
    for status in IntegrationStatus.objects.all():
        rows.setdefault(status.system, {})[status.instance] = status
    return {
        key: SystemState(key=key, title=title, configuration=configuration(key), statuses=rows.get(key, {}))
        for key, title in SYSTEMS.items()
    }
