"""The Prometheus client against a real Prometheus (scraping an exporter, or loaded with exact samples), and behind a
stand-in authenticating proxy for the failure modes a real Prometheus cannot produce on demand."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from integrations.http import RetryPolicy
from integrations.prometheus import PrometheusClient, PrometheusError, prometheus_servers_from_env
from tests.helpers import require_binary
from tests.integrations.conftest import FAST_RETRY
from tests.standins._server import self_signed_certificate
from tests.standins.prometheus import PrometheusProcess, PrometheusProxy, create_blocks, shop_metrics

pytestmark = pytest.mark.prometheus

RATE = "sum by (service) (rate(http_requests_total[5m]))"
ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m]))'
)
P95 = "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))"
P50 = "histogram_quantile(0.5, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))"


@dataclass
class ExactPrometheus:
    url: str
    at: float  # the time of the last sample


@pytest.fixture(scope="module")
def prometheus_exact(tmp_path_factory) -> Iterator[ExactPrometheus]:
    """Prometheus on blocks with known samples every 15 s for the 10 minutes before `at` (an hour ago):
    checkout serves 1 req/s of 200s and 0.25 req/s of 500s, search 2 req/s of 200s; checkout's latency histogram
    puts 4 of every 10 requests under 0.1 s, 8 under 0.25 s, 9 under 0.5 s and all under 1 s."""
    binary, promtool = require_binary("prometheus"), require_binary("promtool")
    at = math.floor(time.time() / 60) * 60 - 3600
    times = [at - 600 + 15 * step for step in range(41)]
    metrics = shop_metrics(times)
    metrics.gauge("queue_depth", {"service": "checkout"}, [(t, math.nan) for t in times])
    metrics.gauge("queue_depth", {"service": "search"}, [(t, math.inf) for t in times])
    storage = tmp_path_factory.mktemp("prometheus-exact")
    create_blocks(metrics.text(), storage, promtool=promtool)
    process = PrometheusProcess(storage=storage, binary=binary).start()
    yield ExactPrometheus(url=process.url, at=at)
    process.stop()


@pytest.fixture
def proxy(prometheus_exact) -> Iterator[PrometheusProxy]:
    with PrometheusProxy(prometheus_exact.url, token="prom-proxy-token-7f3a") as standin:
        yield standin


def by_service(samples) -> dict[str, float]:
    return {sample.labels["service"]: sample.value for sample in samples}


# Exact numbers


def test_request_rate_per_service_in_one_query(prometheus_exact):
    client = PrometheusClient(prometheus_exact.url)

    samples = client.query(RATE, time=prometheus_exact.at)

    assert by_service(samples) == {"checkout": pytest.approx(1.25), "search": pytest.approx(2.0)}
    assert all(sample.timestamp == prometheus_exact.at for sample in samples)
    assert all(sample.labels.keys() == {"service"} for sample in samples)


def test_error_ratio_and_latency_quantiles(prometheus_exact):
    client = PrometheusClient(prometheus_exact.url)
    at = datetime.fromtimestamp(prometheus_exact.at, tz=UTC)

    assert by_service(client.query(ERROR_RATIO, time=at)) == {"checkout": pytest.approx(0.2)}
    assert by_service(client.query(P95, time=at)) == {"checkout": pytest.approx(0.75)}
    assert by_service(client.query(P50, time=at)) == {"checkout": pytest.approx(0.1375)}


def test_nan_and_infinite_values_come_back_as_floats(prometheus_exact):
    client = PrometheusClient(prometheus_exact.url)

    values = by_service(client.query("queue_depth", time=prometheus_exact.at))
    [scalar] = client.query("0/0", time=prometheus_exact.at)

    assert math.isnan(values["checkout"])
    assert values["search"] == math.inf
    assert scalar.labels == {}
    assert math.isnan(scalar.value)


def test_query_range_returns_one_series_per_service_with_exact_points(prometheus_exact):
    client = PrometheusClient(prometheus_exact.url)
    end = prometheus_exact.at

    series = client.query_range(RATE, start=end - 120, end=end, step=timedelta(minutes=1))

    assert {s.labels["service"]: [t for t, _ in s.points] for s in series} == {
        "checkout": [end - 120, end - 60, end],
        "search": [end - 120, end - 60, end],
    }
    values = {s.labels["service"]: [v for _, v in s.points] for s in series}
    assert values == {"checkout": pytest.approx([1.25] * 3), "search": pytest.approx([2.0] * 3)}


def test_a_query_that_matches_nothing_returns_no_samples(prometheus_exact):
    client = PrometheusClient(prometheus_exact.url)

    assert client.query('http_requests_total{service="nope"}', time=prometheus_exact.at) == []
    assert client.query_range("nothing_here", start=prometheus_exact.at - 60, end=prometheus_exact.at, step=30) == []


def test_a_long_query_is_sent_in_the_request_body(prometheus_exact, proxy):
    client = PrometheusClient(proxy.url, token=proxy.token)
    long_query = " + ".join(["sum(rate(http_requests_total[5m]))"] * 100)

    [sample] = client.query(long_query, time=prometheus_exact.at)

    assert sample.value == pytest.approx(325.0)
    assert proxy.requests[-1].method == "POST"


# Errors from Prometheus itself


def test_invalid_promql_is_a_bad_data_error(prometheus_exact):
    with pytest.raises(PrometheusError) as caught:
        PrometheusClient(prometheus_exact.url).query("sum(rate(http_requests_total[5m])")

    assert (caught.value.status, caught.value.error_type) == (400, "bad_data")
    assert "rejected the query as invalid [bad_data]" in str(caught.value)
    assert "parse error" in str(caught.value)


def test_a_query_that_fails_while_running_is_an_execution_error(prometheus_exact):
    with pytest.raises(PrometheusError) as caught:
        PrometheusClient(prometheus_exact.url).query(
            "http_requests_total + on(code) http_requests_total", time=prometheus_exact.at
        )

    assert (caught.value.status, caught.value.error_type) == (422, "execution")
    assert "could not evaluate the query" in str(caught.value)
    assert "many-to-many matching not allowed" in str(caught.value)


def test_an_instant_query_for_a_range_vector_says_what_to_do(prometheus_exact):
    with pytest.raises(PrometheusError, match="use query_range, or wrap it in a function"):
        PrometheusClient(prometheus_exact.url).query("http_requests_total[5m]", time=prometheus_exact.at)


def test_range_queries_over_prometheus_limits_are_refused_before_sending(proxy):
    client = PrometheusClient(proxy.url, token=proxy.token)

    with pytest.raises(PrometheusError, match="more than Prometheus allows"):
        client.query_range("up", start=0, end=86_400, step=1)
    with pytest.raises(PrometheusError, match="must not be before its start"):
        client.query_range("up", start=100, end=50, step=1)
    with pytest.raises(PrometheusError, match="query is empty"):
        client.query("  ")
    assert proxy.count() == 0


def test_check_connection_reports_the_version(prometheus_exact, proxy):
    assert PrometheusClient(prometheus_exact.url).check_connection().version.startswith("2.")

    proxy.hidden_paths.add("/api/v1/status/buildinfo")
    assert PrometheusClient(proxy.url, token=proxy.token).check_connection().version == "unknown"


# Live scraping


def test_live_counters_from_the_exporter_are_queried_by_service(prometheus_live):
    client = PrometheusClient(prometheus_live.url, timeout=5)
    exporter = prometheus_live.exporter

    totals = by_service(client.query('sum by (service) (http_requests_total{job="exporter"})'))
    assert totals["checkout"] >= 12
    assert totals["search"] >= 5

    exporter.add_requests("search", "200", 40)
    prometheus_live.process.wait_for('sum(http_requests_total{service="search"}) >= 45', until=bool, timeout=10)
    assert by_service(client.query("sum by (service) (http_requests_total)"))["search"] >= 45

    now = time.time()
    [series] = client.query_range('up{job="exporter"}', start=now - 5, end=now, step=1)
    assert series.labels["instance"] == f"127.0.0.1:{exporter.port}"
    assert all(value == 1.0 for _, value in series.points)


# Behind a proxy: credentials and failure modes


def test_the_token_and_extra_headers_are_sent(prometheus_exact, proxy):
    client = PrometheusClient(proxy.url, token=proxy.token, headers={"X-Scope-OrgID": "team-a"})

    assert by_service(client.query(RATE, time=prometheus_exact.at))["search"] == pytest.approx(2.0)

    request = proxy.requests[-1]
    assert request.headers["authorization"] == f"Bearer {proxy.token}"
    assert request.headers["x-scope-orgid"] == "team-a"


def test_a_rejected_token_names_the_setting_to_fix(proxy):
    with pytest.raises(PrometheusError) as caught:
        PrometheusClient(proxy.url, token="wrong-token", retry=FAST_RETRY).query("up")

    assert caught.value.status == 401
    assert "rejected the credentials (401)" in str(caught.value)
    assert "check PROMETHEUS_TOKEN" in str(caught.value)


def test_a_server_that_is_down_gives_a_connect_error(proxy):
    client = PrometheusClient(proxy.url, token=proxy.token, retry=FAST_RETRY)
    proxy.set_failure("down")

    with pytest.raises(PrometheusError, match=r"Could not connect to Prometheus at .*3 attempts.*PROMETHEUS_URL"):
        client.query("up")


def test_a_slow_server_times_out_within_the_client_timeout(proxy):
    retry = RetryPolicy(attempts=2, backoff=0.01, max_total_wait=1)
    client = PrometheusClient(proxy.url, token=proxy.token, timeout=0.2, retry=retry)
    proxy.set_failure("slow")

    started = time.monotonic()
    with pytest.raises(PrometheusError, match=r"did not answer within 0.2 s .*2 attempts"):
        client.query("up")

    assert time.monotonic() - started < 2
    assert proxy.count() == 2


def test_rate_limiting_is_retried_within_the_wait_budget(prometheus_exact, proxy):
    # How long Retry-After makes the shared helper wait is measured in the Argo CD tests; here, that it is used.
    client = PrometheusClient(proxy.url, token=proxy.token, retry=FAST_RETRY)

    proxy.set_failure("429", times=1, retry_after="0")
    assert client.query(RATE, time=prometheus_exact.at)
    assert proxy.count() == 2

    proxy.reset_requests()
    proxy.set_failure("429", retry_after="3600")
    started = time.monotonic()
    with pytest.raises(PrometheusError, match="rate limiting Portico .*wait 3600 s") as caught:
        client.query("up")
    assert time.monotonic() - started < 1
    assert caught.value.status == 429
    assert caught.value.retry_after == 3600
    assert proxy.count() == 1


def test_server_errors_are_retried_then_reported(prometheus_exact, proxy):
    client = PrometheusClient(proxy.url, token=proxy.token, retry=FAST_RETRY)

    proxy.set_failure("502", times=2)
    assert client.query(RATE, time=prometheus_exact.at)
    assert proxy.count() == 3

    proxy.reset_requests()
    proxy.set_failure("502")
    with pytest.raises(PrometheusError, match="failed to run the query .502: 502 Bad Gateway") as caught:
        client.query("up")
    assert caught.value.status == 502
    assert caught.value.error_type is None
    assert proxy.count() == 3


def test_malformed_json_gives_a_clear_error(proxy):
    proxy.set_failure("malformed")

    with pytest.raises(PrometheusError, match="not the Prometheus API's JSON.*without /api/v1"):
        PrometheusClient(proxy.url, token=proxy.token).query("up")


def test_a_wrong_base_url_gives_a_clear_error(proxy):
    with pytest.raises(PrometheusError, match="404.*base URL .without /api/v1"):
        PrometheusClient(proxy.url + "/api/v1", token=proxy.token, retry=FAST_RETRY).query("up")


def test_an_untrusted_certificate_names_the_setting_to_fix(prometheus_exact, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with PrometheusProxy(prometheus_exact.url).use_tls(cert, key) as proxy:
        with pytest.raises(PrometheusError, match="could not verify.*PROMETHEUS_VERIFY_TLS=false"):
            PrometheusClient(proxy.url).query("up")

        assert by_service(PrometheusClient(proxy.url, verify=cert).query(RATE, time=prometheus_exact.at))


def test_tokens_and_header_values_never_reach_logs_or_error_messages(proxy, caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    quick = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01, max_total_wait=1)
    for mode in ["401", "403", "500", "429", "malformed", "slow", "down", None]:
        proxy.set_failure(mode, retry_after="0")
        for token in [proxy.token, "rejected-token-91c2"]:
            client = PrometheusClient(
                proxy.url, token=token, headers={"X-Api-Key": "key-5d1e"}, timeout=0.1, retry=quick
            )
            try:
                client.query("up")
                client.check_connection()
            except PrometheusError as exc:
                messages.append(str(exc))
            messages.append(repr(client))

    assert len(messages) > 10
    for text in [caplog.text, *messages]:
        for secret in [proxy.token, "rejected-token-91c2", "key-5d1e"]:
            assert secret not in text


# Configuration


def test_config_reads_the_server(proxy, prometheus_exact):
    env = {
        "PROMETHEUS_URL": proxy.url + "/",
        "PROMETHEUS_TOKEN": proxy.token,
        "PROMETHEUS_HEADERS": "X-Scope-OrgID: team-a; X-Extra: 1",
        "PROMETHEUS_TIMEOUT": "5",
    }

    [server] = prometheus_servers_from_env(env)

    assert (server.url, server.timeout, server.headers) == (proxy.url, 5.0, {"X-Scope-OrgID": "team-a", "X-Extra": "1"})
    assert proxy.token not in server.describe()
    assert proxy.token not in repr(server)
    assert "extra headers: X-Extra, X-Scope-OrgID" in server.describe()
    assert by_service(server.client().query(RATE, time=prometheus_exact.at))["checkout"] == pytest.approx(1.25)


def test_no_url_means_no_prometheus():
    assert prometheus_servers_from_env({"PROMETHEUS_TOKEN": "t"}) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROMETHEUS_URL": "prometheus:9090"}, "must start with http"),
        ({"PROMETHEUS_URL": "http://p", "PROMETHEUS_HEADERS": "X-Scope-OrgID"}, "'Name: value' pairs"),
        ({"PROMETHEUS_URL": "http://p", "PROMETHEUS_HEADERS": "Authorization: x"}, "use PROMETHEUS_TOKEN"),
        ({"PROMETHEUS_URL": "http://p", "PROMETHEUS_VERIFY_TLS": "2"}, "PROMETHEUS_VERIFY_TLS must be true or false"),
        ({"PROMETHEUS_URL": "http://p", "PROMETHEUS_TIMEOUT": "900"}, "at most 300 seconds"),
    ],
)
def test_config_errors_name_the_variable_to_fix(env, message):
    with pytest.raises(PrometheusError, match=message):
        prometheus_servers_from_env(env)
