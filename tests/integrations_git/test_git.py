"""integrations.git against real bare repositories (plain paths and file:// URLs) and the stand-in's smart HTTP."""

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from integrations.git import (
    GitError,
    PushRejectedError,
    RemoteHead,
    clone,
    commit_all,
    diff_files,
    fetch_files,
    init_bare,
    is_safe_url,
    ls_remote_head,
    push,
    push_directory,
    write_files_and_push,
)


def inspect(repo: str | Path, *args: str) -> str:
    """Read a bare repository with plain git, independently of the code under test."""
    result = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=True)
    return result.stdout


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relpath, content in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(content)
    return root


def test_init_bare_is_idempotent_and_an_empty_repository_has_no_head(tmp_path):
    path = init_bare(tmp_path / "repos" / "one.git", default_branch="trunk")

    assert init_bare(path) == path
    assert inspect(path, "symbolic-ref", "HEAD").strip() == "refs/heads/trunk"
    assert ls_remote_head(str(path)) is None


def test_push_directory_pushes_the_tree_once_and_a_retry_changes_nothing(tmp_path, remote, author):
    src = make_tree(tmp_path / "skeleton", {"README.md": "# svc\n", "src/app.py": "print('hi')\n"})

    first = push_directory(src, remote_url=remote, branch="main", message="Initial commit", **author)
    again = push_directory(src, remote_url=f"file://{remote}", branch="main", message="Initial commit", **author)

    assert first.changed is True
    assert again.changed is False
    assert again.sha == first.sha
    assert inspect(remote, "rev-list", "--count", "main").strip() == "1"
    assert inspect(remote, "show", "main:src/app.py") == "print('hi')\n"
    assert inspect(remote, "log", "-1", "--format=%an <%ae> %cn <%ce> %s", "main").strip() == (
        "Portico Bot <portico@example.com> Portico Bot <portico@example.com> Initial commit"
    )
    assert not (src / ".git").exists()
    assert ls_remote_head(remote) == RemoteHead(branch="main", sha=first.sha)


def test_push_directory_refuses_to_overwrite_a_branch_with_other_content(tmp_path, remote, author):
    push_directory(make_tree(tmp_path / "a", {"a.txt": "a"}), remote_url=remote, branch="main", message="a", **author)

    with pytest.raises(GitError, match="already has other content"):
        push_directory(
            make_tree(tmp_path / "b", {"b.txt": "b"}), remote_url=remote, branch="main", message="b", **author
        )


def test_commit_all_commits_changes_and_returns_none_when_nothing_changed(tmp_path, remote, author):
    push_directory(make_tree(tmp_path / "src", {"a.txt": "a"}), remote_url=remote, branch="main", message="a", **author)
    work = clone(remote, tmp_path / "work")

    assert commit_all(work, message="nothing", **author) is None
    (work / "a.txt").write_text("changed")
    (work / "new.txt").write_text("new")
    sha = commit_all(work, message="Change a\n\nwith a body", **author)
    pushed = push(work, remote_url=remote, branch="main")

    assert pushed == sha
    assert inspect(remote, "rev-parse", "main").strip() == sha
    assert inspect(remote, "log", "-1", "--format=%B", "main").strip() == "Change a\n\nwith a body"


def test_push_is_rejected_when_the_remote_moved_on_unless_forced(tmp_path, remote, author):
    push_directory(make_tree(tmp_path / "src", {"a.txt": "a"}), remote_url=remote, branch="main", message="a", **author)
    first, second = clone(remote, tmp_path / "first"), clone(remote, tmp_path / "second")
    (first / "a.txt").write_text("first")
    commit_all(first, message="first", **author)
    push(first, remote_url=remote, branch="main")
    (second / "a.txt").write_text("second")
    commit_all(second, message="second", **author)

    with pytest.raises(PushRejectedError, match="moved on"):
        push(second, remote_url=remote, branch="main")
    push(second, remote_url=remote, branch="main", force=True)
    assert inspect(remote, "show", "main:a.txt") == "second"


def test_write_files_and_push_writes_deletes_and_is_idempotent(tmp_path, remote, author):
    push_directory(
        make_tree(tmp_path / "src", {"keep.txt": "k", "old.txt": "o"}),
        remote_url=remote,
        branch="main",
        message="init",
        **author,
    )
    files = {"apps/svc/deployment.yaml": b"kind: Deployment\n", "old.txt": None}

    first = write_files_and_push(remote, branch="main", files=files, message="Deploy svc", **author)
    again = write_files_and_push(remote, branch="main", files=files, message="Deploy svc", **author)

    assert first.changed is True
    assert again.changed is False
    assert again.sha == first.sha
    assert inspect(remote, "ls-tree", "-r", "--name-only", "main").split() == ["apps/svc/deployment.yaml", "keep.txt"]


def test_write_files_and_push_starts_an_empty_repository_and_branches_from_a_base(remote, author):
    initial = write_files_and_push(remote, branch="main", files={"a.yaml": b"a: 1\n"}, message="first", **author)
    write_files_and_push(
        remote, branch="portico/run-1", base_branch="main", files={"b.yaml": b"b: 2\n"}, message="b", **author
    )
    unchanged = write_files_and_push(
        remote, branch="portico/run-2", base_branch="main", files={"a.yaml": b"a: 1\n"}, message="noop", **author
    )

    assert inspect(remote, "rev-parse", "portico/run-1^").strip() == initial.sha
    assert inspect(remote, "show", "portico/run-1:a.yaml") == "a: 1\n"
    assert unchanged == type(unchanged)(sha=initial.sha, changed=False)
    assert "portico/run-2" not in inspect(remote, "branch", "--list")
    with pytest.raises(GitError, match="base branch 'nope' does not exist"):
        write_files_and_push(remote, branch="x", base_branch="nope", files={"c": b"c"}, message="c", **author)


def test_write_files_and_push_retries_once_when_another_writer_pushes_in_between(github, author):
    github.create_repo("acme", "gitops", {"README.md": "gitops\n"})
    url = f"{github.url}/acme/gitops.git"
    github.before_next_push(lambda: github.commit_files("acme/gitops", {"apps/other.yaml": "other\n"}))

    result = write_files_and_push(
        url, branch="main", files={"apps/svc.yaml": b"svc\n"}, message="svc", token=github.token, **author
    )

    repo = github.repo_path("acme/gitops")
    assert result.changed is True
    assert inspect(repo, "rev-parse", "main").strip() == result.sha
    assert inspect(repo, "ls-tree", "-r", "--name-only", "main").split() == [
        "README.md",
        "apps/other.yaml",
        "apps/svc.yaml",
    ]


def test_diff_files_shows_the_change_and_touches_nothing(tmp_path, remote, author):
    push_directory(
        make_tree(tmp_path / "src", {"a.txt": "one\n", "gone.txt": "x\n"}),
        remote_url=remote,
        branch="main",
        message="init",
        **author,
    )
    refs_before = inspect(remote, "show-ref")

    diff = diff_files(remote, branch="main", files={"a.txt": b"two\n", "gone.txt": None, "new/b.txt": b"b\n"})
    same = diff_files(remote, branch="main", files={"a.txt": b"one\n"})
    new_branch = diff_files(remote, branch="feature", base_branch="main", files={"a.txt": b"three\n"})

    assert "-one\n+two\n" in diff
    assert "deleted file mode" in diff
    assert "--- a/gone.txt" in diff
    assert "+++ b/new/b.txt" in diff
    assert same == ""
    assert "+three" in new_branch
    assert inspect(remote, "show-ref") == refs_before


def test_fetch_files_reads_a_ref_and_removes_the_checkout_afterwards(tmp_path, remote, author):
    src = make_tree(
        tmp_path / "src",
        {"catalog-info.yaml": "kind: Component\n", "docs/index.md": "# Docs\n", "a/b/catalog-info.yaml": "nested\n"},
    )
    first = push_directory(src, remote_url=remote, branch="main", message="init", **author)
    second = write_files_and_push(
        remote, branch="main", files={"catalog-info.yaml": b"kind: API\n"}, message="api", **author
    )

    with fetch_files(remote) as checkout:
        root = checkout.root
        assert checkout.head_sha == second.sha
        assert checkout.read_text("catalog-info.yaml") == "kind: API\n"
        assert checkout.glob("**/catalog-info.yaml") == ["a/b/catalog-info.yaml", "catalog-info.yaml"]
        assert checkout.glob("*.yaml") == ["catalog-info.yaml"]
    with fetch_files(f"file://{remote}", ref=first.sha) as checkout:
        assert checkout.read_text("catalog-info.yaml") == "kind: Component\n"
    with fetch_files(remote, ref="main", paths=["docs"]) as checkout:
        assert checkout.glob("**") == ["docs/index.md"]
        assert not checkout.exists("catalog-info.yaml")

    assert not root.exists()


def test_fetch_files_refuses_paths_and_symlinks_that_leave_the_tree(tmp_path, remote, author):
    src = make_tree(tmp_path / "src", {"catalog-info.yaml": "ok\n", "docs/index.md": "# ok\n"})
    (src / "passwd").symlink_to("/etc/passwd")
    (src / "up").symlink_to("..")
    (src / "docs-link").symlink_to("docs")
    push_directory(src, remote_url=remote, branch="main", message="init", **author)

    with fetch_files(remote) as checkout:
        for bad in (
            "../catalog-info.yaml",
            "/etc/passwd",
            ".git/config",
            "passwd",
            "up/src/catalog-info.yaml",
            "docs/../../x",
        ):
            with pytest.raises(GitError):
                checkout.read_text(bad)
        assert checkout.read_text("docs-link/index.md") == "# ok\n"
        assert "passwd" not in checkout.glob("**")
        with pytest.raises(GitError, match="invalid pattern"):
            checkout.glob("../**")


def test_fetch_files_enforces_size_limits(tmp_path, remote, author):
    src = make_tree(tmp_path / "src", {"big.txt": "x" * 5000, "small.txt": "small"})
    push_directory(src, remote_url=remote, branch="main", message="init", **author)

    with pytest.raises(GitError, match="over the limit"):
        with fetch_files(remote, max_bytes=4000):
            pass
    with fetch_files(remote, paths=["small.txt"], max_bytes=4000) as checkout:
        assert checkout.read_text("small.txt") == "small"
    with fetch_files(remote) as checkout:
        with pytest.raises(GitError, match="larger than the limit"):
            checkout.read_text("big.txt", max_bytes=100)


@pytest.mark.parametrize(
    ("url", "public", "local"),
    [
        ("https://github.com/acme/svc.git", True, True),
        ("ssh://git@github.com/acme/svc.git", True, True),
        ("git@github.com:acme/svc.git", True, True),
        ("http://127.0.0.1:8080/acme/svc.git", False, True),
        ("file:///srv/git/svc.git", False, True),
        ("/srv/git/svc.git", False, True),
        ("https://169.254.169.254/latest/meta-data", False, True),
        ("https://localhost/acme/svc.git", False, True),
        ("ext::sh -c touch% /tmp/pwned", False, False),
        ("fd::17", False, False),
        ("-uxx", False, False),
        ("--upload-pack=touch /tmp/pwned", False, False),
        ("ssh://-oProxyCommand=touch%20x/acme/svc", False, False),
        ("git@-oProxyCommand=x:acme/svc", False, False),
        ("-oProxyCommand=x@host:acme/svc", False, False),
        ("https://user:secret@github.com/acme/svc.git", False, False),
        ("https://x-access-token@github.com/acme/svc.git", False, False),
        ("git://github.com/acme/svc.git", False, False),
        ("file:///srv/../etc", False, False),
        ("relative/path", False, False),
        ("https://github.com/acme/svc.git\n--upload-pack=x", False, False),
        ("", False, False),
    ],
)
def test_is_safe_url(url, public, local):
    assert is_safe_url(url, allow_local=False) is public
    assert is_safe_url(url, allow_local=True) is local


def test_unsafe_urls_are_refused_before_git_runs(tmp_path):
    marker = tmp_path / "pwned"

    for url in (f"ext::sh -c touch% {marker}", f"--upload-pack=touch {marker}"):
        with pytest.raises(GitError, match="refusing the git URL"):
            ls_remote_head(url)
        with pytest.raises(GitError, match="refusing the git URL"):
            clone(url, tmp_path / "dest")
    assert not marker.exists()


def test_invalid_refs_branches_and_identities_are_refused(remote, author):
    with pytest.raises(GitError, match="invalid branch"):
        write_files_and_push(remote, branch="--force", files={"a": b"a"}, message="m", **author)
    with pytest.raises(GitError, match="invalid branch"):
        with fetch_files(remote, ref="main:refs/heads/evil"):
            pass
    with pytest.raises(GitError, match="invalid author"):
        write_files_and_push(
            remote, branch="main", files={"a": b"a"}, message="m", author_name="x", author_email="a>\nb"
        )
    with pytest.raises(GitError, match="leaves the repository"):
        write_files_and_push(remote, branch="main", files={"../escape": b"a"}, message="m", **author)


def test_errors_are_readable_and_trimmed(tmp_path):
    with pytest.raises(GitError) as caught:
        ls_remote_head(str(tmp_path / "missing.git"))

    message = str(caught.value)
    assert message.startswith(f"git ls-remote for {tmp_path / 'missing.git'} failed")
    assert "does not appear to be a git repository" in message
    assert "hint:" not in message


def test_fetching_a_missing_ref_or_an_empty_repository_says_so(remote, author):
    with pytest.raises(GitError, match="no such branch, tag or commit"):
        with fetch_files(remote):
            pass
    write_files_and_push(remote, branch="main", files={"a": b"a"}, message="a", **author)
    with pytest.raises(GitError, match="no such branch, tag or commit"):
        with fetch_files(remote, ref="v9.9"):
            pass


def test_a_remote_that_never_answers_times_out(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        with pytest.raises(GitError, match=r"timed out after 0.5s"):
            ls_remote_head(f"http://127.0.0.1:{server.getsockname()[1]}/acme/svc.git", timeout=0.5)
    finally:
        server.close()


def test_the_token_reaches_the_server_but_never_argv_config_logs_or_errors(
    tmp_path, github, author, monkeypatch, caplog
):
    """A git wrapper on PATH records every command line git is started with; the token must not be in one."""
    argv_log = tmp_path / "argv.log"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{argv_log}"\nexec {real_git} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    caplog.set_level("DEBUG")
    github.create_repo("acme", "svc", {"catalog-info.yaml": "kind: Component\n"})
    url = f"{github.url}/acme/svc.git"

    work = clone(url, tmp_path / "work", token=github.token)
    write_files_and_push(url, branch="main", files={"a.txt": b"a"}, message="a", token=github.token, **author)
    with fetch_files(url, token=github.token) as checkout:
        assert checkout.read_text("a.txt") == "a"
    with pytest.raises(GitError) as wrong:
        ls_remote_head(url, token="ghp_wrongwrongwrong")
    with pytest.raises(GitError) as missing:
        ls_remote_head(url)

    assert "credentials" in str(wrong.value)
    assert "ghp_wrongwrongwrong" not in str(wrong.value)
    assert "credentials" in str(missing.value)
    assert github.token not in (work / ".git" / "config").read_text()
    assert url in (work / ".git" / "config").read_text()
    assert argv_log.read_text().count("\n") > 5
    assert github.token not in argv_log.read_text()
    assert github.token not in caplog.text
    assert not any(github.token in line for line in github.request_log)
