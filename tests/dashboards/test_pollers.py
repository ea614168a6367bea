import pytest
from django.utils import timezone

from dashboards import pollers
from dashboards.models import DeploymentSnapshot, IntegrationStatus, MetricSnapshot, WorkloadSnapshot

pytestmark = pytest.mark.django_db


def test_argocd_one_list_call_maps_applications_to_services(argocd, make_service):
    checkout = make_service("checkout")
    make_service("search", **{"argocd__app-name": "search-prod"})
    argocd.add_application("checkout", health_status="Degraded", sync_status="OutOfSync", history=["a" * 40, "b" * 40])
    argocd.add_application("search-prod")
    argocd.add_application("unrelated")

    [report] = pollers.poll_argocd()

    assert report.outcome == "ok"
    assert argocd.count("GET", "/api/v1/applications") == 1
    snapshot = DeploymentSnapshot.objects.get(entity=checkout)
    assert (snapshot.health_status, snapshot.sync_status, snapshot.revision) == ("Degraded", "OutOfSync", "b" * 40)
    assert [entry["revision"] for entry in snapshot.history] == ["b" * 40, "a" * 40]
    assert snapshot.out_of_sync[0]["kind"] == "Deployment"
    assert DeploymentSnapshot.objects.get(app_name="search-prod").entity.name == "search"
    assert not DeploymentSnapshot.objects.filter(app_name="unrelated").exists()


def test_prometheus_numbers_are_the_exported_ones(prometheus, make_service):
    checkout = make_service("checkout")
    search = make_service("search", **{"prometheus.io/label": "service=search"})

    [report] = pollers.poll_prometheus(now=prometheus.at)

    assert report.outcome == "ok", report.message
    assert report.calls == 16
    hour = MetricSnapshot.objects.get(entity=checkout, window="1h")
    assert hour.request_rate == pytest.approx(1.25)
    assert hour.error_ratio == pytest.approx(0.2)
    assert hour.p50 == pytest.approx(0.1375)
    assert hour.p95 == pytest.approx(0.75)
    assert MetricSnapshot.objects.get(entity=search, window="6h").error_ratio == pytest.approx(0.0)
    points = [value for _, value in hour.series["request_rate"] if value is not None]
    assert points
    assert points[-1] == pytest.approx(1.25)


def test_kubernetes_three_lists_per_cluster(cluster, make_service):
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

    [report] = pollers.poll_kubernetes(now=timezone.now())

    assert report.outcome == "ok", report.message
    snapshot = WorkloadSnapshot.objects.get(entity=checkout)
    assert snapshot.deployments[0]["ready"] == 2
    assert snapshot.pods[0]["restarts"] == 4
    assert IntegrationStatus.objects.get(system="kubernetes").ok


def test_kubernetes_events_follow_owners_and_selectors_scan(cluster, make_service):
    checkout = make_service("checkout", **{"backstage.io__kubernetes-namespace": "shop"})
    worker = make_service("worker", **{"backstage.io__kubernetes-label-selector": "tier=worker"})
    cluster.add_deployment("shop", "checkout")
    cluster.add_deployment("shop", "checkout-worker", labels={"tier": "worker"})
    cluster.add_deployment("other", "checkout")  # another namespace: not this service's
    cluster.add_pod("shop", "checkout-5d4f-x2", labels={"app.kubernetes.io/name": "checkout"})
    cluster.add_event("shop", kind="ReplicaSet", name="checkout-5d4f", reason="FailedCreate", message="quota")
    cluster.add_event("shop", kind="Pod", name="checkout-5d4f-x2", reason="BackOff", message="crash")
    cluster.add_event("shop", kind="Pod", name="checkout-worker-77aa-b1", reason="Unhealthy", message="probe")

    pollers.poll_kubernetes(now=timezone.now())

    mine = WorkloadSnapshot.objects.get(entity=checkout)
    assert [item["namespace"] for item in mine.deployments] == ["shop"]
    assert sorted(event["reason"] for event in mine.events) == ["BackOff", "FailedCreate"]
    theirs = WorkloadSnapshot.objects.get(entity=worker)
    assert [item["name"] for item in theirs.deployments] == ["checkout-worker"]
    assert [event["reason"] for event in theirs.events] == ["Unhealthy"]
