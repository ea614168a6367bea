"""Catalog pages: the index, search, entity pages and their tabs, entity and blueprint forms.

Views parse the request, call a selector or a service and render. One URL and one template serve the full page and
its HTMX partial (`template#partial` when `request.htmx`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from catalog import selectors, services
from catalog.filters import EntityFilterSet
from catalog.forms import BlueprintForm, EntityForm, add_catalog_errors
from catalog.graph import relations_svg
from catalog.models import Entity, Location
from catalog.rendering import render_links, render_properties
from catalog.tabs import tabs_for
from rbac.selectors import can

PAGE_SIZE = 50
OWNED_PAGE_SIZE = 50
SUGGESTIONS = 8


def entity_url(entity: Entity) -> str:
    return reverse("catalog:entity", args=[entity.kind.lower(), entity.namespace, entity.name])


def ref_url(ref: str) -> str | None:
    """The page of a lowercase `kind:namespace/name` reference (it may not exist yet)."""
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    if not (kind and namespace and name):
        return None
    return reverse("catalog:entity", args=[kind, namespace, name])


def _is_staff(user) -> bool:
    return bool(user.is_staff or user.is_superuser)


# --- index and search ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every entity the user may see, filtered and sorted by the query string, 50 a page."""
    filterset = EntityFilterSet(request.GET, queryset=selectors.entity_list(user=request.user))
    active = filterset.active_filters()
    paginator = Paginator(filterset.qs, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    for entity in page.object_list:
        entity.owner_url = ref_url(entity.owner_ref) if entity.owner_ref else None
        entity.owner_display = selectors.short_ref(entity.owner_ref)
    keep = {key: value for key, value in request.GET.items() if key != "page" and value}
    partial = bool(request.htmx and request.htmx.target == "results")
    context = {
        "filterset": filterset,
        "form": filterset.form,
        "page": page,
        "active": active,
        "kinds": selectors.kind_counts(user=request.user, filters=active),
        # The results partial has no filter form: skip the facet queries when only the results are swapped.
        "facets": {} if partial else selectors.facet_values(user=request.user),
        "query_without_page": urlencode(keep),
        "query_without_kind": urlencode({key: value for key, value in keep.items() if key != "kind"}),
        "can_create": _is_staff(request.user),
    }
    response = render(request, "catalog/index.html#results" if partial else "catalog/index.html", context)
    response["Vary"] = "HX-Request"
    return response


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    results = selectors.entity_search(user=request.user, query=query, limit=PAGE_SIZE) if query.strip() else []
    return render(request, "catalog/search.html", {"query": query, "results": results})


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """Suggestions for the header search box: a short list of links, or nothing."""
    query = request.GET.get("q", "")[:200]
    results = (
        selectors.entity_search(user=request.user, query=query, limit=SUGGESTIONS, ranked=False)
        if query.strip()
        else []
    )
    return render(request, "catalog/_suggestions.html", {"query": query, "results": results})


# --- entity pages --------------------------------------------------------------------------------------------------


def entity_tab_context(request: HttpRequest, *, kind: str, namespace: str, name: str) -> dict[str, Any]:
    """What every entity tab page needs: the entity (404 when missing or not visible), its tabs and the active one.
    Other apps' tab views call this, then render a template extending catalog/entity_base.html."""
    entity = selectors.entity_get(user=request.user, kind=kind, namespace=namespace, name=name)
    active = request.resolver_match.view_name if request.resolver_match else "catalog:entity"
    return {
        "entity": entity,
        "tabs": tabs_for(entity, active=active),
        "active_tab": active,
        "entity_links": render_links(entity.links),
        "owner_url": ref_url(entity.owner_ref) if entity.owner_ref else None,
        "owner_display": selectors.short_ref(entity.owner_ref),
        "can_change": can(request.user, "change", entity),
    }


def location_url(location: Location | None) -> str | None:
    if location is None:
        return None
    try:
        return reverse("catalog:location", args=[location.pk])
    except NoReverseMatch:
        return None


def edit_file_url(entity: Entity) -> str | None:
    """A link to edit the entity's file on GitHub, when it came from an https GitHub repository."""
    location = entity.location
    if location is None or location.type != Location.Type.URL or not entity.source_file:
        return None
    parts = urlsplit(location.target)
    host = parts.hostname or ""
    if parts.scheme != "https" or "github" not in host or parts.username or parts.password or parts.port:
        return None
    repo = parts.path.rstrip("/").removesuffix(".git")
    path = entity.source_file.lstrip("/")
    if repo.count("/") != 2 or ".." in path.split("/"):
        return None
    return f"https://{host}{repo}/edit/{location.branch or 'HEAD'}/{path}"


def _pick(groups: list[selectors.RelationGroup], *types: str) -> list[selectors.RelatedRow]:
    rows = []
    for group in groups:
        if group.type in types:
            rows.extend(group.rows)
    return rows


@login_required
@require_GET
def entity(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = entity_tab_context(request, kind=kind, namespace=namespace, name=name)
    entity = context["entity"]
    kind_id = entity.kind.lower()
    owns = kind_id in ("group", "user")
    # What a group or user owns is listed on its own, paginated: the relations list would repeat (and cap) it.
    groups = selectors.entity_relations(entity, user=request.user, skip_incoming=("ownedBy",) if owns else ())
    owned_page = None
    if owns:
        owned = selectors.owner_entities(user=request.user, entity=entity)
        owned_page = Paginator(owned, OWNED_PAGE_SIZE).get_page(request.GET.get("owned_page"))
        if request.htmx and request.htmx.target == "owned":
            return render(request, "catalog/entity.html#owned", {**context, "owned_page": owned_page})
    owner_rows = _pick(groups, "ownedBy")
    context.update(
        {
            "groups": groups,
            "graph": relations_svg(entity, groups),
            "owner_row": owner_rows[0] if owner_rows else None,
            "properties": render_properties(
                entity.blueprint.schema,
                entity.properties,
                namespace=entity.namespace,
                relations=entity.blueprint.relations,
            ),
            "descriptor_yaml": yaml.safe_dump(entity.descriptor, sort_keys=False, allow_unicode=True),
            "location_url": location_url(entity.location),
            "edit_file_url": edit_file_url(entity),
            "owned_page": owned_page,
            "members": _pick(groups, "hasMember") if kind_id == "group" else [],
            "children": _pick(groups, "parentOf") if kind_id == "group" else [],
            "memberships": _pick(groups, "memberOf") if kind_id == "user" else [],
            "parts": _pick(groups, "hasPart") if kind_id in ("system", "domain") else [],
            "can_delete": can(request.user, "delete", entity),
            "editable": not entity.blueprint.builtin,
        }
    )
    return render(request, "catalog/entity.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def entity_edit(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    entity = selectors.entity_get(user=request.user, kind=kind, namespace=namespace, name=name)
    if not can(request.user, "change", entity):
        raise PermissionDenied("You may not change this entity.")
    if entity.blueprint.builtin:
        messages.warning(request, "Entities of Backstage's kinds are edited in their catalog-info.yaml file.")
        return redirect(entity_url(entity))
    initial = {
        "name": entity.name,
        "namespace": entity.namespace,
        "title": entity.title,
        "description": entity.description,
        "tags": ", ".join(entity.tags),
        **{f"prop__{key}": value for key, value in (entity.properties or {}).items()},
    }
    form = EntityForm(request.POST or None, initial=initial, blueprint=entity.blueprint, editing=True)
    if request.method == "POST" and form.is_valid():
        changes = {
            "title": form.cleaned_data["title"],
            "description": form.cleaned_data["description"],
            "tags": form.cleaned_data["tags"],
            "properties": form.properties(),
        }
        try:
            entity = services.entity_update(actor=request.user, entity=entity, changes=changes)
        except services.CatalogError as error:
            add_catalog_errors(form, error)
        else:
            messages.success(request, f"{entity.display_ref} saved.")
            return redirect(entity_url(entity))
    return render(request, "catalog/entity_form.html", {"form": form, "entity": entity, "blueprint": entity.blueprint})


@login_required
@require_http_methods(["GET", "POST"])
def entity_delete(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    entity = selectors.entity_get(user=request.user, kind=kind, namespace=namespace, name=name)
    if not can(request.user, "delete", entity):
        raise PermissionDenied("You may not delete this entity.")
    if request.method == "POST":
        label = entity.display_ref
        services.entity_delete(actor=request.user, entity=entity)
        messages.success(request, f"{label} was deleted.")
        url = reverse("catalog:index")
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render(request, "catalog/entity_delete.html", {"entity": entity})


@login_required
@require_http_methods(["GET", "POST"])
def entity_create(request: HttpRequest, identifier: str) -> HttpResponse:
    blueprint = selectors.blueprint_get(user=request.user, identifier=identifier)
    if not (_is_staff(request.user) or request.user.has_perm("catalog.add_entity")):
        raise PermissionDenied("You may not add entities.")
    if blueprint.builtin:
        messages.info(request, f"{blueprint.title} entities come from catalog-info.yaml files: register one.")
        return redirect("catalog:blueprint", identifier=blueprint.identifier)
    form = EntityForm(request.POST or None, blueprint=blueprint)
    if request.method == "POST" and form.is_valid():
        descriptor = services.descriptor_from_fields(
            kind=_kind_of(blueprint),
            name=form.cleaned_data["name"],
            namespace=form.cleaned_data["namespace"],
            title=form.cleaned_data["title"],
            description=form.cleaned_data["description"],
            tags=form.cleaned_data["tags"],
            properties=form.properties(),
        )
        try:
            entity = services.entity_create(actor=request.user, descriptor=descriptor)
        except services.CatalogError as error:
            add_catalog_errors(form, error)
        else:
            messages.success(request, f"{entity.display_ref} created.")
            return redirect(entity_url(entity))
    return render(request, "catalog/entity_form.html", {"form": form, "entity": None, "blueprint": blueprint})


def _kind_of(blueprint) -> str:
    """The kind entities of a blueprint are written with: its title when that spells the identifier (`Environment`
    for `environment`), else the identifier."""
    title = blueprint.title.replace(" ", "")
    return title if title.lower() == blueprint.identifier else blueprint.identifier


# --- blueprints ----------------------------------------------------------------------------------------------------


@login_required
@require_GET
def blueprint_list(request: HttpRequest) -> HttpResponse:
    blueprints = selectors.blueprint_list(user=request.user)
    return render(
        request, "catalog/blueprints/list.html", {"blueprints": blueprints, "can_edit": _is_staff(request.user)}
    )


def _schema_rows(schema: dict) -> list[dict[str, Any]]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    required = set(schema.get("required") or []) if isinstance(schema, dict) else set()
    rows = []
    for key, definition in (properties or {}).items():
        definition = definition if isinstance(definition, dict) else {}
        rows.append(
            {
                "key": key,
                "title": definition.get("title") or "",
                "type": definition.get("type") or "any",
                "format": definition.get("format") or "",
                "enum": definition.get("enum") or [],
                "colours": definition.get("enumColors") or {},
                "required": key in required,
                "description": definition.get("description") or "",
            }
        )
    return rows


@login_required
@require_GET
def blueprint_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    blueprint = selectors.blueprint_get(user=request.user, identifier=identifier)
    context = {
        "blueprint": blueprint,
        "schema_rows": _schema_rows(blueprint.schema),
        "schema_json": yaml.safe_dump(blueprint.schema, sort_keys=False),
        "entity_count": selectors.entity_list(user=request.user, filters={"kind": blueprint.identifier}).count(),
        "can_edit": _is_staff(request.user),
        "can_create_entity": not blueprint.builtin and _is_staff(request.user),
    }
    return render(request, "catalog/blueprints/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def blueprint_create(request: HttpRequest) -> HttpResponse:
    if not _is_staff(request.user):
        raise PermissionDenied("Only platform admins may create blueprints.")
    form = BlueprintForm(request.POST or None, initial={"schema": {"type": "object", "properties": {}}})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            blueprint = services.blueprint_create(
                actor=request.user,
                identifier=data["identifier"],
                title=data["title"],
                schema=data["schema"] or {"type": "object", "properties": {}},
                relations=data["relations"],
                description=data["description"],
                icon=data["icon"] or "box",
            )
        except services.CatalogError as error:
            add_catalog_errors(form, error)
        else:
            messages.success(request, f"Blueprint {blueprint.title} created.")
            return redirect("catalog:blueprint", identifier=blueprint.identifier)
    return render(request, "catalog/blueprints/form.html", {"form": form, "blueprint": None})


@login_required
@require_http_methods(["GET", "POST"])
def blueprint_edit(request: HttpRequest, identifier: str) -> HttpResponse:
    if not _is_staff(request.user):
        raise PermissionDenied("Only platform admins may change blueprints.")
    blueprint = selectors.blueprint_get(user=request.user, identifier=identifier)
    initial = {
        key: getattr(blueprint, key) for key in ("identifier", "title", "icon", "description", "schema", "relations")
    }
    form = BlueprintForm(request.POST or None, initial=initial, editing=True)
    misfits = None
    if request.method == "POST" and form.is_valid():
        changes = {key: form.cleaned_data[key] for key in ("title", "icon", "description", "schema", "relations")}
        changes["schema"] = changes["schema"] or {"type": "object", "properties": {}}
        changes = {key: value for key, value in changes.items() if value != getattr(blueprint, key)}
        try:
            result = services.blueprint_update(actor=request.user, blueprint=blueprint, **changes)
        except services.CatalogError as error:
            add_catalog_errors(form, error)
        else:
            if not result.misfits:
                messages.success(request, f"Blueprint {blueprint.title} saved.")
                return redirect("catalog:blueprint", identifier=blueprint.identifier)
            # Saved, but some entities no longer fit: say which, on the same page, instead of hiding it.
            misfits = result.misfits
            for misfit in misfits:
                misfit.url = entity_url(misfit)
    context = {"form": form, "blueprint": blueprint, "misfits": misfits}
    return render(request, "catalog/blueprints/form.html", context)
