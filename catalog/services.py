"""Writes of the catalog. Every write goes through here: it validates, stores, keeps relations in step and records an
audit event. Ingestion (catalog.ingestion) turns descriptor files into calls of `entity_upsert_descriptor`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from jsonschema.exceptions import SchemaError

from catalog.descriptors import content_hash, validate_entity
from catalog.models import Blueprint, Entity, Location, Relation
from catalog.refs import EntityRef, InvalidRef, parse_ref, ref_of
from catalog.relations_spec import RELATION_FIELDS, relations_for
from rbac.services import audit_record

# Backstage's kinds: their relations come from relations_spec; custom blueprints declare theirs as data.
BACKSTAGE_KINDS = {kind.lower() for kind in RELATION_FIELDS} | {"location", "template"}


class CatalogError(Exception):
    """A write was refused; `errors` holds one message per problem, by field where there is one."""

    def __init__(self, message: str, errors: dict[str, list[str]] | list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


@dataclass
class UpsertResult:
    entity: Entity
    created: bool
    changed: bool
    warnings: list[str] = field(default_factory=list)


# --- blueprints ----------------------------------------------------------------------------------------------------


def _check_blueprint_definition(*, schema: dict, relations: list[dict]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(schema, dict):
        errors["schema"] = ["The schema must be a JSON object."]
    else:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            errors["schema"] = [f"Not a valid JSON Schema: {exc.message} (at {'/'.join(map(str, exc.path)) or 'root'})"]
        if schema.get("type", "object") != "object":
            errors.setdefault("schema", []).append('The schema must describe an object ("type": "object").')
    relation_errors = []
    if not isinstance(relations, list):
        relation_errors.append("Relations must be a list.")
    else:
        seen = set()
        for index, relation in enumerate(relations, start=1):
            if not isinstance(relation, dict) or not relation.get("identifier") or not relation.get("target"):
                relation_errors.append(f"Relation {index} needs an identifier and a target blueprint.")
                continue
            if relation["identifier"] in seen:
                relation_errors.append(f"Relation {index}: the identifier {relation['identifier']!r} is used twice.")
            seen.add(relation["identifier"])
            if not Blueprint.objects.filter(identifier=str(relation["target"]).lower()).exists():
                relation_errors.append(f"Relation {index}: there is no blueprint {relation['target']!r} to point at.")
    if relation_errors:
        errors["relations"] = relation_errors
    return errors


def blueprint_create(
    *,
    actor,
    identifier: str,
    title: str,
    schema: dict | None = None,
    relations: list[dict] | None = None,
    description: str = "",
    icon: str = "box",
) -> Blueprint:
    schema = schema if schema is not None else {"type": "object", "properties": {}}
    relations = relations or []
    identifier = identifier.strip().lower()
    errors = _check_blueprint_definition(schema=schema, relations=relations)
    if Blueprint.objects.filter(identifier=identifier).exists():
        errors.setdefault("identifier", []).append(f"A blueprint {identifier!r} exists already.")
    if errors:
        raise CatalogError("The blueprint was not saved.", errors)
    with transaction.atomic():
        blueprint = Blueprint.objects.create(
            identifier=identifier, title=title, schema=schema, relations=relations, description=description, icon=icon
        )
        audit_record(actor=actor, verb="blueprint.create", target=blueprint, changes={"identifier": identifier})
    return blueprint


@dataclass
class BlueprintUpdateResult:
    blueprint: Blueprint
    misfits: list[Entity]  # entities that no longer fit the new schema; kept, and marked with their errors


def blueprint_update(*, actor, blueprint: Blueprint, **changes: Any) -> BlueprintUpdateResult:
    """Change a blueprint. Entities are re-validated against a new schema; those that no longer fit are kept and
    listed (with their errors stored on them), never changed or removed."""
    allowed = {"title", "description", "icon", "schema", "relations"}
    unknown = set(changes) - allowed
    if unknown:
        raise CatalogError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    schema = changes.get("schema", blueprint.schema)
    relations = changes.get("relations", blueprint.relations)
    errors = _check_blueprint_definition(schema=schema, relations=relations)
    if errors:
        raise CatalogError("The blueprint was not saved.", errors)
    before = {key: getattr(blueprint, key) for key in changes}
    with transaction.atomic():
        for key, value in changes.items():
            setattr(blueprint, key, value)
        blueprint.save()
        misfits = []
        if "schema" in changes:
            misfits = _revalidate_entities(blueprint)
        audit_record(
            actor=actor,
            verb="blueprint.update",
            target=blueprint,
            changes={"before": before, "after": changes, "misfits": [entity.ref for entity in misfits]},
        )
    return BlueprintUpdateResult(blueprint, misfits)


def _revalidate_entities(blueprint: Blueprint) -> list[Entity]:
    misfits = []
    for entity in blueprint.entities.only("id", "ref", "kind", "namespace", "name", "properties", "schema_errors"):
        errors = property_errors(blueprint.schema, entity.properties)
        if errors != entity.schema_errors:
            Entity.objects.filter(pk=entity.pk).update(schema_errors=errors)
        if errors:
            entity.schema_errors = errors
            misfits.append(entity)
    return misfits


def blueprint_delete(*, actor, blueprint: Blueprint) -> None:
    if blueprint.builtin:
        raise CatalogError(f"{blueprint.title} is a builtin blueprint and cannot be deleted.")
    if blueprint.entities.exists():
        raise CatalogError(f"{blueprint.title} still has {blueprint.entities.count()} entities; delete them first.")
    with transaction.atomic():
        audit_record(actor=actor, verb="blueprint.delete", target=blueprint)
        blueprint.delete()


def property_errors(schema: dict, properties: dict) -> list[str]:
    """Messages for every way `properties` breaks `schema`, each naming the property."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    messages = []
    for error in sorted(validator.iter_errors(properties), key=lambda e: list(map(str, e.path))):
        where = ".".join(map(str, error.path)) or "properties"
        messages.append(f"{where}: {error.message}")
    return messages


def blueprints_ensure_builtin() -> int:
    """Create any missing builtin blueprint (Backstage's kinds); returns how many were created. The data migration
    creates them once; this puts back what a wiped database lost (tests that flush tables do)."""
    from catalog.builtin_blueprints import BUILTIN_BLUEPRINTS

    present = set(Blueprint.objects.filter(builtin=True).values_list("identifier", flat=True))
    missing = [definition for definition in BUILTIN_BLUEPRINTS if definition["identifier"] not in present]
    for definition in missing:
        Blueprint.objects.update_or_create(
            identifier=definition["identifier"], defaults={**definition, "builtin": True}
        )
    return len(missing)


def _blueprint_for_kind(kind: str) -> Blueprint:
    """The blueprint of a kind; a kind nobody defined yet gets a permissive blueprint so its entities are kept."""
    blueprint = Blueprint.objects.filter(identifier=kind.lower()).first()
    if blueprint is None:
        blueprint, _ = Blueprint.objects.get_or_create(
            identifier=kind.lower(),
            defaults={
                "title": kind,
                "description": f"Created when the first {kind} entity was ingested. Add a schema to describe it.",
                "schema": {"type": "object", "additionalProperties": True},
            },
        )
    return blueprint


# --- entities ------------------------------------------------------------------------------------------------------


def _search_document(*, name: str, namespace: str, kind: str, title: str, description: str, tags: list) -> str:
    return " ".join(str(part) for part in (name, title, kind, namespace, description, " ".join(map(str, tags))) if part)


def _custom_relations(blueprint: Blueprint, namespace: str, properties: dict) -> list[tuple[str, EntityRef]]:
    """Relations a custom blueprint declares: a property named like the relation holds the target reference(s)."""
    relations = []
    for definition in blueprint.relations or []:
        value = properties.get(definition["identifier"])
        values = value if isinstance(value, list) else [value] if value else []
        for target in values:
            relations.append(
                (
                    definition["identifier"],
                    parse_ref(target, default_kind=definition["target"], default_namespace=namespace),
                )
            )
    return relations


def _relations_of(blueprint: Blueprint, data: dict) -> list[tuple[str, EntityRef]]:
    namespace = (data.get("metadata") or {}).get("namespace") or "default"
    if blueprint.identifier in BACKSTAGE_KINDS:
        return relations_for(data)
    return _custom_relations(blueprint, namespace, data.get("spec") or {})


def _fields_from_descriptor(data: dict) -> dict[str, Any]:
    metadata = data.get("metadata") or {}
    spec = data.get("spec") or {}
    ref = ref_of(data)
    owner = spec.get("owner")
    owner_ref = ""
    if isinstance(owner, str) and owner:
        try:
            owner_ref = str(parse_ref(owner, default_kind="Group", default_namespace=ref.namespace))
        except InvalidRef:
            owner_ref = ""
    tags = [str(tag) for tag in metadata.get("tags") or []]
    return {
        "ref": str(ref),
        "kind": str(data.get("kind")),
        "namespace": metadata.get("namespace") or "default",
        "name": str(metadata.get("name")),
        "title": str(metadata.get("title") or ""),
        "description": str(metadata.get("description") or ""),
        "owner_ref": owner_ref,
        "lifecycle": str(spec.get("lifecycle") or "") if isinstance(spec.get("lifecycle"), str) else "",
        "type": str(spec.get("type") or "") if isinstance(spec.get("type"), str) else "",
        "tags": tags,
        "labels": metadata.get("labels") or {},
        "annotations": metadata.get("annotations") or {},
        "links": metadata.get("links") or [],
        "properties": spec,
        "api_version": str(data.get("apiVersion") or ""),
        "search_document": _search_document(
            name=str(metadata.get("name")),
            namespace=metadata.get("namespace") or "default",
            kind=str(data.get("kind")),
            title=str(metadata.get("title") or ""),
            description=str(metadata.get("description") or ""),
            tags=tags,
        ),
    }


def descriptor_digest(data: dict, *, source_file: str, warnings: list[str]) -> str:
    """What decides "unchanged": the descriptor, the file it came from and the warnings it had."""
    return content_hash({"descriptor": data, "file": source_file, "warnings": warnings})


@dataclass
class DescriptorInput:
    """One descriptor to write, with where it came from."""

    data: dict
    source_file: str = ""
    source_line: int | None = None
    warnings: list[str] = field(default_factory=list)


_ENTITY_FIELDS = [
    "blueprint",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "owner_ref",
    "lifecycle",
    "type",
    "tags",
    "labels",
    "annotations",
    "links",
    "properties",
    "descriptor",
    "api_version",
    "location",
    "source_file",
    "source_line",
    "content_hash",
    "orphaned",
    "schema_errors",
    "warnings",
    "search_document",
    "updated_at",
]


def _prepare(item: DescriptorInput, blueprints: dict[str, Blueprint]):
    """Check one descriptor and work out its fields and relations; raises CatalogError when it is refused."""
    errors = validate_entity(item.data)
    if errors:
        raise CatalogError("; ".join(errors), errors)
    kind = str(item.data["kind"])
    blueprint = blueprints.get(kind.lower()) or _blueprint_for_kind(kind)
    blueprints[blueprint.identifier] = blueprint
    fields = _fields_from_descriptor(item.data)
    if blueprint.identifier not in BACKSTAGE_KINDS:
        schema_errors = property_errors(blueprint.schema, fields["properties"])
        if schema_errors:
            message = f"does not fit the {blueprint.title} blueprint: " + "; ".join(schema_errors)
            raise CatalogError(message, schema_errors)
    try:
        relations = {(rel_type, str(target)) for rel_type, target in _relations_of(blueprint, item.data)}
    except InvalidRef as exc:
        raise CatalogError(str(exc), [str(exc)]) from exc
    digest = descriptor_digest(item.data, source_file=item.source_file, warnings=item.warnings)
    return blueprint, fields, relations, digest


def entities_upsert(
    *,
    items: list[DescriptorInput],
    actor=None,
    location: Location | None = None,
    check_ownership: bool = True,
    audit: bool = True,
) -> list[UpsertResult | CatalogError]:
    """Create or update the entities a batch of descriptors describes, in a constant number of queries.

    Returns one result per item, in order: an UpsertResult, or the CatalogError that refused that item (Backstage's
    rules, the blueprint's schema, a reference that does not parse, or another location owning the entity: the first
    location wins). Refused items change nothing; the others are written together. Unchanged content writes nothing.
    """
    results: list[UpsertResult | CatalogError | None] = [None] * len(items)
    blueprints = {blueprint.identifier: blueprint for blueprint in Blueprint.objects.all()}
    prepared = []
    for index, item in enumerate(items):
        try:
            prepared.append((index, item, *_prepare(item, blueprints)))
        except CatalogError as exc:
            results[index] = exc

    existing = {entity.ref: entity for entity in Entity.objects.filter(ref__in=[p[3]["ref"] for p in prepared])}
    now = timezone.now()
    creations, changes, seen = [], [], set()
    for index, item, blueprint, fields, relations, digest in prepared:
        ref = fields["ref"]
        if ref in seen:
            results[index] = CatalogError(f"{ref} appears twice in this batch; the first one wins")
            continue
        seen.add(ref)
        entity = existing.get(ref)
        target_location = location if location is not None else getattr(entity, "location", None)
        if entity is not None:
            if check_ownership and location is not None and entity.location_id not in (None, location.pk):
                results[index] = CatalogError(
                    f"{entity.display_ref} is already in the catalog from another location "
                    f"({entity.location}); the first location keeps it"
                )
                continue
            unchanged = entity.content_hash == digest and not entity.orphaned
            if unchanged and entity.location_id == getattr(target_location, "pk", None):
                results[index] = UpsertResult(entity, created=False, changed=False, warnings=item.warnings)
                continue
        values = {
            **fields,
            "blueprint": blueprint,
            "descriptor": item.data,
            "location": target_location,
            "source_file": item.source_file,
            "source_line": item.source_line,
            "content_hash": digest,
            "orphaned": False,
            "schema_errors": [],
            "warnings": item.warnings,
            "updated_at": now,
        }
        if entity is None:
            creations.append((index, Entity(**values), relations, item))
        else:
            for key, value in values.items():
                setattr(entity, key, value)
            changes.append((index, entity, relations, item))

    with transaction.atomic():
        Entity.objects.bulk_create([entity for _, entity, _, _ in creations], batch_size=500)
        Entity.objects.bulk_update([entity for _, entity, _, _ in changes], _ENTITY_FIELDS, batch_size=200)
        Relation.objects.filter(source__in=[entity.pk for _, entity, _, _ in changes]).delete()
        written = creations + changes
        target_refs = {ref for _, _, relations, _ in written for _, ref in relations}
        targets = dict(Entity.objects.filter(ref__in=target_refs).values_list("ref", "pk")) if target_refs else {}
        _insert_relations(
            [
                (entity.pk, rel_type, ref, targets.get(ref))
                for _, entity, relations, _ in written
                for rel_type, ref in sorted(relations)
            ]
        )
        if creations:
            # Relations that pointed at these entities before they existed now find them.
            Relation.objects.filter(target__isnull=True, target_ref__in=[e.ref for _, e, _, _ in creations]).update(
                target=Subquery(Entity.objects.filter(ref=OuterRef("target_ref")).values("pk")[:1])
            )
        for index, entity, _, item in written:
            created = existing.get(entity.ref) is None
            results[index] = UpsertResult(entity, created=created, changed=True, warnings=item.warnings)
            if audit:  # ingestion records one event per location refresh instead of one per entity
                note = {"source": item.source_file} if item.source_file else {}
                audit_record(
                    actor=actor, verb="entity.create" if created else "entity.update", target=entity, changes=note
                )
    return results


def _insert_relations(rows: list[tuple[int, str, str, int | None]]) -> None:
    """Insert (source id, type, target ref, target id) rows. On PostgreSQL through COPY: a catalog load writes about
    four relations per entity, and COPY skips the per-value escaping a bulk INSERT pays for in Python."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Relation.objects.bulk_create(
            [Relation(source_id=s, type=t, target_ref=r, target_id=i) for s, t, r, i in rows], batch_size=1000
        )
        return
    table = Relation._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} (source_id, type, target_ref, target_id) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def entity_upsert_descriptor(
    *,
    data: dict,
    actor=None,
    location: Location | None = None,
    source_file: str = "",
    source_line: int | None = None,
    warnings: list[str] | None = None,
    check_ownership: bool = True,
    audit: bool = True,
) -> UpsertResult:
    """Create or update the entity one descriptor describes; raises CatalogError when it is refused."""
    item = DescriptorInput(data, source_file=source_file, source_line=source_line, warnings=warnings or [])
    (result,) = entities_upsert(
        items=[item], actor=actor, location=location, check_ownership=check_ownership, audit=audit
    )
    if isinstance(result, CatalogError):
        raise result
    return result


def descriptor_from_fields(
    *,
    kind: str,
    name: str,
    namespace: str = "default",
    title: str = "",
    description: str = "",
    tags: list[str] | None = None,
    labels: dict | None = None,
    annotations: dict | None = None,
    links: list | None = None,
    properties: dict | None = None,
    api_version: str = "backstage.io/v1alpha1",
) -> dict:
    """A descriptor for an entity made in a form or through the API, in the same shape as a catalog-info.yaml."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace or "default"}
    for key, value in (
        ("title", title),
        ("description", description),
        ("tags", tags),
        ("labels", labels),
        ("annotations", annotations),
        ("links", links),
    ):
        if value:
            metadata[key] = value
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": properties or {}}


def entity_create(*, actor, descriptor: dict) -> Entity:
    """Create an entity from a form or the API. Refuses one that exists already."""
    try:
        ref = str(ref_of(descriptor))
    except (InvalidRef, TypeError, AttributeError) as exc:
        raise CatalogError(f"The entity has no valid kind and name: {exc}") from exc
    if Entity.objects.filter(ref=ref).exists():
        raise CatalogError(f"{ref} exists already.", {"name": [f"{ref} exists already."]})
    return entity_upsert_descriptor(data=descriptor, actor=actor).entity


def entity_update(*, actor, entity: Entity, changes: dict[str, Any]) -> Entity:
    """Change an entity's metadata or properties (a day-2 action, the edit form, the API).

    `changes` may hold title, description, tags, labels, annotations (merged; a None value removes a key), links,
    lifecycle, owner, and properties (merged into spec). The result is validated like any descriptor.
    """
    data = copy.deepcopy(entity.descriptor) or descriptor_from_fields(
        kind=entity.kind, name=entity.name, namespace=entity.namespace
    )
    metadata = data.setdefault("metadata", {})
    spec = data.setdefault("spec", {})
    for key in ("title", "description", "tags", "links"):
        if key in changes:
            metadata[key] = changes[key]
    for key in ("labels", "annotations"):
        if key in changes:
            merged = {**metadata.get(key, {}), **changes[key]}
            metadata[key] = {k: v for k, v in merged.items() if v is not None}
    for key in ("lifecycle", "owner"):
        if key in changes:
            spec[key] = changes[key]
    if "properties" in changes:
        spec.update(changes["properties"])
    unknown = set(changes) - {
        "title",
        "description",
        "tags",
        "links",
        "labels",
        "annotations",
        "lifecycle",
        "owner",
        "properties",
    }
    if unknown:
        raise CatalogError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    before = {"metadata": entity.descriptor.get("metadata"), "spec": entity.descriptor.get("spec")}
    result = entity_upsert_descriptor(
        data=data,
        actor=actor,
        location=entity.location,
        source_file=entity.source_file,
        source_line=entity.source_line,
        warnings=entity.warnings,
    )
    if result.changed:
        audit_record(
            actor=actor, verb="entity.change", target=result.entity, changes={"before": before, "changes": changes}
        )
    return result.entity


def entity_delete(*, actor, entity: Entity) -> None:
    """Remove an entity. Relations pointing at it become unresolved again (they keep the reference)."""
    with transaction.atomic():
        audit_record(actor=actor, verb="entity.delete", target=entity, changes={"ref": entity.ref})
        entity.delete()


def entity_mark_orphaned(*, entities, actor=None) -> int:
    """Mark entities whose location no longer yields them. They stay in the catalog until a person deletes them."""
    pks = [entity.pk for entity in entities if not entity.orphaned]
    if pks:
        Entity.objects.filter(pk__in=pks).update(orphaned=True)
        for entity in entities:
            if entity.pk in pks:
                audit_record(actor=actor, verb="entity.orphan", target=entity)
    return len(pks)
