"""GitHub settings, read from the environment (one settings module per integration).

GITHUB_URL    the REST API: https://api.github.com (default), or an Enterprise server's https://HOST/api/v3
              (https://HOST alone is accepted and completed to /api/v3).
GITHUB_TOKEN  a token with the repo scope (and read:org to discover catalog files across the organisation).
GITHUB_ORG    the organisation new repositories go to and catalog discovery reads.

Without a token Portico runs on its embedded default: repositories are local bare git repositories under the data
directory. describe() says which case applies, without the token.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .client import DEFAULT_BASE_URL, GitHubClient, GitHubError


@dataclass(frozen=True)
class GitHubConfig:
    url: str
    token: str = field(repr=False)
    org: str

    @property
    def configured(self) -> bool:
        return bool(self.token)


def api_url(url: str) -> str:
    """The REST API root for a configured URL: github.com's API, or an Enterprise server's /api/v3."""
    url = (url or DEFAULT_BASE_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.netloc.lower() in ("github.com", "www.github.com"):
        return DEFAULT_BASE_URL
    if parts.netloc.lower() != "api.github.com" and parts.path in ("", "/"):
        return url + "/api/v3"
    return url


def load(environ: Mapping[str, str] | None = None) -> GitHubConfig:
    environ = os.environ if environ is None else environ
    return GitHubConfig(
        url=api_url(environ.get("GITHUB_URL", DEFAULT_BASE_URL)),
        token=environ.get("GITHUB_TOKEN", "").strip(),
        org=environ.get("GITHUB_ORG", "").strip(),
    )


def describe(config: GitHubConfig | None = None) -> dict[str, str | bool]:
    """What the GitHub integration is set to, safe to show on a page or in a log: the token only as set/not set."""
    config = config or load()  # read now: the environment may have changed since import
    if config.configured:
        status = f"Connected to {config.url}" + (f", organisation {config.org}" if config.org else "")
        hint = "" if config.org else "Set GITHUB_ORG to discover catalog files across an organisation."
    else:
        status = "Not configured: repositories are local bare git repositories under the data directory."
        hint = "Set GITHUB_TOKEN (repo and read:org scopes) and GITHUB_ORG to use GitHub."
    return {
        "integration": "github",
        "configured": config.configured,
        "url": config.url,
        "org": config.org,
        "token": "set" if config.token else "not set",
        "status": status,
        "hint": hint,
    }


def client_from_config(config: GitHubConfig | None = None) -> GitHubClient:
    """A client for the configured GitHub; GitHubError when no token is set."""
    config = config or load()
    if not config.configured:
        raise GitHubError(None, "GitHub is not configured: set GITHUB_TOKEN (and GITHUB_URL for GitHub Enterprise).")
    return GitHubClient(base_url=config.url, token=config.token)
