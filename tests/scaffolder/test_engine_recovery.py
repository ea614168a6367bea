"""Retries with backoff, cancellation between steps, the sweeper, and actions from catalog Templates."""

import os

import pytest
from django.utils import timezone

from catalog.services import entity_upsert_descriptor
from scaffolder import engine
from scaffolder.models import Action, ActionRun, RunStep
from scaffolder.services import ScaffolderError, actions_sync_from_catalog, run_cancel, run_request
from scaffolder.tasks import recover_stale_runs
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "hello-world", "title": "Hello world"},
    "spec": {
        "type": "service",
        "owner": "group:default/team-a",
        "parameters": [{"properties": {"who": {"type": "string"}}, "required": ["who"]}],
        "steps": [
            {"id": "log", "name": "Log", "action": "debug:log", "input": {"message": "Hello ${{ parameters.who }}"}}
        ],
    },
}


def test_outside_errors_retry_then_fail_in_words(member, team, shipped_actions, repos_dir, settings, tmp_path):
    settings.SCAFFOLDER_GITOPS_REPO_URL = (tmp_path / "missing" / "gitops.git").as_uri()
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    assert engine.execute_run(run.pk) == "failed"
    run.refresh_from_db()
    step = run.steps.get(step_id="gitops")
    assert step.status == RunStep.Status.FAILED
    assert step.attempts == 3
    assert run.error.startswith("Commit the manifests to the GitOps repository: GitOps repository:")
    assert run.log_lines.filter(level="warning", message__contains="attempt 1 of 3 failed").exists()
    # The repository made before the failure is recorded, and a re-run of the run does not make another.
    assert run.steps.get(step_id="publish").status == RunStep.Status.SUCCEEDED


def test_cancel_takes_effect_before_the_next_step(member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    # A worker holds the run (it has started), so cancelling asks it to stop before its next step.
    ActionRun.objects.filter(pk=run.pk).update(status=ActionRun.Status.RUNNING, attempts=1, lease_expires_at=None)
    run.refresh_from_db()
    run_cancel(actor=member, run=run)
    assert ActionRun.objects.get(pk=run.pk).status == ActionRun.Status.RUNNING
    assert engine.execute_run(run.pk) == "cancelled"
    run.refresh_from_db()
    assert run.status == ActionRun.Status.CANCELLED
    assert set(run.steps.values_list("status", flat=True)) == {RunStep.Status.CANCELLED}
    assert not repos_dir.exists()


def test_sweeper_enqueues_runs_whose_worker_died(member, team, shipped_actions):
    dead = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    alive = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    now = timezone.now()
    ActionRun.objects.filter(pk=dead.pk).update(
        status=ActionRun.Status.RUNNING, lease_expires_at=now - timezone.timedelta(seconds=5)
    )
    ActionRun.objects.filter(pk=alive.pk).update(
        status=ActionRun.Status.RUNNING, lease_expires_at=now + timezone.timedelta(seconds=60)
    )
    leftover = engine.workspace_path(ActionRun.objects.get(pk=dead.pk)).parent / "99-1-deadbeef"
    leftover.mkdir(parents=True)
    os.utime(leftover, (0, 0))
    assert recover_stale_runs() == 1
    assert not leftover.exists(), "a dead worker's workspace is removed"
    # A live lease keeps a second worker out.
    assert engine.execute_run(alive.pk) == "not claimed"


def test_a_run_interrupted_too_often_fails(member, team, shipped_actions):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    ActionRun.objects.filter(pk=run.pk).update(attempts=engine.MAX_CLAIMS)
    assert engine.execute_run(run.pk) == "failed"
    assert "stopped 5 times" in ActionRun.objects.get(pk=run.pk).error


def test_catalog_templates_become_actions(member, team, repos_dir):
    entity_upsert_descriptor(data=TEMPLATE)
    assert actions_sync_from_catalog() == {"synced": ["hello-world"], "problems": []}
    action = Action.objects.get(identifier="hello-world")
    assert action.source == Action.Source.LOCATION
    run = run_request(actor=member, action=action, inputs={"who": "Ada"})
    assert engine.execute_run(run.pk) == "succeeded"
    assert run.log_lines.filter(message="Hello Ada").exists()
    # A template that leaves the catalog disables its action.
    from catalog.models import Entity

    Entity.objects.filter(ref="template:default/hello-world").delete()
    actions_sync_from_catalog()
    assert not Action.objects.get(identifier="hello-world").enabled


def test_catalog_template_with_unknown_step_is_refused_at_run(member, team):
    template = {**TEMPLATE, "metadata": {"name": "publish-gitlab"}}
    template["spec"] = {**TEMPLATE["spec"], "steps": [{"id": "p", "action": "publish:gitlab", "input": {}}]}
    entity_upsert_descriptor(data=template)
    actions_sync_from_catalog()
    action = Action.objects.get(identifier="publish-gitlab")
    with pytest.raises(ScaffolderError, match="publish:gitlab"):
        run_request(actor=member, action=action, inputs={"who": "Ada"})
    dry = run_request(actor=member, action=action, inputs={"who": "Ada"}, dry_run=True)
    assert engine.execute_run(dry.pk) == "failed"
    dry.refresh_from_db()
    assert "'publish:gitlab', which Portico does not have" in dry.error
