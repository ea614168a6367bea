"""Fixtures for the integration clients: stand-in servers, and a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.http import RetryPolicy
from tests.standins.argocd import ArgoCDStandin
from tests.standins.kubernetes import KubernetesStandin

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
