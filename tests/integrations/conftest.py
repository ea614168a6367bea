"""Fixtures for the integration clients: stand-in servers, and a real Prometheus."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from integrations.http import RetryPolicy
from tests.helpers import require_binary
from tests.standins.argocd import ArgoCDStandin
from tests.standins.kubernetes import KubernetesStandin
from tests.standins.prometheus import LivePrometheus

# Retries as the clients do them, with waits short enough for tests.
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05, max_total_wait=3.0)


@pytest.fixture
def argocd() -> Iterator[ArgoCDStandin]:
    with ArgoCDStandin() as standin:
        yield standin


@pytest.fixture
def cluster() -> Iterator[KubernetesStandin]:
    with KubernetesStandin() as standin:
        yield standin


_EARLY_PROMETHEUS = pytest.StashKey[LivePrometheus]()


def _new_live_prometheus(tmp_path_factory: pytest.TempPathFactory, binary: str) -> LivePrometheus:
    harness = LivePrometheus(storage=tmp_path_factory.mktemp("prometheus-live"), binary=binary)
    # Seed the exporter so every series exists from the first scrape.
    harness.exporter.add_requests("checkout", "200", 10)
    harness.exporter.add_requests("checkout", "500", 2)
    harness.exporter.add_requests("search", "200", 5)
    harness.exporter.observe("checkout", 0.2, count=4)
    return harness.start()


@pytest.fixture(scope="session", autouse=True)
def _start_prometheus_early(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Prometheus applies new scrape targets only every 5 s. Starting it with the first test of this folder lets that
    wait overlap with the Argo CD and Kubernetes tests instead of adding to the run. A failure here is left for the
    Prometheus tests to report. (Under xdist each worker would start its own, so there it starts when first needed.)"""
    wanted = any(item.get_closest_marker("prometheus") for item in request.session.items)
    binary = shutil.which("prometheus")
    harness = None
    if wanted and binary and "PYTEST_XDIST_WORKER" not in os.environ:
        try:
            harness = _new_live_prometheus(tmp_path_factory, binary)
            request.config.stash[_EARLY_PROMETHEUS] = harness
        except (OSError, RuntimeError):
            harness = None
    yield
    if harness is not None:
        harness.stop()


@pytest.fixture(scope="session")
def _live_prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivePrometheus]:
    early = request.config.stash.get(_EARLY_PROMETHEUS, None)
    if early is not None:
        yield early
        return
    harness = _new_live_prometheus(tmp_path_factory, require_binary("prometheus"))
    yield harness
    harness.stop()


@pytest.fixture
def prometheus_live(_live_prometheus: LivePrometheus) -> LivePrometheus:
    """A real Prometheus that has scraped the exporter at least once (`prometheus_live.exporter` feeds it)."""
    _live_prometheus.wait_until_scraped()
    return _live_prometheus
