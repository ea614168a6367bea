"""Reads of the catalog for pages and the API. Every read starts from `rbac.selectors.restrict`, so what a user may
see is decided in one place; every list costs a constant number of queries whatever the catalog's size."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Length
from django.http import Http404

from catalog.models import Blueprint, Entity, Relation
from catalog.refs import InvalidRef, parse_ref
from catalog.relations_spec import INVERSE
from rbac.selectors import restrict

# The columns a list row needs: keeps the big JSON columns (descriptor, properties) out of list queries.
LIST_FIELDS = (
    "id",
    "ref",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "owner_ref",
    "lifecycle",
    "type",
    "tags",
    "orphaned",
    "updated_at",
)
SORTS = {
    "name": ("name", "kind", "namespace"),
    "-name": ("-name", "kind", "namespace"),
    "kind": ("kind", "name", "namespace"),
    "-kind": ("-kind", "name", "namespace"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
}
# Kind, then name: the (kind, name) index serves it, so the first page of 50,000 entities needs no full sort.
DEFAULT_SORT = "kind"
RELATION_ROWS_PER_TYPE = 50  # a group can own thousands of entities; the page lists the rest elsewhere
_TERM = re.compile(r"\w+", re.UNICODE)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def entities_visible(*, user, action: str = "view") -> QuerySet[Entity]:
    """The entities `user` may see (or change, delete): the start of every entity read."""
    return restrict(Entity.objects.all(), user=user, action=action)


def search_terms(text: str, *, max_terms: int = 8) -> list[str]:
    """Words of a search box entry, lowercased; everything that is not a letter or digit is dropped, so the terms are
    safe to place in a raw tsquery."""
    return [term.lower() for term in _TERM.findall(text or "")][:max_terms]


def _prefix_tsquery(terms: list[str]) -> str:
    return " & ".join(f"{term}:*" for term in terms)


def _search_vector() -> SearchVector:
    # Exactly the expression of the GIN index created in migration 0002, so PostgreSQL can use it.
    return SearchVector("search_document", config="simple")


def filter_text(queryset: QuerySet[Entity], text: str) -> QuerySet[Entity]:
    """Entities whose names, title, description or tags match every word of `text` (as a prefix on PostgreSQL)."""
    terms = search_terms(text)
    if not terms:
        return queryset
    if _is_postgres():
        query = SearchQuery(_prefix_tsquery(terms), config="simple", search_type="raw")
        return queryset.annotate(search=_search_vector()).filter(search=query)
    condition = Q()
    for term in terms:
        condition &= Q(search_document__icontains=term)
    return queryset.filter(condition)


def filter_tag(queryset: QuerySet[Entity], tag: str) -> QuerySet[Entity]:
    tag = (tag or "").strip().lower()
    if not tag:
        return queryset
    if _is_postgres():
        return queryset.filter(tags__contains=[tag])
    # SQLite has no JSON containment; json_each over the list is exact and still one query.
    return queryset.extra(
        where=["EXISTS (SELECT 1 FROM json_each(catalog_entity.tags) WHERE json_each.value = %s)"], params=[tag]
    )


def normalise_owner(owner: str) -> str:
    """`team-a`, `group:team-a` or `group:default/team-a` all name the same owner reference."""
    owner = (owner or "").strip()
    if not owner:
        return ""
    try:
        return str(parse_ref(owner, default_kind="group"))
    except InvalidRef:
        return owner.lower()


def apply_entity_filters(queryset: QuerySet[Entity], filters: dict[str, Any]) -> QuerySet[Entity]:
    """The catalog's filters (kind, type, owner, lifecycle, tag, namespace, q) and sort, applied to `queryset`. The
    index page and the API (through catalog.filters.EntityFilterSet) both filter here."""
    if filters.get("kind"):
        # Through the blueprint (identifier = lowercase kind), so the (blueprint, namespace, name) index applies.
        queryset = queryset.filter(blueprint__identifier=str(filters["kind"]).lower())
    if filters.get("type"):
        queryset = queryset.filter(type=filters["type"])
    if filters.get("lifecycle"):
        queryset = queryset.filter(lifecycle=filters["lifecycle"])
    if filters.get("namespace"):
        queryset = queryset.filter(namespace=filters["namespace"])
    if filters.get("owner"):
        queryset = queryset.filter(owner_ref=normalise_owner(filters["owner"]))
    if filters.get("tag"):
        queryset = filter_tag(queryset, filters["tag"])
    if filters.get("q"):
        queryset = filter_text(queryset, filters["q"])
    return queryset.order_by(*SORTS.get(filters.get("sort") or DEFAULT_SORT, SORTS[DEFAULT_SORT]))


def entity_list(*, user, filters: dict[str, Any] | None = None) -> QuerySet[Entity]:
    """Entities `user` may see, filtered by kind, type, owner, lifecycle, tag, namespace and text (`q`), sorted by
    `sort` (name, kind, updated; `-` reverses). Only the columns a list row needs are read."""
    return apply_entity_filters(entities_visible(user=user).only(*LIST_FIELDS), filters or {})


def kind_counts(*, user, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """[{kind, count}] of the entities the other filters select (the kind filter itself is ignored, so every kind's
    chip shows what choosing it would give)."""
    others = {key: value for key, value in (filters or {}).items() if key not in ("kind", "sort")}
    queryset = entity_list(user=user, filters=others).order_by()
    rows = queryset.values("kind").annotate(count=Count("id")).order_by("kind")
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:  # kinds differ in case only when someone wrote them so; show them once
        key = row["kind"].lower()
        if key in merged:
            merged[key]["count"] += row["count"]
        else:
            merged[key] = {"kind": row["kind"], "count": row["count"]}
    return list(merged.values())


MAX_FACET_COMBINATIONS = 5000


def facet_values(*, user) -> dict[str, list[str]]:
    """Choices for the filter selects: the types, lifecycles, namespaces and owners in use. One scan: the distinct
    combinations of the four columns are few (teams x types x lifecycles), far fewer than the entities."""
    rows = (
        entities_visible(user=user)
        .order_by()
        .values_list("type", "lifecycle", "namespace", "owner_ref")
        .distinct()[:MAX_FACET_COMBINATIONS]
    )
    values: dict[str, set[str]] = {"type": set(), "lifecycle": set(), "namespace": set(), "owner": set()}
    for row in rows:
        for name, value in zip(("type", "lifecycle", "namespace", "owner"), row, strict=True):
            if value:
                values[name].add(value)
    return {name: sorted(found)[:500] for name, found in values.items()}


def entity_get(*, user, kind: str, namespace: str, name: str, action: str = "view") -> Entity:
    """The entity `kind:namespace/name`, or Http404 when it does not exist or `user` may not see it."""
    ref = f"{kind}:{namespace}/{name}".lower()
    entity = entities_visible(user=user, action=action).select_related("blueprint", "location").filter(ref=ref).first()
    if entity is None:
        raise Http404(f"No entity {ref} in the catalog.")
    return entity


def entity_get_by_ref(*, user, ref: str, action: str = "view") -> Entity:
    """The entity a reference (`kind:name`, `kind:namespace/name`) names, or Http404."""
    try:
        parsed = parse_ref(ref)
    except InvalidRef as exc:
        raise Http404(str(exc)) from exc
    return entity_get(user=user, kind=parsed.kind, namespace=parsed.namespace, name=parsed.name, action=action)


def owner_entities(*, user, entity: Entity) -> QuerySet[Entity]:
    """What a group or user owns (their `ownerOf` side), for a paginated list."""
    return entities_visible(user=user).only(*LIST_FIELDS).filter(owner_ref=entity.ref).order_by("kind", "name")


@dataclass
class RelatedRow:
    """One related entity as a page shows it. `entity` is None when the target is not in the catalog yet."""

    type: str
    ref: str
    display_ref: str
    entity: Entity | None
    outgoing: bool

    @property
    def resolved(self) -> bool:
        return self.entity is not None


@dataclass
class RelationGroup:
    type: str
    rows: list[RelatedRow] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


_RELATED_FIELDS = ("id", "ref", "kind", "namespace", "name", "title", "type", "lifecycle", "orphaned")


def short_ref(ref: str) -> str:
    """A lowercase reference as people read it: `group:default/team-a` is `group:team-a`."""
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    return f"{kind}:{name}" if namespace == "default" else ref


def entity_relations(
    entity: Entity, *, user, per_type: int = RELATION_ROWS_PER_TYPE, skip_incoming: tuple[str, ...] = ()
) -> list[RelationGroup]:
    """The entity's relations in both directions, grouped by the type as seen from the entity (incoming ones under
    their INVERSE type: a component `ownedBy` a group shows on the group as `ownerOf`). Unresolved targets are kept
    with their reference. At most `per_type` rows per type; `total` says how many there are. Incoming relations of
    the types in `skip_incoming` are left out (a group page lists what it owns separately, paginated).

    Queries: outgoing rows, incoming counts per type, then one query per incoming type (a handful at most)."""
    visible_ids = entities_visible(user=user).values("id")
    groups: dict[str, RelationGroup] = {}
    seen: set[tuple[str, str]] = set()

    def add(row: RelatedRow) -> None:
        group = groups.setdefault(row.type, RelationGroup(type=row.type))
        if (row.type, row.ref) in seen:
            return
        seen.add((row.type, row.ref))
        group.total += 1
        if len(group.rows) < per_type:
            group.rows.append(row)

    outgoing = (
        Relation.objects.filter(source=entity)
        .filter(Q(target__isnull=True) | Q(target__in=visible_ids))
        .select_related("target")
        .only("type", "target_ref", *(f"target__{name}" for name in _RELATED_FIELDS))
        .order_by("type", "target_ref")
    )
    for relation in outgoing:
        target = relation.target
        add(
            RelatedRow(
                type=relation.type,
                ref=relation.target_ref,
                display_ref=target.display_ref if target else short_ref(relation.target_ref),
                entity=target,
                outgoing=True,
            )
        )

    incoming = Relation.objects.filter(target=entity, source__in=visible_ids)
    incoming = incoming.exclude(type__in=skip_incoming) if skip_incoming else incoming
    counts = dict(incoming.order_by().values_list("type").annotate(count=Count("id")))
    for relation_type in sorted(counts):
        shown_type = INVERSE.get(relation_type, f"{relation_type} (from)")
        rows = (
            incoming.filter(type=relation_type)
            .select_related("source")
            .only("type", *(f"source__{name}" for name in _RELATED_FIELDS))
            .order_by("source__kind", "source__name")[:per_type]
        )
        for relation in rows:
            source = relation.source
            add(
                RelatedRow(
                    type=shown_type, ref=source.ref, display_ref=source.display_ref, entity=source, outgoing=False
                )
            )
        group = groups[shown_type] if shown_type in groups else None
        if group is not None and counts[relation_type] > per_type:
            # The rows beyond the first `per_type` were not read; count them so the page can say "and N more".
            group.total += counts[relation_type] - per_type
    return sorted(groups.values(), key=lambda group: group.type)


def entity_search(*, user, query: str, limit: int = 20, ranked: bool = True) -> list[Entity]:
    """Entities matching `query` across names, titles, descriptions and tags, best first.

    PostgreSQL: full-text search on the GIN index, every word as a prefix (`pay` finds `payments`), ranked.
    SQLite: every word must appear in the search document. Both put names that match the query first.
    `ranked=False` (suggestions as you type) skips ts_rank, which re-reads every match's text, and prefers short
    names instead."""
    terms = search_terms(query)
    if not terms:
        return []
    visible = entities_visible(user=user).only(*LIST_FIELDS)
    # A name that is exactly the query, or starts with its first word, beats a mention in a description.
    closeness = Case(
        When(name__iexact=" ".join(terms).replace(" ", "-"), then=Value(2)),
        When(name__istartswith=terms[0], then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    if _is_postgres() and not ranked:
        results = (
            filter_text(visible, query).annotate(closeness=closeness).order_by("-closeness", Length("name"), "name")
        )
    elif _is_postgres():
        tsquery = SearchQuery(_prefix_tsquery(terms), config="simple", search_type="raw")
        vector = _search_vector()
        results = (
            visible.annotate(search=vector, closeness=closeness, rank=SearchRank(vector, tsquery))
            .filter(search=tsquery)
            .order_by("-closeness", "-rank", F("name").asc(), "kind")
        )
    else:
        results = filter_text(visible, query).annotate(closeness=closeness).order_by("-closeness", "name", "kind")
    return list(results[:limit])


def blueprint_list(*, user) -> QuerySet[Blueprint]:
    """Blueprints with their number of (visible) entities, in one query: a counting subquery per blueprint walks the
    (blueprint, namespace, name) index instead of joining every entity."""
    counts = (
        entities_visible(user=user)
        .filter(blueprint=OuterRef("pk"))
        .order_by()
        .values("blueprint")
        .annotate(count=Count("id"))
        .values("count")
    )
    return restrict(Blueprint.objects.all(), user=user).annotate(
        entity_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
    )


def blueprint_get(*, user, identifier: str, action: str = "view") -> Blueprint:
    blueprint = restrict(Blueprint.objects.all(), user=user, action=action).filter(identifier=identifier).first()
    if blueprint is None:
        raise Http404(f"No blueprint {identifier}.")
    return blueprint
