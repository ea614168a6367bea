"""GitHub through PyGithub 2.x: typed results, one GitHubError with a message a person can act on, idempotent writes.

Writes are safe to repeat, because a retried action run must neither fail nor duplicate: creating a repository
that exists returns it (created=False), opening a pull request for a branch that has one returns that one.
The token stays inside the client: it is not logged (PyGithub masks it), not put in URLs, and handed to git only
through `git_remote()` for the git integration to send as a header.
"""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice  # not PaginatedList slicing, which fails on an empty first page
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.ContentFile import ContentFile
from github.GithubException import BadCredentialsException, RateLimitExceededException
from github.PullRequest import PullRequest as GhPullRequest
from github.Repository import Repository as GhRepository
from github.WorkflowRun import WorkflowRun as GhWorkflowRun
from urllib3.response import BaseHTTPResponse

logger = logging.getLogger("integrations.github")

DEFAULT_BASE_URL = "https://api.github.com"
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class GitHubError(Exception):
    """A GitHub call failed. status is the HTTP status (None when GitHub was not reached or the input was refused)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Repository:
    full_name: str
    html_url: str
    clone_url: str
    default_branch: str
    created: bool = False  # True only when this call created it
    private: bool = True
    archived: bool = False
    description: str = ""
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str
    title: str = ""
    head: str = ""
    base: str = ""
    author: str = ""
    draft: bool = False
    created_at: datetime | None = None
    created: bool = False  # True only when open_pull_request opened it


@dataclass(frozen=True)
class CatalogFile:
    repo_full_name: str
    default_branch: str
    path: str
    content: str
    html_url: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    name: str
    status: str  # queued, in_progress, completed, ...
    conclusion: str | None  # success, failure, cancelled, ... (None until completed)
    branch: str
    head_sha: str
    event: str
    html_url: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class Connection:
    login: str
    base_url: str
    scopes: tuple[str, ...]
    rate_limit_remaining: int | None


@dataclass(frozen=True)
class GitRemote:
    """Where and how to push with git: pass url as remote_url and token as token to integrations.git."""

    url: str
    token: str = field(repr=False)


class _Retry(GithubRetry):
    """PyGithub's retry (5xx, rate limits with backoff) with Retry-After capped, so a web request never sleeps
    for an hour; past the cap the call fails with a "rate limited until" message instead."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        retry_after = super().get_retry_after(response)
        if retry_after is None or self.max_rate_limit_wait is None:
            return retry_after
        return min(retry_after, self.max_rate_limit_wait)


class GitHubClient:
    """One GitHub (github.com or an Enterprise server's /api/v3) and one token."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token: str,
        timeout: int = 15,
        retries: int = 3,
        max_rate_limit_wait: float = 30,
        per_page: int = 100,
    ) -> None:
        if not token:
            raise GitHubError(None, "No GitHub token configured: set GITHUB_TOKEN to a token with the repo scope.")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._login: str | None = None
        retry = _Retry(
            total=retries,
            backoff_factor=0.5,
            max_rate_limit_wait=max_rate_limit_wait,
            secondary_rate_wait=min(60, max_rate_limit_wait),
            status_forcelist=[*range(500, 600), 429],
            raise_on_status=False,  # after the last retry, hand PyGithub the response so its error says what failed
        )
        self._gh = Github(
            base_url=self.base_url,
            auth=Auth.Token(token),
            timeout=timeout,
            retry=retry,
            per_page=per_page,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # objects are fetched when read, so e.g. listing a repo's runs is one call, not two
        )

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r})"

    def check_connection(self) -> Connection:
        """Who the token belongs to and what it may do (one GET /user); GitHubError when GitHub says no."""
        with self._call("checking the connection"):
            user = self._gh.get_user()
            login = user.login
            remaining, _limit = self._gh.rate_limiting
            scopes = tuple(self._gh.oauth_scopes or ())
        self._login = login
        return Connection(login=login, base_url=self.base_url, scopes=scopes, rate_limit_remaining=remaining)

    def create_repository(
        self,
        *,
        owner: str,
        name: str,
        description: str = "",
        private: bool = True,
        topics: tuple[str, ...] | list[str] = (),
        default_branch: str = "main",
        is_org: bool | None = None,
    ) -> Repository:
        """Create owner/name (empty, no initial commit) and return it; return the existing one with created=False.

        is_org=None compares owner with the token's user. default_branch is the branch the caller will push first:
        GitHub makes the first branch pushed to an empty repository its default, so it is what a new repository
        reports here. Topics are set when given and different from the repository's.
        """
        full_name = _check_full_name(f"{owner}/{name}")
        with self._call(f"creating repository {full_name}"):
            if is_org is None:
                is_org = owner.lower() != self._authenticated_login().lower()
            elif not is_org and owner.lower() != self._authenticated_login().lower():
                raise GitHubError(
                    None,
                    f"Cannot create {full_name} as a user repository: the token belongs to {self._login}. "
                    "Pass is_org=True for an organisation.",
                )
            target = self._gh.get_organization(owner) if is_org else self._gh.get_user()
            try:
                repo = target.create_repo(name, description=description, private=private, auto_init=False)
                created = True
            except GithubException as exc:
                if exc.status != 422 or "already exists" not in _details(exc):
                    raise
                repo = self._existing_repo_after_name_taken(full_name)
                created = False
            new_topics = None
            if topics and not repo.archived and sorted(repo.topics or ()) != sorted(topics):
                repo.replace_topics(list(topics))
                new_topics = tuple(topics)
            result = _repository(repo, created=created, topics=new_topics)
        if created:
            result = replace(result, default_branch=default_branch)
            logger.info("created GitHub repository %s", full_name)
        return result

    def get_repository(self, full_name: str) -> Repository:
        full_name = _check_full_name(full_name)
        with self._call(f"reading repository {full_name}"):
            return _repository(self._gh.get_repo(full_name), created=False)

    def archive_repository(self, full_name: str) -> Repository:
        """Archive (make read-only) a repository; archiving an archived repository changes nothing."""
        full_name = _check_full_name(full_name)
        with self._call(f"archiving repository {full_name}"):
            repo = self._gh.get_repo(full_name)
            if not repo.archived:
                repo.edit(archived=True)
            return _repository(repo, created=False)

    def open_pull_request(self, *, full_name: str, branch: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request from branch into base; when one is already open for this branch, return it."""
        full_name = _check_full_name(full_name)
        owner = full_name.split("/")[0]
        with self._call(f"opening a pull request from {branch} into {base} in {full_name}"):
            repo = self._gh.get_repo(full_name)
            existing = self._open_pull_for(repo, owner=owner, branch=branch, base=base)
            if existing is not None:
                return existing
            try:
                pull = repo.create_pull(base=base, head=branch, title=title, body=body)
            except GithubException as exc:
                # Opened in between (e.g. by an earlier attempt whose response was lost): return that one.
                if exc.status == 422 and "already exists" in _details(exc):
                    existing = self._open_pull_for(repo, owner=owner, branch=branch, base=base)
                    if existing is not None:
                        return existing
                raise
            logger.info("opened pull request %s#%s", full_name, pull.number)
            return _pull_request(pull, created=True)

    def open_pull_requests(self, *, full_name: str, limit: int = 10) -> list[PullRequest]:
        full_name = _check_full_name(full_name)
        with self._call(f"listing pull requests of {full_name}"):
            pulls = self._gh.get_repo(full_name).get_pulls(state="open")
            return [_pull_request(pull) for pull in islice(pulls, limit)]

    def latest_workflow_runs(self, *, full_name: str, limit: int = 5, branch: str | None = None) -> list[WorkflowRun]:
        full_name = _check_full_name(full_name)
        with self._call(f"listing workflow runs of {full_name}"):
            repo = self._gh.get_repo(full_name)
            runs = repo.get_workflow_runs(branch=branch) if branch else repo.get_workflow_runs()
            return [_workflow_run(run) for run in islice(runs, limit)]

    def list_catalog_files(
        self, *, org: str, path: str = "catalog-info.yaml", max_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> list[CatalogFile]:
        """The file at path on the default branch of every repository of org that has it.

        Archived repositories, empty ones and those without the file are skipped; so are files that are too large
        or not UTF-8 text (with a warning in the log). One list call per page of repositories, one read per repository.
        """
        _check_owner(org)
        path = _check_path(path)
        found = []
        with self._call(f"listing the repositories of {org}"):
            repos = [repo for repo in self._gh.get_organization(org).get_repos(type="all") if not repo.archived]
        for repo in repos:
            with self._call(f"reading {path} from {repo.full_name}"):
                content = self._file_or_none(repo, path)
            if content is None:
                continue
            text = _decoded_text(content, max_bytes=max_bytes, where=f"{repo.full_name}/{path}")
            if text is not None:
                found.append(
                    CatalogFile(
                        repo_full_name=repo.full_name,
                        default_branch=repo.default_branch,
                        path=path,
                        content=text,
                        html_url=content.html_url,
                    )
                )
        return found

    def git_remote(self, clone_url: str) -> GitRemote:
        """The clone URL and token to push with git. Refused when the URL is not on this GitHub's host, so the
        token is never sent anywhere else; the URL itself never carries the token."""
        api_host = urlsplit(self.base_url).netloc.lower()
        parts = urlsplit(clone_url)
        host = parts.netloc.lower()
        if (
            parts.scheme not in ("https", "http")
            or "@" in host
            or host not in (api_host, api_host.removeprefix("api."))
        ):
            raise GitHubError(None, f"Refusing to send the GitHub token to {host or clone_url!r}: not {api_host}.")
        return GitRemote(url=clone_url, token=self._token)

    # helpers

    def _authenticated_login(self) -> str:
        if self._login is None:
            self._login = self._gh.get_user().login
        return self._login

    def _existing_repo_after_name_taken(self, full_name: str) -> GhRepository:
        try:
            repo = self._gh.get_repo(full_name)
            repo.complete()  # fetch the lazy object now, so a repository we cannot see fails here
        except GithubException as exc:
            if exc.status != 404:
                raise
            raise GitHubError(
                422,
                f"The name {full_name} is taken: a repository of that name exists but this token cannot see it. "
                "Choose another name, or give the token access to that repository.",
            ) from exc
        return repo

    @staticmethod
    def _open_pull_for(repo: GhRepository, *, owner: str, branch: str, base: str) -> PullRequest | None:
        for pull in repo.get_pulls(state="open", head=f"{owner}:{branch}", base=base):
            return _pull_request(pull, created=False)
        return None

    @staticmethod
    def _file_or_none(repo: GhRepository, path: str) -> ContentFile | None:
        try:
            content = repo.get_contents(path, ref=repo.default_branch)
        except GithubException as exc:
            if exc.status == 404:  # no such file, or an empty repository
                return None
            raise
        if isinstance(content, list) or content.type != "file":
            return None
        return content

    @contextmanager
    def _call(self, action: str) -> Iterator[None]:
        """Turn whatever PyGithub or requests raise into a GitHubError that says what to do."""
        try:
            yield
        except GitHubError:
            raise
        except GithubException as exc:
            raise _translate(exc, action=action, base_url=self.base_url) from exc
        except requests.RequestException as exc:
            raise GitHubError(
                None, f"Could not reach GitHub at {self.base_url} while {action}: {type(exc).__name__}."
            ) from exc


def _translate(exc: GithubException, *, action: str, base_url: str) -> GitHubError:
    status = exc.status
    details = _details(exc)
    headers = {str(key).lower(): str(value) for key, value in (exc.headers or {}).items()}
    if isinstance(exc, BadCredentialsException) or (status == 401 and "bad credentials" in details.lower()):
        return GitHubError(
            401,
            f"GitHub at {base_url} rejected the token (Bad credentials): check that GITHUB_TOKEN is valid, "
            "not expired and not revoked.",
        )
    if status == 401:
        return GitHubError(401, f"GitHub at {base_url} wants a token while {action}: set GITHUB_TOKEN.")
    if isinstance(exc, RateLimitExceededException) or (
        status in (403, 429) and headers.get("x-ratelimit-remaining") == "0"
    ):
        return GitHubError(status, _rate_limit_message(headers, action=action))
    if status == 404:
        return GitHubError(
            404,
            f"GitHub found nothing while {action}: it does not exist, or the token cannot see it "
            "(private repositories need the repo scope and access to the organisation).",
        )
    if status == 403:
        return GitHubError(403, f"GitHub refused {action}: {details}. The token may lack a permission or scope.")
    if status == 422:
        if "name already exists" in details:
            return GitHubError(422, f"GitHub refused {action}: the name is taken ({details}).")
        return GitHubError(422, f"GitHub refused {action}: {details}.")
    if status >= 500:
        return GitHubError(status, f"GitHub at {base_url} failed with {status} while {action}; try again later.")
    return GitHubError(status, f"GitHub answered {status} while {action}: {details}.")


def _rate_limit_message(headers: dict[str, str], *, action: str) -> str:
    reset = headers.get("x-ratelimit-reset", "")
    if reset.isdigit():
        when = datetime.fromtimestamp(int(reset), UTC)
        minutes = max(0, round((when - datetime.now(UTC)).total_seconds() / 60))
        return (
            f"GitHub rate limit exceeded while {action}; rate limited until {when:%H:%M} UTC (in {minutes} min). "
            "Try again then, or use a token with a higher limit."
        )
    return f"GitHub asked us to slow down (secondary rate limit) while {action}; wait a minute and try again."


def _details(exc: GithubException) -> str:
    """GitHub's message plus the messages of its `errors` list, e.g. "Repository creation failed.: name already..."."""
    data = exc.data if isinstance(exc.data, dict) else {}
    parts = [str(data.get("message") or exc.message or "")]
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            text = error.get("message") or " ".join(str(error.get(k, "")) for k in ("field", "code")).strip()
            parts.append(text)
        else:
            parts.append(str(error))
    return ": ".join(part for part in parts if part)


def _decoded_text(content: ContentFile, *, max_bytes: int, where: str) -> str | None:
    if content.encoding != "base64" or content.size > max_bytes:
        logger.warning("skipping %s: %s bytes, over the limit of %s", where, content.size, max_bytes)
        return None
    try:
        return content.decoded_content.decode("utf-8")
    except UnicodeDecodeError:
        logger.warning("skipping %s: not UTF-8 text", where)
        return None


def _repository(repo: GhRepository, *, created: bool, topics: tuple[str, ...] | None = None) -> Repository:
    return Repository(
        full_name=repo.full_name,
        html_url=repo.html_url,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        created=created,
        private=bool(repo.private),
        archived=bool(repo.archived),
        description=repo.description or "",
        topics=topics if topics is not None else tuple(repo.topics or ()),
    )


def _pull_request(pull: GhPullRequest, *, created: bool = False) -> PullRequest:
    return PullRequest(
        number=pull.number,
        html_url=pull.html_url,
        title=pull.title or "",
        head=pull.head.ref,
        base=pull.base.ref,
        author=pull.user.login if pull.user else "",
        draft=bool(pull.draft),
        created_at=pull.created_at,
        created=created,
    )


def _workflow_run(run: GhWorkflowRun) -> WorkflowRun:
    return WorkflowRun(
        id=run.id,
        name=run.name or "",
        status=run.status,
        conclusion=run.conclusion,
        branch=run.head_branch or "",
        head_sha=run.head_sha,
        event=run.event,
        html_url=run.html_url,
        created_at=run.created_at,
        updated_at=run.updated_at,
    )


def _check_owner(owner: str) -> str:
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise GitHubError(None, f"{str(owner)[:100]!r} is not a valid GitHub user or organisation name.")
    return owner


def _check_full_name(full_name: str) -> str:
    owner, _, name = str(full_name).partition("/")
    _check_owner(owner)
    if not _REPO_NAME.match(name) or name in (".", "..") or name.lower().endswith(".git"):
        raise GitHubError(None, f"{str(full_name)[:200]!r} is not a valid repository name (owner/name).")
    return full_name


def _check_path(path: str) -> str:
    parts = str(path).strip("/").split("/")
    if not path or len(path) > 1024 or any(part in ("", ".", "..") for part in parts) or "\x00" in path:
        raise GitHubError(None, f"{str(path)[:200]!r} is not a valid file path inside a repository.")
    return "/".join(parts)
