"""Scaffolder settings: `SCAFFOLDER_*` Django settings when the project defines them, else environment variables
of the same name, else the embedded default (local bare repositories under the data directory).

SCAFFOLDER_REPOS_DIR           where publish:git keeps bare repositories (default DATA_DIR/repos)
SCAFFOLDER_GITOPS_REPO_URL     the GitOps repository (default a local bare repo DATA_DIR/repos/gitops.git)
SCAFFOLDER_GITOPS_BRANCH       its branch (main)
SCAFFOLDER_GITOPS_GITHUB_REPO  owner/name of the GitOps repository on GitHub, for pull requests through the API
SCAFFOLDER_IMAGE_REGISTRY      image registry used in manifests (registry.example.com)
SCAFFOLDER_RUN_LEASE_SECONDS   how long a worker holds a run without renewing it (60)
SCAFFOLDER_STEP_ATTEMPTS       attempts for a step failing with a retryable error (3)
SCAFFOLDER_RETRY_BACKOFF       first backoff in seconds, doubled each attempt (1.0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings

from integrations.github import config as github_config

COMMIT_AUTHOR_NAME = "Portico"
COMMIT_AUTHOR_EMAIL = "portico@localhost"


def setting(name: str, default: Any) -> Any:
    """SCAFFOLDER_<name> from Django settings, then the environment, then default (cast to default's type)."""
    full = f"SCAFFOLDER_{name}"
    if hasattr(settings, full):
        return getattr(settings, full)
    raw = os.environ.get(full)
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int | float):
        return type(default)(raw)
    return raw


def repos_dir() -> Path:
    return Path(setting("REPOS_DIR", str(Path(settings.DATA_DIR) / "repos"))).resolve()


def embedded_gitops_path() -> Path:
    return repos_dir() / "gitops.git"


def gitops_repo_url() -> str:
    return setting("GITOPS_REPO_URL", "") or embedded_gitops_path().as_uri()


def gitops_branch() -> str:
    return setting("GITOPS_BRANCH", "main")


def gitops_is_embedded() -> bool:
    return not setting("GITOPS_REPO_URL", "")


def lease_seconds() -> int:
    return int(setting("RUN_LEASE_SECONDS", 60))


def step_attempts() -> int:
    return max(1, int(setting("STEP_ATTEMPTS", 3)))


def retry_backoff() -> float:
    return float(setting("RETRY_BACKOFF", 1.0))


def platform_context() -> dict[str, Any]:
    """The `platform` names step inputs read (see golden_paths/README.md)."""
    github = github_config.load()
    host = github.url.replace("https://", "").replace("http://", "").split("/")[0]
    if host == "api.github.com":
        host = "github.com"
    return {
        "github": github.configured,
        "githubHost": host,
        "githubOrg": github.org,
        "gitopsRepoUrl": gitops_repo_url(),
        "gitopsBranch": gitops_branch(),
        "imageRegistry": setting("IMAGE_REGISTRY", "registry.example.com"),
        "argocdNamespace": setting("ARGOCD_NAMESPACE", "argocd"),
        "argocdProject": setting("ARGOCD_PROJECT", "default"),
        "clusterServer": setting("CLUSTER_SERVER", "https://kubernetes.default.svc"),
        "secretStore": setting("SECRET_STORE", "platform-secrets"),
    }


def step_settings() -> dict[str, Any]:
    """The settings mapping handed to steps as ctx.settings."""
    return {
        "SCAFFOLDER_LOCAL_TEMPLATE_ROOTS": tuple(setting("LOCAL_TEMPLATE_ROOTS", ())),
        "REPOS_DIR": repos_dir(),
        "GITOPS_REPO_URL": gitops_repo_url(),
        "GITOPS_BRANCH": gitops_branch(),
        "GITOPS_EMBEDDED": gitops_is_embedded(),
        "GITOPS_GITHUB_REPO": setting("GITOPS_GITHUB_REPO", ""),
    }
