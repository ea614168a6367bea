"""Backstage's template filters: parseRepoUrl, parseEntityRef, pick and projectSlug. Plain functions of their
arguments; scaffolder.expressions registers them in the sandbox under Backstage's names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit


def parse_repo_url(repo_url: Any) -> dict[str, str]:
    """`github.com?owner=acme&repo=payments` -> {host, owner, repo} (and organization/workspace/project if given)."""
    text = str(repo_url)
    parts = urlsplit(f"https://{text}")
    if not parts.hostname or parts.username or parts.password or parts.path not in ("", "/"):
        raise ValueError(f"{text!r} is not a repository URL like github.com?owner=acme&repo=payments")
    query = parse_qs(parts.query)
    result = {"host": parts.hostname + (f":{parts.port}" if parts.port else "")}
    for key in ("owner", "repo", "organization", "workspace", "project"):
        if query.get(key):
            result[key] = query[key][0]
    if "repo" not in result:
        raise ValueError(f"the repository URL {text!r} has no repo= part")
    return result


def parse_entity_ref(ref: Any, context: Mapping[str, str] | None = None) -> dict[str, str]:
    """`group:default/payments` -> {kind, namespace, name}; defaultKind/defaultNamespace fill what is left out."""
    text = str(ref).strip()
    defaults = dict(context or {})
    kind, _, rest = text.partition(":") if ":" in text else (defaults.get("defaultKind", ""), "", text)
    namespace, _, name = rest.partition("/") if "/" in rest else (defaults.get("defaultNamespace", "default"), "", rest)
    if not kind or not namespace or not name:
        raise ValueError(f"{text!r} is not an entity reference like kind:namespace/name (kind is required)")
    return {"kind": kind, "namespace": namespace, "name": name}


def pick(value: Any, key: str) -> Any:
    """Backstage's `pick`: the value at a dotted path, or nothing when it is absent."""
    for part in str(key).split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def project_slug(repo_url: Any) -> str:
    parsed = parse_repo_url(repo_url)
    owner = parsed.get("owner") or parsed.get("organization") or parsed.get("workspace")
    if not owner:
        raise ValueError(f"the repository URL {repo_url!r} has no owner= part")
    return f"{owner}/{parsed['repo']}"
