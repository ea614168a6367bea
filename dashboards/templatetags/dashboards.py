"""Template helpers for the dashboards: freshness lines, health badges, units, commit links."""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import timezone

from dashboards.charts import format_value
from dashboards.selectors import HANDBOOK_URL, freshness, my_services

register = template.Library()

_BADGES = {
    "Healthy": "ok",
    "Synced": "ok",
    "Succeeded": "ok",
    "success": "ok",
    "Running": "info",
    "Progressing": "info",
    "Requested": "info",
    "in_progress": "info",
    "queued": "info",
    "Suspended": "warn",
    "OutOfSync": "warn",
    "Pending": "warn",
    "Unknown": "warn",
    "cancelled": "warn",
    "Degraded": "bad",
    "Missing": "bad",
    "Failed": "bad",
    "Error": "bad",
    "failure": "bad",
}
_HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")


@register.filter
def badge(status: str | None) -> str:
    """The badge modifier for a status word: ok, info, warn or bad."""
    return _BADGES.get(status or "", "warn")


@register.filter
def unit(value: float | None, name: str) -> str:
    return format_value(value, name)


@register.filter
def ago(moment: datetime | str | None) -> str:
    """ "40 s ago", "3 min ago", "2 h ago", "5 d ago"."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment is None:
        return "never"
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@register.filter
def commit_url(snapshot) -> str:
    """A link to the revision's commit, for repositories on GitHub, GitLab or Gitea style hosts."""
    repo, revision = (snapshot.repo_url or "").strip(), (snapshot.revision or "").strip()
    if not repo.startswith("https://") or not _HEX_RE.match(revision):
        return ""
    return f"{repo.removesuffix('/').removesuffix('.git')}/commit/{revision}"


@register.filter
def short_sha(revision: str | None) -> str:
    revision = revision or ""
    return revision[:7] if _HEX_RE.match(revision) else revision


@register.inclusion_tag("dashboards/_freshness.html")
def freshness_line(snapshot) -> dict:
    """ "Read 40 s ago", or why the data is stale and how to fix it."""
    return {"fresh": freshness(snapshot), "handbook_url": HANDBOOK_URL}


@register.inclusion_tag("dashboards/_not_configured.html")
def not_configured(state) -> dict:
    """What to set up when a system is not configured (or its settings are wrong)."""
    return {"state": state, "handbook_url": HANDBOOK_URL}


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.inclusion_tag("dashboards/_my_services.html", takes_context=True)
def my_services_card(context) -> dict:
    """The "My services" card for the home page: `{% load dashboards %}{% my_services_card %}`."""
    return {"my_services": my_services(context["request"].user)}


@register.filter
def http_url(url: str | None) -> str:
    """The URL when it is http(s), else "": links from outside systems never become javascript: links."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""
