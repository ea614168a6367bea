"""GitHub through PyGithub: repositories, pull requests, workflow runs and catalog file discovery."""

from .client import (
    CatalogFile,
    Connection,
    GitHubClient,
    GitHubError,
    GitRemote,
    PullRequest,
    Repository,
    WorkflowRun,
)

__all__ = [
    "CatalogFile",
    "Connection",
    "GitHubClient",
    "GitHubError",
    "GitRemote",
    "PullRequest",
    "Repository",
    "WorkflowRun",
]
