"""Which git URLs we are willing to hand to git.

A git URL is a command in disguise: `ext::sh -c ...` runs a program, `-u...` or `--upload-pack=...` become options,
an ssh host starting with `-` becomes an ssh option. We accept only plain https and ssh remotes everywhere, and
http, file:// and local paths where the caller says local remotes are fine (the embedded default, tests).
Credentials never travel inside a URL: a URL with a password is refused, so no token ends up in .git/config.
"""

import ipaddress
import re
from urllib.parse import urlsplit

_MAX_URL_CHARS = 2048
# "<transport>::<address>" selects a remote helper (ext::, fd::, anything installed as git-remote-*).
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z0-9+.-]*::")
# scp-like ssh syntax: [user@]host:path, recognised by git when a colon comes before any slash.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)$")
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^\[[0-9A-Fa-f:.]+\]$")


def is_safe_url(url: str, *, allow_local: bool) -> bool:
    """True when url is a remote git may be pointed at.

    Always accepted: https://host/... and ssh (ssh://[user@]host/... or user@host:path), without passwords and with
    a host that is not a loopback, private or link-local address (unless allow_local).
    Only with allow_local: http://, file:///absolute/path and plain absolute paths.
    """
    if not isinstance(url, str) or not url or len(url) > _MAX_URL_CHARS:
        return False
    if url.startswith("-") or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return False
    if _TRANSPORT_HELPER.match(url):
        return False
    if url.startswith("/"):
        return allow_local and ".." not in url.split("/")
    if "://" in url:
        return _is_safe_scheme_url(url, allow_local=allow_local)
    match = _SCP_LIKE.match(url)
    if match:
        user, path = match.group("user") or "", match.group("path")
        return (
            _is_safe_host(match.group("host"), allow_local=allow_local)
            and not user.startswith("-")
            and not path.startswith("-")
        )
    return False


def _is_safe_scheme_url(url: str, *, allow_local: bool) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "file":
        return allow_local and not parts.netloc and parts.path.startswith("/") and ".." not in parts.path.split("/")
    if scheme not in ("https", "ssh", "http"):
        return False
    if scheme == "http" and not allow_local:
        return False
    if parts.password is not None or (parts.username is not None and scheme != "ssh"):
        return False
    if parts.username is not None and (not parts.username or parts.username.startswith("-")):
        return False
    if port == 0 or not parts.hostname:
        return False
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") and ":" in host else host
    return _is_safe_host(host, allow_local=allow_local) and not parts.path.startswith("/-")


def _is_safe_host(host: str, *, allow_local: bool) -> bool:
    if not host or host.startswith("-") or not _HOST.match(host):
        return False
    if allow_local:
        return True
    bare = host.strip("[]").lower()
    if bare == "localhost" or bare.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return True  # a name; resolving it here would not stop DNS tricks, so host allow-lists belong to the caller
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def credential_scope(url: str) -> str | None:
    """The `scheme://host[:port]/` prefix a token may be sent to, or None when the URL is not http(s)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.rsplit('@', 1)[-1]}/"
