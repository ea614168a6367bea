"""Each shipped day-2 action on the embedded default, after the service was created."""

import subprocess

import pytest

from catalog.models import Entity
from integrations.git import fetch_files
from scaffolder import engine
from scaffolder.models import ActionRun
from scaffolder.services import ScaffolderError, run_approve, run_request
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    assert engine.execute_run(run.pk) == "succeeded"
    return Entity.objects.get(ref="component:default/payments-api")


def _branches(repos_dir):
    output = subprocess.run(
        ["git", "--git-dir", str(repos_dir / "gitops.git"), "branch", "--format=%(refname:short)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(output.split())


def _run(member, action, inputs, target):
    run = run_request(actor=member, action=action, inputs=inputs, target_entity=target)
    result = engine.execute_run(run.pk)
    run.refresh_from_db()
    assert result == "succeeded", run.error
    return run


def test_add_postgres_database_pushes_a_branch(member, service, shipped_actions, repos_dir):
    run = _run(
        member,
        shipped_actions["add-postgres-database"],
        {"databaseName": "ledger", "size": "medium", "version": "16", "createTable": True, "tableName": "entries"},
        service,
    )
    assert _branches(repos_dir) == ["main", "portico/payments-api-database-ledger"]
    url = (repos_dir / "gitops.git").as_uri()
    with fetch_files(url, ref="portico/payments-api-database-ledger") as checkout:
        files = checkout.glob("apps/payments-api/databases/ledger/*")
    assert "apps/payments-api/databases/ledger/externalsecret.yaml" in files
    assert "apps/payments-api/databases/ledger/table.yaml" in files
    assert "no pull request was opened" in run.outputs["text"][-1]["content"]


def test_scale_service_changes_only_the_autoscaler(member, service, shipped_actions, repos_dir):
    _run(member, shipped_actions["scale-service"], {"minReplicas": 3, "maxReplicas": 9}, service)
    with fetch_files((repos_dir / "gitops.git").as_uri(), ref="portico/scale-payments-api-3-9") as checkout:
        hpa = checkout.read_text("apps/payments-api/hpa.yaml")
        assert checkout.exists("apps/payments-api/deployment.yaml")
    assert "minReplicas: 3" in hpa
    assert "maxReplicas: 9" in hpa


def test_create_team_namespace_needs_approval(member, team, shipped_actions, repos_dir, admin_user):
    run = run_request(
        actor=member, action=shipped_actions["create-team-namespace"], inputs={"size": "small"}, target_entity=team
    )
    assert run.status == ActionRun.Status.AWAITING_APPROVAL
    assert engine.execute_run(run.pk) == "not claimed"
    with pytest.raises(ScaffolderError):
        run_approve(actor=member, run=run)
    run_approve(actor=admin_user, run=run)
    assert engine.execute_run(run.pk) == "succeeded"
    assert "portico/namespace-team-a" in _branches(repos_dir)


def test_deprecate_service(member, service, shipped_actions):
    _run(member, shipped_actions["deprecate-service"], {"reason": "Replaced by payments-v2."}, service)
    service.refresh_from_db()
    assert service.lifecycle == "deprecated"
    assert service.annotations["portico.dev/deprecation-reason"] == "Replaced by payments-v2."
    assert "portico.dev/sunset-date" not in service.annotations


def test_delete_service(member, service, shipped_actions, repos_dir, admin_user):
    run = run_request(
        actor=member,
        action=shipped_actions["delete-service"],
        inputs={"reason": "Nobody uses it.", "confirm": True},
        target_entity=service,
    )
    run_approve(actor=admin_user, run=run)
    assert engine.execute_run(run.pk) == "succeeded", ActionRun.objects.get(pk=run.pk).error
    with fetch_files((repos_dir / "gitops.git").as_uri()) as checkout:
        assert checkout.glob("apps/payments-api/**") == []
    assert (repos_dir / "payments-api.git" / "portico-archived").exists()
    service.refresh_from_db()
    assert service.lifecycle == "retired"


def test_day2_action_refuses_an_entity_of_another_blueprint(member, team, shipped_actions):
    with pytest.raises(ScaffolderError, match="acts on Component entities"):
        run_request(
            actor=member,
            action=shipped_actions["scale-service"],
            inputs={"minReplicas": 1, "maxReplicas": 2},
            target_entity=team,
        )
