"""integrations.github against the GitHub stand-in, with real bare repositories behind it."""

import json
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from integrations.git import clone, push_directory, write_files_and_push
from integrations.github import GitHubClient, GitHubError
from integrations.github.config import api_url, client_from_config, describe, load


def test_check_connection_reports_the_login_and_scopes(client, github):
    connection = client.check_connection()

    assert connection.login == "portico-bot"
    assert connection.base_url == github.api_url
    assert connection.scopes == ("repo", "read:org", "workflow")
    assert connection.rate_limit_remaining == 4999


def test_create_repository_is_idempotent(client, github):
    first = client.create_repository(owner="acme", name="payments-api", description="Payments", topics=("python",))
    again = client.create_repository(owner="acme", name="payments-api", description="Payments", topics=("python",))

    assert first.created is True
    assert again.created is False
    assert first.full_name == again.full_name == "acme/payments-api"
    assert first.clone_url == f"{github.url}/acme/payments-api.git"
    assert first.html_url == f"{github.url}/acme/payments-api"
    assert (first.private, first.description, first.topics) == (True, "Payments", ("python",))
    assert github.count("POST", "/orgs/{org}/repos") == 2
    assert github.count("PUT", "/repos/{owner}/{repo}/topics") == 1
    assert github.get("acme/payments-api").topics == ["python"]


def test_create_repository_for_the_user_and_refuses_someone_elses_account(client, github):
    mine = client.create_repository(owner="portico-bot", name="sandbox", private=False)

    assert mine.full_name == "portico-bot/sandbox"
    assert github.count("POST", "/user/repos") == 1
    with pytest.raises(GitHubError, match="token belongs to portico-bot"):
        client.create_repository(owner="someone-else", name="x", is_org=False)


def test_a_name_taken_by_a_repository_the_token_cannot_see_is_a_readable_error(client, github):
    github.create_repo("acme", "secret", hidden=True)

    with pytest.raises(GitHubError, match="name acme/secret is taken") as caught:
        client.create_repository(owner="acme", name="secret")

    assert caught.value.status == 422


def test_create_push_and_clone_back_exactly_what_was_pushed(client, github, author, tmp_path):
    repo = client.create_repository(owner="acme", name="orders", default_branch="main")
    remote = client.git_remote(repo.clone_url)
    skeleton = tmp_path / "skeleton"
    (skeleton / "src").mkdir(parents=True)
    (skeleton / "src" / "app.py").write_text("app = 1\n")
    (skeleton / "catalog-info.yaml").write_text("kind: Component\nmetadata:\n  name: orders\n")

    pushed = push_directory(
        skeleton, remote_url=remote.url, branch=repo.default_branch, message="Init", token=remote.token, **author
    )
    repeated = push_directory(
        skeleton, remote_url=remote.url, branch="main", message="Init", token=remote.token, **author
    )
    work = clone(remote.url, tmp_path / "work", token=remote.token)

    assert (pushed.changed, repeated.changed, repeated.sha) == (True, False, pushed.sha)
    assert (work / "src" / "app.py").read_text() == "app = 1\n"
    assert client.get_repository("acme/orders").default_branch == "main"
    assert [f.repo_full_name for f in client.list_catalog_files(org="acme")] == ["acme/orders"]
    assert github.token not in (work / ".git" / "config").read_text()


def test_the_first_branch_pushed_to_an_empty_repository_becomes_its_default(client, github, author):
    repo = client.create_repository(owner="acme", name="trunk-based", default_branch="trunk")
    remote = client.git_remote(repo.clone_url)

    write_files_and_push(remote.url, branch="trunk", files={"a": b"a"}, message="a", token=remote.token, **author)

    assert repo.default_branch == "trunk"
    assert client.get_repository("acme/trunk-based").default_branch == "trunk"


def test_gitops_change_through_a_pull_request(client, github, author):
    github.create_repo("acme", "gitops", {"apps/README.md": "apps\n"})
    remote = client.git_remote(client.get_repository("acme/gitops").clone_url)
    files = {"apps/orders/deployment.yaml": b"kind: Deployment\n"}

    commit = write_files_and_push(
        remote.url,
        branch="portico/run-7",
        base_branch="main",
        files=files,
        message="Deploy orders",
        token=remote.token,
        **author,
    )
    pull = client.open_pull_request(
        full_name="acme/gitops", branch="portico/run-7", base="main", title="Deploy orders", body="By Portico"
    )
    again = client.open_pull_request(
        full_name="acme/gitops", branch="portico/run-7", base="main", title="Deploy orders", body="By Portico"
    )
    retried = write_files_and_push(
        remote.url,
        branch="portico/run-7",
        base_branch="main",
        files=files,
        message="Deploy orders",
        token=remote.token,
        **author,
    )

    assert commit.changed is True
    assert (retried.changed, retried.sha) == (False, commit.sha)
    assert (pull.created, again.created, again.number) == (True, False, pull.number)
    assert pull.html_url == f"{github.url}/acme/gitops/pull/{pull.number}"
    assert github.count("POST", "/repos/{owner}/{repo}/pulls") == 1
    listed = client.open_pull_requests(full_name="acme/gitops")
    assert [(p.number, p.head, p.base, p.title, p.author) for p in listed] == [
        (pull.number, "portico/run-7", "main", "Deploy orders", "portico-bot")
    ]
    github.close_pull("acme/gitops", pull.number)
    assert client.open_pull_requests(full_name="acme/gitops") == []


def test_a_pull_request_without_changes_is_refused_readably(client, github):
    github.create_repo("acme", "gitops", {"a": "a"})
    subprocess.run(["git", f"--git-dir={github.repo_path('acme/gitops')}", "branch", "same", "main"], check=True)

    with pytest.raises(GitHubError, match="No commits between main and same") as caught:
        client.open_pull_request(full_name="acme/gitops", branch="same", base="main", title="t", body="")
    with pytest.raises(GitHubError, match="head"):
        client.open_pull_request(full_name="acme/gitops", branch="missing", base="main", title="t", body="")

    assert caught.value.status == 422


def test_list_catalog_files_reads_every_repository_of_the_org_across_pages(github):
    client = GitHubClient(base_url=github.api_url, token=github.token, per_page=2)
    for name in ("billing", "checkout", "search"):
        github.create_repo("acme", name, {"catalog-info.yaml": f"metadata:\n  name: {name}\n"})
    github.create_repo("acme", "no-descriptor", {"README.md": "nothing here\n"})
    github.create_repo("acme", "empty")
    github.create_repo("acme", "old", {"catalog-info.yaml": "archived\n"}, archived=True)
    github.create_repo("acme", "huge", {"catalog-info.yaml": "x" * 2000})
    github.create_repo("acme", "binary", {"catalog-info.yaml": b"\xff\xfe\x00"})
    github.create_repo("acme", "dir", {"catalog-info.yaml/readme": "a directory of that name\n"})
    github.create_repo("other", "elsewhere", {"catalog-info.yaml": "not acme\n"})
    github.create_repo("acme", "develop-default", {"catalog-info.yaml": "on develop\n"}, default_branch="develop")

    found = client.list_catalog_files(org="acme", max_bytes=1000)

    assert sorted((f.repo_full_name, f.default_branch, f.content) for f in found) == [
        ("acme/billing", "main", "metadata:\n  name: billing\n"),
        ("acme/checkout", "main", "metadata:\n  name: checkout\n"),
        ("acme/develop-default", "develop", "on develop\n"),
        ("acme/search", "main", "metadata:\n  name: search\n"),
    ]
    billing = next(f for f in found if f.repo_full_name == "acme/billing")
    assert billing.html_url == f"{github.url}/acme/billing/blob/main/catalog-info.yaml"
    assert billing.path == "catalog-info.yaml"
    assert github.count("GET", "/orgs/{org}/repos") == 5  # 10 repositories, 2 per page
    assert github.count("GET", "/repos/{owner}/{repo}/contents/{path}") == 9  # every repository but the archived one
    assert github.count("GET", "/repos/{owner}/{repo}") == 0


def test_list_catalog_files_reads_a_nested_path_and_refuses_traversal(client, github):
    github.create_repo("acme", "svc", {".backstage/catalog-info.yaml": "nested\n"})

    assert [f.content for f in client.list_catalog_files(org="acme", path=".backstage/catalog-info.yaml")] == [
        "nested\n"
    ]
    with pytest.raises(GitHubError, match="not a valid file path"):
        client.list_catalog_files(org="acme", path="../../user")


def test_latest_workflow_runs_newest_first_in_one_call(client, github):
    github.create_repo("acme", "svc", {"a": "a"})
    for index in range(7):
        github.add_workflow_run("acme/svc", name=f"CI {index}")
    github.add_workflow_run("acme/svc", name="Deploy", status="in_progress", conclusion=None, branch="release")
    github.reset_counts()

    runs = client.latest_workflow_runs(full_name="acme/svc", limit=5)
    release = client.latest_workflow_runs(full_name="acme/svc", branch="release")

    assert [run.name for run in runs] == ["Deploy", "CI 6", "CI 5", "CI 4", "CI 3"]
    assert (runs[0].status, runs[0].conclusion, runs[0].branch) == ("in_progress", None, "release")
    assert runs[1].head_sha == github.get("acme/svc").repo.branches()["main"]
    assert runs[1].html_url.startswith(f"{github.url}/acme/svc/actions/runs/")
    assert [run.name for run in release] == ["Deploy"]
    assert github.count("GET", "/repos/{owner}/{repo}/actions/runs") == 2
    assert sum(github.calls.values()) == 2


def test_archive_repository_is_idempotent_and_archived_repositories_refuse_pushes(client, github, author):
    github.create_repo("acme", "legacy", {"a": "a"})

    archived = client.archive_repository("acme/legacy")
    again = client.archive_repository("acme/legacy")

    assert (archived.archived, again.archived) == (True, True)
    assert github.count("PATCH", "/repos/{owner}/{repo}") == 1
    remote = client.git_remote(archived.clone_url)
    with pytest.raises(Exception, match="403"):
        write_files_and_push(remote.url, branch="main", files={"b": b"b"}, message="b", token=remote.token, **author)


def test_bad_credentials(github):
    client = GitHubClient(base_url=github.api_url, token="ghp_not_the_right_one")

    with pytest.raises(GitHubError, match=r"rejected the token \(Bad credentials\)") as caught:
        client.get_repository("acme/anything")

    assert caught.value.status == 401
    assert "ghp_not_the_right_one" not in str(caught.value)


def test_not_found(client):
    with pytest.raises(GitHubError, match="found nothing while reading repository acme/missing") as caught:
        client.get_repository("acme/missing")
    with pytest.raises(GitHubError, match="found nothing while listing the repositories of nobody"):
        client.list_catalog_files(org="nobody")

    assert caught.value.status == 404


def test_rate_limited_says_until_when(client, github):
    github.set_rate_limited(True, reset_in=1800)
    reset = datetime.fromtimestamp(github.rate_limited_until, UTC)

    with pytest.raises(GitHubError, match=f"rate limited until {reset:%H:%M} UTC") as caught:
        client.get_repository("acme/anything")

    assert caught.value.status == 403
    github.set_rate_limited(False)
    with pytest.raises(GitHubError, match="found nothing"):
        client.get_repository("acme/anything")


def test_unreachable_github_and_invalid_names():
    closed = GitHubClient(base_url="http://127.0.0.1:9/api/v3", token="t", retries=0, timeout=2)

    with pytest.raises(GitHubError, match="Could not reach GitHub at http://127.0.0.1:9/api/v3") as caught:
        closed.get_repository("acme/svc")
    assert caught.value.status is None
    for bad in ("acme/../user", "acme", "-acme/svc", "acme/svc/contents", "acme/svc.git"):
        with pytest.raises(GitHubError, match="not a valid"):
            closed.get_repository(bad)
    with pytest.raises(GitHubError, match="No GitHub token"):
        GitHubClient(base_url="http://127.0.0.1:9/api/v3", token="")


def test_git_remote_only_hands_the_token_to_this_githubs_host(client, github):
    remote = client.git_remote(f"{github.url}/acme/svc.git")

    assert remote.token == github.token
    assert github.token not in repr(remote)
    assert github.token not in repr(client)
    for foreign in ("https://evil.example.com/acme/svc.git", f"http://x@{github.url.removeprefix('http://')}/a.git"):
        with pytest.raises(GitHubError, match="Refusing to send the GitHub token"):
            client.git_remote(foreign)
    assert (
        GitHubClient(token="t").git_remote("https://github.com/acme/svc.git").url == "https://github.com/acme/svc.git"
    )


def test_no_token_in_logs(client, github, caplog):
    caplog.set_level("DEBUG")
    github.create_repo("acme", "svc", {"catalog-info.yaml": "a\n"})

    client.check_connection()
    client.list_catalog_files(org="acme")
    with pytest.raises(GitHubError):
        GitHubClient(base_url=github.api_url, token="ghp_wrong_token_value").check_connection()

    assert "GET" in caplog.text  # PyGithub did log the requests, with the token masked
    assert github.token not in caplog.text
    assert "ghp_wrong_token_value" not in caplog.text


def test_config_from_the_environment_and_describe_without_secrets():
    config = load({"GITHUB_TOKEN": "ghp_secret", "GITHUB_ORG": "acme", "GITHUB_URL": "https://github.example.com/"})
    empty = load({})

    assert (config.url, config.org, config.configured) == ("https://github.example.com/api/v3", "acme", True)
    assert (empty.url, empty.configured) == ("https://api.github.com", False)
    assert api_url("https://github.com") == "https://api.github.com"
    assert api_url("https://ghe.internal/api/v3/") == "https://ghe.internal/api/v3"
    described = describe(config)
    assert (described["token"], described["configured"]) == ("set", True)
    assert "ghp_secret" not in str(described)
    assert "ghp_secret" not in repr(config)
    assert describe(empty)["configured"] is False
    assert "GITHUB_TOKEN" in describe(empty)["hint"]
    with pytest.raises(GitHubError, match="not configured"):
        client_from_config(empty)
    assert client_from_config(config).base_url == "https://github.example.com/api/v3"


def test_standin_serves_contents_and_pagination_as_github_does(github):
    """The stand-in itself: the shapes PyGithub relies on (Link pagination under /api/v3, base64 contents)."""
    github.create_repo("acme", "svc", {"docs/index.md": "# Docs\n"})
    for index in range(3):
        github.create_repo("acme", f"r{index}")

    def get(path, token=github.token):
        request = urllib.request.Request(github.api_url + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.load(error)

    status, headers, repos = get("/orgs/acme/repos?per_page=2")
    assert (status, len(repos)) == (200, 2)
    assert f'<{github.api_url}/orgs/acme/repos?per_page=2&page=2>; rel="next"' in headers["Link"]
    assert [entry["type"] for entry in get("/repos/acme/svc/contents/docs")[2]] == ["file"]
    content = get("/repos/acme/svc/contents/docs/index.md")[2]
    assert (content["content"], content["encoding"], content["path"]) == ("IyBEb2NzCg==\n", "base64", "docs/index.md")
    assert get("/repos/acme/r0/contents/x")[2]["message"] == "This repository is empty."
    assert get("/repos/acme/svc/contents/nope")[:1] == (404,)
    assert get("/user", token="nope")[0] == 401
    assert get("/user", token="nope")[2]["message"] == "Bad credentials"
