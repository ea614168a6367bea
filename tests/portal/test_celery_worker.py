"""A real Celery worker, against Redis when REDIS_URL is set and the embedded SQLite broker otherwise."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from portal.celery import app
from portal.models import WorkerHeartbeat
from portal.tasks import record_worker_heartbeat


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_and_writes_to_the_database():
    expected_transport = "redis" if settings.REDIS_URL else "sqla"
    assert app.connection_for_write().transport_cls.startswith(expected_transport)

    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        record_worker_heartbeat.delay("worker@celery-test")

        assert wait_for(lambda: WorkerHeartbeat.objects.filter(hostname="worker@celery-test").exists())
