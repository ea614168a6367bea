"""YAML loading for untrusted input: bounded work, plain values only, one bad document never hides the others.

PyYAML's (C) parser turns the text into events; this module builds the values itself so it can refuse early:
every scalar, collection and alias expansion counts against a node budget (a "billion laughs" alias bomb stops
after the budget, long before anything big is built), nesting depth is capped, and only the standard YAML tags are
accepted (`!!python/object` and custom tags are refused). Plain scalars follow the YAML 1.2 core schema, as
Backstage's YAML library does: `yes`/`on` stay strings, dates stay strings, so every value is JSON-ready.

Multi-document files are split at document markers first (a `---` or `...` line can never be part of a value),
so a syntax error in one document is reported with its own line and the other documents still load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _EventLoader
except ImportError:  # pragma: no cover - libyaml is part of the pinned PyYAML wheel
    from yaml import SafeLoader as _EventLoader

MAX_NODES = 100_000
MAX_DEPTH = 64

_YAML_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_MARKER = re.compile(r"^(---|\.\.\.)(?:[ \t\r]|$)")


class YamlError(ValueError):
    """A document that cannot be loaded; `line` and `column` are 1-based when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class LoadedDocument:
    line: int  # 1-based line of the document's first value (or of its chunk when it failed)
    value: Any = None
    error: YamlError | None = None
    empty: bool = False


@dataclass
class _Frame:
    kind: str  # "map" or "seq"
    anchor: str | None
    line: int
    items: list[Any] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)
    pending_key: str | None = None
    pending_merge: bool = False
    has_key: bool = False
    size: int = 1
    height: int = 1  # levels of collections in this value, itself included


def split_documents(text: str) -> list[tuple[int, str]]:
    """Cut a YAML stream into chunks of at most one document each: (0-based first line, chunk text)."""
    chunks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    has_content = False
    for number, line in enumerate(text.split("\n")):
        marker = _MARKER.match(line)
        if marker and marker.group(1) == "---" and has_content:
            chunks.append((start, "\n".join(current)))
            current, start, has_content = [], number, False
        current.append(line)
        if marker and marker.group(1) == "...":
            chunks.append((start, "\n".join(current)))
            current, start, has_content = [], number + 1, False
            continue
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not line.startswith("%"):
            has_content = True
    if current:
        chunks.append((start, "\n".join(current)))
    return chunks


def iter_documents(text: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> Iterator[LoadedDocument]:
    """Yield every document of a YAML stream, loaded with limits; failures are yielded, not raised."""
    for offset, chunk in split_documents(text):
        yield from _load_chunk(chunk, offset=offset, max_nodes=max_nodes, max_depth=max_depth)


def load_single(text: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> Any:
    """Load a stream that must hold exactly one document (any value); raise YamlError otherwise."""
    documents = [doc for doc in iter_documents(text, max_nodes=max_nodes, max_depth=max_depth) if not doc.empty]
    for doc in documents:
        if doc.error:
            raise doc.error
    if len(documents) != 1:
        raise YamlError(f"expected exactly one YAML document, found {len(documents)}")
    return documents[0].value


def _load_chunk(chunk: str, *, offset: int, max_nodes: int, max_depth: int) -> Iterator[LoadedDocument]:
    builder: _Builder | None = None
    first_line = offset + 1
    try:
        for event in yaml.parse(chunk, Loader=_EventLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                builder = _Builder(offset=offset, max_nodes=max_nodes, max_depth=max_depth)
            elif isinstance(event, yaml.DocumentEndEvent):
                if builder is not None:
                    yield builder.finish()
                builder = None
            elif builder is not None:
                if builder.root_line is None and not builder.stack:
                    first_line = builder.root_line = builder.line_of(event)
                builder.feed(event)
    except YamlError as exc:
        yield LoadedDocument(line=first_line, error=exc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + offset + 1 if mark else offset + 1
        column = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        where = f"line {line}, column {column}" if column else f"line {line}"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        error = YamlError(f"YAML syntax error at {where}: {problem}{context}", line=line, column=column)
        yield LoadedDocument(line=first_line, error=error)
    except yaml.YAMLError as exc:
        yield LoadedDocument(line=first_line, error=YamlError(f"YAML error: {exc}", line=first_line))


class _Builder:
    """Builds one document's value from parser events, counting every node (aliases at their full size)."""

    def __init__(self, *, offset: int, max_nodes: int, max_depth: int) -> None:
        self.offset = offset
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.count = 0
        self.used_aliases = False
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # anchor -> (value, size, height)
        self.root: Any = None
        self.root_line: int | None = None
        self.has_root = False

    def line_of(self, event: yaml.Event) -> int:
        return event.start_mark.line + self.offset + 1 if event.start_mark else self.offset + 1

    def fail(self, event: yaml.Event, message: str) -> YamlError:
        line = self.line_of(event)
        column = event.start_mark.column + 1 if event.start_mark else None
        return YamlError(f"line {line}: {message}", line=line, column=column)

    def _count(self, event: yaml.Event, size: int, *, alias: bool = False) -> None:
        self.count += size
        self.used_aliases = self.used_aliases or alias
        if self.count > self.max_nodes:
            if self.used_aliases:
                message = f"document is too large once aliases are expanded (more than {self.max_nodes:,} values)"
                raise self.fail(event, message + "; this looks like an alias bomb")
            raise self.fail(event, f"document has more than {self.max_nodes:,} values")

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):
            if self._key_expected():
                self._add_key(event)
                return
            self._count(event, 1)
            value = _scalar_value(event, self)
            self._add_value(event, value, 1, 0, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            if self._key_expected():
                raise self.fail(event, f"alias *{event.anchor} cannot be used as a mapping key")
            if event.anchor not in self.anchors:
                raise self.fail(event, f"alias *{event.anchor} has no anchor &{event.anchor} defined before it")
            value, size, height = self.anchors[event.anchor]
            self._count(event, size, alias=True)
            if len(self.stack) + height > self.max_depth:
                raise self.fail(event, f"values are nested more than {self.max_depth} levels deep")
            self._add_value(event, _clone(value), size, height, None)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if self._key_expected():
                raise self.fail(event, "mapping keys must be plain values, not lists or mappings")
            kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
            _check_collection_tag(event, kind, self)
            if len(self.stack) >= self.max_depth:
                raise self.fail(event, f"values are nested more than {self.max_depth} levels deep")
            self._count(event, 1)
            self.stack.append(_Frame(kind=kind, anchor=event.anchor, line=self.line_of(event)))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            value = _finish_mapping(frame) if frame.kind == "map" else frame.items
            self._add_value(event, value, frame.size, frame.height, frame.anchor)

    def _key_expected(self) -> bool:
        return bool(self.stack) and self.stack[-1].kind == "map" and not self.stack[-1].has_key

    def _add_key(self, event: yaml.ScalarEvent) -> None:
        frame = self.stack[-1]
        _check_scalar_tag(event, self)
        self._count(event, 1)
        frame.size += 1
        if event.value == "<<" and _is_plain(event) and event.tag is None:
            frame.pending_merge = True
        else:
            if event.value in frame.keys:
                raise self.fail(event, f'duplicate key "{event.value}"')
            frame.pending_key = event.value
        frame.has_key = True

    def _add_value(self, event: yaml.Event, value: Any, size: int, height: int, anchor: str | None) -> None:
        if anchor:
            self.anchors[anchor] = (value, size, height)
        if not self.stack:
            self.root, self.has_root = value, True
            return
        frame = self.stack[-1]
        frame.size += size
        frame.height = max(frame.height, height + 1)
        if frame.kind == "seq":
            frame.items.append(value)
            return
        if frame.pending_merge:
            merges = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in merges):
                raise self.fail(event, "a merge key (<<) must point at a mapping or a list of mappings")
            frame.merges.extend(merges)
        else:
            frame.keys.append(frame.pending_key)
            frame.items.append(value)
        frame.pending_key, frame.pending_merge, frame.has_key = None, False, False

    def finish(self) -> LoadedDocument:
        if not self.has_root or self.root is None:
            return LoadedDocument(line=(self.root_line or self.offset + 1), empty=True)
        return LoadedDocument(line=self.root_line or self.offset + 1, value=self.root)


def _finish_mapping(frame: _Frame) -> dict[str, Any]:
    result: dict[str, Any] = {}
    # Merged mappings fill in only what the mapping does not say itself; the first merge wins (YAML merge rules).
    for merged in frame.merges:
        for key, value in merged.items():
            result.setdefault(key, value)
    for key, value in zip(frame.keys, frame.items, strict=True):
        result[key] = value
    return result


def _clone(value: Any) -> Any:
    # Aliases become independent copies so the loaded data is a plain tree; the node budget bounds the cost.
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


def _is_plain(event: yaml.ScalarEvent) -> bool:
    # The C parser reports plain scalars with style "", the pure-Python one with None.
    return not event.style


def _tag_text(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _check_collection_tag(event: yaml.CollectionStartEvent, kind: str, builder: _Builder) -> None:
    allowed = {"map": _YAML_TAG + "map", "seq": _YAML_TAG + "seq"}[kind]
    if event.tag not in (None, "!", allowed):
        raise builder.fail(event, f"tag {_tag_text(event.tag)} is not allowed; only plain YAML values are")


def _check_scalar_tag(event: yaml.ScalarEvent, builder: _Builder) -> None:
    if event.tag not in (None, "!") and event.tag != _YAML_TAG + "str":
        raise builder.fail(event, f"tag {_tag_text(event.tag)} is not allowed on a mapping key")


def _scalar_value(event: yaml.ScalarEvent, builder: _Builder) -> Any:
    tag, text = event.tag, event.value
    if tag in (None, "!"):
        if tag == "!" or not _is_plain(event):
            return text  # quoted and block scalars are always strings
        return _resolve_plain(event, builder)
    if tag == _YAML_TAG + "str":
        return text
    if tag in (_YAML_TAG + "int", _YAML_TAG + "float", _YAML_TAG + "bool", _YAML_TAG + "null"):
        value = _resolve_plain(event, builder)
        expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[tag[len(_YAML_TAG) :]]
        if not isinstance(value, expected) or (tag.endswith("int") and isinstance(value, bool)):
            raise builder.fail(event, f'"{text}" is not a valid {_tag_text(tag)}')
        return float(value) if tag.endswith("float") else value
    raise builder.fail(event, f"tag {_tag_text(tag)} is not allowed; only plain YAML values are")


def _resolve_plain(event: yaml.ScalarEvent, builder: _Builder) -> Any:
    text = event.value
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    try:
        if _INT.match(text):
            return int(text)
        if _OCT.match(text):
            return int(text[2:], 8)
        if _HEX.match(text):
            return int(text[2:], 16)
    except ValueError as exc:  # more digits than Python converts safely
        raise builder.fail(event, f"number is too long: {exc}") from exc
    if _FLOAT.match(text):
        number = float(text)
        if math.isinf(number):
            raise builder.fail(event, f'"{text}" is too large a number (JSON has no infinity); quote it for a string')
        return number
    if _SPECIAL_FLOAT.match(text):
        raise builder.fail(event, f'"{text}" is not allowed (JSON has no infinity or NaN); quote it for a string')
    return text
