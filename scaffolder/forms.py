"""Action inputs: one JSON Schema (in pages, Backstage's shape) that builds the form and validates the submission.

Independent of Django: `clean_inputs` validates a submission, `page_errors` one page for inline errors while the user
fills it; scaffolder.form_fields renders pages (`form_fields`) and reads form posts back (`coerce_form_data`).
Schemas are read as Draft 7 (what Backstage's forms use, and the draft that has `dependencies`) unless they declare
another `$schema`.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft7Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from scaffolder.backstage_filters import parse_repo_url
from scaffolder.expressions import ExpressionError, evaluate_condition

ENTITY_PICKERS = {"EntityPicker", "OwnerPicker", "OwnedEntityPicker", "MyGroupsPicker", "MultiEntityPicker"}
_CONDITIONAL_KEYS = ("dependencies", "dependentRequired", "dependentSchemas", "then", "else", "allOf", "anyOf", "oneOf")
_ENTITY_NAME = re.compile(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$")
_TYPE_WORDS = {
    "string": "Must be text.",
    "integer": "Must be a whole number.",
    "number": "Must be a number.",
    "boolean": "Must be true or false.",
    "array": "Must be a list.",
    "object": "Must be a group of fields.",
    "null": "Must be empty.",
}
_FORMAT_WORDS = {
    "email": "Must be an email address.",
    "uri": "Must be a full URL (https://...).",
    "date": "Must be a date (YYYY-MM-DD).",
    "date-time": "Must be a date and time (YYYY-MM-DDTHH:MM:SSZ).",
    "time": "Must be a time (HH:MM:SS).",
    "ipv4": "Must be an IPv4 address.",
    "ipv6": "Must be an IPv6 address.",
    "hostname": "Must be a host name.",
    "regex": "Must be a regular expression.",
}
_CHARACTER_WORDS = {"a-z": "lowercase letters", "A-Z": "uppercase letters", "0-9": "digits", "\\d": "digits"}
_CHARACTER_WORDS |= {"-": "dashes", "\\-": "dashes", "_": "underscores", ".": "dots", "\\.": "dots", " ": "spaces"}
_SIMPLE_PATTERN = re.compile(r"\^?(?:\[[^\]\[]+\](?:[*+?]|\{\d+(?:,\d*)?\})?)+\$?")
_CLASS_PART = re.compile(r"a-z|A-Z|0-9|\\d|\\-|\\\.|.")


@dataclass(frozen=True)
class VisibleWhen:
    """A field shown only when another field (`field`, a dotted name) has one of `values` (any value if empty)."""

    field: str
    values: tuple[Any, ...] = ()
    negate: bool = False

    def matches(self, data: Mapping[str, Any]) -> bool:
        present, value = _lookup(data, self.field)
        hit = present and value is not None if not self.values else present and value in self.values
        return hit != self.negate


@dataclass(frozen=True)
class CleanedInputs:
    values: dict[str, Any]
    errors: dict[str, list[str]]


def pages(parameters: Any) -> list[dict[str, Any]]:
    """Backstage allows one page (a dict) or a list of pages; always give a list."""
    if not parameters:
        return []
    return [parameters] if isinstance(parameters, Mapping) else list(parameters)


def page_visible(page: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """A page's Backstage-style `if: ${{ parameters.x }}`; a page whose condition fails to evaluate is hidden."""
    condition = page.get("if")
    if condition is None or isinstance(condition, Mapping):  # a Mapping `if` is JSON Schema's if/then/else
        return True
    try:
        return evaluate_condition(condition, {"parameters": dict(data)})
    except ExpressionError:
        return False  # nunjucks reads an undefined name as false; so do we here


def _schema_of(page: Mapping[str, Any]) -> dict[str, Any]:
    """The page as a JSON Schema: without Backstage's expression `if`, which is not a schema."""
    schema = dict(page)
    if not isinstance(schema.get("if"), Mapping):
        schema.pop("if", None)
    schema.setdefault("type", "object")
    return schema


def merged_schema(parameters: Any) -> dict[str, Any]:
    """One JSON Schema for all pages (for the API and its documentation); conditional pages are listed in x-pages."""
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": [], "x-pages": []}
    conditions = []
    for page in pages(parameters):
        expression_if = page.get("if") if not isinstance(page.get("if"), Mapping) else None
        merged["properties"].update(page.get("properties") or {})
        summary = {key: page[key] for key in ("title", "description", "required") if key in page}
        summary |= {key: value for key, value in page.items() if key.startswith("ui:")}
        summary["fields"] = list(page.get("properties") or {})
        if expression_if is not None:
            summary["if"] = expression_if  # JSON Schema cannot say "required when this expression holds"
        else:
            merged["required"] += [name for name in page.get("required", []) if name not in merged["required"]]
            rules = {key: page[key] for key in (*_CONDITIONAL_KEYS, "if", "not") if key in page}
            if rules:
                conditions.append(rules)
        merged["x-pages"].append(summary)
    if conditions:
        merged["allOf"] = conditions
    return merged


def declared_fields(parameters: Any) -> set[str]:
    """Every top-level field any page declares, conditional pages and branches included."""
    return set().union(*(_declared(page) for page in pages(parameters)))


def secret_fields(parameters: Any) -> set[str]:
    """Top-level fields with Backstage's `ui:field: Secret`: their values go to `secrets`, never to `parameters`."""
    return {
        name
        for page in pages(parameters)
        for name, schema in (page.get("properties") or {}).items()
        if isinstance(schema, Mapping) and schema.get("ui:field") == "Secret"
    }


def split_secrets(parameters: Any, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(parameters to store, secrets to keep out of the database and the logs)."""
    names = secret_fields(parameters)
    return {k: v for k, v in data.items() if k not in names}, {k: v for k, v in data.items() if k in names}


def clean_inputs(parameters: Any, data: Mapping[str, Any]) -> CleanedInputs:
    """Apply defaults, drop unknown fields and fields of hidden pages, validate; errors keyed by dotted field path."""
    values = copy.deepcopy(dict(data)) if isinstance(data, Mapping) else {}
    active = []
    for page in pages(parameters):
        if page_visible(page, values):
            schema = _schema_of(page)
            _apply_defaults(schema, values)
            active.append(schema)
    known = set().union(*(_declared(schema) for schema in active)) if active else set()
    cleaned = {key: value for key, value in values.items() if key in known}
    for schema in active:
        _strip_unknown(schema, cleaned, here=False)
    errors: dict[str, list[str]] = {}
    for schema in active:
        for key, messages in _errors(schema, cleaned).items():
            known_messages = errors.setdefault(key, [])
            known_messages += [message for message in messages if message not in known_messages]
    return CleanedInputs(values=cleaned, errors=errors)


def validate_inputs(parameters: Any, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Errors of a whole submission, keyed by field path ("__all__" for errors not tied to one field)."""
    return clean_inputs(parameters, data).errors


def page_errors(page_schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Errors of one page's fields, for inline errors while the user fills that page."""
    schema = _schema_of(page_schema)
    values = copy.deepcopy(dict(data))
    _apply_defaults(schema, values)
    return _errors(schema, values)


# --- validation --------------------------------------------------------------------------------------------------


def _validator(schema: Mapping[str, Any]) -> Any:
    cls = validators.validator_for(schema, default=Draft7Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _errors(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        if message not in errors.setdefault(key or "__all__", []):
            errors[key or "__all__"].append(message)

    for error in [leaf for top in _validator(schema).iter_errors(dict(data)) for leaf in _leaves(top)]:
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator in ("required", "dependencies", "dependentRequired"):
            name = _missing_name(error)
            add(f"{path}.{name}" if path else name, _required_message(error))
        else:
            add(path, humanize(error))
    # What Backstage's field extensions check in the browser, checked again here where it counts.
    for name, field_schema in _walk_properties(schema):
        present, value = _lookup(data, name)
        if not present or not isinstance(value, str):
            continue
        if field_schema.get("ui:field") == "EntityNamePicker":
            if not (_ENTITY_NAME.match(value) and len(value) <= 63):
                add(name, "Must be 1-63 letters or digits, separated by single - _ or . characters.")
        if field_schema.get("ui:field") == "RepoUrlPicker":
            problem = _repo_url_problem(value, field_schema.get("ui:options") or {})
            if problem:
                add(name, problem)
    return errors


def _repo_url_problem(value: str, options: Mapping[str, Any]) -> str:
    try:
        parsed = parse_repo_url(value)
    except ValueError:
        return "Must be a repository location like github.com?owner=acme&repo=payments."
    hosts, owners = options.get("allowedHosts") or [], options.get("allowedOwners") or []
    if hosts and parsed["host"] not in hosts:
        return f"Must be a repository on {', '.join(hosts)}."
    if owners and parsed.get("owner") not in owners:
        return f"Must be a repository owned by {', '.join(owners)}."
    return ""


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors to show for a oneOf/anyOf failure: those of the branch the data chose (the one whose const or
    enum matched, as in `dependencies` branches), else jsonschema's best guess."""
    if not error.context or error.validator not in ("oneOf", "anyOf"):
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub_error in error.context:
        branches.setdefault(sub_error.relative_schema_path[0], []).append(sub_error)
    for branch_errors in branches.values():
        if not any(sub_error.validator in ("const", "enum") for sub_error in branch_errors):
            return [leaf for sub_error in branch_errors for leaf in _leaves(sub_error)]
    return _leaves(best_match(error.context))


def _missing_name(error: ValidationError) -> str:
    quoted = error.message.split(" is a ", 1)[0]
    try:
        return str(ast.literal_eval(quoted))
    except (ValueError, SyntaxError):
        return quoted


def _required_message(error: ValidationError) -> str:
    if error.validator == "required":
        return "This field is required."
    trigger = error.message.rsplit(" of ", 1)[-1]
    return f"This field is required when {trigger.strip(chr(39))} is set."


def humanize(error: ValidationError) -> str:
    """A message a person can act on, for one jsonschema error."""
    kind, expected, schema = error.validator, error.validator_value, error.schema
    if kind == "pattern":
        explained = explain_pattern(expected)
        return f"Must match {expected}" + (f" ({explained})" if explained else "")
    if kind == "minLength":
        return "This field is required." if expected == 1 else f"Must be at least {expected} characters long."
    if kind == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        return _TYPE_WORDS.get(kinds[0], error.message) if len(kinds) == 1 else error.message
    if kind == "enum":
        labels = dict(_choices(schema))
        return "Must be one of: " + ", ".join(str(labels.get(value, value)) for value in expected) + "."
    if kind == "const":
        return "Must be checked." if expected is True else f"Must be {json.dumps(expected)}."
    if kind == "format":
        return _FORMAT_WORDS.get(expected, f"Must be a valid {expected}.")
    simple = {
        "maxLength": f"Must be at most {expected} characters long.",
        "minimum": f"Must be at least {expected}.",
        "maximum": f"Must be at most {expected}.",
        "exclusiveMinimum": f"Must be more than {expected}.",
        "exclusiveMaximum": f"Must be less than {expected}.",
        "multipleOf": f"Must be a multiple of {expected}.",
        "minItems": f"Choose at least {expected}.",
        "maxItems": f"Choose at most {expected}.",
        "uniqueItems": "Each item must be different.",
        "additionalProperties": "Has fields this form does not know.",
    }
    return simple.get(kind, error.message[:1].upper() + error.message[1:])


def explain_pattern(pattern: str) -> str:
    """Words for simple character-class patterns: ^[a-z][a-z0-9-]+$ -> "lowercase letters, digits and dashes"."""
    if not _SIMPLE_PATTERN.fullmatch(pattern):
        return ""
    words: list[str] = []
    for character_class in re.findall(r"\[([^\]]+)\]", pattern):
        if character_class.startswith("^"):
            return ""
        for part in _CLASS_PART.findall(character_class):
            word = _CHARACTER_WORDS.get(part)
            if word is None:
                return ""
            if word not in words:
                words.append(word)
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --- schema walking ----------------------------------------------------------------------------------------------


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    value = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _is_group(schema: Mapping[str, Any]) -> bool:
    """An object whose fields are rendered one by one (Backstage's AccordionField is only a layout for this)."""
    return bool(schema.get("properties")) and schema.get("ui:field") in (None, "AccordionField")


def _branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Sub-schemas that may add fields: dependencies, if/then/else, allOf/anyOf/oneOf (one level deep each)."""
    found: list[Mapping[str, Any]] = []
    for key in ("then", "else"):
        if isinstance(schema.get(key), Mapping):
            found.append(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        found += [branch for branch in schema.get(key) or [] if isinstance(branch, Mapping)]
    for key in ("dependencies", "dependentSchemas"):
        for dependency in (schema.get(key) or {}).values():
            if isinstance(dependency, Mapping):
                found.append(dependency)
                found += [
                    b for k in ("oneOf", "anyOf", "allOf") for b in dependency.get(k) or [] if isinstance(b, Mapping)
                ]
    return found


def _declared(schema: Mapping[str, Any]) -> set[str]:
    names = set(schema.get("properties") or {})
    for branch in _branches(schema):
        names |= _declared(branch)
    return names


def _strip_unknown(schema: Mapping[str, Any], value: dict[str, Any], *, here: bool = True) -> None:
    """Drop fields no schema declares, at every level where the schema lists properties and allows no others.

    `here=False` leaves this level alone (the top level, which several pages share) and only cleans nested objects.
    """
    keeps_extra = schema.get("additionalProperties") not in (None, False) or "patternProperties" in schema
    if here and schema.get("properties") and not keeps_extra:
        declared = _declared(schema)
        for key in [key for key in value if key not in declared]:
            del value[key]
    properties = dict(schema.get("properties") or {})
    for branch in _branches(schema):
        properties |= {k: v for k, v in (branch.get("properties") or {}).items() if k not in properties}
    for key, sub_schema in properties.items():
        if not isinstance(sub_schema, Mapping):
            continue
        if isinstance(value.get(key), dict) and sub_schema.get("properties"):
            _strip_unknown(sub_schema, value[key])
        elif isinstance(value.get(key), list) and isinstance(sub_schema.get("items"), Mapping):
            for item in value[key]:
                if isinstance(item, dict) and sub_schema["items"].get("properties"):
                    _strip_unknown(sub_schema["items"], item)


def _apply_defaults(schema: Mapping[str, Any], value: dict[str, Any]) -> None:
    for key, sub_schema in (schema.get("properties") or {}).items():
        if not isinstance(sub_schema, Mapping):
            continue
        if key not in value and "default" in sub_schema:
            value[key] = copy.deepcopy(sub_schema["default"])
        if sub_schema.get("properties") and key not in value:
            nested: dict[str, Any] = {}
            _apply_defaults(sub_schema, nested)
            if nested:
                value[key] = nested
        elif sub_schema.get("properties") and isinstance(value.get(key), dict):
            _apply_defaults(sub_schema, value[key])


def _walk_properties(schema: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for name, sub_schema in (schema.get("properties") or {}).items():
        if isinstance(sub_schema, Mapping):
            found.append((prefix + name, sub_schema))
            if _is_group(sub_schema):
                found += _walk_properties(sub_schema, f"{prefix}{name}.")
    return found


def _choices(schema: Mapping[str, Any]) -> list[tuple[Any, str]]:
    if "enum" in schema:
        labels = schema.get("enumNames") or schema.get("ui:enumNames") or []
        return [(value, str(labels[i]) if i < len(labels) else str(value)) for i, value in enumerate(schema["enum"])]
    options = schema.get("oneOf") or schema.get("anyOf") or []
    if options and all(isinstance(option, Mapping) and "const" in option for option in options):
        return [(option["const"], str(option.get("title", option["const"]))) for option in options]
    return []
