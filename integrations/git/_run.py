"""Running the git CLI: a clean environment, credentials through the environment, a timeout, readable errors.

Tokens never appear on a command line, in .git/config or in a message: git receives them as an
`http.<scope>.extraHeader` set through GIT_CONFIG_COUNT/GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n, scoped to the remote's
scheme, host and port, so a redirect to another host never carries it.
"""

import base64
import logging
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError, PushRejectedError, redact, trim_stderr
from .urls import credential_scope

logger = logging.getLogger("integrations.git")

NETWORK_TIMEOUT = 120.0
LOCAL_TIMEOUT = 30.0

# Environment variables from the host that may stay: how to reach remotes (ssh, proxies, CA bundles).
_KEEP_GIT_ENV = ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_EXEC_PATH")
_SAFE_CONFIG = (
    # Only plain transports: no ext::/fd:: helpers, no unauthenticated git://; file stays "user" (allowed for
    # top-level commands, refused inside submodules).
    ("protocol.allow", "never"),
    ("protocol.https.allow", "always"),
    ("protocol.http.allow", "always"),
    ("protocol.ssh.allow", "always"),
    ("protocol.file.allow", "user"),
    ("credential.helper", ""),  # resets any helper from the host's config, so no token is ever stored
    ("core.hooksPath", os.devnull),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("init.defaultBranch", "main"),
    ("advice.detachedHead", "false"),
    ("core.quotePath", "false"),
)
_IDENTITY_FORBIDDEN = re.compile(r"[<>\n\r\x00]")


@dataclass(frozen=True)
class Identity:
    """Author and committer of the commits Portico makes; given by the caller, never taken from the host."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for value in (self.name, self.email):
            if not value.strip() or _IDENTITY_FORBIDDEN.search(value) or len(value) > 200:
                raise GitError(f"invalid author name or email: {value!r}")


def git_env(*, token: str | None = None, url: str | None = None, identity: Identity | None = None) -> dict[str, str]:
    """The environment for one git command."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_") or key in _KEEP_GIT_ENV}
    env.pop("SSH_ASKPASS", None)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",  # set but empty: git neither prompts nor falls back to SSH_ASKPASS
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }
    )
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=20")
    config = list(_SAFE_CONFIG)
    scope = credential_scope(url) if (token and url) else None
    if token and scope:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config.append((f"http.{scope}.extraHeader", f"Authorization: Basic {basic}"))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if identity:
        env.update(
            {
                "GIT_AUTHOR_NAME": identity.name,
                "GIT_AUTHOR_EMAIL": identity.email,
                "GIT_COMMITTER_NAME": identity.name,
                "GIT_COMMITTER_EMAIL": identity.email,
            }
        )
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    timeout: float = LOCAL_TIMEOUT,
    token: str | None = None,
    url: str | None = None,
    identity: Identity | None = None,
    stdin: str | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run `git <args>` and return the finished process; raise GitError on a failure or a timeout.

    The command runs in its own process group so that a timeout also ends git's helpers (git-remote-https, ssh),
    which would otherwise keep the pipes open.
    """
    command = ["git", *args]
    secrets = (token,) if token else ()
    logger.debug("git %s %s", args[0], redact(url, secrets) if url else "")
    try:
        process = subprocess.Popen(  # noqa: S603 - arguments are a list, never a shell string
            command,
            cwd=cwd,
            env=git_env(token=token, url=url, identity=identity),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (the git command was not found on PATH)") from exc
    try:
        stdout, stderr = process.communicate(input=stdin, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(process)
        process.communicate()
        where = f" for {redact(url, secrets)}" if url else ""
        raise GitError(f"git {args[0]}{where} timed out after {timeout:g}s") from exc
    if process.returncode not in ok_codes:
        raise _error_for(args[0], process.returncode, stdout, stderr, url=url, secrets=secrets)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _error_for(
    subcommand: str, returncode: int, stdout: str, stderr: str, *, url: str | None, secrets: tuple[str, ...]
) -> GitError:
    detail = redact(trim_stderr(stderr or stdout), secrets)
    where = f" for {redact(url, secrets)}" if url else ""
    lowered = (stderr + stdout).lower()
    if subcommand == "push" and any(
        marker in lowered for marker in ("(non-fast-forward)", "(fetch first)", "(stale info)")
    ):
        return PushRejectedError(f"git push{where} was rejected because the remote branch has moved on: {detail}")
    if any(
        marker in lowered
        for marker in (
            "could not read username",
            "could not read password",
            "authentication failed",
            "permission denied (publickey",
            "the requested url returned error: 401",
            "the requested url returned error: 403",
        )
    ):
        return GitError(
            f"git {subcommand}{where} was refused: the remote wants credentials it did not get or did not accept "
            f"(check the token and its access to this repository): {detail}"
        )
    if "couldn't find remote ref" in lowered:
        return GitError(
            f"git {subcommand}{where}: no such branch, tag or commit (or the repository is empty): {detail}"
        )
    return GitError(f"git {subcommand}{where} failed (exit {returncode}): {detail}")
