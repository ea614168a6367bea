"""Forms of the catalog pages. They parse and shape input; the services validate it against the catalog's rules, and
their errors are put back on the fields here (`add_catalog_errors`)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from catalog.models import Blueprint
from catalog.services import CatalogError
from catalog.validators import is_valid_namespace, is_valid_object_name, is_valid_tag

PROPERTY_PREFIX = "prop__"
MAX_JSON = 200_000


class JSONTextField(forms.CharField):
    """A textarea holding JSON; `expect` is the Python type the value must have (dict or list)."""

    def __init__(self, *, expect: type, **kwargs: Any):
        self.expect = expect
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}))
        kwargs.setdefault("max_length", MAX_JSON)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2)
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return self.expect()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        if not isinstance(parsed, self.expect):
            kind = "an object ({...})" if self.expect is dict else "a list ([...])"
            raise forms.ValidationError(f"This must be {kind}.")
        return parsed


class BlueprintForm(forms.Form):
    identifier = forms.SlugField(
        max_length=63, help_text="Lowercase kind name, used in references and URLs, e.g. `environment`."
    )
    title = forms.CharField(max_length=100, help_text="The kind as people write it, e.g. `Environment`.")
    icon = forms.CharField(max_length=32, required=False, initial="box")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    schema = JSONTextField(
        expect=dict,
        required=False,
        help_text='JSON Schema of the properties: {"type": "object", "properties": {...}, "required": [...]}.',
    )
    relations = JSONTextField(
        expect=list,
        required=False,
        help_text='Relation definitions: [{"identifier": "cluster", "title": "Cluster", "target": "cluster", '
        '"many": false, "required": false}].',
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if editing:
            # The identifier is the kind of every entity of the blueprint: it cannot change.
            self.fields["identifier"].disabled = True


class EntityForm(forms.Form):
    """Metadata fields plus one field per property the blueprint's schema declares (simple widgets)."""

    name = forms.CharField(max_length=63, help_text="Letters, digits and - _ . ; unique within the kind and namespace.")
    namespace = forms.CharField(max_length=63, initial="default")
    title = forms.CharField(max_length=300, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(required=False, help_text="Comma separated, lowercase: `python, payments`.")

    def __init__(self, *args: Any, blueprint: Blueprint, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.blueprint = blueprint
        if editing:
            self.fields["name"].disabled = True
            self.fields["namespace"].disabled = True
        schema = blueprint.schema if isinstance(blueprint.schema, dict) else {}
        required = set(schema.get("required") or [])
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for key, definition in properties.items():
            self.fields[PROPERTY_PREFIX + key] = property_field(
                definition if isinstance(definition, dict) else {}, key=key, required=key in required
            )

    @property
    def metadata_fields(self) -> list:
        return [self[name] for name in self.fields if not name.startswith(PROPERTY_PREFIX)]

    @property
    def property_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith(PROPERTY_PREFIX)]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not is_valid_object_name(name):
            raise forms.ValidationError("Use 1-63 letters or digits, separated by - _ or .")
        return name

    def clean_namespace(self) -> str:
        namespace = (self.cleaned_data.get("namespace") or "default").strip()
        if not is_valid_namespace(namespace):
            raise forms.ValidationError("Use lowercase letters, digits and dashes.")
        return namespace

    def clean_tags(self) -> list[str]:
        tags = [tag.strip() for tag in self.cleaned_data.get("tags", "").split(",") if tag.strip()]
        bad = [tag for tag in tags if not is_valid_tag(tag)]
        if bad:
            raise forms.ValidationError(f"Not a valid tag: {', '.join(bad)} (lowercase letters, digits, dashes).")
        return tags

    def properties(self) -> dict[str, Any]:
        """The property values entered; empty optional fields are left out."""
        values = {}
        for name, value in self.cleaned_data.items():
            if name.startswith(PROPERTY_PREFIX) and value not in (None, "", []):
                values[name[len(PROPERTY_PREFIX) :]] = value
        return values


class StringListField(forms.CharField):
    """An array of strings, one per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


def property_field(definition: dict, *, key: str, required: bool) -> forms.Field:
    """A form field for one schema property: enum, string (url, email, markdown), number, boolean, list of strings;
    anything else is edited as JSON."""
    common = {
        "label": str(definition.get("title") or key),
        "help_text": str(definition.get("description") or ""),
        "required": required,
    }
    kind = definition.get("type")
    if isinstance(definition.get("enum"), list):
        choices = [(value, str(value)) for value in definition["enum"]]
        return forms.TypedChoiceField(choices=[("", "—"), *choices], coerce=_enum_coerce(definition["enum"]), **common)
    if kind == "boolean":
        return forms.BooleanField(**{**common, "required": False})
    if kind == "integer":
        return forms.IntegerField(**common)
    if kind == "number":
        return forms.FloatField(**common)
    if kind == "array" and (definition.get("items") or {}).get("type", "string") == "string":
        return StringListField(**{**common, "help_text": common["help_text"] or "One per line."})
    if kind in (None, "string"):
        fmt = definition.get("format")
        if fmt == "url":
            return forms.URLField(assume_scheme="https", **common)
        if fmt == "email":
            return forms.EmailField(**common)
        if fmt in ("markdown", "yaml"):
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), **common)
        return forms.CharField(max_length=10_000, **common)
    return JSONTextField(expect=dict if kind == "object" else list, **common)


def _enum_coerce(values: list) -> Any:
    by_text = {str(value): value for value in values}
    return lambda text: by_text.get(text, text)


def add_catalog_errors(form: forms.Form, error: CatalogError) -> None:
    """Put a service's errors on the form: on the field they name where there is one, on the form otherwise."""
    errors = error.errors
    if isinstance(errors, dict):
        for key, messages in errors.items():
            field = key if key in form.fields else PROPERTY_PREFIX + key
            for message in messages if isinstance(messages, list) else [messages]:
                form.add_error(field if field in form.fields else None, str(message))
        if not errors:
            form.add_error(None, error.message)
        return
    placed = False
    for message in errors:
        # property_errors() writes "key: message" (or "key.sub: ..."); pin it to the property's field.
        key = str(message).split(":", 1)[0].split(".", 1)[0]
        field = PROPERTY_PREFIX + key
        if field in form.fields:
            form.add_error(field, str(message).split(":", 1)[1].strip())
            placed = True
        else:
            form.add_error(None, str(message))
            placed = True
    if not placed:
        form.add_error(None, error.message)
