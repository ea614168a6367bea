"""The HTTP and git side of the GitHub stand-in (tests/standins/github.py holds the REST API itself).

- BareRepo: a real bare repository, read with git plumbing the way GitHub's API reads it.
- http_backend: git smart HTTP through `git http-backend` (the CGI program git ships), so clients clone and push
  exactly as they would to GitHub.
- make_handler: the HTTP request handler: token checks, rate limiting, Link pagination, then the REST handlers for
  /api/v3/... and git for /{owner}/{repo}.git/...

Deliberately independent of integrations.git: the stand-in must not share the code it is testing.
"""

import base64
import json
import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from tests.standins.github import GitHubStandin

DOCS = "https://docs.github.com/rest"
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


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def make_handler(standin: "GitHubStandin") -> type[BaseHTTPRequestHandler]:
    """The request handler class of one stand-in: /api/v3/... goes to its REST handlers, the rest is git."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes; no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            """Quiet: tests read counts, not access logs."""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = self._body()
            standin.request_log.append(f"{method} {self.path}")
            if parts.path.startswith("/api/v3/"):
                self._api(method, parts.path.removeprefix("/api/v3"), parse_qs(parts.query), body)
            else:
                self._git(method, parts.path, parts.query, body)

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _api(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            reset = standin.rate_limited_until or int(time.time()) + 3600
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "X-GitHub-Media-Type": "github.v3; format=json",
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0" if standin.rate_limited_until else "4999",
                "X-RateLimit-Used": "5000" if standin.rate_limited_until else "1",
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Resource": "core",
            }
            try:
                self._authenticate()
                headers["X-OAuth-Scopes"] = "repo, read:org, workflow"
                if standin.rate_limited_until:
                    message = (
                        "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please "
                        "include the request ID 0000:1111:2222 and timestamp 2024-01-01 00:00:00 UTC."
                    )
                    doc = f"{DOCS}/overview/rate-limits-for-the-rest-api"
                    raise ApiError(403, {"message": message, "documentation_url": doc, "status": "403"})
                body = json.loads(raw) if raw else {}
                status, data = standin.handle_api(method, path.rstrip("/") or "/", query, body)
                if isinstance(data, list):
                    data = self._paginate(path, query, data, headers)
                elif isinstance(data, dict) and "workflow_runs" in data:
                    data["workflow_runs"] = self._paginate(path, query, data["workflow_runs"], headers)
            except ApiError as error:
                status, data = error.status, error.body
                headers.update(error.headers)
            except json.JSONDecodeError:
                status, data = 400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"}
            self._send(status, json.dumps(data).encode(), headers)

        def _authenticate(self) -> None:
            scheme, _, value = self.headers.get("Authorization", "").partition(" ")
            if not value:
                raise ApiError(401, {"message": "Requires authentication", "documentation_url": DOCS, "status": "401"})
            if scheme.lower() not in ("token", "bearer") or value.strip() != standin.token:
                raise ApiError(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})

        def _paginate(self, path: str, query: dict[str, list[str]], items: list, headers: dict[str, str]) -> list:
            per_page = max(1, min(100, int(query.get("per_page", ["30"])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
            last = max(1, -(-len(items) // per_page))
            links = []

            def link(number: int, rel: str) -> str:
                params = {key: values[0] for key, values in query.items()} | {"per_page": per_page, "page": number}
                return f'<{standin.api_url}{path}?{urlencode(params)}>; rel="{rel}"'

            if page > 1:
                links += [link(page - 1, "prev"), link(1, "first")]
            if page < last:
                links += [link(page + 1, "next"), link(last, "last")]
            if links:
                headers["Link"] = ", ".join(links)
            return items[(page - 1) * per_page : page * per_page]

        def _git(self, method: str, path: str, query: str, body: bytes) -> None:
            match = re.match(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)\.git/(?P<service>.+)$", path)
            service = match["service"] if match else ""
            repo = standin._repos.get(f"{match['owner']}/{match['repo']}".lower()) if match else None
            if repo is None or repo.hidden or service not in GIT_SERVICES:
                self._send(404, b"Repository not found.\n", {"Content-Type": "text/plain"})
                return
            pushing = service == "git-receive-pack" or "service=git-receive-pack" in query
            standin.calls[f"{method} /{{owner}}/{{repo}}.git/{service}"] += 1
            if (repo.private or pushing) and not self._git_token_ok():
                challenge = {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="GitHub"'}
                self._send(401, b"Invalid username or token.\n", challenge)
                return
            if pushing and service == "info/refs" and standin._before_next_push:
                standin._before_next_push.pop(0)()
            if pushing and repo.archived:
                message = b"This repository was archived so it is read-only.\n"
                self._send(403, message, {"Content-Type": "text/plain"})
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, out_headers, payload = http_backend(
                repo=repo.repo, service_path=service, method=method, query=query, headers=headers, body=body
            )
            self._send(status, payload, dict(out_headers))

        def _git_token_ok(self) -> bool:
            scheme, _, value = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                _user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return secrets.compare_digest(password, standin.token)

    return Handler
