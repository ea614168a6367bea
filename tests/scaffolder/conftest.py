"""Fixtures for the scaffolder: actions loaded from the golden paths, a team the member belongs to, and
repositories kept in a per-test folder (the embedded default)."""

import pytest

from catalog.services import entity_upsert_descriptor
from scaffolder.services import actions_sync_shipped


@pytest.fixture
def repos_dir(settings, tmp_path):
    settings.SCAFFOLDER_REPOS_DIR = str(tmp_path / "repos")
    settings.SCAFFOLDER_RETRY_BACKOFF = 0.01
    settings.SCAFFOLDER_GITOPS_REPO_URL = ""
    return tmp_path / "repos"


@pytest.fixture
def shipped_actions(db):
    return {action.identifier: action for action in actions_sync_shipped()}


@pytest.fixture
def team(db):
    """Group team-a with the member `dev` as a User entity, and a System."""
    group = entity_upsert_descriptor(
        data={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "team-a"},
            "spec": {"type": "team", "children": [], "members": ["dev"]},
        }
    ).entity
    entity_upsert_descriptor(
        data={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "team-b"},
            "spec": {"type": "team", "children": []},
        }
    )
    entity_upsert_descriptor(
        data={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": "dev"},
            "spec": {"memberOf": ["team-a"]},
        }
    )
    entity_upsert_descriptor(
        data={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "System",
            "metadata": {"name": "payments"},
            "spec": {"owner": "team-a"},
        }
    )
    return group


SERVICE_INPUTS = {
    "name": "payments-api",
    "description": "Takes payments.",
    "owner": "group:default/team-a",
    "system": "system:default/payments",
    "pythonVersion": "3.12",
    "port": 8000,
    "replicas": 2,
    "visibility": "private",
}
