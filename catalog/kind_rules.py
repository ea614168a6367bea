"""Spec rules of Backstage's built-in kinds, after packages/catalog-model/src/schema/kinds/*.schema.json.

A kind's rules apply when both its kind and one of its apiVersions match, as in Backstage. Any other
(apiVersion, kind) pair is a custom kind (a blueprint such as Environment, or the AiResource examples): only the
envelope is checked, and its spec may hold anything. Legacy template formats Backstage no longer runs
(backstage.io/v1alpha1 and v1beta1 Templates) count as custom too: kept, not validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalog.validators import is_non_empty_string

_V1 = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
KIND_VERSIONS: dict[str, tuple[str, ...]] = {
    "Component": _V1,
    "API": _V1,
    "Resource": _V1,
    "System": _V1,
    "Domain": _V1,
    "Group": _V1,
    "User": _V1,
    "Location": _V1,
    # v1beta2 has the same spec shape as v1beta3; older formats are legacy (see module docstring).
    "Template": ("scaffolder.backstage.io/v1beta3", "backstage.io/v1beta2"),
}
PLACEHOLDER_KEYS = ("$text", "$json", "$yaml")


def builtin_kind(api_version: Any, kind: Any) -> str | None:
    """The built-in kind whose rules apply to this (apiVersion, kind), or None for a custom kind."""
    if isinstance(kind, str) and api_version in KIND_VERSIONS.get(kind, ()):
        return kind
    return None


def check_spec(api_version: str, kind: str, spec: dict[str, Any] | None) -> list[str]:
    known = builtin_kind(api_version, kind)
    if known is None:
        return []
    if spec is None:
        return [f"spec is required for kind {kind}"]
    return _RULES[known](spec)


def is_placeholder(value: Any) -> bool:
    """An unresolved `{$text|$json|$yaml: target}` object (kept when its target could not be read)."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in PLACEHOLDER_KEYS


def _required(spec: dict[str, Any], *fields: str) -> list[str]:
    errors = []
    for field in fields:
        if field not in spec:
            errors.append(f"spec.{field} is required")
        elif not is_non_empty_string(spec[field]):
            errors.append(f"spec.{field} must be a non-empty string")
    return errors


def _optional(spec: dict[str, Any], *fields: str) -> list[str]:
    return [
        f"spec.{field} must be a non-empty string"
        for field in fields
        if field in spec and not is_non_empty_string(spec[field])
    ]


def _string_lists(spec: dict[str, Any], *fields: str, required: bool = False) -> list[str]:
    errors = []
    for field in fields:
        if field not in spec:
            if required:
                errors.append(f"spec.{field} is required (a list, which may be empty)")
            continue
        value = spec[field]
        if not isinstance(value, list):
            errors.append(f"spec.{field} must be a list of strings")
            continue
        errors.extend(
            f"spec.{field}[{i}] must be a non-empty string"
            for i, item in enumerate(value)
            if not is_non_empty_string(item)
        )
    return errors


def _profile(spec: dict[str, Any]) -> list[str]:
    profile = spec.get("profile")
    if profile is None:
        return []
    if not isinstance(profile, dict):
        return ["spec.profile must be a mapping"]
    return [
        f"spec.profile.{field} must be a non-empty string"
        for field in ("displayName", "email", "picture")
        if field in profile and not is_non_empty_string(profile[field])
    ]


def _component(spec: dict[str, Any]) -> list[str]:
    return (
        _required(spec, "type", "lifecycle", "owner")
        + _optional(spec, "system", "subcomponentOf")
        + _string_lists(spec, "providesApis", "consumesApis", "dependsOn", "dependencyOf")
    )


def _remotes(spec: dict[str, Any], *, required: bool) -> list[str]:
    if "remotes" not in spec:
        return ["spec.remotes is required (a list of {type, url})"] if required else []
    remotes = spec["remotes"]
    if not isinstance(remotes, list) or not remotes:
        return ["spec.remotes must be a non-empty list of {type, url}"]
    errors = []
    for i, remote in enumerate(remotes):
        if not isinstance(remote, dict):
            errors.append(f"spec.remotes[{i}] must be a mapping with type and url")
            continue
        errors.extend(
            f"spec.remotes[{i}].{field} must be a non-empty string"
            for field in ("type", "url")
            if not is_non_empty_string(remote.get(field))
        )
    return errors


def _api(spec: dict[str, Any]) -> list[str]:
    errors = _required(spec, "type", "lifecycle", "owner") + _optional(spec, "system")
    api_type = spec.get("type")
    if api_type == "mcp-server":
        # Backstage's mcp-server variant replaces the definition with transport endpoints.
        return errors + _remotes(spec, required=True)
    if api_type == "ai-model-server":
        # Upstream is still settling this variant: endpoints as `remotes` (newer) or `serverUrl` (older).
        if "remotes" in spec or "serverUrl" not in spec:
            return errors + _remotes(spec, required=True)
        return errors + _optional(spec, "serverUrl", "serverType")
    definition = spec.get("definition")
    if "definition" not in spec:
        errors.append("spec.definition is required")
    elif not is_non_empty_string(definition) and not is_placeholder(definition):
        errors.append("spec.definition must be a non-empty string (or a $text placeholder)")
    return errors


def _resource(spec: dict[str, Any]) -> list[str]:
    return (
        _required(spec, "type", "owner")
        + _optional(spec, "system")
        + _string_lists(spec, "dependsOn", "dependencyOf", "partOf", "hasPart")
    )


def _system(spec: dict[str, Any]) -> list[str]:
    return _required(spec, "owner") + _optional(spec, "domain", "type")


def _domain(spec: dict[str, Any]) -> list[str]:
    return _required(spec, "owner") + _optional(spec, "subdomainOf", "type")


def _group(spec: dict[str, Any]) -> list[str]:
    return (
        _required(spec, "type")
        + _optional(spec, "parent")
        + _string_lists(spec, "children", required=True)
        + _string_lists(spec, "members")
        + _profile(spec)
    )


def _user(spec: dict[str, Any]) -> list[str]:
    return _string_lists(spec, "memberOf") + _profile(spec)


def _location(spec: dict[str, Any]) -> list[str]:
    errors = _optional(spec, "type", "target", "presence") + _string_lists(spec, "targets")
    if "target" not in spec and "targets" not in spec:
        errors.append("spec.target or spec.targets is required")
    if spec.get("presence") not in (None, "required", "optional"):
        errors.append('spec.presence must be "required" or "optional"')
    return errors


def _template(spec: dict[str, Any]) -> list[str]:
    errors = _required(spec, "type") + _optional(spec, "owner", "lifecycle")
    parameters = spec.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        if not isinstance(parameters, list) or not all(isinstance(page, dict) for page in parameters):
            errors.append("spec.parameters must be a mapping (a JSON Schema) or a list of them (form pages)")
    steps = spec.get("steps")
    if steps is None:
        errors.append("spec.steps is required (a list, which may be empty)")
    elif not isinstance(steps, list):
        errors.append("spec.steps must be a list")
    else:
        for i, step in enumerate(steps):
            errors.extend(_template_step(i, step))
    output = spec.get("output")
    if output is not None:
        if not isinstance(output, dict):
            errors.append("spec.output must be a mapping")
        else:
            for field in ("links", "text"):
                items = output.get(field)
                if items is not None and (not isinstance(items, list) or not all(isinstance(x, dict) for x in items)):
                    errors.append(f"spec.output.{field} must be a list of mappings")
    return errors


def _template_step(i: int, step: Any) -> list[str]:
    where = f"spec.steps[{i}]"
    if not isinstance(step, dict):
        return [f"{where} must be a mapping with an action"]
    errors = []
    if not is_non_empty_string(step.get("action")):
        errors.append(f"{where}.action is required (the name of the action to run)")
    for field in ("id", "name"):
        if field in step and not isinstance(step[field], str):
            errors.append(f"{where}.{field} must be a string")
    if "input" in step and not isinstance(step["input"], dict):
        errors.append(f"{where}.input must be a mapping")
    if "if" in step and not isinstance(step["if"], str | bool):
        errors.append(f"{where}.if must be a string or a boolean")
    return errors


_RULES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Component": _component,
    "API": _api,
    "Resource": _resource,
    "System": _system,
    "Domain": _domain,
    "Group": _group,
    "User": _user,
    "Location": _location,
    "Template": _template,
}
