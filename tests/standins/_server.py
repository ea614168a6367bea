"""A small threaded HTTP server that every stand-in builds on.

It listens on 127.0.0.1 with an ephemeral port, records every request (so tests and benchmarks can count calls), and
can be told to misbehave the way real servers do:

    standin.set_failure("down")        connections refused until set_failure(None)
    standin.set_failure("slow")        answers only after `slow_seconds` (beyond any sane client timeout)
    standin.set_failure("401")         any status code: 401, 403, 404, 429, 500, 502, 503...
    standin.set_failure("429", retry_after="2")
    standin.set_failure("malformed")   200 with a Content-Type of JSON and a body that is not JSON
    standin.set_failure("500", times=2)  fail the next two requests only, then answer normally again

Error bodies are the stand-in's own (`error_response`), so each speaks its system's error format.
Also here: the Kubernetes label selector language, which both Argo CD and Kubernetes accept.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status=status,
        body=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        response = self.server.standin._dispatch(request)
        if response is None:
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature is the stdlib's
        pass  # keep test output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], standin: StandinServer) -> None:
        self.standin = standin
        super().__init__(address, _Handler)


class StandinServer:
    """Base class: subclasses implement `route()` and `error_response()`."""

    slow_seconds = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[Request] = []
        self._failure: str | None = None
        self._failure_times: int | None = None
        self._retry_after = "1"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls: ssl.SSLContext | None = None
        self.port = 0

    # Lifecycle

    def start(self) -> StandinServer:
        self._listen(self.port)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def use_tls(self, cert_file: str, key_file: str) -> StandinServer:
        """Serve HTTPS with this certificate (call before start())."""
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert_file, key_file)
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> None:
        self._server = _Server(("127.0.0.1", port), self)
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() fast: shutdown() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"standin-{self.port}", daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # Failure injection

    def set_failure(self, mode: str | None, *, times: int | None = None, retry_after: str = "1") -> None:
        """Misbehave from now on (or for the next `times` requests). `mode` is "down", "slow", "malformed", a status
        code such as "429", or None to behave again."""
        if mode is not None and mode not in ("down", "slow", "malformed") and not re.fullmatch(r"[45]\d\d", mode):
            raise ValueError(f"unknown failure mode {mode!r}")
        with self._lock:
            self._failure = mode
            self._failure_times = times
            self._retry_after = retry_after
        if mode == "down" and self._server is not None:
            self._close()
        elif mode != "down" and self._server is None and not self._stopping.is_set():
            self._listen(self.port)

    def _take_failure(self) -> str | None:
        with self._lock:
            mode = self._failure
            if mode is not None and self._failure_times is not None:
                self._failure_times -= 1
                if self._failure_times <= 0:
                    self._failure = None
                    self._failure_times = None
            return mode

    # Request log

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests arrived, optionally only those with this method and exact path."""
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method) and (path is None or request.path == path)
        )

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # Dispatch

    def _dispatch(self, request: Request) -> Response | None:
        with self._lock:
            self._requests.append(request)
        failure = self._take_failure()
        if failure == "slow":
            # Waits on an event rather than sleeping, so stopping the stand-in releases the thread at once.
            if self._stopping.wait(self.slow_seconds):
                return None
        elif failure == "malformed":
            return Response(200, b'{"items": [{"metadata": ', {"Content-Type": "application/json"})
        elif failure is not None:
            status = int(failure)
            headers = {"Retry-After": self._retry_after} if status in (429, 503) else {}
            return self.error_response(status, _REASONS.get(status, "injected failure"), headers=headers)
        try:
            return self.route(request)
        except Exception as exc:  # a bug in the stand-in should read as a clear 500, not a hung test
            return self.error_response(500, f"stand-in error: {type(exc).__name__}: {exc}")

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
        raise NotImplementedError


def self_signed_certificate(directory: Path) -> tuple[str, str]:
    """Write a self-signed certificate for 127.0.0.1 and its key; returns (certificate path, key path). The
    certificate is its own CA, so passing it as the CA bundle makes a client trust it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portico stand-in")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# Label selectors, as Kubernetes defines them (k8s.io/apimachinery/pkg/labels):
#   a=b, a==b, a!=b, a in (b,c), a notin (b,c), a, !a    joined by commas, all must hold.
# `!=` and `notin` also match objects without the label.

_KEY = r"[A-Za-z0-9]([A-Za-z0-9_.\-/]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(?P<not>!?)\s*(?P<key>{_KEY})\s*$")

LabelPredicate = Callable[[Mapping[str, str]], bool]


def parse_label_selector(text: str | None) -> LabelPredicate:
    """Compile a label selector into a predicate over a label mapping; raises ValueError like the API server's 400."""
    requirements = [_requirement(part) for part in _split_requirements(text or "")]
    return lambda labels: all(requirement(labels) for requirement in requirements)


def _split_requirements(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if text.strip() and any(not part.strip() for part in parts):
        raise ValueError(f"unable to parse requirement: found empty requirement in {text!r}")
    return [part for part in parts if part.strip()]


def _requirement(part: str) -> LabelPredicate:
    if match := _SET_RE.match(part):
        values = {value.strip() for value in match["values"].split(",")}
        if "" in values:
            raise ValueError(f"unable to parse requirement: {part.strip()!r}: empty value in set")
        key = match["key"]
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQ_RE.match(part):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS_RE.match(part):
        key = match["key"]
        if match["not"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ValueError(f"unable to parse requirement: {part.strip()!r}")
