"""Writes and checks of the portal itself: worker heartbeats, readiness, the first admin account."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from portal.models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str) -> WorkerHeartbeat:
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})
    return heartbeat


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the detail says which
        return Check("database", False, f"{type(exc).__name__}: {exc}")
    return Check("database", True, connection.vendor)


def check_broker() -> Check:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises many types for an unreachable broker
        return Check("broker", False, f"{type(exc).__name__}: {exc}")
    return Check("broker", True, str(transport))


def check_worker() -> Check:
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if latest is None:
        return Check(
            "worker", False, "no worker has reported yet; start one with `make run` or `celery -A portal worker -B`"
        )
    age = timezone.now() - latest.seen_at
    if age > timedelta(seconds=max_age):
        return Check("worker", False, f"last heartbeat from {latest.hostname} was {int(age.total_seconds())} s ago")
    return Check("worker", True, f"{latest.hostname}, {int(age.total_seconds())} s ago")


def readiness_checks() -> list[Check]:
    database = check_database()
    checks = [database, check_broker()]
    checks.append(check_worker() if database.ok else Check("worker", False, "unknown: the database is down"))
    return checks


@dataclass(frozen=True)
class AdminAccount:
    username: str
    password: str | None  # only set when it was generated now, so it can be shown once
    created: bool


def admin_ensure(*, username: str = "", password: str = "", email: str = "") -> AdminAccount:
    """Create the first admin account when no superuser exists yet.

    The username and password come from the arguments (PORTICO_ADMIN_USERNAME / PORTICO_ADMIN_PASSWORD) or are
    generated; a generated password is returned once so it can be printed, and never stored in clear text.
    """
    user_model = get_user_model()
    existing = user_model.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return AdminAccount(existing.get_username(), None, created=False)
    username = username or "admin"
    generated = not password
    password = password or secrets.token_urlsafe(12)
    user_model.objects.create_superuser(username=username, email=email or f"{username}@localhost", password=password)
    return AdminAccount(username, password if generated else None, created=True)


def api_token_rotate(*, user) -> str:
    """Replace the user's API token with a new one and return it (shown once on the profile page)."""
    from rest_framework.authtoken.models import Token

    from rbac.services import audit_record

    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    audit_record(actor=user, verb="api_token.rotate", target=user, target_repr=user.get_username())
    return token.key


def api_token_exists(*, user) -> bool:
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(user=user).exists()
