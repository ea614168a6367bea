"""Real Prometheus for tests: the server itself, an exporter to scrape, exact data from OpenMetrics, and a proxy.

- `PrometheusProcess` runs /usr/bin/prometheus on a free loopback port with its own storage directory (never the
  Debian defaults of 0.0.0.0:9090 and /var/lib) and waits for `/-/ready` (about 0.1 s).
- `MetricsExporter` serves `http_requests_total{service,code}` counters and an `http_request_duration_seconds`
  histogram with a `service` label; `LivePrometheus` scrapes it every second. Prometheus applies new scrape targets
  only every 5 s, so `wait_until_scraped()` polls `up` instead of sleeping, and the conftest starts it early.
- `OpenMetrics` writes samples with timestamps and `create_blocks()` loads them with
  `promtool tsdb create-blocks-from openmetrics`, so a Prometheus started on that directory answers exact numbers.
- `PrometheusProxy` stands in for an authenticating proxy in front of Prometheus (bearer token check), forwarding to a
  real server, with the failure modes of every stand-in (down, slow, 401, 429, 5xx, malformed).
"""

from __future__ import annotations

import math
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.standins._server import Request, Response, StandinServer

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class PrometheusProcess:
    """One Prometheus server process. `scrape_targets` maps a job name to "host:port" targets."""

    def __init__(
        self,
        *,
        storage: Path,
        binary: str = "prometheus",
        scrape_targets: Mapping[str, Iterable[str]] | None = None,
        scrape_interval: str = "1s",
    ) -> None:
        self.storage = Path(storage)
        self.binary = binary
        self.scrape_targets = {job: list(targets) for job, targets in (scrape_targets or {}).items()}
        self.scrape_interval = scrape_interval
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.storage.parent / f"{self.storage.name}-prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 15.0) -> PrometheusProcess:
        config = self.storage.parent / f"{self.storage.name}-prometheus.yml"
        config.write_text(self._config())
        # Another process may take the free port between our check and Prometheus's bind; try a few ports.
        for _ in range(3):
            self.port = free_port()
            with self._log.open("wb") as log:
                self._process = subprocess.Popen(
                    [
                        self.binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout):
                return self
            self.stop()
            if "address already in use" not in self.log_text():
                break
        raise RuntimeError(f"Prometheus did not become ready:\n{self.log_text()[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.03)
        return False

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The raw result of an instant query, for harness waits (tests use the real client)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5.0)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for(
        self,
        promql: str,
        *,
        until: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Poll an instant query until `until(result)` holds; raise with the last result when it never does."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if until(result):
                return result
            time.sleep(0.1)
        raise TimeoutError(f"{promql!r} did not reach the expected result within {timeout} s; last: {result}")

    def _config(self) -> str:
        lines = [
            "global:",
            f"  scrape_interval: {self.scrape_interval}",
            f"  evaluation_interval: {self.scrape_interval}",
        ]
        if self.scrape_targets:
            lines.append("scrape_configs:")
            for job, targets in self.scrape_targets.items():
                quoted = ", ".join(f'"{target}"' for target in targets)
                lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{quoted}]"]
        return "\n".join(lines) + "\n"


class MetricsExporter(StandinServer):
    """A service's /metrics: request counters by service and code, and a duration histogram by service."""

    def __init__(self) -> None:
        super().__init__()
        self._lock_metrics = threading.Lock()
        self._request_counts: dict[tuple[str, str], float] = {}
        self._durations: dict[str, tuple[list[int], float, int]] = {}

    def add_requests(self, service: str, code: str, count: int = 1) -> None:
        with self._lock_metrics:
            self._request_counts[(service, code)] = self._request_counts.get((service, code), 0) + count

    def observe(self, service: str, seconds: float, count: int = 1) -> None:
        with self._lock_metrics:
            buckets, total, observations = self._durations.get(service, ([0] * len(BUCKETS), 0.0, 0))
            buckets = [bucket + (count if seconds <= le else 0) for bucket, le in zip(buckets, BUCKETS, strict=True)]
            self._durations[service] = (buckets, total + seconds * count, observations + count)

    def exposition(self) -> str:
        """The Prometheus text format (version 0.0.4)."""
        lines = [
            "# HELP http_requests_total Requests handled, by service and status code.",
            "# TYPE http_requests_total counter",
        ]
        with self._lock_metrics:
            for (service, code), value in sorted(self._request_counts.items()):
                lines.append(f"http_requests_total{_labels_text({'service': service, 'code': code})} {_number(value)}")
            lines += [
                "# HELP http_request_duration_seconds Time spent handling requests.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for service, (buckets, total, observations) in sorted(self._durations.items()):
                for le, count in zip(BUCKETS, buckets, strict=True):
                    labels = _labels_text({"service": service, "le": repr(le)})
                    lines.append(f"http_request_duration_seconds_bucket{labels} {count}")
                lines.append(
                    f"http_request_duration_seconds_bucket{_labels_text({'service': service, 'le': '+Inf'})} "
                    f"{observations}"
                )
                lines.append(f"http_request_duration_seconds_sum{_labels_text({'service': service})} {total!r}")
                lines.append(f"http_request_duration_seconds_count{_labels_text({'service': service})} {observations}")
        return "\n".join(lines) + "\n"

    def route(self, request: Request) -> Response:
        if request.path != "/metrics":
            return self.error_response(404, "not found")
        return Response(200, self.exposition().encode(), {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    def error_response(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return Response(status, f"{message}\n".encode(), {"Content-Type": "text/plain", **(headers or {})})


class LivePrometheus:
    """A Prometheus scraping a MetricsExporter every second (job "exporter")."""

    def __init__(self, *, storage: Path, binary: str = "prometheus") -> None:
        self.exporter = MetricsExporter()
        self.storage = storage
        self.binary = binary
        self.process: PrometheusProcess | None = None

    @property
    def url(self) -> str:
        assert self.process is not None
        return self.process.url

    def start(self) -> LivePrometheus:
        self.exporter.start()
        self.process = PrometheusProcess(
            storage=self.storage,
            binary=self.binary,
            scrape_targets={"exporter": [f"127.0.0.1:{self.exporter.port}"]},
        ).start()
        return self

    def wait_until_scraped(self, *, timeout: float = 20.0) -> None:
        assert self.process is not None
        self.process.wait_for('up{job="exporter"} == 1', timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.exporter.stop()


class OpenMetrics:
    """OpenMetrics text with explicit timestamps (seconds), for `create_blocks()`. Each call adds one series (one
    label set) with its points in time order, which is what promtool needs."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, list[str]]] = {}

    def _family(self, name: str, kind: str) -> list[str]:
        if name not in self._families:
            self._families[name] = (kind, [])
        return self._families[name][1]

    def counter(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> OpenMetrics:
        family = name.removesuffix("_total")
        lines = self._family(family, "counter")
        lines += [f"{family}_total{_labels_text(labels)} {_number(value)} {float(ts)!r}" for ts, value in points]
        return self

    def gauge(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> OpenMetrics:
        lines = self._family(name, "gauge")
        lines += [f"{name}{_labels_text(labels)} {_number(value)} {float(ts)!r}" for ts, value in points]
        return self

    def histogram(
        self,
        name: str,
        labels: Mapping[str, str],
        points: Iterable[tuple[float, Mapping[float, float], float]],
    ) -> OpenMetrics:
        """`points` are (timestamp, {upper bound: cumulative count}, sum); the +Inf bucket and _count are the
        largest cumulative count."""
        lines = self._family(name, "histogram")
        for ts, buckets, total in points:
            count = max(buckets.values(), default=0)
            for le in sorted(buckets):
                bucket_labels = _labels_text({**labels, "le": repr(float(le))})
                lines.append(f"{name}_bucket{bucket_labels} {_number(buckets[le])} {float(ts)!r}")
            lines.append(f"{name}_bucket{_labels_text({**labels, 'le': '+Inf'})} {_number(count)} {float(ts)!r}")
            lines.append(f"{name}_count{_labels_text(labels)} {_number(count)} {float(ts)!r}")
            lines.append(f"{name}_sum{_labels_text(labels)} {_number(total)} {float(ts)!r}")
        return self

    def text(self) -> str:
        out: list[str] = []
        for name, (kind, lines) in self._families.items():
            out.append(f"# TYPE {name} {kind}")
            out += lines
        return "\n".join([*out, "# EOF"]) + "\n"


def shop_metrics(times: list[int]) -> OpenMetrics:
    """The known samples the dashboards and client tests check numbers against, at each of `times` (seconds):
    checkout serves 1 req/s of 200s and 0.25 req/s of 500s, search 2 req/s of 200s; checkout's latency histogram
    puts 4 of every 10 requests under 0.1 s, 8 under 0.25 s, 9 under 0.5 s and all under 1 s (p50 0.1375 s,
    p95 0.75 s)."""
    metrics = OpenMetrics()
    for labels, start, per_second in [
        ({"service": "checkout", "code": "200"}, 1000, 1.0),
        ({"service": "checkout", "code": "500"}, 100, 0.25),
        ({"service": "search", "code": "200"}, 500, 2.0),
    ]:
        metrics.counter("http_requests_total", labels, [(t, start + per_second * (t - times[0])) for t in times])
    metrics.histogram(
        "http_request_duration_seconds",
        {"service": "checkout"},
        [(t, {0.1: 4 * n, 0.25: 8 * n, 0.5: 9 * n, 1.0: 10 * n}, 3.1 * n) for n, t in enumerate(times)],
    )
    return metrics


def create_blocks(text: str, storage: Path, *, promtool: str = "promtool") -> None:
    """Write TSDB blocks holding exactly these samples into `storage` (start Prometheus on it afterwards)."""
    storage.mkdir(parents=True, exist_ok=True)
    source = storage.parent / f"{storage.name}-input.om"
    source.write_text(text)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(storage)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool could not create blocks: {result.stderr or result.stdout}")


class PrometheusProxy(StandinServer):
    """An authenticating proxy in front of a real Prometheus: checks the bearer token (when `token` is set), then
    forwards the request. Its own errors are plain text, as proxies answer. `hidden_paths` answer 404, like a
    Prometheus-compatible server that lacks an endpoint."""

    def __init__(self, upstream: str, *, token: str | None = None) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.hidden_paths: set[str] = set()

    def route(self, request: Request) -> Response:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return self.error_response(401, "Unauthorized")
        if request.path in self.hidden_paths:
            return self.error_response(404, "404 page not found")
        params = [(name, value) for name, values in request.query.items() for value in values]
        headers = {name: value for name, value in request.headers.items() if name in ("content-type", "accept")}
        upstream = httpx.request(
            request.method,
            self.upstream + request.path,
            params=params,
            content=request.body,
            headers=headers,
            timeout=10.0,
        )
        return Response(
            upstream.status_code,
            upstream.content,
            {"Content-Type": upstream.headers.get("content-type", "application/json")},
        )

    def error_response(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return Response(status, f"{status} {message}\n".encode(), {"Content-Type": "text/plain", **(headers or {})})
