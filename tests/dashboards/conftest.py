"""Fixtures for the dashboards: services in the catalog, configured stand-ins, and a Prometheus with exact data."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from catalog.services import entity_upsert_descriptor
from integrations.http import RetryPolicy
from tests.helpers import require_binary
from tests.standins.argocd import ArgoCDStandin
from tests.standins.kubernetes import KubernetesStandin
from tests.standins.prometheus import PrometheusProcess, PrometheusProxy, create_blocks, shop_metrics

# Retries as the pollers do them, with waits short enough for tests.
FAST_RETRY = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.05, max_total_wait=3.0)


@pytest.fixture(autouse=True)
def _no_outside_systems(monkeypatch, settings):
    """Start every test with nothing configured, and fast retries for the pollers."""
    for name in (
        "ARGOCD_URL",
        "ARGOCD_INSTANCES",
        "PROMETHEUS_URL",
        "KUBERNETES_CLUSTERS",
        "KUBERNETES_HOST",
        "KUBERNETES_TOKEN",
        "KUBERNETES_CONTEXT",
        "KUBERNETES_IN_CLUSTER",
        "GITHUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    settings.DASHBOARDS_RETRY = FAST_RETRY


@pytest.fixture
def make_service(db) -> Callable[..., object]:
    """Create a Component (type service) with these annotations; `owner` and `system` go into its spec."""

    def make(name: str, *, owner: str = "team-a", system: str | None = None, type: str = "service", **annotations):
        spec = {"type": type, "lifecycle": "production", "owner": owner}
        if system:
            spec["system"] = system
        descriptor = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name, "annotations": {k.replace("__", "/"): v for k, v in annotations.items()}},
            "spec": spec,
        }
        return entity_upsert_descriptor(data=descriptor, check_ownership=False).entity

    return make


@pytest.fixture
def argocd(monkeypatch) -> Iterator[ArgoCDStandin]:
    with ArgoCDStandin() as standin:
        monkeypatch.setenv("ARGOCD_URL", standin.url)
        monkeypatch.setenv("ARGOCD_TOKEN", standin.issue_token())
        monkeypatch.setenv("ARGOCD_TIMEOUT", "5")
        standin.slow_seconds = 3.0
        yield standin


@pytest.fixture
def cluster(monkeypatch) -> Iterator[KubernetesStandin]:
    with KubernetesStandin() as standin:
        monkeypatch.setenv("KUBERNETES_HOST", standin.url)
        monkeypatch.setenv("KUBERNETES_TOKEN", standin.issue_token())
        monkeypatch.setenv("KUBERNETES_TIMEOUT", "5")
        standin.slow_seconds = 3.0
        yield standin


@dataclass
class ExactPrometheus:
    url: str
    at: datetime  # the time of the last sample

    @property
    def moment(self) -> datetime:
        return self.at


@pytest.fixture(scope="session")
def _exact_prometheus(tmp_path_factory) -> Iterator[ExactPrometheus]:
    """Prometheus on blocks with known samples every 15 s for the 30 minutes before `at` (an hour ago):
    checkout serves 1 req/s of 200s and 0.25 req/s of 500s (error ratio 0.2); search 2 req/s of 200s (ratio 0);
    checkout's latency histogram puts 4 of 10 requests under 0.1 s, 8 under 0.25 s, 9 under 0.5 s and all under 1 s
    (p50 0.1375 s, p95 0.75 s)."""
    binary, promtool = require_binary("prometheus"), require_binary("promtool")
    at = math.floor(time.time() / 60) * 60 - 3600
    times = [at - 1800 + 15 * step for step in range(121)]
    metrics = shop_metrics(times)
    storage = tmp_path_factory.mktemp("dashboards-prometheus")
    create_blocks(metrics.text(), storage, promtool=promtool)
    process = PrometheusProcess(storage=storage, binary=binary).start()
    yield ExactPrometheus(url=process.url, at=datetime.fromtimestamp(at, tz=UTC))
    process.stop()


@pytest.fixture
def prometheus(_exact_prometheus, monkeypatch) -> Iterator[ExactPrometheus]:
    """The exact Prometheus behind a proxy stand-in (for failure injection), configured as PROMETHEUS_URL."""
    with PrometheusProxy(_exact_prometheus.url) as proxy:
        proxy.slow_seconds = 3.0
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        monkeypatch.setenv("PROMETHEUS_TIMEOUT", "5")
        _exact_prometheus.proxy = proxy
        yield _exact_prometheus
