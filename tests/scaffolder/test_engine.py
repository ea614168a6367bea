"""The run engine on the embedded default: real git (local bare repositories), real catalog writes."""

import pytest

from catalog.models import Entity
from integrations.git import fetch_files
from scaffolder import engine
from scaffolder.models import ActionRun, RunStep
from scaffolder.services import run_request, run_retry
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = pytest.mark.django_db


def _git_log(url, branch="main"):
    import subprocess

    return subprocess.run(
        ["git", "--git-dir", url.removeprefix("file://"), "log", "--format=%s", branch],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def test_create_service_end_to_end(member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    assert engine.execute_run(run.pk) == "succeeded", list(run.log_lines.values_list("message", flat=True))
    run.refresh_from_db()
    assert run.status == ActionRun.Status.SUCCEEDED
    assert (repos_dir / "payments-api.git").is_dir()
    assert sorted(p.name for p in repos_dir.iterdir()) == ["gitops.git", "payments-api.git"]
    assert _git_log(str(repos_dir / "gitops.git")) == ["Add payments-api (created by user:default/dev with Portico)"]
    with fetch_files((repos_dir / "gitops.git").as_uri(), paths=["apps/payments-api"]) as checkout:
        assert "apps/payments-api/application.yaml" in checkout.glob("apps/payments-api/*")
        assert "apps/payments-api/deployment.yaml" in checkout.glob("apps/payments-api/*")
    entity = Entity.objects.get(ref="component:default/payments-api")
    assert entity.owner_ref == "group:default/team-a"
    assert run.target_entity == entity, "the create run shows on the new entity's Runs tab"
    assert {link["title"] for link in run.outputs["links"]} == {"Repository", "Open in catalog"}
    assert "/catalog/component/default/payments-api/" in [link["url"] for link in run.outputs["links"]]
    statuses = dict(run.steps.values_list("step_id", "status"))
    assert statuses["publish-github"] == RunStep.Status.SKIPPED
    assert statuses["register"] == RunStep.Status.SUCCEEDED
    again = run_retry(actor=member, run=run)
    assert again.target_entity is None


def test_running_again_changes_nothing(member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    engine.execute_run(run.pk)
    # A redelivered message for a finished run does nothing.
    assert engine.execute_run(run.pk) == "not claimed"
    # A crash after every side effect but before the checkpoints were saved: the run is resumed from scratch.
    ActionRun.objects.filter(pk=run.pk).update(status=ActionRun.Status.RUNNING, lease_expires_at=None)
    RunStep.objects.filter(run=run).update(status=RunStep.Status.PENDING, checkpoint={}, output={})
    assert engine.execute_run(run.pk) == "succeeded"
    assert _git_log(str(repos_dir / "gitops.git")) == ["Add payments-api (created by user:default/dev with Portico)"]
    assert _git_log(str(repos_dir / "payments-api.git")) == ["Initial commit"]
    assert Entity.objects.filter(name="payments-api").count() == 1


def test_dry_run_writes_nothing_and_shows_files_and_diff(member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS, dry_run=True)
    assert engine.execute_run(run.pk) == "succeeded"
    run.refresh_from_db()
    assert not repos_dir.exists() or not any(repos_dir.iterdir())
    assert not Entity.objects.filter(name="payments-api").exists()
    paths = [file["path"] for file in run.outputs["files"]]
    assert "service/catalog-info.yaml" in paths
    assert "gitops/apps/payments-api/deployment.yaml" in paths
    assert "+kind: Deployment" in run.outputs["diffs"][0]["diff"]
