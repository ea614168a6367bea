"""Dashboards benchmark: one poll cycle for many services, and the service dashboard pages' server times.

    python bench/dashboards.py [--services 1000] [--samples 30] [--keep]

Runs against the server in DATABASE_URL, in a database of its own (its name + "_bench_dashboards", created and
dropped here).
It starts the Argo CD and Kubernetes stand-ins (tests/standins/) with one application, one deployment and one pod
per service, and a real Prometheus (/usr/bin/prometheus) on TSDB blocks holding 30 minutes of request counters and
latency histograms for every service. It then runs a poll cycle with a tenth of the services and one with all of
them, counting the outside requests each system received (they must not grow), and times the service tabs and the
overview in-process with Django's test client (server time) with their SQL query counts. Prints readable figures,
then one line of JSON with the same figures.

The services are written with bulk_create (not the ingestion path, which bench/catalog.py measures).
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _support import (  # noqa: E402  (bench/ is on the path when run as a script)
    bench_database_url,
    drop_postgres_database,
    is_postgres,
    recreate_postgres_database,
    time_page,
)


def prometheus_blocks(services: list[str], storage: Path, at: int) -> None:
    from tests.standins.prometheus import OpenMetrics, create_blocks

    times = [at - 1800 + 30 * step for step in range(61)]
    metrics = OpenMetrics()
    for index, name in enumerate(services):
        ok_rate, error_rate = 1.0 + index % 7, 0.05 * (index % 3)
        metrics.counter(
            "http_requests_total", {"service": name, "code": "200"}, [(t, ok_rate * (t - times[0])) for t in times]
        )
        metrics.counter(
            "http_requests_total", {"service": name, "code": "500"}, [(t, error_rate * (t - times[0])) for t in times]
        )
    for name in services:
        metrics.histogram(
            "http_request_duration_seconds",
            {"service": name},
            [(t, {0.1: 4 * n, 0.25: 8 * n, 0.5: 9 * n, 1.0: 10 * n}, 3.1 * n) for n, t in enumerate(times)],
        )
    create_blocks(metrics.text(), storage, promtool=shutil.which("promtool") or "promtool")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        sys.exit("prometheus and promtool must be installed (Debian package prometheus)")

    from tests.standins.argocd import ArgoCDStandin
    from tests.standins.kubernetes import KubernetesStandin
    from tests.standins.prometheus import PrometheusProcess

    names = [f"svc-{index:04d}" for index in range(args.services)]
    small = max(1, args.services // 10)
    at = math.floor(time.time() / 60) * 60 - 3600
    storage = Path(tempfile.mkdtemp(prefix="portico-bench-prometheus-")) / "data"
    started = time.perf_counter()
    prometheus_blocks(names, storage, at)
    prometheus = PrometheusProcess(storage=storage).start()
    argocd = ArgoCDStandin().start()
    cluster = KubernetesStandin().start()
    for index, name in enumerate(names):
        argocd.add_application(
            name, health_status="Degraded" if index % 10 == 0 else "Healthy", history=[f"{index:040x}"]
        )
        cluster.add_deployment("shop", name, replicas=2)
        cluster.add_pod("shop", f"{name}-0", labels={"app.kubernetes.io/name": name})
    setup_seconds = time.perf_counter() - started

    url = bench_database_url(os.environ.get("DATABASE_URL", ""), suffix="bench_dashboards")
    postgres = is_postgres(url)
    if postgres:
        recreate_postgres_database(url)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "ARGOCD_URL": argocd.url,
            "ARGOCD_TOKEN": argocd.issue_token(),
            "KUBERNETES_HOST": cluster.url,
            "KUBERNETES_TOKEN": cluster.issue_token(),
            "PROMETHEUS_URL": prometheus.url,
            "PROMETHEUS_TIMEOUT": "60",
        }
    )
    os.environ.setdefault("PORTICO_DATA_DIR", tempfile.mkdtemp(prefix="portico-bench-data-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from catalog.models import Blueprint, Entity
    from dashboards import pollers

    call_command("migrate", verbosity=0)
    component = Blueprint.objects.get(identifier="component")

    def add_entities(batch: list[str]) -> None:
        Entity.objects.bulk_create(
            [
                Entity(
                    blueprint=component,
                    ref=f"component:default/{name}",
                    kind="Component",
                    name=name,
                    type="service",
                    lifecycle="production",
                    owner_ref=f"group:default/team-{index % 20}",
                    properties={"type": "service", "lifecycle": "production", "owner": f"team-{index % 20}"},
                )
                for index, name in enumerate(batch)
            ],
            batch_size=500,
        )

    def cycle() -> dict:
        for standin in (argocd, cluster):
            standin.reset_requests()
        began = time.perf_counter()
        reports = pollers.poll_all(now=datetime.fromtimestamp(at, tz=UTC))
        seconds = time.perf_counter() - began
        failed = [report for report in reports if report.outcome != "ok"]
        assert not failed, failed
        calls = {report.system: report.calls for report in reports}
        return {
            "seconds": round(seconds, 2),
            "argocd_requests": argocd.count(),
            "kubernetes_requests": cluster.count(),
            "prometheus_queries": calls["prometheus"],
        }

    add_entities(names[:small])
    cycle()  # warm up: imports, connections
    small_cycle = cycle()
    add_entities(names[small:])
    large_cycle = cycle()

    user = get_user_model().objects.create_user(username="bench", password="bench")
    client = Client()
    client.force_login(user)
    sample = names[len(names) // 2]
    pages = {
        "deployments tab": f"/catalog/component/default/{sample}/deployments/",
        "metrics tab (1h)": f"/catalog/component/default/{sample}/metrics/",
        "metrics tab (24h)": f"/catalog/component/default/{sample}/metrics/?window=24h",
        "workloads tab": f"/catalog/component/default/{sample}/workloads/",
        "services overview": "/services/",
        "overview by owner": "/services/?owner=group:default/team-3",
        "API deployments": f"/api/dashboards/entities/component:default/{sample}/deployments/",
    }
    page_figures = {name: time_page(client, page, args.samples) for name, page in pages.items()}

    figures = {
        "database": "postgresql" if postgres else "sqlite",
        "services": args.services,
        "setup_seconds": round(setup_seconds, 1),
        "cycle_small": {"services": small, **small_cycle},
        "cycle_large": {"services": args.services, **large_cycle},
        "pages": page_figures,
        "target_p95_ms": 150,
    }
    print(f"Dashboards benchmark on {figures['database']}: {args.services} services")
    print(f"  {'cycle':<18} {'services':>8} {'seconds':>8} {'argocd':>7} {'k8s':>5} {'promql':>7}")
    for label, figure in (("small", figures["cycle_small"]), ("large", figures["cycle_large"])):
        print(
            f"  {label:<18} {figure['services']:>8} {figure['seconds']:>8} {figure['argocd_requests']:>7} "
            f"{figure['kubernetes_requests']:>5} {figure['prometheus_queries']:>7}"
        )
    print(f"  {'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, figure in page_figures.items():
        print(f"  {name:<24} {figure['p50_ms']:>8} {figure['p95_ms']:>8} {figure['queries']:>8}")
    print(json.dumps(figures))

    prometheus.stop()
    argocd.stop()
    cluster.stop()
    if postgres and not args.keep:
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
