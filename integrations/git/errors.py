"""The one error type of the git integration, and the redaction that keeps tokens out of its messages."""

import base64
import re

# user:password@ inside a URL; we never build such URLs, but a remote's stderr or a caller's input may carry one.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_MAX_MESSAGE_CHARS = 1500


class GitError(Exception):
    """A git operation failed; the message says what and why, trimmed, with tokens removed."""


class PushRejectedError(GitError):
    """The remote branch moved on (non-fast-forward); fetching again and re-applying the change may succeed."""


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove every secret (and the Basic-auth forms git sends) and any URL user:password from text."""
    for secret in secrets:
        if not secret:
            continue
        for form in _secret_forms(secret):
            text = text.replace(form, "***")
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def _secret_forms(secret: str) -> tuple[str, ...]:
    basic = base64.b64encode(f"x-access-token:{secret}".encode()).decode()
    return (secret, basic)


def trim_stderr(text: str) -> str:
    """Keep the lines that explain a failure: no hints, no progress, no blank lines, and not too many of them."""
    lines = [
        line.strip()
        for line in text.replace("\r", "\n").splitlines()
        if line.strip() and not line.lstrip().startswith("hint:")
    ]
    message = " | ".join(lines[-8:])
    if len(message) > _MAX_MESSAGE_CHARS:
        message = "..." + message[-_MAX_MESSAGE_CHARS:]
    return message
