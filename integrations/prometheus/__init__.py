"""Prometheus: instant and range queries as typed results, and the server configured from the environment."""

from integrations.prometheus.client import (
    ConnectionInfo,
    InstantSample,
    PrometheusClient,
    PrometheusError,
    RangeSeries,
)
from integrations.prometheus.config import PrometheusServer, prometheus_servers_from_env

__all__ = [
    "ConnectionInfo",
    "InstantSample",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusServer",
    "RangeSeries",
    "prometheus_servers_from_env",
]
