"""A developer opens a service's dashboard and sees its deployment badges, metric charts and workloads."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dashboards import pollers
from tests.dashboards.conftest import (  # noqa: F401 - fixtures
    _exact_prometheus,
    _no_outside_systems,
    argocd,
    cluster,
    make_service,
    prometheus,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_open_a_service_dashboard_and_see_badges_and_charts(
    page,
    login,
    output_dir,
    argocd,  # noqa: F811
    cluster,  # noqa: F811
    prometheus,  # noqa: F811
    make_service,  # noqa: F811
):
    make_service("checkout")
    argocd.add_application(
        "checkout",
        repo_url="https://github.com/acme/checkout",
        health_status="Degraded",
        sync_status="OutOfSync",
        history=["a" * 40, "b" * 40],
    )
    cluster.add_deployment("shop", "checkout", replicas=3, ready=2)
    cluster.add_pod(
        "shop",
        "checkout-7d9f-x2",
        labels={"app.kubernetes.io/name": "checkout"},
        waiting_reason="CrashLoopBackOff",
        ready=False,
        restarts=5,
    )
    pollers.poll_argocd()
    pollers.poll_prometheus(now=prometheus.at)
    pollers.poll_kubernetes(now=timezone.now())
    login(username="lead", password="lead-password", is_superuser=True, is_staff=True)

    page.goto("/services/")
    page.get_by_role("link", name="checkout").click()
    page.wait_for_url("**/catalog/component/default/checkout/deployments/")
    assert page.locator(".badge", has_text="Degraded").first.is_visible()
    assert page.locator(".badge", has_text="OutOfSync").first.is_visible()
    assert page.get_by_role("link", name="bbbbbbb").get_attribute("href").endswith("/commit/" + "b" * 40)
    page.screenshot(path=output_dir / "deployments.png", full_page=True)

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status").filter(has_text="Sync of checkout started")).to_be_visible()

    page.get_by_role("link", name="Metrics").click()
    page.wait_for_url("**/metrics/")
    assert page.locator("svg.chart").count() == 3
    assert page.locator('[data-signal="request_rate"]').inner_text() == "1.25 req/s"
    assert page.locator('[data-signal="error_ratio"]').inner_text() == "20 %"
    page.get_by_role("link", name="6 hours").click()
    expect(page.get_by_role("link", name="6 hours")).to_have_attribute("aria-current", "page")
    assert page.locator("svg.chart").count() == 3
    page.screenshot(path=output_dir / "metrics.png", full_page=True)

    page.get_by_role("link", name="Workloads").click()
    page.wait_for_url("**/workloads/")
    assert page.locator(".badge", has_text="2/3").is_visible()
    assert page.locator(".badge", has_text="CrashLoopBackOff").is_visible()
    page.screenshot(path=output_dir / "workloads.png", full_page=True)

    page.goto("/integrations/")
    page.locator("#argocd").get_by_role("button", name="Test connection").click()
    expect(page.locator("#argocd").get_by_role("status")).to_contain_text("Connected to Argo CD 'default'")
    page.screenshot(path=output_dir / "integrations.png", full_page=True)
