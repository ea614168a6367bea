"""What the benchmarks share: a database of their own on DATABASE_URL's server, and timing pages in-process.

Scripts run as `python bench/NAME.py`, so this module is importable as `_support` from them.
"""

import statistics
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit


def bench_database_url(url: str, *, suffix: str) -> str:
    """The same server, another database: `<name>_<suffix>` on PostgreSQL, a temporary file for SQLite. Each
    benchmark has its own suffix, so two running at once never drop each other's database."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tempfile.mkdtemp(prefix='portico-bench-')}/bench.sqlite3"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{suffix}"))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def _postgres_admin(url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(statement.format(name=parts.path.lstrip("/")))


def recreate_postgres_database(url: str) -> None:
    _postgres_admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _postgres_admin(url, 'CREATE DATABASE "{name}"')


def drop_postgres_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    _postgres_admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_page(client, url: str, samples: int) -> dict:
    """p50/p95 server time of a page through Django's test client, and the SQL queries one request makes."""
    from django.db import connection

    client.get(url)  # warm caches and connections
    queries = []  # counted with an execute wrapper: Django clears its own query log when a request starts

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        "queries": len(queries),
    }
