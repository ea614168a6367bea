import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from dashboards import pollers
from dashboards.models import DeploymentSnapshot

pytestmark = pytest.mark.django_db

REF = "component:default/checkout"


def test_services_overview_with_health_and_owner_filter(argocd, make_service, api, django_assert_max_num_queries):
    make_service("checkout", owner="team-a")
    make_service("search", owner="team-b")
    argocd.add_application("checkout", health_status="Degraded")
    pollers.poll_argocd()

    with django_assert_max_num_queries(6):
        body = api.get(reverse("dashboards-api-services") + "?owner=group:default/team-a").json()

    assert [item["name"] for item in body["results"]] == ["checkout"]
    assert body["results"][0]["health"] == "Degraded"
    assert body["results"][0]["deployments"][0]["stale"] is False


def test_entity_snapshots(argocd, cluster, prometheus, make_service, api):
    make_service("checkout")
    argocd.add_application("checkout")
    cluster.add_deployment("shop", "checkout")
    pollers.poll_all(now=prometheus.at)

    deployments = api.get(reverse("dashboards-api-deployments", args=[REF])).json()
    metrics = api.get(reverse("dashboards-api-metrics", args=[REF]) + "?window=1h").json()
    workloads = api.get(reverse("dashboards-api-workloads", args=[REF])).json()
    ci = api.get(reverse("dashboards-api-ci", args=[REF])).json()

    assert deployments[0]["app_name"] == "checkout"
    assert metrics[0]["request_rate"] == pytest.approx(1.25)
    assert metrics[0]["error_ratio"] == pytest.approx(0.2)
    assert workloads[0]["deployments"][0]["name"] == "checkout"
    assert ci == []


def test_unknown_entity_is_404_and_anonymous_is_401(api, make_service):
    make_service("checkout")
    assert api.get(reverse("dashboards-api-deployments", args=["component:default/nope"])).status_code == 404
    assert APIClient().get(reverse("dashboards-api-deployments", args=[REF])).status_code == 401
    assert APIClient().get(reverse("dashboards-api-services")).status_code == 401


def test_sync_needs_change_permission(argocd, make_service, api, admin_api):
    make_service("checkout")
    argocd.add_application("checkout")
    pollers.poll_argocd()
    url = reverse("dashboards-api-sync", args=[REF, DeploymentSnapshot.objects.get().pk])

    assert api.post(url).status_code == 403
    response = admin_api.post(url)

    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert argocd.count("POST", "/api/v1/applications/checkout/sync") == 1


def test_sync_failure_is_reported_not_raised(argocd, make_service, admin_api):
    make_service("checkout")
    argocd.add_application("checkout")
    pollers.poll_argocd()
    argocd.set_failure("403")

    response = admin_api.post(reverse("dashboards-api-sync", args=[REF, DeploymentSnapshot.objects.get().pk]))

    assert response.status_code == 502
    assert "denied permission" in response.json()["message"]


def test_integrations_are_staff_only_and_never_show_secrets(argocd, api, admin_api):
    assert api.get(reverse("dashboards-api-integrations")).status_code == 403
    body = admin_api.get(reverse("dashboards-api-integrations")).json()

    systems = {item["system"]: item for item in body}
    assert systems["argocd"]["configured"] is True
    assert systems["prometheus"]["configured"] is False
    assert "ARGOCD_TOKEN" in systems["argocd"]["instances"][0]["description"]
    for token in argocd._tokens:
        assert token not in str(body)
    result = admin_api.post(reverse("dashboards-api-integration-test", args=["argocd", "default"])).json()
    assert result["ok"] is True
    assert admin_api.post(reverse("dashboards-api-integration-test", args=["nope", "default"])).status_code == 404


def test_the_endpoints_are_in_the_openapi_schema(admin_api):
    schema = admin_api.get(reverse("api-schema") + "?format=json").json()
    paths = set(schema["paths"])
    assert "/api/dashboards/services/" in paths
    assert "/api/dashboards/entities/{ref}/deployments/{id}/sync/" in paths
    assert "/api/dashboards/integrations/{system}/{instance}/test/" in paths
