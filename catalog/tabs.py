"""The tabs of an entity page. Each app that adds a tab adds one line here; a tab shows only for the kinds it names
(None: every kind). Overview is always first. No placeholder tabs: a tab appears when its page exists."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Tab:
    label: str
    url_name: str  # takes kind, namespace, name
    kinds: tuple[str, ...] | None = None  # lowercase kinds; None shows the tab on every entity


ENTITY_TABS: list[Tab] = [
    Tab("Overview", "catalog:entity"),
    Tab("Runs", "scaffolder:entity-runs", ("component", "group", "system", "resource", "api")),
    Tab("Deployments", "dashboards:deployments", ("component",)),
    Tab("Metrics", "dashboards:metrics", ("component",)),
    Tab("Workloads", "dashboards:workloads", ("component",)),
    Tab("CI", "dashboards:ci", ("component",)),
]


def tabs_for(entity, *, active: str) -> list[dict]:
    """[{label, url, active}] of the tabs that apply to `entity`; `active` is the url_name of the page shown."""
    kind = entity.kind.lower()
    args = [kind, entity.namespace, entity.name]
    return [
        {"label": tab.label, "url": reverse(tab.url_name, args=args), "active": tab.url_name == active}
        for tab in ENTITY_TABS
        if tab.kinds is None or kind in tab.kinds
    ]
