"""Remote reads for descriptors and placeholders: allow-listed hosts only, never an internal address.

`check_remote_url` refuses anything but http(s) to an allow-listed host on its default port (or a port the
allow-list names), with no user info, whose every DNS answer is a public address (no loopback, private,
link-local such as 169.254.169.254, unspecified, multicast or reserved ranges, also when wrapped in IPv6).
`fetch_remote_text` connects to the very address it checked (so a second DNS answer cannot swap in an internal
one), checks every redirect hop the same way, and stops reading past a size cap or a total deadline.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SENSITIVE_HEADERS = ("authorization", "cookie", "proxy-authorization")
_MAX_URL_LENGTH = 8192

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RemoteFetchError(Exception):
    """A remote read failed (status, size, timeout, encoding); the message names the URL without its query."""


class UnsafeURL(RemoteFetchError):
    """A URL Portico refuses to read, with the reason."""


@dataclass(frozen=True)
class _Checked:
    scheme: str
    host: str  # IDNA-encoded, lowercase, no trailing dot
    port: int
    path: str  # path and query as sent
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        return self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def check_remote_url(url: str, *, allowed_hosts: Sequence[str], allowed_networks: Sequence[str] = ()) -> None:
    """Raise UnsafeURL unless `url` may be read. `allowed_hosts` entries: `host`, `*.domain`, `host:port`.

    `allowed_networks` (CIDRs) lets an administrator trust internal ranges, e.g. a GitHub Enterprise server on 10/8.
    """
    _check(url, allowed_hosts, allowed_networks)


def fetch_remote_text(
    url: str,
    *,
    allowed_hosts: Sequence[str],
    max_bytes: int,
    timeout: float,
    allowed_networks: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 5,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """GET a UTF-8 text document, checking every hop; raise UnsafeURL or RemoteFetchError on failure.

    `headers` (e.g. a token) are sent only to the first URL's origin, never after a redirect to another one.
    `ssl_context` replaces the system CAs (an internal CA); certificates are always checked against the host name.
    """
    deadline = time.monotonic() + timeout
    current = url
    first_origin: tuple[str, str, int] | None = None
    verify = ssl_context if ssl_context is not None else True
    with httpx.Client(trust_env=False, timeout=timeout, follow_redirects=False, verify=verify) as client:
        for _ in range(max_redirects + 1):
            checked = _check(current, allowed_hosts, allowed_networks)
            first_origin = first_origin or checked.origin
            request_headers = {"Host": checked.host_header, "Accept": "*/*", "Accept-Encoding": "identity"}
            if headers and checked.origin == first_origin:
                request_headers.update(headers)
            elif headers:
                request_headers.update({k: v for k, v in headers.items() if k.lower() not in _SENSITIVE_HEADERS})
            extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
            try:
                with client.stream("GET", checked.pinned_url, headers=request_headers, extensions=extensions) as resp:
                    if resp.status_code in _REDIRECTS and "location" in resp.headers:
                        current = urljoin(current, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise RemoteFetchError(f"{_display(current)} answered HTTP {resp.status_code}")
                    body = _read_capped(resp, current, max_bytes, deadline)
            except httpx.TimeoutException as exc:
                raise RemoteFetchError(f"{_display(current)} did not answer within {timeout:g} s") from exc
            except httpx.HTTPError as exc:
                raise RemoteFetchError(f"{_display(current)} could not be read: {type(exc).__name__}: {exc}") from exc
            try:
                return body.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise RemoteFetchError(f"{_display(current)} is not UTF-8 text") from exc
    raise RemoteFetchError(f"{_display(url)} redirected more than {max_redirects} times")


def _read_capped(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise RemoteFetchError(f"{_display(url)} is {int(declared):,} bytes, the limit is {max_bytes:,}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > max_bytes:
            raise RemoteFetchError(f"{_display(url)} is larger than the limit of {max_bytes:,} bytes")
        if time.monotonic() > deadline:
            raise RemoteFetchError(f"{_display(url)} took longer than the time limit to send")
        chunks.append(chunk)
    return b"".join(chunks)


def _check(url: str, allowed_hosts: Sequence[str], allowed_networks: Sequence[str]) -> _Checked:
    if not isinstance(url, str) or not url:
        raise UnsafeURL("URL must be a non-empty string")
    if len(url) > _MAX_URL_LENGTH:
        raise UnsafeURL(f"URL is longer than {_MAX_URL_LENGTH} characters")
    if any(ord(char) <= 0x20 or char in "\\\x7f" for char in url):
        raise UnsafeURL("URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"URL is not valid: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeURL(f'scheme "{parts.scheme}" is not allowed; only http and https')
    if "@" in parts.netloc:
        raise UnsafeURL("user names or passwords in the URL are not allowed")
    host = _normalize_host(parts.hostname or "")
    port = port or _DEFAULT_PORTS[scheme]
    if not _host_allowed(host, port, port == _DEFAULT_PORTS[scheme], allowed_hosts):
        where = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
        raise UnsafeURL(f"host {where} is not in the allowed hosts")
    address = _public_address(host, port, [ipaddress.ip_network(net, strict=False) for net in allowed_networks])
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Checked(scheme=scheme, host=host, port=port, path=path, address=address)


def _normalize_host(host: str) -> str:
    host = host.rstrip(".").lower()
    if not host:
        raise UnsafeURL("URL has no host")
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise UnsafeURL(f"host {host} is not a valid name") from exc


def _host_allowed(host: str, port: int, default_port: bool, allowed_hosts: Sequence[str]) -> bool:
    for entry in allowed_hosts:
        pattern, entry_port = _split_entry(entry)
        if entry_port is None and not default_port:
            continue
        if entry_port is not None and entry_port != port:
            continue
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):  # [ipv6]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host.rstrip("."), int(port) if port.isdigit() else None
    return entry.rstrip("."), None


def _public_address(host: str, port: int, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> IPAddress:
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(f"host {host} could not be resolved: {exc}") from exc
        addresses = [ipaddress.ip_address(str(answer[4][0]).split("%")[0]) for answer in answers]
    if not addresses:
        raise UnsafeURL(f"host {host} has no addresses")
    for address in addresses:
        reason = _refusal(address, trusted)
        if reason:
            raise UnsafeURL(f"host {host} resolves to {address}, {reason}")
    return addresses[0]


def _refusal(address: IPAddress, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str | None:
    if any(address.version == net.version and address in net for net in trusted):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = _refusal(embedded, trusted)
        return f"which wraps {embedded}, {reason}" if reason else None
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives here)"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for refused, reason in checks:
        if refused:
            return f"{reason}, which is not allowed"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _display(url: str) -> str:
    # Queries can carry tokens: messages show the URL without them.
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?..." if parts.query else "")
