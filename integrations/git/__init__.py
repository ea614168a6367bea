"""Plain git through the CLI: clone, read files, commit and push, with tokens kept out of URLs, logs and config."""

from .client import (
    DEFAULT_FETCH_MAX_BYTES,
    CommitResult,
    RemoteHead,
    clone,
    commit_all,
    diff_files,
    fetch_files,
    init_bare,
    ls_remote_head,
    push,
    push_directory,
    write_files_and_push,
)
from .errors import GitError, PushRejectedError
from .paths import DEFAULT_MAX_FILE_BYTES, Checkout
from .urls import is_safe_url

__all__ = [
    "DEFAULT_FETCH_MAX_BYTES",
    "DEFAULT_MAX_FILE_BYTES",
    "Checkout",
    "CommitResult",
    "GitError",
    "PushRejectedError",
    "RemoteHead",
    "clone",
    "commit_all",
    "diff_files",
    "fetch_files",
    "init_bare",
    "is_safe_url",
    "ls_remote_head",
    "push",
    "push_directory",
    "write_files_and_push",
]
