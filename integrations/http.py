"""The one way Portico's integrations make HTTP calls: timeouts, bounded retries, and respect for the server's wishes.

`send()` wraps an `httpx.Client` request with retries that:

- back off exponentially with jitter (so many pollers do not retry in lockstep),
- honour `Retry-After` (delta seconds or an HTTP date) and rate-limit headers (`X-RateLimit-Reset`,
  `RateLimit-Reset` when the remaining quota is 0) on 429 and 503,
- retry 5xx answers, timeouts and dropped connections only for idempotent requests (a POST that reached the server
  may have done its work), but retry connection failures for every method (nothing was sent) and 429 for every method
  (the server refused the request without acting on it),
- never sleep longer in total than `RetryPolicy.max_total_wait`: a server asking for more gets its answer returned
  to the caller at once, so a poller never hangs on a `Retry-After: 3600`.

Logs name the method and the URL without its query string; headers (and so Authorization) are never logged.
The Kubernetes client, which speaks through urllib3, reuses `server_wait_hint()` and `next_wait()`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class _RedactSecretHeaders(logging.Filter):
    """httpcore's DEBUG trace prints response headers verbatim, and Argo CD's login answer carries the session token
    in `Set-Cookie`. This filter blanks the values of secret-bearing headers in those records."""

    # (b'Set-Cookie', b'argocd.token=...'): Python quotes a bytes value with " when it contains a ', hence the \2.
    _HEADER_RE = re.compile(
        r"(\(b'(?:set-cookie|cookie|authorization|proxy-authorization|x-auth-token)', b)(['\"])(?:\\.|(?!\2).)*\2",
        re.IGNORECASE,
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._HEADER_RE.sub(r"\1\2[redacted]\2", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


for _name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_RedactSecretHeaders())

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` counts the first try; waits grow as backoff, 2*backoff, 4*backoff... (jittered)."""

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_total_wait: float = 20.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_total_wait < 0:
            raise ValueError("RetryPolicy waits must not be negative")


DEFAULT_RETRY = RetryPolicy()


class TransportFailure(Exception):
    """The server could not be reached or did not answer in time, after every allowed attempt."""

    def __init__(self, *, kind: str, attempts: int, cause: Exception) -> None:
        self.kind = kind  # "connect", "tls" (certificate not trusted), "timeout" or "network"
        self.attempts = attempts
        self.cause = cause
        super().__init__(f"{kind} failure after {attempts} attempt(s): {describe_transport_error(cause)}")


def describe_transport_error(exc: Exception) -> str:
    """A short, token-free description of an httpx transport error."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def server_wait_hint(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """How long the server asked us to wait, from `Retry-After` or exhausted rate-limit headers; None if it did not say.

    `headers` must look up names case-insensitively (httpx.Headers and urllib3's HTTPHeaderDict both do).
    """
    retry_after = parse_retry_after(headers.get("Retry-After"), now=now)
    if retry_after is not None:
        return retry_after
    current = time.time() if now is None else now
    if (headers.get("X-RateLimit-Remaining") or "").strip() == "0":
        reset = _parse_number(headers.get("X-RateLimit-Reset"))
        if reset is not None:
            # GitHub-style servers send an epoch time, others a delta; no delta is anywhere near 10^9 seconds.
            return max(0.0, reset - current) if reset > 1e9 else max(0.0, reset)
    if (headers.get("RateLimit-Remaining") or "").strip() == "0":
        reset = _parse_number(headers.get("RateLimit-Reset"))
        if reset is not None:
            return max(0.0, reset)
    return None


def _parse_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def backoff_delay(policy: RetryPolicy, retry_number: int) -> float:
    """The jittered exponential wait before retry number `retry_number` (1 for the first retry)."""
    ceiling = min(policy.max_backoff, policy.backoff * (2 ** (retry_number - 1)))
    # "Equal jitter": at least half the delay, so retries do not collapse to zero, the other half random.
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def next_wait(policy: RetryPolicy, *, retry_number: int, waited: float, hint: float | None) -> float | None:
    """Seconds to sleep before retry number `retry_number`, or None when the policy says to give up.

    A server hint is honoured exactly, but only if it fits in what is left of `max_total_wait`; otherwise we give up
    rather than sleep for longer than the caller can afford.
    """
    if retry_number >= policy.attempts:
        return None
    budget = policy.max_total_wait - waited
    if hint is not None:
        return hint if hint <= budget else None
    if budget <= 0:
        return None
    return min(backoff_delay(policy, retry_number), budget)


def loggable_url(url: httpx.URL | str) -> str:
    """The URL without credentials or query string, safe for logs and error messages."""
    try:
        parsed = httpx.URL(str(url))
    except httpx.InvalidURL:
        return "(an invalid URL)"
    if not parsed.host:
        return parsed.path
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def check_base_url(url: str, *, system: str) -> str:
    """Validate a configured server URL (http or https, a host, no embedded credentials) and return it without a
    trailing slash. Raises ValueError with a message naming `system`."""
    text = (url or "").strip()
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{system} URL is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(
            f"{system} URL must start with http:// or https:// and name a host, got {loggable_url(text)!r}"
        )
    if parsed.userinfo:
        raise ValueError(f"{system} URL must not contain credentials; configure the token separately")
    if parsed.query or parsed.fragment:
        raise ValueError(f"{system} URL must not contain a query string or fragment")
    return text.rstrip("/")


def build_client(
    base_url: str,
    *,
    timeout: float,
    verify: bool | str = True,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An httpx client with one timeout for connect, read, write and pool waits, and no redirects followed
    (a redirect usually means a login page in front of the API, which the caller should report, not follow).
    `verify` is True, False, or the path of a CA bundle to trust (ValueError when it cannot be read)."""
    tls: bool | ssl.SSLContext = verify if isinstance(verify, bool) else True
    if isinstance(verify, str):
        # httpx wants a CA bundle as an SSL context (a path string is deprecated).
        try:
            tls = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot read the CA bundle {verify}: {exc}") from None
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        verify=tls,
        headers=dict(headers or {}),
        follow_redirects=False,
    )


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    idempotent: bool | None = None,
    **request_kwargs: Any,
) -> httpx.Response:
    """Send a request with `retry`. Returns the last response, which may carry an error status the caller should
    turn into its own error; raises TransportFailure when no answer came back at all.

    `idempotent` defaults to "the method is idempotent"; pass True for a POST that is safe to repeat (a read sent as
    POST, a create with upsert).
    """
    method = method.upper()
    if idempotent is None:
        idempotent = method in IDEMPOTENT_METHODS
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            response = client.request(method, url, **request_kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if is_tls_error(exc):
                # An untrusted certificate will not become trusted by asking again.
                raise TransportFailure(kind="tls", attempts=attempt, cause=exc) from exc
            # The request never left this machine, so repeating it is safe whatever the method.
            waited = _wait_or_raise(retry, method, client, url, exc, "connect", attempt, waited)
            continue
        except httpx.TimeoutException as exc:
            waited = _wait_or_raise(retry, method, client, url, exc, "timeout", attempt, waited, retryable=idempotent)
            continue
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            waited = _wait_or_raise(retry, method, client, url, exc, "network", attempt, waited, retryable=idempotent)
            continue
        status = response.status_code
        if status not in RETRYABLE_STATUSES or not (idempotent or status == 429):
            return response
        hint = server_wait_hint(response.headers) if status in (429, 503) else None
        wait = next_wait(retry, retry_number=attempt, waited=waited, hint=hint)
        if wait is None:
            return response
        response.close()
        logger.warning(
            "%s %s answered %s; retrying in %.2f s (attempt %d of %d)",
            method,
            loggable_url(response.request.url),
            status,
            wait,
            attempt + 1,
            retry.attempts,
        )
        time.sleep(wait)
        waited += wait


def is_tls_error(exc: BaseException) -> bool:
    """Whether a connection failed in the TLS handshake (an untrusted or mismatched certificate, say)."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLError):
            return True
        current = current.__cause__ or current.__context__
    return "[SSL" in str(exc)


def _full_url(client: httpx.Client, url: str) -> str:
    # The same merge httpx does: a relative path is appended to the base URL's path, leading slash or not.
    if url.startswith(("http://", "https://")):
        return url
    return str(client.base_url) + url.lstrip("/")


def _wait_or_raise(
    retry: RetryPolicy,
    method: str,
    client: httpx.Client,
    url: str,
    exc: Exception,
    kind: str,
    attempt: int,
    waited: float,
    *,
    retryable: bool = True,
) -> float:
    wait = next_wait(retry, retry_number=attempt, waited=waited, hint=None) if retryable else None
    if wait is None:
        raise TransportFailure(kind=kind, attempts=attempt, cause=exc) from exc
    logger.warning(
        "%s %s failed (%s); retrying in %.2f s (attempt %d of %d)",
        method,
        loggable_url(_full_url(client, url)),
        describe_transport_error(exc),
        wait,
        attempt + 1,
        retry.attempts,
    )
    time.sleep(wait)
    return waited + wait


# Reading settings. The config modules of every integration parse their environment variables with these, so a
# flag, a timeout or a list of names is written the same way for Argo CD, Prometheus and Kubernetes.

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_INSTANCE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def parse_flag(value: str | None, *, setting: str, default: bool) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off (any case); `default` when unset or empty."""
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"{setting} must be true or false (1/0, yes/no, on/off), got {value.strip()[:20]!r}")


def parse_timeout(value: str | None, *, setting: str, default: float) -> float:
    """A timeout in seconds, more than 0 and at most 300; `default` when unset or empty."""
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        raise ValueError(f"{setting} must be a number of seconds, got {value.strip()[:20]!r}") from None
    if not 0 < seconds <= 300:
        raise ValueError(f"{setting} must be more than 0 and at most 300 seconds, got {seconds:g}")
    return seconds


def parse_names(value: str | None, *, setting: str) -> list[str]:
    """A comma-separated list of instance names ("prod, staging"): lowercase letters, digits and '-', unique."""
    names: list[str] = []
    for raw in (value or "").split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if not _INSTANCE_NAME_RE.match(name):
            raise ValueError(
                f"{setting} lists {name[:40]!r}, which is not a valid name (a letter, then letters, digits or '-')"
            )
        if name in names:
            raise ValueError(f"{setting} lists {name!r} twice")
        names.append(name)
    return names


def setting_key(prefix: str, instance: str, field: str) -> str:
    """The environment variable of one field of a named instance: PREFIX_FIELD for "default",
    PREFIX_<NAME>_FIELD otherwise (ARGOCD_PROD_URL, KUBERNETES_EU_WEST_TOKEN)."""
    if instance == "default":
        return f"{prefix}_{field}"
    return f"{prefix}_{instance.upper().replace('-', '_')}_{field}"
