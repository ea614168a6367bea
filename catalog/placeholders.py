"""`$text` / `$json` / `$yaml` placeholders and Location targets, resolved without leaving the location's root.

As in Backstage's PlaceholderProcessor, a placeholder is a mapping with exactly one key, `$text`, `$json` or
`$yaml`, whose value is a path relative to the descriptor or an absolute URL. Other `$`-keys (`$ref` in a JSON
Schema) are left alone. A target that cannot be read leaves the placeholder as it was and adds a warning; it never
raises, so the entity is still ingested.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from catalog.safe_yaml import YamlError, load_single

PLACEHOLDER_KEYS = ("$text", "$json", "$yaml")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_REMOTE_SCHEMES = ("http", "https")
_MAX_WALK_DEPTH = 100


class UnsafeTarget(ValueError):
    """A Location target or placeholder path that would leave the location's root, or uses a refused scheme."""


def resolve_placeholders(
    data: dict[str, Any],
    *,
    read_relative: Callable[[str], str],
    fetch_url: Callable[[str], str] | None,
    max_bytes: int = 1_048_576,
    max_placeholders: int = 50,
) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of `data` with readable placeholders replaced, and one warning per placeholder left as is.

    `read_relative(path)` reads a path relative to the descriptor (the caller keeps it inside the location root);
    `fetch_url(url)` reads an absolute http(s) URL, or is None when remote reads are not allowed.
    """
    state = _State(read_relative, fetch_url, max_bytes, max_placeholders)
    return state.walk(data, "", 0), state.warnings


class _State:
    def __init__(
        self,
        read_relative: Callable[[str], str],
        fetch_url: Callable[[str], str] | None,
        max_bytes: int,
        max_placeholders: int,
    ) -> None:
        self.read_relative = read_relative
        self.fetch_url = fetch_url
        self.max_bytes = max_bytes
        self.remaining = max_placeholders
        self.max_placeholders = max_placeholders
        self.warnings: list[str] = []

    def walk(self, value: Any, path: str, depth: int) -> Any:
        if depth > _MAX_WALK_DEPTH:
            return value
        if isinstance(value, list):
            return [self.walk(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        keys = list(value)
        if any(isinstance(key, str) and key.startswith("$") for key in keys):
            if len(keys) == 1 and keys[0] in PLACEHOLDER_KEYS:
                return self.resolve(value, keys[0], path)
            return value  # e.g. a JSON Schema "$ref": not ours to touch
        return {key: self.walk(item, f"{path}.{key}" if path else str(key), depth + 1) for key, item in value.items()}

    def resolve(self, placeholder: dict[str, Any], key: str, path: str) -> Any:
        where = path or "(document)"
        target = placeholder[key]
        if not isinstance(target, str) or not target.strip():
            self.warnings.append(f"{where}: {key} expects a relative path or an absolute URL")
            return placeholder
        if self.remaining <= 0:
            self.warnings.append(f"{where}: not read, more than {self.max_placeholders} placeholders in one entity")
            return placeholder
        self.remaining -= 1
        try:
            content = self.read(target)
            if len(content) > self.max_bytes:
                raise ValueError(f"content is larger than {self.max_bytes:,} bytes")
        except Exception as exc:  # any failure of a caller's reader is a warning, never an error
            self.warnings.append(f"{where}: could not read {target}: {exc}")
            return placeholder
        try:
            return _parse(key, content)
        except (ValueError, RecursionError) as exc:
            self.warnings.append(f"{where}: could not parse {target} as {key[1:].upper()}: {exc}")
            return placeholder

    def read(self, target: str) -> str:
        scheme = _SCHEME.match(target)
        if scheme:
            if scheme.group(1).lower() not in _REMOTE_SCHEMES:
                raise UnsafeTarget("only relative paths and http(s) URLs can be read")
            if self.fetch_url is None:
                raise UnsafeTarget("reading remote URLs is not enabled")
            return self.fetch_url(target)
        _check_relative_path(target)
        return self.read_relative(target)


def _parse(key: str, content: str) -> Any:
    if key == "$text":
        return content
    if key == "$json":
        return json.loads(content)
    try:
        return load_single(content)
    except YamlError as exc:
        raise ValueError(exc.message) from exc


def resolve_target(base: str, target: str) -> str:
    """Resolve a Location target (or relative reference) against the location of the file that names it.

    `base` is that file's path relative to the location root (a local folder or git checkout), or its URL.
    Relative targets (`a.yaml`, `./a.yaml`, `../b/a.yaml`) are joined to the file's folder and must stay inside
    the root (for git tree URLs such as github.com/o/r/blob/main/..., the root is the repository at that ref).
    Absolute http(s) URLs are returned as they are: check them with catalog.safe_urls before reading.
    """
    _check_text(target, "target")
    _check_text(base, "base")
    scheme = _SCHEME.match(target)
    if scheme:
        if scheme.group(1).lower() not in _REMOTE_SCHEMES:
            raise UnsafeTarget(f'target "{target}" uses an unsupported scheme; use a relative path or an http(s) URL')
        return target
    _check_relative_path(target)
    base_scheme = _SCHEME.match(base)
    if base_scheme:
        if base_scheme.group(1).lower() not in _REMOTE_SCHEMES:
            raise UnsafeTarget(f'base "{base}" uses an unsupported scheme')
        path, _, query = target.partition("?")
        parts = urlsplit(base)
        segments = [s for s in parts.path.split("/") if s]
        root = _git_root_length(parts.netloc, segments)
        joined = _join(segments[:-1] if parts.path and not parts.path.endswith("/") else segments, path, root, target)
        return urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(joined), query, ""))
    if base.startswith("/"):
        raise UnsafeTarget(f'base "{base}" must be a path relative to the location root')
    segments = [s for s in base.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise UnsafeTarget(f'base "{base}" must not contain ".."')
    joined = _join(segments[:-1], target, 0, target)
    if not joined:
        raise UnsafeTarget(f'target "{target}" names the location root, not a file')
    return posixpath.join(*joined)


def _join(folder: list[str], path: str, root: int, target: str) -> list[str]:
    result = list(folder)
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if len(result) <= root:
                raise UnsafeTarget(f'target "{target}" points outside the location root')
            result.pop()
        else:
            result.append(segment)
    return result


def _git_root_length(host: str, segments: list[str]) -> int:
    """How many leading path segments name the repository and ref (nothing above them may be reached)."""
    host = host.lower().rsplit("@", 1)[-1].split(":")[0]
    if host == "raw.githubusercontent.com":
        return min(3, len(segments))
    if "-" in segments:  # GitLab: /group/sub/project/-/blob/<ref>/path
        dash = segments.index("-")
        if len(segments) > dash + 2 and segments[dash + 1] in ("blob", "tree", "raw"):
            return dash + 3
    if len(segments) >= 4 and segments[2] in ("blob", "tree", "raw", "src", "edit"):
        return 4  # GitHub, Gitea, Bitbucket: /owner/repo/blob/<ref>/path
    return 0


def _check_text(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise UnsafeTarget(f"{what} must be a non-empty string")
    if any(ord(char) < 0x20 or char in "\\\x7f" for char in value):
        raise UnsafeTarget(f"{what} {value!r} contains control characters or backslashes")


def _check_relative_path(path: str) -> None:
    if path.startswith("/") or path.startswith("~"):
        raise UnsafeTarget(f'"{path}" is an absolute path; use a path relative to this file')
    _check_text(path, "path")
