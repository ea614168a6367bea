"""Outside calls per cycle do not grow with the number of services."""

import pytest

from dashboards import pollers
from dashboards.models import DeploymentSnapshot, MetricSnapshot, WorkloadSnapshot

pytestmark = pytest.mark.django_db


def add_services(make_service, argocd, cluster, start: int, count: int) -> None:
    for index in range(start, start + count):
        name = f"svc-{index:03d}"
        make_service(name)
        argocd.add_application(name)
        cluster.add_deployment("shop", name)
        cluster.add_pod("shop", f"{name}-0", labels={"app.kubernetes.io/name": name})


def one_cycle(argocd, cluster, prometheus, django_assert_max_num_queries, max_queries):
    for standin in (argocd, cluster, prometheus.proxy):
        standin.reset_requests()
    with django_assert_max_num_queries(max_queries):
        reports = pollers.poll_all(now=prometheus.at)
    assert {report.outcome for report in reports} == {"ok"}, reports
    return argocd.count(), cluster.count(), prometheus.proxy.count()


def test_outside_requests_and_database_queries_are_constant_for_10_and_100_services(
    argocd, cluster, prometheus, make_service, django_assert_max_num_queries
):
    add_services(make_service, argocd, cluster, 0, 10)
    small = one_cycle(argocd, cluster, prometheus, django_assert_max_num_queries, 30)
    add_services(make_service, argocd, cluster, 10, 90)
    large = one_cycle(argocd, cluster, prometheus, django_assert_max_num_queries, 30)

    assert small == large == (1, 3, 16)
    assert DeploymentSnapshot.objects.count() == 100
    assert WorkloadSnapshot.objects.count() == 100
    assert MetricSnapshot.objects.count() == 300
