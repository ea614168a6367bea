"""publish:github, catalog:register from GitHub and gitops:commit as a pull request, against the GitHub stand-in
(real bare repositories behind GitHub's REST API and git smart HTTP)."""

import subprocess

import pytest

from catalog.models import Entity
from scaffolder import engine
from scaffolder.models import ActionRun
from scaffolder.services import run_request
from tests.scaffolder.conftest import SERVICE_INPUTS
from tests.standins.github import GitHubStandin

pytestmark = pytest.mark.django_db


@pytest.fixture
def github(monkeypatch, settings, repos_dir):
    with GitHubStandin(orgs=("acme",)) as standin:
        monkeypatch.setenv("GITHUB_URL", standin.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", standin.token)
        monkeypatch.setenv("GITHUB_ORG", "acme")
        standin.create_repo("acme", "gitops", files={"README.md": "GitOps\n"})
        settings.SCAFFOLDER_GITOPS_REPO_URL = f"{standin.url}/acme/gitops.git"
        settings.SCAFFOLDER_GITOPS_GITHUB_REPO = "acme/gitops"
        yield standin


def _log(path, branch):
    return subprocess.run(
        ["git", "--git-dir", str(path), "log", "--format=%s", branch], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_create_service_on_github(member, team, shipped_actions, github):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    assert engine.execute_run(run.pk) == "succeeded", ActionRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    statuses = dict(run.steps.values_list("step_id", "status"))
    assert statuses["publish"] == "skipped"
    assert statuses["publish-github"] == "succeeded"
    repo = github.get("acme/payments-api")
    assert repo.private
    assert _log(github.repo_path("acme/payments-api"), "main") == ["Initial commit"]
    assert _log(github.repo_path("acme/gitops"), "main")[0].startswith("Add payments-api")
    entity = Entity.objects.get(ref="component:default/payments-api")
    assert entity.annotations["github.com/project-slug"] == "acme/payments-api"
    assert any(link["url"].endswith("/acme/payments-api") for link in run.outputs["links"])


def test_day2_pull_request_on_github(member, team, shipped_actions, github):
    created = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    engine.execute_run(created.pk)
    target = Entity.objects.get(ref="component:default/payments-api")
    run = run_request(
        actor=member,
        action=shipped_actions["add-postgres-database"],
        inputs={"databaseName": "ledger", "size": "small", "version": "16", "createTable": False},
        target_entity=target,
    )
    assert engine.execute_run(run.pk) == "succeeded", ActionRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    pulls = github.get("acme/gitops").pulls
    assert len(pulls) == 1
    assert pulls[0]["head_ref"] == "portico/payments-api-database-ledger"
    assert run.outputs["links"][0]["url"].endswith(f"/pull/{pulls[0]['number']}")
    # A redelivered or re-run step opens no second pull request.
    engine.execute_run(run.pk)
    assert len(github.get("acme/gitops").pulls) == 1
