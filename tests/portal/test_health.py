from datetime import timedelta

import pytest
from django.utils import timezone

from portal import services
from portal.models import WorkerHeartbeat


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_until_a_worker_reports(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False
    assert "no worker" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
def test_readyz_is_200_with_a_fresh_heartbeat(client):
    services.worker_heartbeat_record(hostname="worker@test")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["detail"].startswith("worker@test")


@pytest.mark.django_db
def test_readyz_reports_a_stale_heartbeat(client, settings):
    WorkerHeartbeat.objects.create(hostname="old@test", seen_at=timezone.now() - timedelta(minutes=10))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert (
        "600 s ago" in response.json()["checks"]["worker"]["detail"]
        or "s ago" in response.json()["checks"]["worker"]["detail"]
    )


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_broker(client, settings):
    from portal.celery import app

    services.worker_heartbeat_record(hostname="worker@test")
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
