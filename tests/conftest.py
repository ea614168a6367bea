"""Fixtures shared by the whole suite."""

import os

import pytest


@pytest.fixture(autouse=True)
def _builtin_blueprints(request):
    """Backstage's kinds come from a data migration; transactional tests flush every table afterwards, so put them
    back for each database test (one query when they are there)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_helper")
    from catalog.services import blueprints_ensure_builtin

    blueprints_ensure_builtin()


@pytest.fixture
def member(django_user_model):
    """A signed-in developer with no special rights."""
    return django_user_model.objects.create_user(username="dev", password="dev-password", email="dev@example.com")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def api(member):
    """An API client signed in as the member."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(member)
    return client


@pytest.fixture
def admin_api(admin_user):
    """An API client signed in as a superuser."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def pytest_sessionstart(session):
    # In CI the suite must run against the real PostgreSQL and Redis, never silently on the embedded defaults.
    if os.environ.get("CI"):
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError(f"CI is set but {', '.join(missing)} is not: the suite must use the real services")
