"""Entity references: `kind:namespace/name`, parsed the way Backstage's parseEntityRef does.

Backstage compares references without regard to case (stringifyEntityRef lowercases every part), so an
EntityRef keeps the spelling it was written with for display, while equality, hashing and `str()` use the
lowercased canonical form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_NAMESPACE = "default"


class InvalidRef(ValueError):
    """An entity reference that cannot be understood; the message says why."""


@dataclass(frozen=True, eq=False)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}:{self.namespace.lower()}/{self.name.lower()}"

    @property
    def display(self) -> str:
        """The reference as written (kind keeps its capitals), for pages and messages."""
        return f"{self.kind}:{self.namespace}/{self.name}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntityRef):
            return NotImplemented
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _split_ref_string(ref: str) -> tuple[str | None, str | None, str]:
    colon = ref.find(":")
    slash = ref.find("/")
    # A "/" ahead of the ":" means the colon belongs to the name (Backstage does the same).
    if slash != -1 and slash < colon:
        colon = -1
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1 : slash] if slash != -1 else None
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise InvalidRef(f'entity reference "{ref}" is not of the form [<kind>:][<namespace>/]<name>')
    return kind, namespace, name


def parse_ref(
    ref: str | dict[str, Any],
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse `name`, `kind:name`, `namespace/name`, `kind:namespace/name` or {kind, namespace, name}."""
    if isinstance(ref, str):
        if not ref.strip():
            raise InvalidRef("entity reference is empty")
        if ref != ref.strip():
            raise InvalidRef(f'entity reference "{ref}" has leading or trailing spaces')
        kind, namespace, name = _split_ref_string(ref)
    elif isinstance(ref, dict):
        kind, namespace, name = ref.get("kind"), ref.get("namespace"), ref.get("name")
        for field, value in (("kind", kind), ("namespace", namespace), ("name", name)):
            if value is not None and not isinstance(value, str):
                raise InvalidRef(f"entity reference {field} must be a string, not {type(value).__name__}")
    else:
        raise InvalidRef(f"entity reference must be a string or a mapping, not {type(ref).__name__}")

    kind = kind or default_kind
    namespace = namespace or default_namespace
    if not kind:
        raise InvalidRef(f'entity reference "{_text(ref)}" has no kind (write it as e.g. "component:{name or ""}")')
    if not namespace:
        raise InvalidRef(f'entity reference "{_text(ref)}" has no namespace')
    if not name:
        raise InvalidRef(f'entity reference "{_text(ref)}" has no name')
    return EntityRef(kind=kind, namespace=namespace, name=name)


def ref_of(data: dict[str, Any]) -> EntityRef:
    """The reference of an entity descriptor (namespace defaults to "default")."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidRef("entity has no metadata mapping")
    kind, name = data.get("kind"), metadata.get("name")
    namespace = metadata.get("namespace", DEFAULT_NAMESPACE)
    if not isinstance(kind, str) or not kind:
        raise InvalidRef("entity has no kind")
    if not isinstance(name, str) or not name:
        raise InvalidRef("entity has no metadata.name")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidRef("entity metadata.namespace must be a non-empty string")
    return EntityRef(kind=kind, namespace=namespace, name=name)


def _text(ref: str | dict[str, Any]) -> str:
    if isinstance(ref, str):
        return ref
    return ", ".join(f"{key}={ref.get(key)!r}" for key in ("kind", "namespace", "name") if key in ref)
