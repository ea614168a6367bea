"""The git side of the GitHub stand-in: real bare repositories, read with git plumbing and served over smart HTTP
through `git http-backend` (the CGI program git ships), so clients clone and push exactly as they would to GitHub.

Deliberately independent of integrations.git: the stand-in must not share the code it is testing.
"""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_TIMEOUT = 30
_ENV = {
    **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "GitHub Stand-in",
    "GIT_AUTHOR_EMAIL": "standin@example.invalid",
    "GIT_COMMITTER_NAME": "GitHub Stand-in",
    "GIT_COMMITTER_EMAIL": "standin@example.invalid",
    "LC_ALL": "C",
}
GIT_SERVICES = ("info/refs", "git-upload-pack", "git-receive-pack")


def _git(
    repo: Path, *args: str, stdin: bytes | None = None, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - fixed argument lists
        ["git", f"--git-dir={repo}", *args],
        input=stdin,
        capture_output=True,
        env={**_ENV, **(env or {})},
        timeout=_TIMEOUT,
        check=check,
    )


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # blob, tree or commit (a submodule)
    sha: str
    size: int
    path: str


class BareRepo:
    """One bare repository on disk, read the way GitHub's API reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, *, default_branch: str) -> "BareRepo":
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            ["git", "init", "--quiet", "--bare", "--template=", f"--initial-branch={default_branch}", str(path)],
            env=_ENV,
            check=True,
            timeout=_TIMEOUT,
        )
        # Let http-backend accept pushes without a REMOTE_USER check of its own: the stand-in checks the token.
        with (path / "config").open("a") as config:
            config.write("[http]\n\treceivepack = true\n")
        return cls(path)

    def branches(self) -> dict[str, str]:
        """{branch: sha}, oldest commit first."""
        out = _git(self.path, "for-each-ref", "--sort=committerdate", "--format=%(refname:short) %(objectname)")
        return dict(line.split(" ", 1) for line in out.stdout.decode().splitlines())

    def is_empty(self) -> bool:
        return not self.branches()

    def default_branch(self, branches: dict[str, str] | None = None) -> str:
        """HEAD's branch; once the first branch is pushed to an empty repository it becomes the default (as on
        GitHub), even when it is not the branch HEAD named at creation."""
        head = (self.path / "HEAD").read_text().strip().removeprefix("ref: refs/heads/")
        branches = self.branches() if branches is None else branches
        if branches and head not in branches:
            head = next(iter(branches))
            self.set_default_branch(head)
        return head

    def set_default_branch(self, branch: str) -> None:
        _git(self.path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")

    def resolve(self, ref: str) -> str | None:
        """The commit a branch, tag or sha names (git's own lookup order), or None."""
        if not ref or ref.startswith("-") or ".." in ref:
            return None
        out = _git(self.path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        return out.stdout.decode().strip() if out.returncode == 0 else None

    def entries(self, commit: str, path: str) -> tuple[TreeEntry | None, list[TreeEntry]]:
        """(the entry at path, and its children when it is a directory); (None, []) when missing."""
        if not path:
            return TreeEntry("040000", "tree", commit, 0, ""), self._ls(commit, "")
        found = self._ls(commit, path)
        if not found or found[0].path != path:
            return None, []
        entry = found[0]
        return entry, (self._ls(commit, path + "/") if entry.kind == "tree" else [])

    def _ls(self, commit: str, path: str) -> list[TreeEntry]:
        args = ["ls-tree", "-z", "-l", "--full-tree", commit]
        out = _git(self.path, *args, *(["--", path] if path else []), check=False)
        entries = []
        for record in filter(None, out.stdout.decode("utf-8", "replace").split("\0")):
            meta, _, name = record.partition("\t")
            mode, kind, sha, size = meta.split(maxsplit=3)
            entries.append(TreeEntry(mode, kind, sha, 0 if size == "-" else int(size), name))
        return entries

    def read_blob(self, sha: str) -> bytes:
        return _git(self.path, "cat-file", "blob", sha).stdout

    def commits_between(self, base: str, head: str) -> int:
        return int(_git(self.path, "rev-list", "--count", f"{base}..{head}").stdout.decode().strip())

    def commit_files(self, branch: str, files: dict[str, bytes], *, message: str = "Initial commit") -> str:
        """Commit files on top of branch, keeping the files already there; a new branch starts from the default
        branch (or as the first commit of an empty repository). One git fast-import, no working tree."""
        branches = self.branches()
        parent = branches.get(branch) or (branches.get(self.default_branch(branches)) if branches else None)
        stream = [b"commit refs/heads/" + branch.encode(), b"committer GitHub Stand-in <standin@example.invalid> "]
        stream[-1] += f"{int(time.time())} +0000".encode()
        stream += [f"data {len(message.encode())}".encode(), message.encode()]
        if parent:
            stream.append(f"from {parent}".encode())
        for relpath, content in files.items():
            stream += [f"M 100644 inline {relpath}".encode(), f"data {len(content)}".encode(), content]
        _git(self.path, "fast-import", "--quiet", "--force", stdin=b"\n".join(stream) + b"\n")
        return _git(self.path, "rev-parse", f"refs/heads/{branch}").stdout.decode().strip()


def http_backend(
    *, repo: BareRepo, service_path: str, method: str, query: str, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run git http-backend for one request to repo and return (status, headers, body)."""
    env = {
        **_ENV,
        "GIT_PROJECT_ROOT": str(repo.path.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo.path.name}/{service_path}",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": "standin",
        "REMOTE_ADDR": "127.0.0.1",
    }
    if headers.get("git-protocol"):
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    if headers.get("content-encoding"):
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    result = subprocess.run(  # noqa: S603
        ["git", "http-backend"], input=body, capture_output=True, env=env, timeout=_TIMEOUT, check=False
    )
    head, _, payload = result.stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = result.stdout.partition(b"\n\n")
    status, response_headers = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            response_headers.append((name.strip(), value.strip()))
    return status, response_headers, payload
