"""Backstage descriptor files: safe loading, validation by Backstage's own rules, content hashes.

Pure functions over plain data: no database, no settings. `load_documents` turns a (possibly hostile) file into
one ParsedDocument per document, `validate_entity` checks one document the way Backstage's catalog does and returns
messages that name the field, `content_hash` lets ingestion skip writes when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from catalog.kind_rules import check_spec
from catalog.relations_spec import reference_errors
from catalog.safe_yaml import MAX_DEPTH, MAX_NODES, iter_documents
from catalog.validators import (
    is_valid_api_version,
    is_valid_kind,
    is_valid_label_value,
    is_valid_namespace,
    is_valid_object_name,
    is_valid_prefixed_key,
    is_valid_tag,
    is_valid_url,
)

_SURROGATE = re.compile("[\ud800-\udfff]")
ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "relations", "status")
_FILE_NODE_BUDGET_FACTOR = 10  # all documents of one file together may hold this many times max_nodes values
_ENTITY_HINT = "expected a mapping with apiVersion, kind, metadata"


@dataclass(frozen=True)
class ParsedDocument:
    index: int  # 0-based position among the file's non-empty documents (messages count from 1)
    line: int  # 1-based line where the document starts
    data: dict[str, Any] | None
    error: str | None
    source: str


def load_documents(
    content: str | bytes,
    *,
    source: str,
    max_bytes: int = 1_048_576,
    max_documents: int = 500,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> list[ParsedDocument]:
    """Load every document of a descriptor file; each failure is its own ParsedDocument with an error."""
    size = len(content) if isinstance(content, bytes) else _utf8_size(content, max_bytes)
    if size > max_bytes:
        error = f"file is {_size_text(size)}, the limit is {_size_text(max_bytes)}"
        return [ParsedDocument(index=0, line=1, data=None, error=error, source=source)]
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            error = f"file is not UTF-8 text (invalid byte at offset {exc.start})"
            return [ParsedDocument(index=0, line=1, data=None, error=error, source=source)]
    else:
        text = content
        if _SURROGATE.search(text):
            error = "file is not valid Unicode text (it holds unpaired surrogates)"
            return [ParsedDocument(index=0, line=1, data=None, error=error, source=source)]
    text = text.removeprefix("\ufeff")

    documents: list[ParsedDocument] = []
    budget = max_nodes * _FILE_NODE_BUDGET_FACTOR
    for loaded in iter_documents(text, max_nodes=max_nodes, max_depth=max_depth):
        if loaded.empty:
            continue
        index = len(documents)
        if index >= max_documents:
            error = f"file has more than {max_documents} documents, the limit is {max_documents}"
            documents.append(ParsedDocument(index=index, line=loaded.line, data=None, error=error, source=source))
            break
        error = None
        if loaded.error is not None:
            error = f"document {index + 1}: {loaded.error.message}"
        elif not isinstance(loaded.value, dict):
            error = f"document {index + 1} is {_type_text(loaded.value)}, {_ENTITY_HINT}"
        else:
            budget -= _count_values(loaded.value)
            if budget < 0:
                limit = max_nodes * _FILE_NODE_BUDGET_FACTOR
                error = f"document {index + 1}: the file holds too many values in total (limit {limit:,})"
        data = loaded.value if error is None else None
        documents.append(ParsedDocument(index=index, line=loaded.line, data=data, error=error, source=source))
    return documents


def validate_entity(data: dict[str, Any]) -> list[str]:
    """Check an entity against Backstage's envelope, metadata and built-in kind rules; [] means valid."""
    if not isinstance(data, dict):
        return [f"entity is {_type_text(data)}, {_ENTITY_HINT}"]
    errors: list[str] = []
    for key in data:
        if key not in ROOT_FIELDS:
            errors.append(f'"{key}" is not a known top-level field (allowed: {", ".join(ROOT_FIELDS)})')

    api_version, kind = data.get("apiVersion"), data.get("kind")
    if api_version is None:
        errors.append("apiVersion is required")
    elif not is_valid_api_version(api_version):
        errors.append(f"apiVersion {_show(api_version)} is not valid; expected e.g. backstage.io/v1alpha1")
    if kind is None:
        errors.append("kind is required")
    elif not is_valid_kind(kind):
        errors.append(f"kind {_show(kind)} is not valid; expected letters and digits, starting with a letter, max 63")

    metadata = data.get("metadata")
    if metadata is None:
        errors.append("metadata is required")
    elif not isinstance(metadata, dict):
        errors.append(f"metadata must be a mapping, not {_type_text(metadata)}")
    else:
        errors.extend(_check_metadata(metadata))

    spec = data.get("spec")
    if spec is not None and not isinstance(spec, dict):
        errors.append(f"spec must be a mapping, not {_type_text(spec)}")
    elif isinstance(api_version, str) and isinstance(kind, str):
        spec_errors = check_spec(api_version, kind, spec)
        errors.extend(spec_errors)
        if not spec_errors:
            errors.extend(reference_errors(data))
    return errors


def content_hash(data: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form (sorted keys, no spaces), so equal content gives equal hashes."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_metadata(metadata: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    name = metadata.get("name")
    if name is None:
        errors.append("metadata.name is required")
    elif not is_valid_object_name(name):
        errors.append(
            f"metadata.name {_show(name)} is not valid; expected sequences of [a-zA-Z0-9] separated by "
            "any of [-_.], at most 63 characters"
        )
    namespace = metadata.get("namespace")
    if namespace is not None and not is_valid_namespace(namespace):
        errors.append(
            f"metadata.namespace {_show(namespace)} is not valid; expected sequences of [a-z0-9] separated by [-], "
            "at most 63 characters"
        )
    for field in ("title", "description"):
        if field in metadata and not isinstance(metadata[field], str):
            errors.append(f"metadata.{field} must be a string, not {_type_text(metadata[field])}")
    errors.extend(_check_labels(metadata.get("labels")))
    errors.extend(_check_annotations(metadata.get("annotations")))
    errors.extend(_check_tags(metadata.get("tags")))
    errors.extend(_check_links(metadata.get("links")))
    return errors


def _check_labels(labels: Any) -> list[str]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [f"metadata.labels must be a mapping, not {_type_text(labels)}"]
    errors = []
    for key, value in labels.items():
        if not is_valid_prefixed_key(key):
            errors.append(f"metadata.labels key {_show(key)} is not valid; {_KEY_RULE}")
        if not is_valid_label_value(value):
            errors.append(
                f"metadata.labels.{key} value {_show(value)} is not valid; expected a string of sequences of "
                "[a-zA-Z0-9] separated by any of [-_.], at most 63 characters, or an empty string"
            )
    return errors


def _check_annotations(annotations: Any) -> list[str]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [f"metadata.annotations must be a mapping, not {_type_text(annotations)}"]
    errors = []
    for key, value in annotations.items():
        if not is_valid_prefixed_key(key):
            errors.append(f"metadata.annotations key {_show(key)} is not valid; {_KEY_RULE}")
        if not isinstance(value, str):
            errors.append(f"metadata.annotations.{key} must be a string, not {_type_text(value)}")
    return errors


def _check_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list):
        return [f"metadata.tags must be a list, not {_type_text(tags)}"]
    return [
        f"metadata.tags[{i}] {_show(tag)} is not valid; expected sequences of [a-z0-9:+#] separated by [-], "
        "at most 63 characters"
        for i, tag in enumerate(tags)
        if not is_valid_tag(tag)
    ]


def _check_links(links: Any) -> list[str]:
    if links is None:
        return []
    if not isinstance(links, list):
        return [f"metadata.links must be a list, not {_type_text(links)}"]
    errors = []
    for i, link in enumerate(links):
        where = f"metadata.links[{i}]"
        if not isinstance(link, dict):
            errors.append(f"{where} must be a mapping with a url, not {_type_text(link)}")
            continue
        if "url" not in link:
            errors.append(f"{where}.url is required")
        elif not is_valid_url(link["url"]):
            errors.append(f"{where}.url {_show(link['url'])} is not a valid URL")
        for field in ("title", "type"):
            if field in link and (not isinstance(link[field], str) or not link[field].strip()):
                errors.append(f"{where}.{field} must be a non-empty string")
        if "icon" in link and not is_valid_object_name(link["icon"]):
            errors.append(f"{where}.icon {_show(link['icon'])} is not valid; expected a short name such as dashboard")
    return errors


_KEY_RULE = (
    "expected [prefix/]name where the prefix is a DNS subdomain (at most 253 characters) and the name is "
    "sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters"
)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 80 else text[:77] + '..."'


def _type_text(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _utf8_size(text: str, limit: int) -> int:
    # Every character is at least one byte, so a long enough string is over the limit without encoding it.
    if len(text) > limit:
        return len(text)
    return len(text.encode("utf-8", errors="surrogatepass"))


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


def _count_values(value: Any) -> int:
    stack, count = [value], 0
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
