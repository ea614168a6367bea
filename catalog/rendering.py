"""Entity properties rendered by their blueprint's JSON Schema: links, emails, sanitised markdown, enum colours,
entity references, YAML. Every value is hostile input, so everything is escaped, and only http(s) and mailto links
are ever made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from catalog.refs import InvalidRef, parse_ref
from techdocs.handbook import render_markdown

BADGE_COLOURS = {"ok", "warn", "bad", "info"}
MAX_TEXT = 20_000  # longer values are cut before rendering; the raw descriptor still shows them whole


@dataclass(frozen=True)
class PropertyRow:
    key: str
    title: str
    html: SafeString
    description: str = ""


def safe_href(url: Any) -> str | None:
    """`url` when it is an absolute http(s) URL, else None (no javascript:, data:, relative or odd schemes)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def link(url: Any, text: Any = None) -> SafeString:
    href = safe_href(url)
    label = text if text not in (None, "") else url
    if href is None:
        return format_html("{}", str(label))
    return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', href, str(label))


def entity_ref_link(value: Any, *, default_kind: str | None = None, namespace: str = "default") -> SafeString:
    """A link to the entity page of a reference; plain text when the reference cannot be parsed."""
    if not isinstance(value, str):
        return format_html("{}", str(value))
    try:
        ref = parse_ref(value, default_kind=default_kind, default_namespace=namespace)
        url = reverse("catalog:entity", args=[ref.kind.lower(), ref.namespace.lower(), ref.name.lower()])
    except (InvalidRef, NoReverseMatch):
        return format_html("{}", value)
    return format_html('<a href="{}">{}</a>', url, value)


def yaml_text(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _pre(value: Any) -> SafeString:
    text = value if isinstance(value, str) else yaml_text(value)
    return format_html('<pre class="yaml">{}</pre>', text[:MAX_TEXT])


def render_value(
    value: Any, schema: dict | None = None, *, namespace: str = "default", default_kind: str | None = None
) -> SafeString:
    """HTML for one property value, chosen by its schema (format, enum, type), escaped throughout."""
    schema = schema if isinstance(schema, dict) else {}
    fmt = schema.get("format")
    if value is None or value == "":
        return mark_safe('<span class="muted">—</span>')
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if all(isinstance(item, (str, int, float, bool)) for item in value):
            rendered = [render_value(item, items, namespace=namespace, default_kind=default_kind) for item in value]
            return format_html(
                '<ul class="plain-list">{}</ul>', format_html_join("", "<li>{}</li>", ((r,) for r in rendered))
            )
        return _pre(value)
    if isinstance(value, dict):
        return _pre(value)
    if isinstance(value, bool):
        return mark_safe("Yes" if value else "No")
    text = str(value)[:MAX_TEXT]
    colours = schema.get("enumColors") if isinstance(schema.get("enumColors"), dict) else {}
    if text in colours or (isinstance(schema.get("enum"), list) and value in schema["enum"]):
        colour = colours.get(text)
        css = f"badge badge--{colour}" if colour in BADGE_COLOURS else "badge"
        return format_html('<span class="{}">{}</span>', css, text)
    if fmt == "url":
        return link(text)
    if fmt == "email":
        if "@" in text and not any(ch in text for ch in "<>\"' \n:/"):
            return format_html('<a href="mailto:{}">{}</a>', text, text)
        return format_html("{}", text)
    if fmt == "markdown":
        return format_html('<div class="markdown">{}</div>', mark_safe(render_markdown(text)))
    if fmt == "yaml":
        return _pre(text)
    if fmt == "entity-ref":
        return entity_ref_link(text, default_kind=default_kind, namespace=namespace)
    return format_html("{}", text)


def render_properties(
    schema: dict | None,
    properties: dict | None,
    *,
    namespace: str = "default",
    relations: list[dict] | None = None,
) -> list[PropertyRow]:
    """One row per property: first those the schema declares (in its order, with their titles), then the others.
    `relations` (the blueprint's relation definitions) give references their default kind: `owner: team-a` links to
    group:team-a."""
    kinds = {str(r.get("identifier")): str(r.get("target")) for r in relations or [] if isinstance(r, dict)}
    schema = schema if isinstance(schema, dict) else {}
    declared = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    properties = properties if isinstance(properties, dict) else {}
    rows = []
    for key, definition in declared.items():
        if key in properties:
            definition = definition if isinstance(definition, dict) else {}
            rows.append(
                PropertyRow(
                    key=key,
                    title=str(definition.get("title") or key),
                    html=render_value(properties[key], definition, namespace=namespace, default_kind=kinds.get(key)),
                    description=str(definition.get("description") or ""),
                )
            )
    for key, value in properties.items():
        if key not in declared:
            rows.append(
                PropertyRow(
                    key=key, title=key, html=render_value(value, None, namespace=namespace, default_kind=kinds.get(key))
                )
            )
    return rows


def render_links(links: Any) -> list[SafeString]:
    """Backstage `metadata.links` ({url, title, icon, type}) as safe anchors; bad entries are shown as text."""
    rendered = []
    for item in links if isinstance(links, list) else []:
        if isinstance(item, dict):
            rendered.append(link(item.get("url"), item.get("title") or item.get("url")))
        else:
            rendered.append(format_html("{}", escape(str(item))))
    return rendered
