import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboards import pollers
from dashboards.models import DeploymentSnapshot

pytestmark = pytest.mark.django_db


def tab_url(name, entity):
    return reverse(f"dashboards:{name}", args=["component", entity.namespace, entity.name])


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_deployments_tab_shows_badges_revision_link_history_and_sync_button(argocd, make_service, admin_client):
    checkout = make_service("checkout")
    argocd.add_application(
        "checkout",
        repo_url="https://github.com/acme/checkout",
        sync_status="OutOfSync",
        health_status="Degraded",
        history=["a" * 40, "b" * 40],
    )
    pollers.poll_argocd()

    response = admin_client.get(tab_url("deployments", checkout))

    assert response.status_code == 200
    page = text(response)
    assert 'class="badge badge--warn" title="Sync status">OutOfSync' in page
    assert 'class="badge badge--bad" title="Health">Degraded' in page
    assert f'href="https://github.com/acme/checkout/commit/{"b" * 40}"' in page
    assert "bbbbbbb" in page
    assert "aaaaaaa" in page
    assert "Sync now" in page
    assert re.search(r"Read \d+ s ago", page)


def test_every_tab_says_what_to_set_up_when_nothing_is_configured(make_service, member_client):
    checkout = make_service("checkout", **{"github.com__project-slug": "acme/checkout"})

    for tab, title in [
        ("deployments", "Argo CD"),
        ("metrics", "Prometheus"),
        ("workloads", "Kubernetes"),
        ("ci", "GitHub"),
    ]:
        response = member_client.get(tab_url(tab, checkout))
        assert response.status_code == 200
        assert f"{title} is not configured" in text(response)
        assert "/docs/handbook/integrations/" in text(response)


def test_metrics_tab_shows_exported_numbers_and_charts(prometheus, make_service, member_client):
    checkout = make_service("checkout")
    pollers.poll_prometheus(now=prometheus.at)

    page = text(member_client.get(tab_url("metrics", checkout)))

    assert 'data-signal="request_rate">1.25 req/s' in page
    assert 'data-signal="error_ratio">20 %' in page
    assert 'data-signal="p50">138 ms' in page
    assert 'data-signal="p95">750 ms' in page
    assert page.count('<svg class="chart"') == 3
    assert "<title>Request rate: requests now 1.25 req/s</title>" in page


def test_metrics_window_switch_returns_the_partial_to_htmx(prometheus, make_service, member_client):
    checkout = make_service("checkout")
    pollers.poll_prometheus(now=prometheus.at)

    response = member_client.get(tab_url("metrics", checkout) + "?window=6h", headers={"HX-Request": "true"})

    body = text(response)
    assert body.lstrip().startswith('<div id="metric-charts">')
    assert '<a href="?window=6h"' in body
    assert 'aria-current="page">6 hours' in body


def test_workloads_tab_lists_deployments_pods_and_events(cluster, make_service, member_client):
    checkout = make_service("checkout")
    cluster.add_deployment("shop", "checkout", replicas=3, ready=2)
    cluster.add_pod(
        "shop",
        "checkout-abc",
        labels={"app.kubernetes.io/name": "checkout"},
        restarts=4,
        waiting_reason="CrashLoopBackOff",
        ready=False,
    )
    cluster.add_event("shop", kind="Pod", name="checkout-abc", message="Back-off restarting failed container")
    pollers.poll_kubernetes(now=timezone.now())

    page = text(member_client.get(tab_url("workloads", checkout)))

    assert "2/3" in page
    assert "CrashLoopBackOff" in page
    assert "<td>4</td>" in page
    assert "Back-off restarting failed container" in page


def test_overview_filters_by_owner_with_constant_queries(
    argocd, make_service, member_client, django_assert_max_num_queries
):
    for index in range(12):
        make_service(f"svc-{index}", owner="team-a" if index % 2 else "team-b")
        argocd.add_application(f"svc-{index}", health_status="Healthy" if index % 3 else "Degraded")
    pollers.poll_argocd()

    with django_assert_max_num_queries(10):
        response = member_client.get(reverse("dashboards:overview") + "?owner=group:default/team-a")

    page = text(response)
    assert page.count("data-service=") == 6
    assert 'data-service="svc-1"' in page
    assert 'data-service="svc-0"' not in page
    assert "Degraded" in page
    assert "Healthy" in page


def test_tab_query_counts_do_not_grow_with_history(argocd, make_service, member_client, django_assert_max_num_queries):
    checkout = make_service("checkout")
    argocd.add_application("checkout", history=[f"{i:040x}" for i in range(10)])
    pollers.poll_argocd()

    with django_assert_max_num_queries(8):
        assert member_client.get(tab_url("deployments", checkout)).status_code == 200


def test_sync_now_calls_argocd_and_is_audited(argocd, make_service, admin_client):
    checkout = make_service("checkout")
    argocd.add_application("checkout")
    pollers.poll_argocd()
    snapshot = DeploymentSnapshot.objects.get()

    url = reverse("dashboards:deployment-sync", args=["component", "default", "checkout", snapshot.pk])
    response = admin_client.post(url, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "Sync of checkout started" in text(response)
    assert argocd.count("POST", "/api/v1/applications/checkout/sync") == 1
    assert "operation" in argocd.application("checkout")
    from rbac.models import AuditEvent

    assert AuditEvent.objects.filter(verb="dashboards.sync").count() == 1
    assert checkout.pk


def test_sync_now_needs_change_permission(argocd, make_service, member_client):
    make_service("checkout")
    argocd.add_application("checkout")
    pollers.poll_argocd()
    snapshot = DeploymentSnapshot.objects.get()
    url = reverse("dashboards:deployment-sync", args=["component", "default", "checkout", snapshot.pk])

    assert "Sync now" not in text(member_client.get(tab_url("deployments", snapshot.entity)))
    assert member_client.post(url).status_code == 403
    assert argocd.count("POST", "/api/v1/applications/checkout/sync") == 0


@pytest.mark.parametrize("name", ["overview", "deployments", "metrics", "workloads", "ci", "integrations"])
def test_anonymous_users_are_sent_to_log_in(client, make_service, name):
    checkout = make_service("checkout")
    url = reverse(f"dashboards:{name}") if name in ("overview", "integrations") else tab_url(name, checkout)

    response = client.get(url)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_integrations_page_is_staff_only(member_client, admin_client, argocd):
    assert member_client.get(reverse("dashboards:integrations")).status_code == 302
    page = text(admin_client.get(reverse("dashboards:integrations")))
    assert f"Argo CD 'default' at {argocd.url}" in page
    assert "Prometheus is not configured" in page
    assert "ARGOCD_TOKEN" in page  # where the token comes from, never its value
    token = argocd._tokens and next(iter(argocd._tokens))
    assert token not in page


def test_test_connection_button_reports_the_result(admin_client, member_client, argocd):
    url = reverse("dashboards:integration-test", args=["argocd", "default"])

    ok = text(admin_client.post(url, headers={"HX-Request": "true"}))
    argocd.set_failure("401")
    failed = text(admin_client.post(url, headers={"HX-Request": "true"}))

    assert "Connected to Argo CD 'default'" in ok
    assert "v3.5.1" in ok
    assert "rejected" in failed or "401" in failed
    assert member_client.post(url).status_code == 302


def test_unknown_entity_is_404(member_client, db):
    assert (
        member_client.get(reverse("dashboards:deployments", args=["component", "default", "nope"])).status_code == 404
    )


def test_the_handbook_page_the_cards_link_to_exists(member_client):
    page = text(member_client.get("/docs/handbook/integrations/"))

    for anchor in ("argocd", "prometheus", "kubernetes", "github"):
        assert f'id="{anchor}"' in page
    assert "ARGOCD_TOKEN" in page


def test_my_services_card_lists_the_services_of_my_teams(argocd, make_service, member, rf):
    from django.template import Context, Template

    from catalog.services import entity_upsert_descriptor
    from dashboards.selectors import my_services

    entity_upsert_descriptor(
        data={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": "dev"},
            "spec": {"memberOf": ["team-a"]},
        },
        check_ownership=False,
    )
    make_service("checkout", owner="team-a")
    make_service("search", owner="team-b")
    argocd.add_application("checkout", health_status="Degraded")
    pollers.poll_argocd()

    assert [(entity.name, entity.health) for entity in my_services(member)] == [("checkout", "Degraded")]
    request = rf.get("/")
    request.user = member
    card = Template("{% load dashboards %}{% my_services_card %}").render(Context({"request": request}))
    assert "checkout" in card
    assert "search" not in card
    assert "badge--bad" in card


def test_overview_filters_by_system(argocd, make_service, member_client):
    make_service("checkout", system="shop")
    make_service("search")

    page = text(member_client.get(reverse("dashboards:overview") + "?system=system:default/shop"))

    assert 'data-service="checkout"' in page
    assert 'data-service="search"' not in page
    assert '<option value="system:default/shop" selected>' in page
    assert "no deployment" in page


@pytest.mark.parametrize("system", ["kubernetes", "prometheus"])
def test_test_connection_for_clusters_and_prometheus(system, admin_client, request):
    standin = request.getfixturevalue("cluster" if system == "kubernetes" else "prometheus")
    url = reverse("dashboards:integration-test", args=[system, "default"])

    page = text(admin_client.post(url, headers={"HX-Request": "true"}))

    assert "message--success" in page
    assert "Connected to" in page
    assert standin is not None


def test_a_malformed_annotation_is_shown_not_used(make_service, member_client):
    checkout = make_service("checkout", **{"prometheus.io/label": "not a label"})

    page = text(member_client.get(tab_url("metrics", checkout)))

    assert "Annotation ignored: prometheus.io/label must read label=value" in page


def test_a_failed_sync_is_shown_in_the_page(argocd, make_service, admin_client):
    make_service("checkout")
    argocd.add_application("checkout")
    pollers.poll_argocd()
    argocd.set_failure("403")
    url = reverse(
        "dashboards:deployment-sync", args=["component", "default", "checkout", DeploymentSnapshot.objects.get().pk]
    )

    partial = admin_client.post(url, headers={"HX-Request": "true"})
    full = admin_client.post(url)

    assert partial.status_code == 200
    assert "message--error" in text(partial)
    assert "denied permission" in text(partial)
    assert full.status_code == 502
    assert "denied permission" in text(full)
