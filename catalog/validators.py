"""Field format checks from Backstage's catalog model (KubernetesValidatorFunctions, CommonValidatorFunctions).

Each function takes any value and answers whether it is a valid string of that format.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_API_VERSION_SUFFIX = re.compile(r"^[a-zA-Z0-9]+$")
_TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*$")


def _string(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def is_valid_object_name(value: Any) -> bool:
    """Entity names, label names, link icons: 1-63 of [a-zA-Z0-9] separated by [-_.]."""
    return _string(value, 1, 63) and _OBJECT_NAME.fullmatch(value) is not None


def is_valid_dns_label(value: Any) -> bool:
    return _string(value, 1, 63) and _DNS_LABEL.fullmatch(value) is not None


def is_valid_namespace(value: Any) -> bool:
    return is_valid_dns_label(value)


def is_valid_dns_subdomain(value: Any) -> bool:
    return _string(value, 1, 253) and all(is_valid_dns_label(part) for part in value.split("."))


def is_valid_kind(value: Any) -> bool:
    return _string(value, 1, 63) and _KIND.fullmatch(value) is not None


def is_valid_api_version(value: Any) -> bool:
    """`[dns-subdomain/]version`, e.g. backstage.io/v1alpha1."""
    return _prefixed(value, lambda suffix: _string(suffix, 1, 63) and bool(_API_VERSION_SUFFIX.fullmatch(suffix)))


def is_valid_prefixed_key(value: Any) -> bool:
    """Label and annotation keys: `[dns-subdomain/]object-name`."""
    return _prefixed(value, is_valid_object_name)


def is_valid_label_value(value: Any) -> bool:
    return value == "" or is_valid_object_name(value)


def is_valid_tag(value: Any) -> bool:
    return _string(value, 1, 63) and _TAG.fullmatch(value) is not None


def is_valid_url(value: Any) -> bool:
    """An absolute URL with a scheme, the way JavaScript's `new URL()` accepts it."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(_URL_SCHEME.fullmatch(parts.scheme)) and bool(parts.netloc or parts.path)


def is_non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _prefixed(value: Any, is_valid_suffix: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return is_valid_suffix(parts[0])
    if len(parts) == 2:
        return is_valid_dns_subdomain(parts[0]) and is_valid_suffix(parts[1])
    return False
