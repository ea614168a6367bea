"""CI status from GitHub: per-repository calls, bounded per cycle, least recently read first."""

import html
import re

import pytest
from django.urls import reverse

from dashboards import pollers
from dashboards.models import CIStatusSnapshot, IntegrationStatus
from tests.standins.github import GitHubStandin

pytestmark = pytest.mark.django_db

RUNS = "/repos/{owner}/{repo}/actions/runs"


@pytest.fixture
def github(monkeypatch):
    with GitHubStandin(orgs=("acme",)) as standin:
        monkeypatch.setenv("GITHUB_URL", standin.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", standin.token)
        yield standin


def test_runs_and_pulls_are_read_for_a_bounded_number_of_repositories(github, make_service, settings, member_client):
    settings.DASHBOARDS_GITHUB_MAX_REPOS = 2
    for name in ("checkout", "search", "cart"):
        github.create_repo("acme", name, files={"README.md": "hi"})
        github.add_workflow_run(f"acme/{name}", conclusion="failure" if name == "checkout" else "success")
        make_service(name, **{"github.com__project-slug": f"acme/{name}"})
    make_service("no-repo")

    [first] = pollers.poll_github()
    [second] = pollers.poll_github()

    assert (first.outcome, first.snapshots, second.snapshots) == ("ok", 2, 2)
    assert github.count("GET", RUNS) == 4  # two repositories per cycle, never one per service
    assert CIStatusSnapshot.objects.count() == 3  # the second cycle started with the one never read
    checkout = CIStatusSnapshot.objects.get(repo="acme/checkout")
    assert checkout.runs[0]["conclusion"] == "failure"
    assert checkout.pulls == []
    page = member_client.get(reverse("dashboards:ci", args=["component", "default", "checkout"]))
    text = html.unescape(re.sub(r"\s+", " ", page.content.decode()))
    assert 'class="badge badge--bad">failure' in text
    assert "acme/checkout" in text


def test_rate_limiting_backs_off_and_keeps_what_was_read(github, make_service):
    github.create_repo("acme", "checkout")
    github.add_workflow_run("acme/checkout")
    make_service("checkout", **{"github.com__project-slug": "acme/checkout"})
    pollers.poll_github()
    github.set_rate_limited(True, reset_in=600)

    [report] = pollers.poll_github()

    assert report.outcome == "failed"
    assert CIStatusSnapshot.objects.get().runs[0]["conclusion"] == "success"
    status = IntegrationStatus.objects.get(system="github")
    assert status.consecutive_failures == 1
    assert pollers.poll_github()[0].outcome == "backing off"
