import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from catalog.safe_urls import RemoteFetchError, UnsafeURL, check_remote_url, fetch_remote_text
from tests.helpers import require_binary

LOCAL = ["127.0.0.0/8", "::1/128"]


class Handler(BaseHTTPRequestHandler):
    """Routes for the fetch tests; `server.other` is a second server on another port."""

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        self.server.seen.append({"path": self.path, "headers": dict(self.headers)})
        port = self.server.server_port
        other = self.server.other_port
        routes = {
            "/ok": lambda: self.send(200, "kind: Component\nname: café\n".encode()),
            "/hop": lambda: self.send(302, headers=[("Location", "/ok")]),
            "/to-metadata": lambda: self.send(302, headers=[("Location", "http://169.254.169.254/latest/meta-data")]),
            "/to-other": lambda: self.send(307, headers=[("Location", f"http://127.0.0.1:{other}/ok")]),
            "/to-self-by-name": lambda: self.send(301, headers=[("Location", f"http://localhost:{port}/ok")]),
            "/loop": lambda: self.send(302, headers=[("Location", "/loop")]),
            "/missing": lambda: self.send(404, b"not found"),
            "/latin1": lambda: self.send(200, "café".encode("latin-1")),
            "/big": lambda: self.send(200, b"x" * 5000),
            "/big-chunked": self.big_without_length,
            "/slow": self.slow,
        }
        routes.get(self.path.split("?")[0], lambda: self.send(404))()

    def big_without_length(self):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(50):
            self.wfile.write(b"x" * 1000)

    def slow(self):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)


def start_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, client_address: None  # refused TLS handshakes are expected here
    server.seen = []
    server.other_port = 0
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


@pytest.fixture
def servers():
    first, second = start_server(), start_server()
    first.other_port, second.other_port = second.server_port, first.server_port
    yield first, second
    for server in (first, second):
        server.shutdown()
        server.server_close()


def fetch(server, path, **kwargs):
    options = {
        "allowed_hosts": [f"127.0.0.1:{server.server_port}"],
        "allowed_networks": LOCAL,
        "max_bytes": 1000,
        "timeout": 2,
    }
    options.update(kwargs)
    return fetch_remote_text(f"http://127.0.0.1:{server.server_port}{path}", **options)


# check_remote_url


@pytest.mark.parametrize(
    "url",
    ["ftp://github.com/a", "file:///etc/passwd", "gopher://github.com/", "javascript:alert(1)", "github.com/a"],
)
def test_only_http_and_https_are_allowed(url):
    with pytest.raises(UnsafeURL):
        check_remote_url(url, allowed_hosts=["github.com"])


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com@evil.example/",
        "https://user:secret@github.com/",
        "https://github.com\\@evil.example/",
        "https://github.com /x",
        "https://github.com/\x00",
    ],
)
def test_user_info_and_parser_confusion_tricks_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_remote_url(url, allowed_hosts=["github.com", "evil.example"])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://evil.example/a", ["github.com"]),
        ("https://github.com.evil.example/a", ["github.com"]),
        ("https://example.com/a", ["*.example.com"]),
        ("https://badexample.com/a", ["*.example.com"]),
        ("https://github.com:8443/a", ["github.com"]),
        ("https://github.com:8443/a", ["github.com:9443"]),
    ],
)
def test_hosts_and_ports_must_be_on_the_allow_list(url, allowed):
    with pytest.raises(UnsafeURL, match="not in the allowed hosts"):
        check_remote_url(url, allowed_hosts=allowed)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "private|reserved"),
        ("http://100.64.0.1/", "not a public address"),
        ("http://[::1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[::ffff:127.0.0.1]/", "wraps 127.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "wraps 169.254.169.254"),
        ("http://[64:ff9b::a00:1]/", "wraps 10.0.0.1"),
        ("http://2130706433/", "loopback"),
    ],
)
def test_internal_addresses_are_refused_even_when_allow_listed(url, reason):
    host = url.split("/")[2].strip("[]")
    allowed = [host, f"[{host}]", "localhost"]

    with pytest.raises(UnsafeURL, match=reason):
        check_remote_url(url, allowed_hosts=allowed)


def test_allowed_networks_let_an_administrator_trust_an_internal_range():
    check_remote_url("http://localhost:8080/a", allowed_hosts=["localhost:8080"], allowed_networks=LOCAL)
    check_remote_url("http://10.1.2.3/a", allowed_hosts=["10.1.2.3"], allowed_networks=["10.0.0.0/8"])

    with pytest.raises(UnsafeURL, match="private"):
        check_remote_url("http://10.1.2.3/a", allowed_hosts=["10.1.2.3"], allowed_networks=["192.168.0.0/16"])


def test_explicit_default_ports_and_trailing_dots_are_the_same_host():
    check_remote_url("http://127.0.0.1:80/a", allowed_hosts=["127.0.0.1"], allowed_networks=LOCAL)
    check_remote_url("http://localhost./a", allowed_hosts=["localhost"], allowed_networks=LOCAL)


def test_names_that_do_not_resolve_are_refused():
    with pytest.raises(UnsafeURL, match="could not be resolved"):
        check_remote_url("https://nothing.invalid/a", allowed_hosts=["nothing.invalid"])


# fetch_remote_text


def test_fetch_returns_the_text(servers):
    assert fetch(servers[0], "/ok") == "kind: Component\nname: café\n"


def test_fetch_sends_the_host_name_it_checked(servers):
    server = servers[0]
    url = f"http://localhost:{server.server_port}/ok"

    fetch_remote_text(
        url, allowed_hosts=[f"localhost:{server.server_port}"], allowed_networks=LOCAL, max_bytes=100, timeout=2
    )

    assert server.seen[-1]["headers"]["Host"] == f"localhost:{server.server_port}"


def test_redirects_on_the_allow_list_are_followed(servers):
    assert fetch(servers[0], "/hop").startswith("kind: Component")


def test_a_redirect_to_the_metadata_service_is_refused(servers):
    with pytest.raises(UnsafeURL, match="169.254.169.254"):
        fetch(servers[0], "/to-metadata", allowed_hosts=[f"127.0.0.1:{servers[0].server_port}", "169.254.169.254"])


def test_a_redirect_to_a_host_not_on_the_allow_list_is_refused(servers):
    with pytest.raises(UnsafeURL, match="not in the allowed hosts"):
        fetch(servers[0], "/to-other")
    assert servers[1].seen == []


def test_credentials_are_not_sent_after_a_redirect_to_another_origin(servers):
    first, second = servers
    allowed = [f"127.0.0.1:{first.server_port}", f"127.0.0.1:{second.server_port}"]

    text = fetch(first, "/to-other", allowed_hosts=allowed, headers={"Authorization": "token abc", "X-Trace": "1"})

    assert text.startswith("kind: Component")
    assert first.seen[0]["headers"]["Authorization"] == "token abc"
    assert "Authorization" not in second.seen[0]["headers"]
    assert second.seen[0]["headers"]["X-Trace"] == "1"


def test_redirect_loops_stop(servers):
    with pytest.raises(RemoteFetchError, match="redirected more than 5 times"):
        fetch(servers[0], "/loop")


@pytest.mark.parametrize(("path", "problem"), [("/missing", "HTTP 404"), ("/latin1", "not UTF-8")])
def test_failed_reads_raise_with_the_reason(servers, path, problem):
    with pytest.raises(RemoteFetchError, match=problem):
        fetch(servers[0], path)


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_bodies_past_the_size_cap_are_refused(servers, path):
    with pytest.raises(RemoteFetchError, match="limit"):
        fetch(servers[0], path)


def test_a_server_that_drips_its_answer_is_cut_off(servers):
    started = time.monotonic()

    with pytest.raises(RemoteFetchError):
        fetch(servers[0], "/slow", timeout=0.5)
    assert time.monotonic() - started < 2


def test_error_messages_leave_out_the_query(servers):
    with pytest.raises(RemoteFetchError) as caught:
        fetch(servers[0], "/missing?token=secret")

    assert "secret" not in str(caught.value)


def test_tls_certificates_are_checked_against_the_host_name_not_the_pinned_address(tmp_path):
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = start_server()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    port = server.server_port
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        text = fetch_remote_text(
            f"https://localhost:{port}/ok",
            allowed_hosts=[f"localhost:{port}", f"127.0.0.1:{port}"],
            allowed_networks=LOCAL,
            max_bytes=1000,
            timeout=5,
            ssl_context=trusting,
        )
        with pytest.raises(RemoteFetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch_remote_text(
                f"https://127.0.0.1:{port}/ok",
                allowed_hosts=[f"127.0.0.1:{port}"],
                allowed_networks=LOCAL,
                max_bytes=1000,
                timeout=5,
                ssl_context=trusting,
            )
    finally:
        server.shutdown()
        server.server_close()

    assert text.startswith("kind: Component")
