"""Outside systems misbehaving: the pages keep the last good snapshot, marked stale, and the pollers back off."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboards import pollers, tasks
from dashboards.models import DeploymentSnapshot, IntegrationStatus, MetricSnapshot, WorkloadSnapshot

pytestmark = pytest.mark.django_db

MODES = ["down", "slow", "401", "403", "429", "500", "malformed"]


def page_text(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def fail(standin, mode, monkeypatch, timeout_setting):
    if mode == "slow":
        monkeypatch.setenv(timeout_setting, "0.3")
    standin.set_failure(mode, retry_after="120")


@pytest.mark.parametrize("mode", MODES)
def test_argocd_failure_keeps_the_last_snapshot_and_backs_off(mode, argocd, make_service, member_client, monkeypatch):
    make_service("checkout")
    argocd.add_application("checkout", health_status="Healthy")
    start = timezone.now()
    pollers.poll_argocd(now=start)
    fail(argocd, mode, monkeypatch, "ARGOCD_TIMEOUT")

    [report] = pollers.poll_argocd(now=start + timedelta(seconds=60))

    assert report.outcome == "failed"
    snapshot = DeploymentSnapshot.objects.get()
    assert snapshot.health_status == "Healthy"
    assert snapshot.read_at == start
    assert snapshot.last_error == report.message
    status = IntegrationStatus.objects.get(system="argocd")
    assert not status.ok
    assert status.next_attempt_at > start + timedelta(seconds=60)
    if mode == "429":
        assert status.next_attempt_at >= start + timedelta(seconds=60 + 120)
    page = page_text(member_client, reverse("dashboards:deployments", args=["component", "default", "checkout"]))
    assert "Stale" in page
    assert "Healthy" in page
    assert report.message in page

    argocd.set_failure(None)
    argocd.reset_requests()
    [again] = pollers.poll_argocd(now=start + timedelta(seconds=61))
    assert again.outcome == "backing off"
    assert argocd.count() == 0


@pytest.mark.parametrize("mode", MODES)
def test_prometheus_failure_keeps_the_last_snapshot_and_backs_off(
    mode, prometheus, make_service, member_client, monkeypatch
):
    make_service("checkout")
    pollers.poll_prometheus(now=prometheus.at)
    fail(prometheus.proxy, mode, monkeypatch, "PROMETHEUS_TIMEOUT")

    [report] = pollers.poll_prometheus(now=prometheus.at + timedelta(seconds=60))

    assert report.outcome == "failed"
    assert MetricSnapshot.objects.get(window="1h").request_rate == pytest.approx(1.25)
    assert MetricSnapshot.objects.filter(last_error="").count() == 0
    status = IntegrationStatus.objects.get(system="prometheus")
    assert status.consecutive_failures == 1
    page = page_text(member_client, reverse("dashboards:metrics", args=["component", "default", "checkout"]))
    assert "Stale" in page
    assert "1.25 req/s" in page
    prometheus.proxy.set_failure(None)
    assert pollers.poll_prometheus(now=prometheus.at + timedelta(seconds=61))[0].outcome == "backing off"


@pytest.mark.parametrize("mode", MODES)
def test_kubernetes_failure_keeps_the_last_snapshot_and_backs_off(
    mode, cluster, make_service, member_client, monkeypatch
):
    make_service("checkout")
    cluster.add_deployment("shop", "checkout", replicas=2)
    start = timezone.now()
    pollers.poll_kubernetes(now=start)
    fail(cluster, mode, monkeypatch, "KUBERNETES_TIMEOUT")

    [report] = pollers.poll_kubernetes(now=start + timedelta(seconds=60))

    assert report.outcome == "failed"
    assert WorkloadSnapshot.objects.get().deployments[0]["ready"] == 2
    page = page_text(member_client, reverse("dashboards:workloads", args=["component", "default", "checkout"]))
    assert "Stale" in page
    assert "2/2" in page
    cluster.set_failure(None)
    assert pollers.poll_kubernetes(now=start + timedelta(seconds=61))[0].outcome == "backing off"


def test_backoff_grows_and_a_success_resets_it(argocd, make_service):
    make_service("checkout")
    argocd.add_application("checkout")
    argocd.set_failure("500")
    start = timezone.now()
    delays = []
    moment = start
    for _ in range(3):
        pollers.poll_argocd(now=moment)
        status = IntegrationStatus.objects.get(system="argocd")
        delays.append((status.next_attempt_at - moment).total_seconds())
        moment = status.next_attempt_at
    argocd.set_failure(None)
    [report] = pollers.poll_argocd(now=moment)

    assert delays == [30, 60, 120]
    assert report.outcome == "ok"
    status = IntegrationStatus.objects.get(system="argocd")
    assert (status.ok, status.consecutive_failures, status.next_attempt_at) == (True, 0, None)
    assert DeploymentSnapshot.objects.get().last_error == ""


def test_the_beat_task_never_raises(argocd, make_service, monkeypatch):
    make_service("checkout")
    argocd.set_failure("down")
    monkeypatch.setenv("PROMETHEUS_URL", "not a url")

    reports = tasks.poll_dashboards()

    outcomes = {(item["system"], item["outcome"]) for item in reports}
    assert ("argocd", "failed") in outcomes
    assert ("prometheus", "misconfigured") in outcomes
    assert ("kubernetes", "not configured") in outcomes


def test_nothing_configured_polls_nothing(make_service):
    make_service("checkout")

    reports = pollers.poll_all()

    assert {report.outcome for report in reports} == {"not configured"}
    assert not IntegrationStatus.objects.exists()


def test_a_missing_application_says_how_to_map_it(argocd, make_service, member_client):
    make_service("checkout", **{"argocd__app-name": "checkout-prod"})
    pollers.poll_argocd()

    page = page_text(member_client, reverse("dashboards:deployments", args=["component", "default", "checkout"]))

    assert "No Argo CD application found for this service named <code>checkout-prod</code>" in page
    assert "argocd/app-name" in page


def test_a_cycle_does_not_overlap_a_running_one(argocd, make_service):
    from django.core.cache import cache

    make_service("checkout")
    cache.add("dashboards:lock:poll", "1", timeout=60)
    try:
        assert tasks.poll_dashboards() == []
        assert argocd.count() == 0
    finally:
        cache.delete("dashboards:lock:poll")
    assert tasks.poll_dashboards()
    assert argocd.count() == 1
