"""Relations an entity's spec declares, as Backstage's BuiltinKindsEntityProcessor emits them.

Only the outgoing side is returned; the target's side is INVERSE[type]. Relative references take the entity's own
namespace and the field's default kind, as in Backstage.
"""

from __future__ import annotations

from typing import Any

from catalog.kind_rules import builtin_kind
from catalog.refs import DEFAULT_NAMESPACE, EntityRef, InvalidRef, parse_ref

OWNED_BY, OWNER_OF = "ownedBy", "ownerOf"
PART_OF, HAS_PART = "partOf", "hasPart"
DEPENDS_ON, DEPENDENCY_OF = "dependsOn", "dependencyOf"
PROVIDES_API, API_PROVIDED_BY = "providesApi", "apiProvidedBy"
CONSUMES_API, API_CONSUMED_BY = "consumesApi", "apiConsumedBy"
MEMBER_OF, HAS_MEMBER = "memberOf", "hasMember"
PARENT_OF, CHILD_OF = "parentOf", "childOf"

_PAIRS = (
    (OWNED_BY, OWNER_OF),
    (PART_OF, HAS_PART),
    (DEPENDS_ON, DEPENDENCY_OF),
    (PROVIDES_API, API_PROVIDED_BY),
    (CONSUMES_API, API_CONSUMED_BY),
    (MEMBER_OF, HAS_MEMBER),
    (PARENT_OF, CHILD_OF),
)
INVERSE: dict[str, str] = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}

# Backstage gives dependsOn/dependencyOf no default kind (a reference there must name its kind); Portico reads a
# bare name as a Component instead of refusing the entity.
_DEPENDENCY_DEFAULT_KIND = "Component"

# kind -> (spec field, relation type, default kind of a reference without one)
RELATION_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Component": (
        ("owner", OWNED_BY, "Group"),
        ("subcomponentOf", PART_OF, "Component"),
        ("providesApis", PROVIDES_API, "API"),
        ("consumesApis", CONSUMES_API, "API"),
        ("dependsOn", DEPENDS_ON, _DEPENDENCY_DEFAULT_KIND),
        ("dependencyOf", DEPENDENCY_OF, _DEPENDENCY_DEFAULT_KIND),
        ("system", PART_OF, "System"),
    ),
    "API": (
        ("owner", OWNED_BY, "Group"),
        ("system", PART_OF, "System"),
    ),
    "Resource": (
        ("owner", OWNED_BY, "Group"),
        ("dependsOn", DEPENDS_ON, _DEPENDENCY_DEFAULT_KIND),
        ("dependencyOf", DEPENDENCY_OF, _DEPENDENCY_DEFAULT_KIND),
        ("system", PART_OF, "System"),
    ),
    "System": (
        ("owner", OWNED_BY, "Group"),
        ("domain", PART_OF, "Domain"),
    ),
    "Domain": (
        ("owner", OWNED_BY, "Group"),
        ("subdomainOf", PART_OF, "Domain"),
    ),
    "Group": (
        ("parent", CHILD_OF, "Group"),
        ("children", PARENT_OF, "Group"),
        ("members", HAS_MEMBER, "User"),
    ),
    "User": (("memberOf", MEMBER_OF, "Group"),),
    # From the scaffolder's ScaffolderEntitiesProcessor.
    "Template": (("owner", OWNED_BY, "Group"),),
}


def relations_for(data: dict[str, Any]) -> list[tuple[str, EntityRef]]:
    """(relation type, target) pairs declared by the spec; raises InvalidRef naming the field on a bad reference."""
    relations, errors = _collect(data)
    if errors:
        raise InvalidRef(errors[0])
    return relations


def reference_errors(data: dict[str, Any]) -> list[str]:
    """Messages for spec references that cannot be parsed (validate_entity reports these)."""
    return _collect(data)[1]


def _collect(data: dict[str, Any]) -> tuple[list[tuple[str, EntityRef]], list[str]]:
    kind = builtin_kind(data.get("apiVersion"), data.get("kind"))
    spec = data.get("spec")
    if kind is None or not isinstance(spec, dict):
        return [], []
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str):
        namespace = DEFAULT_NAMESPACE

    relations: list[tuple[str, EntityRef]] = []
    errors: list[str] = []
    seen: set[tuple[str, EntityRef]] = set()
    for field, relation, default_kind in RELATION_FIELDS.get(kind, ()):
        value = spec.get(field)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            where = f"spec.{field}[{i}]" if isinstance(value, list) else f"spec.{field}"
            if not isinstance(item, str):
                errors.append(f"{where} must be an entity reference string")
                continue
            try:
                target = parse_ref(item, default_kind=default_kind, default_namespace=namespace)
            except InvalidRef as exc:
                errors.append(f"{where}: {exc}")
                continue
            if (relation, target) not in seen:
                seen.add((relation, target))
                relations.append((relation, target))
    return relations, errors
