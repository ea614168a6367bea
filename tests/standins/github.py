"""A GitHub stand-in: the REST API endpoints Portico's GitHub client calls, under /api/v3 as on GitHub Enterprise,
plus git smart HTTP at /{owner}/{repo}.git backed by real bare repositories.

Shapes, status codes and error bodies follow GitHub's REST documentation (see /work/shared/contracts/README.md).
Each repository is a real bare repository in a temp dir: `clone_url` is http://127.0.0.1:PORT/{owner}/{repo}.git,
served by `git http-backend` behind the same token check GitHub does (Basic auth, the token as password; reads of
public repositories need no token, pushes always do; archived repositories refuse pushes). default_branch and
contents are read from the bare repository, so what a client pushed is what the API shows.

    with GitHubStandin(orgs=("acme",)) as github:
        client = GitHubClient(base_url=github.api_url, token=github.token)
        github.create_repo("acme", "payments", files={"catalog-info.yaml": b"..."})
        github.count("GET", "/repos/{owner}/{repo}")
"""

import base64
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlencode

from tests.standins._git_http import DOCS, ApiError, BareRepo, make_handler

_TOPIC = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
_ROUTES = [
    ("GET", "/user"),
    ("GET", "/user/repos"),
    ("POST", "/user/repos"),
    ("GET", "/orgs/{org}"),
    ("GET", "/orgs/{org}/repos"),
    ("POST", "/orgs/{org}/repos"),
    ("GET", "/repos/{owner}/{repo}"),
    ("PATCH", "/repos/{owner}/{repo}"),
    ("PUT", "/repos/{owner}/{repo}/topics"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/actions/runs"),
]


def _route_regex(template: str) -> re.Pattern[str]:
    pattern = re.escape(template).replace(r"\{path\}", "(?P<path>.*)")
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern) + "$")


_COMPILED = [(method, template, _route_regex(template)) for method, template in _ROUTES]
_CONTENTS_ROOT = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/contents/?$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(doc: str = DOCS) -> ApiError:
    return ApiError(404, {"message": "Not Found", "documentation_url": doc, "status": "404"})


def _validation(resource: str, field_name: str, code: str = "invalid", message: str | None = None) -> ApiError:
    error = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return ApiError(
        422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS, "status": "422"}
    )


def _creation_failed(error: dict, doc: str) -> ApiError:
    body = {"message": "Repository creation failed.", "errors": [error], "documentation_url": doc, "status": "422"}
    return ApiError(422, body)


@dataclass
class StandinRepo:
    id: int
    owner: str
    name: str
    private: bool
    description: str
    repo: BareRepo
    created_at: str = field(default_factory=_now)
    archived: bool = False
    hidden: bool = False  # exists (the name is taken) but this token cannot see it
    topics: list[str] = field(default_factory=list)
    pulls: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubStandin:
    def __init__(self, *, token: str | None = None, login: str = "portico-bot", orgs: tuple[str, ...] = ("acme",)):
        self.token = token or "ghp_" + secrets.token_hex(18)
        self.login = login
        self.orgs = {org.lower(): org for org in orgs}
        self.calls: Counter[str] = Counter()
        self.request_log: list[str] = []
        self.rate_limited_until: int | None = None
        self._before_next_push: list[Callable[[], object]] = []
        self._repos: dict[str, StandinRepo] = {}
        self._next_id = 1000
        self._lock = threading.RLock()
        self._dir = Path(tempfile.mkdtemp(prefix="github-standin-"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = self.url + "/api/v3"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # lifecycle
    def start(self) -> "GitHubStandin":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "GitHubStandin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers for tests
    def create_repo(
        self,
        owner: str,
        name: str,
        files: dict[str, bytes | str] | None = None,
        *,
        private: bool = True,
        default_branch: str = "main",
        archived: bool = False,
        hidden: bool = False,
        description: str = "",
    ) -> StandinRepo:
        with self._lock:
            if owner.lower() != self.login.lower():
                self.orgs.setdefault(owner.lower(), owner)
            key = f"{owner}/{name}".lower()
            if key in self._repos:
                raise ValueError(f"{owner}/{name} exists")
            self._next_id += 1
            path = self._dir / owner.lower() / f"{name.lower()}.git"
            repo = StandinRepo(
                id=self._next_id,
                owner=owner,
                name=name,
                private=private,
                description=description,
                repo=BareRepo.create(path, default_branch=default_branch),
                archived=archived,
                hidden=hidden,
            )
            self._repos[key] = repo
        if files:
            encoded = {path: (data.encode() if isinstance(data, str) else data) for path, data in files.items()}
            repo.repo.commit_files(default_branch, encoded)
        return repo

    def commit_files(self, full_name: str, files: dict[str, bytes | str], *, branch: str | None = None) -> str:
        """Someone else pushes to the repository (to test races and refreshes)."""
        repo = self._get(full_name)
        encoded = {path: (data.encode() if isinstance(data, str) else data) for path, data in files.items()}
        return repo.repo.commit_files(branch or repo.repo.default_branch(), encoded, message="Commit by someone else")

    def repo_path(self, full_name: str) -> Path:
        return self._get(full_name).repo.path

    def get(self, full_name: str) -> StandinRepo:
        return self._get(full_name)

    def set_rate_limited(self, limited: bool, *, reset_in: int = 3600) -> None:
        self.rate_limited_until = int(time.time()) + reset_in if limited else None

    def add_workflow_run(
        self,
        full_name: str,
        *,
        name: str = "CI",
        status: str = "completed",
        conclusion: str | None = "success",
        branch: str = "main",
        event: str = "push",
    ) -> dict:
        repo = self._get(full_name)
        with self._lock:
            self._next_id += 1
            run_id = self._next_id
            sha = repo.repo.branches().get(branch, "0" * 40)
            run = {
                "id": run_id,
                "node_id": f"WFR_{run_id}",
                "name": name,
                "display_title": f"{name} on {branch}",
                "head_branch": branch,
                "head_sha": sha,
                "path": ".github/workflows/ci.yml",
                "run_number": len(repo.runs) + 1,
                "run_attempt": 1,
                "event": event,
                "status": status,
                "conclusion": conclusion,
                "workflow_id": 1,
                "url": f"{self.api_url}/repos/{repo.full_name}/actions/runs/{run_id}",
                "html_url": f"{self.url}/{repo.full_name}/actions/runs/{run_id}",
                "created_at": _now(),
                "updated_at": _now(),
                "run_started_at": _now(),
                "jobs_url": f"{self.api_url}/repos/{repo.full_name}/actions/runs/{run_id}/jobs",
                "logs_url": f"{self.api_url}/repos/{repo.full_name}/actions/runs/{run_id}/logs",
                "repository": self._repo_summary(repo),
            }
            repo.runs.insert(0, run)  # newest first, as GitHub lists them
        return run

    def before_next_push(self, callback: Callable[[], object]) -> None:
        """Run callback when the next push starts (before refs are advertised): another writer racing us."""
        self._before_next_push.append(callback)

    def close_pull(self, full_name: str, number: int) -> None:
        for pull in self._get(full_name).pulls:
            if pull["number"] == number:
                pull["state"], pull["closed_at"] = "closed", _now()

    def count(self, method: str, template: str) -> int:
        return self.calls[f"{method} {template}"]

    def reset_counts(self) -> None:
        self.calls.clear()
        self.request_log.clear()

    # lookups
    def _get(self, full_name: str) -> StandinRepo:
        repo = self._repos.get(full_name.lower())
        if repo is None:
            raise KeyError(full_name)
        return repo

    def _visible(self, owner: str, name: str) -> StandinRepo:
        repo = self._repos.get(f"{owner}/{name}".lower())
        if repo is None or repo.hidden:
            raise _not_found(f"{DOCS}/repos/repos#get-a-repository")
        return repo

    # JSON shapes
    def _user(self) -> dict:
        return {
            "login": self.login,
            "id": 1,
            "node_id": "U_1",
            "type": "User",
            "site_admin": False,
            "name": "Portico Bot",
            "url": f"{self.api_url}/users/{self.login}",
            "html_url": f"{self.url}/{self.login}",
            "repos_url": f"{self.api_url}/users/{self.login}/repos",
            "avatar_url": f"{self.url}/avatars/{self.login}",
        }

    def _owner(self, login: str) -> dict:
        if login.lower() == self.login.lower():
            return {key: value for key, value in self._user().items() if key != "name"}
        return {
            "login": login,
            "id": 2 + sorted(self.orgs).index(login.lower()),
            "node_id": f"O_{login}",
            "type": "Organization",
            "site_admin": False,
            "url": f"{self.api_url}/orgs/{login}",
            "html_url": f"{self.url}/{login}",
            "repos_url": f"{self.api_url}/orgs/{login}/repos",
            "avatar_url": f"{self.url}/avatars/{login}",
        }

    def _repo_summary(self, repo: StandinRepo) -> dict:
        return {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "url": f"{self.api_url}/repos/{repo.full_name}",
            "html_url": f"{self.url}/{repo.full_name}",
        }

    def _repo_json(self, repo: StandinRepo) -> dict:
        api = f"{self.api_url}/repos/{repo.full_name}"
        branches = repo.repo.branches()
        empty = not branches
        host = self.url.removeprefix("http://")
        return {
            **self._repo_summary(repo),
            "node_id": f"R_{repo.id}",
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "owner": self._owner(repo.owner),
            "description": repo.description or None,
            "fork": False,
            "clone_url": f"{self.url}/{repo.full_name}.git",
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
            "default_branch": repo.repo.default_branch(branches),
            "archived": repo.archived,
            "disabled": False,
            "is_template": False,
            "topics": list(repo.topics),
            "size": 0 if empty else 1,
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "pushed_at": None if empty else repo.created_at,
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
            "contents_url": api + "/contents/{+path}",
            "pulls_url": api + "/pulls{/number}",
            "hooks_url": api + "/hooks",
            "branches_url": api + "/branches{/branch}",
        }

    def _pull_json(self, repo: StandinRepo, pull: dict) -> dict:
        branches = repo.repo.branches()
        api = f"{self.api_url}/repos/{repo.full_name}/pulls/{pull['number']}"
        return {
            **pull,
            "url": api,
            "html_url": f"{self.url}/{repo.full_name}/pull/{pull['number']}",
            "diff_url": f"{self.url}/{repo.full_name}/pull/{pull['number']}.diff",
            "commits_url": api + "/commits",
            "user": self._owner(self.login),
            "head": {
                "label": f"{repo.owner}:{pull['head_ref']}",
                "ref": pull["head_ref"],
                "sha": branches.get(pull["head_ref"], pull["head_sha"]),
                "repo": self._repo_summary(repo),
                "user": self._owner(repo.owner),
            },
            "base": {
                "label": f"{repo.owner}:{pull['base_ref']}",
                "ref": pull["base_ref"],
                "sha": branches.get(pull["base_ref"], ""),
                "repo": self._repo_summary(repo),
                "user": self._owner(repo.owner),
            },
        }

    # API handlers: each returns (status, body) or raises ApiError
    def handle_api(self, method: str, path: str, query: dict[str, list[str]], body: dict) -> tuple[int, object]:
        with self._lock:
            contents_root = _CONTENTS_ROOT.match(path)
            if method == "GET" and contents_root:
                self.calls["GET /repos/{owner}/{repo}/contents/{path}"] += 1
                return self._get_contents(contents_root["owner"], contents_root["repo"], "", query)
            for route_method, template, regex in _COMPILED:
                match = regex.match(path)
                if match and route_method == method:
                    self.calls[f"{method} {template}"] += 1
                    params = {key: unquote(value) for key, value in match.groupdict().items()}
                    return getattr(self, "_" + _handler_name(method, template))(query=query, body=body, **params)
            self.calls[f"{method} (unknown)"] += 1
            raise _not_found()

    def _get_user(self, **_: object) -> tuple[int, object]:
        return 200, self._user()

    def _get_orgs_org(self, *, org: str, **_: object) -> tuple[int, object]:
        if org.lower() not in self.orgs:
            raise _not_found(f"{DOCS}/orgs/orgs#get-an-organization")
        login = self.orgs[org.lower()]
        return 200, {**self._owner(login), "name": login.title(), "description": None}

    def _post_user_repos(self, *, body: dict, **_: object) -> tuple[int, object]:
        return self._create(self.login, body, f"{DOCS}/repos/repos#create-a-repository-for-the-authenticated-user")

    def _post_orgs_org_repos(self, *, org: str, body: dict, **_: object) -> tuple[int, object]:
        if org.lower() not in self.orgs:
            raise _not_found(f"{DOCS}/repos/repos#create-an-organization-repository")
        return self._create(self.orgs[org.lower()], body, f"{DOCS}/repos/repos#create-an-organization-repository")

    def _create(self, owner: str, body: dict, doc: str) -> tuple[int, object]:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise _creation_failed({"resource": "Repository", "code": "missing_field", "field": "name"}, doc)
        name = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:100]  # GitHub turns other characters into hyphens
        if name in (".", "..") or f"{owner}/{name}".lower() in self._repos:
            taken = {"message": "name already exists on this account"}
            raise _creation_failed({"resource": "Repository", "code": "custom", "field": "name", **taken}, doc)
        private = body.get("private", body.get("visibility", "public") != "public")
        files = {"README.md": f"# {name}\n\n{body.get('description') or ''}\n"} if body.get("auto_init") else None
        repo = self.create_repo(owner, name, files, private=bool(private), description=body.get("description") or "")
        return 201, self._repo_json(repo)

    def _get_repos_owner_repo(self, *, owner: str, repo: str, **_: object) -> tuple[int, object]:
        return 200, {**self._repo_json(self._visible(owner, repo)), "subscribers_count": 0}

    def _patch_repos_owner_repo(self, *, owner: str, repo: str, body: dict, **_: object) -> tuple[int, object]:
        found = self._visible(owner, repo)
        if found.archived and body.get("archived") is not False:
            raise ApiError(403, {"message": "Repository was archived so is read-only.", "documentation_url": DOCS})
        if "default_branch" in body:
            if body["default_branch"] not in found.repo.branches():
                raise _validation("Repository", "default_branch")
            found.repo.set_default_branch(body["default_branch"])
        if "description" in body:
            found.description = body["description"] or ""
        if "private" in body:
            found.private = bool(body["private"])
        if "archived" in body:
            found.archived = bool(body["archived"])
        return 200, self._repo_json(found)

    def _put_repos_owner_repo_topics(self, *, owner: str, repo: str, body: dict, **_: object) -> tuple[int, object]:
        found = self._visible(owner, repo)
        if found.archived:
            raise ApiError(403, {"message": "Repository was archived so is read-only.", "documentation_url": DOCS})
        names = body.get("names")
        if not isinstance(names, list) or len(names) > 20 or not all(_TOPIC.match(str(n)) for n in names):
            raise _validation(
                "Repository",
                "names",
                message="Topics must start with a lowercase letter or number, consist of 50 characters or less, "
                "and can include hyphens.",
            )
        found.topics = list(dict.fromkeys(names))
        return 200, {"names": found.topics}

    def _get_repos_owner_repo_contents_path(
        self, *, owner: str, repo: str, path: str, query, **_
    ) -> tuple[int, object]:
        return self._get_contents(owner, repo, path, query)

    def _get_contents(self, owner: str, repo: str, path: str, query: dict[str, list[str]]) -> tuple[int, object]:
        found = self._visible(owner, repo)
        doc = f"{DOCS}/repos/contents#get-repository-content"
        if found.repo.is_empty():
            raise ApiError(404, {"message": "This repository is empty.", "documentation_url": doc, "status": "404"})
        ref = query.get("ref", [found.repo.default_branch()])[0]
        commit = found.repo.resolve(ref)
        if commit is None:
            raise ApiError(404, {"message": f"No commit found for the ref {ref}", "documentation_url": doc})
        path = path.strip("/")
        if ".." in path.split("/"):
            raise _not_found(doc)
        entry, children = found.repo.entries(commit, path)
        if entry is None:
            raise _not_found(doc)
        if entry.kind == "tree":
            return 200, [self._content_json(found, child, ref, with_content=False) for child in children]
        return 200, self._content_json(found, entry, ref, with_content=True)

    def _content_json(self, repo: StandinRepo, entry, ref: str, *, with_content: bool) -> dict:
        kind = {"tree": "dir", "commit": "submodule"}.get(entry.kind, "symlink" if entry.mode == "120000" else "file")
        api = f"{self.api_url}/repos/{repo.full_name}"
        data = {
            "type": kind,
            "name": entry.path.rsplit("/", 1)[-1],
            "path": entry.path,
            "sha": entry.sha,
            "size": entry.size,
            "url": f"{api}/contents/{entry.path}?{urlencode({'ref': ref})}",
            "html_url": f"{self.url}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{entry.path}",
            "git_url": f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}",
            "download_url": f"{self.url}/raw/{repo.full_name}/{ref}/{entry.path}" if kind == "file" else None,
        }
        data["_links"] = {"self": data["url"], "git": data["git_url"], "html": data["html_url"]}
        if with_content and kind == "file":
            if entry.size > 1024 * 1024:  # GitHub sends files of 1-100 MB without content
                data.update(content="", encoding="none")
            else:
                encoded = base64.b64encode(repo.repo.read_blob(entry.sha)).decode()
                lines = [encoded[index : index + 60] for index in range(0, len(encoded), 60)]
                data.update(content="\n".join(lines) + "\n", encoding="base64")
        elif with_content and kind == "symlink":
            data["target"] = repo.repo.read_blob(entry.sha).decode("utf-8", "replace")
        return data

    def _get_user_repos(self, *, query: dict[str, list[str]], **_: object) -> tuple[int, object]:
        repos = [repo for repo in self._repos.values() if not repo.hidden]
        return self._repo_page(repos, query, default_sort="full_name")

    def _get_orgs_org_repos(self, *, org: str, query: dict[str, list[str]], **_: object) -> tuple[int, object]:
        if org.lower() not in self.orgs:
            raise _not_found(f"{DOCS}/repos/repos#list-organization-repositories")
        repos = [r for r in self._repos.values() if r.owner.lower() == org.lower() and not r.hidden]
        kind = query.get("type", ["all"])[0]
        if kind in ("public", "private"):
            repos = [r for r in repos if r.private == (kind == "private")]
        return self._repo_page(repos, query, default_sort="created")

    def _repo_page(self, repos: list[StandinRepo], query, *, default_sort: str) -> tuple[int, object]:
        sort = query.get("sort", [default_sort])[0]
        direction = query.get("direction", ["asc" if sort == "full_name" else "desc"])[0]
        key = (lambda r: r.full_name.lower()) if sort == "full_name" else (lambda r: (r.created_at, r.id))
        repos = sorted(repos, key=key, reverse=direction == "desc")
        return 200, [self._repo_json(repo) for repo in repos]

    def _get_repos_owner_repo_pulls(self, *, owner: str, repo: str, query, **_: object) -> tuple[int, object]:
        found = self._visible(owner, repo)
        state = query.get("state", ["open"])[0]
        pulls = [p for p in found.pulls if state == "all" or p["state"] == state]
        if "head" in query:
            head_owner, _, head_ref = query["head"][0].rpartition(":")
            pulls = [p for p in pulls if p["head_ref"] == head_ref and head_owner.lower() in ("", found.owner.lower())]
        if "base" in query:
            pulls = [p for p in pulls if p["base_ref"] == query["base"][0]]
        pulls = sorted(pulls, key=lambda p: p["number"], reverse=query.get("direction", ["desc"])[0] == "desc")
        return 200, [self._pull_json(found, pull) for pull in pulls]

    def _post_repos_owner_repo_pulls(self, *, owner: str, repo: str, body: dict, **_: object) -> tuple[int, object]:
        found = self._visible(owner, repo)
        if found.archived:
            raise ApiError(403, {"message": "Repository was archived so is read-only.", "documentation_url": DOCS})
        if not body.get("title"):
            raise _validation("PullRequest", "title", code="missing_field")
        head_owner, _, head_ref = str(body.get("head", "")).rpartition(":")
        base_ref = str(body.get("base", ""))
        branches = found.repo.branches()
        if base_ref not in branches:
            raise _validation("PullRequest", "base")
        if head_ref not in branches or head_owner.lower() not in ("", found.owner.lower()):
            raise _validation("PullRequest", "head")
        for pull in found.pulls:
            if pull["state"] == "open" and pull["head_ref"] == head_ref and pull["base_ref"] == base_ref:
                message = f"A pull request already exists for {found.owner}:{head_ref}."
                raise _validation("PullRequest", "head", code="custom", message=message)
        if found.repo.commits_between(branches[base_ref], branches[head_ref]) == 0:
            message = f"No commits between {base_ref} and {head_ref}"
            raise _validation("PullRequest", "head", code="custom", message=message)
        number = len(found.pulls) + 1
        pull = {
            "id": 50_000 + number,
            "node_id": f"PR_{found.id}_{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": body["title"],
            "body": body.get("body"),
            "draft": bool(body.get("draft", False)),
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "merged_at": None,
            "head_ref": head_ref,
            "base_ref": base_ref,
            "head_sha": branches[head_ref],
        }
        found.pulls.append(pull)
        return 201, self._pull_json(found, pull)

    def _get_repos_owner_repo_actions_runs(self, *, owner: str, repo: str, query, **_: object) -> tuple[int, object]:
        runs = self._visible(owner, repo).runs
        if "branch" in query:
            runs = [run for run in runs if run["head_branch"] == query["branch"][0]]
        if "event" in query:
            runs = [run for run in runs if run["event"] == query["event"][0]]
        if "status" in query:  # GitHub's status filter takes a status or a conclusion
            runs = [run for run in runs if query["status"][0] in (run["status"], run["conclusion"])]
        return 200, {"total_count": len(runs), "workflow_runs": runs}


def _handler_name(method: str, template: str) -> str:
    return (method + template).lower().replace("/", "_").replace("{", "").replace("}", "")
