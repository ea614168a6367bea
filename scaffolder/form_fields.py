"""Server-rendered form fields from an action's input pages: `form_fields` describes each field of one page for the
template, `coerce_form_data` turns an HTML form post back into typed values. Validation lives in scaffolder.forms."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaffolder.forms import _ENTITY_NAME, ENTITY_PICKERS, VisibleWhen, _choices, _is_group, _lookup, _schema_of


@dataclass
class FormField:
    name: str  # dotted path for nested objects: "advanced.replicas"
    label: str
    help: str
    widget: str  # text textarea number checkbox radio select multiselect tags entity-picker repo-url secret json hidden
    required: bool
    choices: list[tuple[Any, str]]
    value: Any
    errors: list[str]
    attrs: dict[str, Any]
    entity_picker: dict[str, Any] | None = None
    visible_when: VisibleWhen | None = None
    visible: bool = True


# --- server-rendered form fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    schema: Mapping[str, Any]
    required: bool
    when: VisibleWhen | None
    fieldset: str = ""


def _allowed_values(schema: Any) -> tuple[Any, ...]:
    if not isinstance(schema, Mapping):
        return ()
    if "const" in schema:
        return (schema["const"],)
    return tuple(schema.get("enum") or ())


def _conditional_specs(schema: Mapping[str, Any], prefix: str) -> list[_Spec]:
    """Fields that `dependencies` (with or without oneOf branches) or if/then/else show depending on another field."""
    found: list[_Spec] = []
    dependencies = dict(schema.get("dependencies") or {}) | dict(schema.get("dependentSchemas") or {})
    for trigger, dependency in dependencies.items():
        if not isinstance(dependency, Mapping):
            continue  # the list form only makes fields required; it adds none
        branches = [b for key in ("oneOf", "anyOf") for b in dependency.get(key) or [] if isinstance(b, Mapping)]
        for branch in branches or [dependency]:
            properties = branch.get("properties") or {}
            values = _allowed_values(properties.get(trigger)) if branches else ()
            for name, sub_schema in properties.items():
                if name != trigger and isinstance(sub_schema, Mapping):
                    required = name in (branch.get("required") or [])
                    found.append(_Spec(prefix + name, sub_schema, required, VisibleWhen(prefix + trigger, values)))
    condition = schema.get("if")
    if isinstance(condition, Mapping) and len(condition.get("properties") or {}) == 1:
        trigger, trigger_schema = next(iter(condition["properties"].items()))
        values = _allowed_values(trigger_schema)
        for key, negate in (("then", False), ("else", True)):
            branch = schema.get(key)
            if values and isinstance(branch, Mapping):
                for name, sub_schema in (branch.get("properties") or {}).items():
                    required = name in (branch.get("required") or [])
                    found.append(
                        _Spec(prefix + name, sub_schema, required, VisibleWhen(prefix + trigger, values, negate))
                    )
    for branch in schema.get("allOf") or []:
        if isinstance(branch, Mapping):
            found += _conditional_specs(branch, prefix)
    merged: dict[str, _Spec] = {}
    for spec in found:  # the same field in several branches of one trigger: visible for the union of their values
        earlier = merged.get(spec.name)
        if earlier and earlier.when and spec.when and earlier.when.field == spec.when.field:
            when = VisibleWhen(spec.when.field, earlier.when.values + spec.when.values, spec.when.negate)
            merged[spec.name] = _Spec(spec.name, earlier.schema, earlier.required or spec.required, when)
        elif not earlier:
            merged[spec.name] = spec
    return list(merged.values())


def _ordered(schema: Mapping[str, Any]) -> list[tuple[str, Any]]:
    properties = list((schema.get("properties") or {}).items())
    order = schema.get("ui:order")
    if not order:
        return properties
    names = [name for name, _ in properties]
    head = [name for name in order if name in names]
    tail = [name for name in order[order.index("*") + 1 :] if name in names] if "*" in order else []
    head = head[: order.index("*")] if "*" in order else head
    middle = [name for name in names if name not in head and name not in tail]
    by_name = dict(properties)
    return [(name, by_name[name]) for name in head + middle + tail]


def _specs(schema: Mapping[str, Any], prefix: str = "", when: VisibleWhen | None = None, fieldset: str = "") -> list:
    conditional = {spec.name: spec for spec in _conditional_specs(schema, prefix)}
    required = set(schema.get("required") or [])
    specs: list[_Spec] = []
    for name, sub_schema in _ordered(schema):
        if not isinstance(sub_schema, Mapping):
            continue
        full = prefix + name
        branch = conditional.pop(full, None)
        field_when = branch.when if branch else when
        if _is_group(sub_schema):
            specs += _specs(sub_schema, f"{full}.", field_when, str(sub_schema.get("title") or _label(name)))
        else:
            specs.append(
                _Spec(full, sub_schema, name in required or bool(branch and branch.required), field_when, fieldset)
            )
        triggered = [spec for spec in conditional.values() if spec.when and spec.when.field == full]
        for spec in triggered:
            specs.append(_Spec(spec.name, spec.schema, spec.required, spec.when, fieldset))
            conditional.pop(spec.name)
    return specs + [_Spec(s.name, s.schema, s.required, s.when, fieldset) for s in conditional.values()]


def _label(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:].lower()


def _entity_picker(ui_field: str, options: Mapping[str, Any]) -> dict[str, Any]:
    filters = options.get("catalogFilter") or {}
    first_filter = filters[0] if isinstance(filters, list) and filters else filters
    kinds = options.get("allowedKinds") or (first_filter.get("kind") if isinstance(first_filter, Mapping) else None)
    if kinds is None:
        kinds = {"OwnerPicker": ["Group", "User"], "MyGroupsPicker": ["Group"]}.get(ui_field, [])
    return {
        "kinds": [kinds] if isinstance(kinds, str) else list(kinds),
        "only_my_teams": ui_field in ("OwnedEntityPicker", "MyGroupsPicker") or bool(options.get("onlyMyTeams")),
        "multiple": ui_field == "MultiEntityPicker",
        "catalog_filter": filters or None,
        "default_kind": options.get("defaultKind"),
        "default_namespace": options.get("defaultNamespace"),
        "allow_arbitrary_values": bool(options.get("allowArbitraryValues", ui_field != "MyGroupsPicker")),
    }


def _widget(schema: Mapping[str, Any]) -> str:
    ui_field, ui_widget, kind = schema.get("ui:field"), schema.get("ui:widget"), schema.get("type")
    items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
    if ui_widget == "hidden":
        return "hidden"
    if ui_field == "Secret" or ui_widget == "password":
        return "secret"
    if ui_field in ENTITY_PICKERS:
        return "entity-picker"
    if ui_field == "RepoUrlPicker":
        return "repo-url"
    if kind == "array":
        if _choices(items):
            return "multiselect"
        return "tags" if ui_field == "EntityTagsPicker" or items.get("type", "string") == "string" else "json"
    if kind == "object":
        return "json"
    if _choices(schema):
        return "radio" if ui_widget == "radio" or kind == "boolean" else "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    return "textarea" if ui_widget == "textarea" else "text"


def _attrs(schema: Mapping[str, Any], widget: str, fieldset: str) -> dict[str, Any]:
    options = schema.get("ui:options") or {}
    attrs: dict[str, Any] = {}
    names = {
        "pattern": "pattern",
        "minLength": "minlength",
        "maxLength": "maxlength",
        "minimum": "min",
        "maximum": "max",
    }
    attrs |= {html: schema[key] for key, html in names.items() if key in schema}
    input_type = {"email": "email", "uri": "url", "date": "date", "date-time": "datetime-local", "time": "time"}
    if widget == "text" and schema.get("format") in input_type:
        attrs["type"] = input_type[schema["format"]]
    if widget == "text" and schema.get("ui:widget") == "color":
        attrs["type"] = "color"
    if widget == "number":
        attrs["step"] = 1 if schema.get("type") == "integer" else "any"
        if schema.get("ui:widget") == "range":
            attrs["type"] = "range"
    if schema.get("ui:field") == "EntityNamePicker":
        attrs |= {"pattern": _ENTITY_NAME.pattern, "maxlength": 63}
    if widget == "repo-url":
        attrs |= {"allowed_hosts": options.get("allowedHosts", []), "allowed_owners": options.get("allowedOwners", [])}
    if widget == "multiselect" or (widget == "entity-picker" and schema.get("ui:field") == "MultiEntityPicker"):
        attrs["multiple"] = True
    if schema.get("ui:autofocus"):
        attrs["autofocus"] = True
    if schema.get("ui:placeholder"):
        attrs["placeholder"] = schema["ui:placeholder"]
    if schema.get("ui:readonly") or schema.get("readOnly"):
        attrs["readonly"] = True
    if widget == "textarea" and options.get("rows"):
        attrs["rows"] = options["rows"]
    if fieldset:
        attrs["fieldset"] = fieldset
    return attrs


def form_fields(
    page_schema: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[FormField]:
    """Describe each field of one page for a server-rendered form (nested objects flattened to dotted names)."""
    data, errors = data or {}, errors or {}
    fields = []
    for spec in _specs(_schema_of(page_schema)):
        schema = spec.schema
        widget = _widget(schema)
        present, value = _lookup(data, spec.name)
        if not present:
            value = copy.deepcopy(schema.get("default"))
        if widget == "secret":
            value = None  # never send a secret back to the browser
        elif widget == "json" and value is not None and not isinstance(value, str):
            value = json.dumps(value, indent=2)
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        fields.append(
            FormField(
                name=spec.name,
                label=str(schema.get("title") or _label(spec.name.rsplit(".", 1)[-1])),
                help=str(schema.get("ui:help") or schema.get("description") or ""),
                widget=widget,
                required=spec.required,
                choices=_choices(items) if widget == "multiselect" else _choices(schema),
                value=value,
                errors=list(errors.get(spec.name, [])),
                attrs=_attrs(schema, widget, spec.fieldset),
                entity_picker=_entity_picker(schema["ui:field"], schema.get("ui:options") or {})
                if widget == "entity-picker"
                else None,
                visible_when=spec.when,
                visible=spec.when.matches(data) if spec.when else True,
            )
        )
    return fields


def _scalar(text: str, schema: Mapping[str, Any]) -> Any:
    for value, _label_text in _choices(schema):
        if text in (str(value), json.dumps(value)):
            return value
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"[-+]?\d{1,18}", text.strip()):
        return int(text)
    if kind == "number" and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text.strip()):
        return int(text) if re.fullmatch(r"[-+]?\d{1,18}", text.strip()) else float(text)
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text  # left as typed: validation says what is wrong with it


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def coerce_form_data(page_schema: Mapping[str, Any], form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Turn an HTML form post (name -> list of strings, e.g. dict(request.POST.lists())) into typed values."""
    values: dict[str, Any] = {}
    for spec in _specs(_schema_of(page_schema)):
        schema, raw = spec.schema, [str(item) for item in form.get(spec.name, [])]
        widget = _widget(schema)
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        text = raw[-1].strip() if raw else ""
        if widget == "checkbox":
            if raw or spec.when is None:  # an unchecked box sends nothing; that means false
                _set(values, spec.name, text.lower() in ("on", "true", "1", "yes"))
        elif widget == "multiselect":
            _set(values, spec.name, [_scalar(item, items) for item in raw if item != ""])
        elif widget == "entity-picker" and schema.get("type") == "array":
            _set(values, spec.name, [item.strip() for item in raw if item.strip()])
        elif widget == "tags":
            tags = [tag.strip() for item in raw for tag in re.split(r"[,\n]", item) if tag.strip()]
            if tags or raw:
                _set(values, spec.name, tags)
        elif widget == "json" and text:
            try:
                _set(values, spec.name, json.loads(text))
            except ValueError:
                _set(values, spec.name, text)
        elif widget == "repo-url" and not text:
            parts = {key: (form.get(f"{spec.name}.{key}") or [""])[-1].strip() for key in ("host", "owner", "repo")}
            if parts["host"] and parts["repo"]:
                _set(values, spec.name, f"{parts['host']}?owner={parts['owner']}&repo={parts['repo']}")
        elif text:
            _set(values, spec.name, text if widget == "secret" else _scalar(text, schema))
    return values
