"""Dashboard pages: the service tabs (deployments, metrics, workloads, CI), the services overview and the
integration status page. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from catalog.views import entity_tab_context
from dashboards import pollers, selectors, services
from dashboards.charts import line_chart
from dashboards.mapping import targets_for
from dashboards.models import CIStatusSnapshot, DeploymentSnapshot, MetricSnapshot
from dashboards.polling import ARGOCD, GITHUB, KUBERNETES, PROMETHEUS, SYSTEMS
from rbac.selectors import CHANGE, can

WINDOWS = [("1h", "1 hour"), ("6h", "6 hours"), ("24h", "24 hours")]
WINDOW_SECONDS = {key: seconds for key, (seconds, _step) in pollers.WINDOWS.items()}


def _tab_context(request: HttpRequest, *, kind: str, namespace: str, name: str) -> dict:
    context = entity_tab_context(request, kind=kind, namespace=namespace, name=name)
    context["targets"] = targets_for(context["entity"])
    return context


@login_required
def deployments(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = _tab_context(request, kind=kind, namespace=namespace, name=name)
    entity = context["entity"]
    context.update(
        snapshots=list(entity.deployment_snapshots.all()),
        state=selectors.system_states()[ARGOCD],
        may_sync=can(request.user, CHANGE, entity),
    )
    return render(request, "dashboards/deployments.html", context)


@login_required
@require_POST
def deployment_sync(request: HttpRequest, kind: str, namespace: str, name: str, pk: int) -> HttpResponse:
    context = _tab_context(request, kind=kind, namespace=namespace, name=name)
    entity = context["entity"]
    snapshot = get_object_or_404(DeploymentSnapshot, pk=pk, entity=entity)
    if not can(request.user, CHANGE, entity):
        return HttpResponseForbidden("You may not sync this service's deployments.")
    result = services.deployment_sync(actor=request.user, snapshot=snapshot)
    if request.htmx:
        # htmx swaps only successful answers, and the result partial says itself whether the sync failed.
        return render(request, "dashboards/_sync_result.html", {"result": result})
    status = 200 if result.ok else 502
    context.update(
        snapshots=list(entity.deployment_snapshots.all()),
        state=selectors.system_states()[ARGOCD],
        may_sync=True,
        sync_result=result,
    )
    return render(request, "dashboards/deployments.html", context, status=status)


@login_required
def metrics(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = _tab_context(request, kind=kind, namespace=namespace, name=name)
    window = request.GET.get("window", "1h")
    if window not in dict(WINDOWS):
        window = "1h"
    snapshot = MetricSnapshot.objects.filter(entity=context["entity"], window=window).first()
    context.update(
        window=window,
        windows=WINDOWS,
        snapshot=snapshot,
        charts=_charts(snapshot) if snapshot else [],
        state=selectors.system_states()[PROMETHEUS],
    )
    template = "dashboards/metrics.html#charts" if request.htmx else "dashboards/metrics.html"
    return render(request, template, context)


def _charts(snapshot: MetricSnapshot) -> list[dict]:
    """The three charts of a window, each spanning the whole window (up to when the data was read)."""
    series = snapshot.series or {}
    end = snapshot.read_at.timestamp() if snapshot.read_at else None
    start = end - WINDOW_SECONDS[snapshot.window] if end is not None else None
    specs = [
        ("Request rate", "req/s", [("requests", "request_rate")]),
        ("Error ratio (5xx)", "percent", [("errors", "error_ratio")]),
        ("Latency", "seconds", [("p50", "p50"), ("p95", "p95")]),
    ]
    return [
        {
            "title": title,
            "legend": [name for name, _ in signals],
            "svg": line_chart(
                [(name, series.get(key, [])) for name, key in signals], title=title, unit=unit, start=start, end=end
            ),
        }
        for title, unit, signals in specs
    ]


@login_required
def workloads(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = _tab_context(request, kind=kind, namespace=namespace, name=name)
    context.update(
        snapshots=list(context["entity"].workload_snapshots.all()), state=selectors.system_states()[KUBERNETES]
    )
    return render(request, "dashboards/workloads.html", context)


@login_required
def ci(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = _tab_context(request, kind=kind, namespace=namespace, name=name)
    context.update(
        snapshot=CIStatusSnapshot.objects.filter(entity=context["entity"]).first(),
        state=selectors.system_states()[GITHUB],
    )
    return render(request, "dashboards/ci.html", context)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    owner, system = request.GET.get("owner", "").strip(), request.GET.get("system", "").strip()
    page = Paginator(selectors.service_list(user=request.user, owner=owner, system=system), 50).get_page(
        request.GET.get("page")
    )
    for entity in page.object_list:
        entity.deployments = list(entity.deployment_snapshots.all())
        entity.health = selectors.worst_health(entity.deployments) if entity.deployments else ""
    context = {
        "page": page,
        "owner": owner,
        "system": system,
        "choices": selectors.filter_choices(user=request.user),
        "argocd": selectors.system_states()[ARGOCD],
    }
    template = "dashboards/overview.html#results" if request.htmx else "dashboards/overview.html"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@staff_member_required
def integrations(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards/integrations.html", {"states": selectors.system_states().values()})


@staff_member_required
@require_POST
def integration_test(request: HttpRequest, system: str, instance: str) -> HttpResponse:
    if system not in SYSTEMS:
        raise Http404("No such integration.")
    result = services.integration_test(actor=request.user, system=system, instance=instance)
    return render(request, "dashboards/_test_result.html", {"result": result})
