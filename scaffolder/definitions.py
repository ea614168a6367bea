"""Action definitions: Portico's own `portico.dev/v1` Action files and Backstage `v1beta3` Templates, parsed into one
frozen ActionDefinition the engine, the form and the API share.

Portico's format (a YAML file, one document):

    apiVersion: portico.dev/v1
    kind: Action
    metadata: {name, title, description, tags}
    spec:
      blueprint: Component            # the kind of entity the action creates or acts on
      operation: create               # create | day-2 | delete
      approval: {required: false}
      parameters: [ ...pages, each a JSON Schema object, as in Backstage... ]
      steps: [ {id, name, action, input, if} ]
      output: {links: [{title, url | entityRef, icon, if}], text: [{title, content, if}]}

A Backstage Template may set `portico.dev/blueprint`, `portico.dev/operation` and `portico.dev/approval-required`
annotations; without them it creates a Component.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, SchemaError, validators

BACKSTAGE_API_VERSION = "scaffolder.backstage.io/v1beta3"
PORTICO_API_VERSION = "portico.dev/v1"
OPERATIONS = ("create", "day-2", "delete")
GOLDEN_PATHS_DIR = Path(__file__).resolve().parent / "golden_paths"
MAX_DEFINITION_BYTES = 1_000_000
MAX_YAML_NODES = 200_000  # after aliases are expanded: stops "billion laughs" documents

_NAME = re.compile(r"^([a-zA-Z0-9]+[-_.])*[a-zA-Z0-9]+$")
_STEP_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_OLD_TEMPLATES = {
    "backstage.io/v1beta2": "backstage.io/v1beta2 (handlebars)",
    "backstage.io/v1alpha1": "backstage.io/v1alpha1 (cookiecutter)",
}


class DefinitionError(ValueError):
    """The definition cannot be used; `problems` lists every reason found, the message joins them."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class StepDefinition:
    id: str
    name: str
    action: str
    input: dict[str, Any]
    if_: bool | str | None = None


@dataclass(frozen=True)
class ActionDefinition:
    identifier: str
    title: str
    description: str
    blueprint: str
    operation: str
    parameters: list[dict[str, Any]]
    steps: list[StepDefinition]
    output: dict[str, Any]
    approval_required: bool
    tags: list[str]
    source_kind: str  # "backstage" | "portico"


@dataclass(frozen=True)
class GoldenPath:
    definition: ActionDefinition
    directory: Path  # where the action file sits; fetch:template resolves ./skeleton against it


class _Loader(yaml.SafeLoader):
    """Safe YAML where dates stay strings (definitions are JSON-like data, and a date is not JSON)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_size(value: Any) -> None:
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise DefinitionError(f"the document has more than {MAX_YAML_NODES} values once aliases are expanded")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def load_yaml_documents(text: str | bytes) -> list[Any]:
    """Every non-empty document of a YAML stream, refusing huge files, alias bombs and non-safe tags."""
    if len(text) > MAX_DEFINITION_BYTES:
        raise DefinitionError(f"the file is {len(text)} bytes; definitions may be at most {MAX_DEFINITION_BYTES}")
    try:
        documents = [document for document in yaml.load_all(text, Loader=_Loader) if document is not None]
    except yaml.YAMLError as exc:
        raise DefinitionError(f"not valid YAML: {exc}") from exc
    for document in documents:
        _check_size(document)
    return documents


def load_definition_file(path: Path) -> ActionDefinition:
    """Parse a file holding exactly one definition."""
    path = Path(path)
    if path.stat().st_size > MAX_DEFINITION_BYTES:
        raise DefinitionError(f"{path.name} is larger than {MAX_DEFINITION_BYTES} bytes")
    documents = load_yaml_documents(path.read_text(encoding="utf-8"))
    if len(documents) != 1:
        raise DefinitionError(f"{path.name} holds {len(documents)} documents; an action file holds exactly one")
    return parse_definition(documents[0])


def golden_paths() -> list[GoldenPath]:
    """The actions Portico ships, one folder each under scaffolder/golden_paths/."""
    return [
        GoldenPath(load_definition_file(action_file), action_file.parent)
        for action_file in sorted(GOLDEN_PATHS_DIR.glob("*/action.yaml"))
    ]


def parse_definition(data: Mapping[str, Any]) -> ActionDefinition:
    """A Portico Action or Backstage v1beta3 Template as an ActionDefinition, or DefinitionError saying why not."""
    if not isinstance(data, Mapping):
        raise DefinitionError("an action definition is a mapping with apiVersion, kind, metadata and spec")
    api_version, kind = data.get("apiVersion"), data.get("kind")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else {}
    label = f"template {metadata.get('name')!r}" if metadata.get("name") else "this template"
    if kind == "Template" and api_version in _OLD_TEMPLATES:
        raise DefinitionError(
            f"{label} uses {_OLD_TEMPLATES[api_version]} templates, which Portico does not run; "
            f"migrate to {BACKSTAGE_API_VERSION}"
        )
    if (api_version, kind) not in ((BACKSTAGE_API_VERSION, "Template"), (PORTICO_API_VERSION, "Action")):
        raise DefinitionError(
            f"apiVersion {api_version!r} kind {kind!r} is not an action; "
            f"expected {PORTICO_API_VERSION} Action or {BACKSTAGE_API_VERSION} Template"
        )
    problems: list[str] = []
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        raise DefinitionError("spec is missing or is not a mapping")
    name = metadata.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 63:
        problems.append(f"metadata.name {name!r} must be 1-63 letters or digits separated by single - _ or .")
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        problems.append("metadata.tags must be a list of strings")
    parameters = _parse_parameters(spec.get("parameters"), problems)
    steps = _parse_steps(spec.get("steps"), problems)
    output = spec.get("output", {}) or {}
    if not isinstance(output, Mapping):
        problems.append("spec.output must be a mapping (links, text)")
    else:
        for key in ("links", "text"):
            if key in output and not (
                isinstance(output[key], list) and all(isinstance(i, Mapping) for i in output[key])
            ):
                problems.append(f"spec.output.{key} must be a list of mappings")
    if api_version == PORTICO_API_VERSION:
        blueprint, operation, approval = _portico_fields(spec, problems)
    else:
        blueprint, operation, approval = _backstage_fields(metadata, spec, problems)
    if problems:
        raise DefinitionError(problems)
    return ActionDefinition(
        identifier=name,
        title=str(metadata.get("title") or name),
        description=str(metadata.get("description") or "").strip(),
        blueprint=blueprint,
        operation=operation,
        parameters=parameters,
        steps=steps,
        output=dict(output),
        approval_required=approval,
        tags=list(tags) if isinstance(tags, list) else [],
        source_kind="portico" if api_version == PORTICO_API_VERSION else "backstage",
    )


def _portico_fields(spec: Mapping[str, Any], problems: list[str]) -> tuple[str, str, bool]:
    blueprint = spec.get("blueprint")
    if not isinstance(blueprint, str) or not blueprint:
        problems.append("spec.blueprint is required: the kind of entity the action creates or acts on")
    operation = spec.get("operation")
    if operation not in OPERATIONS:
        problems.append(f"spec.operation {operation!r} must be one of {', '.join(OPERATIONS)}")
    approval = spec.get("approval", {}) or {}
    if not isinstance(approval, Mapping) or not isinstance(approval.get("required", False), bool):
        problems.append("spec.approval must be a mapping like {required: true}")
        approval = {}
    return str(blueprint or ""), str(operation or ""), bool(approval.get("required", False))


def _backstage_fields(metadata: Mapping[str, Any], spec: Mapping[str, Any], problems: list[str]) -> tuple:
    if not isinstance(spec.get("type"), str):
        problems.append("spec.type is required (what the template creates: service, website, ...)")
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), Mapping) else {}
    operation = annotations.get("portico.dev/operation", "create")
    if operation not in OPERATIONS:
        problems.append(f"annotation portico.dev/operation {operation!r} must be one of {', '.join(OPERATIONS)}")
    approval = str(annotations.get("portico.dev/approval-required", "false")).lower() == "true"
    return str(annotations.get("portico.dev/blueprint", "Component")), str(operation), approval


def _parse_parameters(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    raw_pages = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw_pages, list) or not all(isinstance(page, Mapping) for page in raw_pages):
        problems.append("spec.parameters must be a JSON Schema object or a list of them (one per form page)")
        return []
    parsed = []
    for number, page in enumerate(raw_pages, start=1):
        where = f"spec.parameters page {number}" + (f" ({page['title']})" if page.get("title") else "")
        schema = dict(page)
        condition = schema.pop("if", None) if not isinstance(page.get("if"), Mapping) else None
        if condition is not None and not isinstance(condition, bool | str):
            problems.append(f"{where}: if must be true, false or a ${{{{ }}}} expression")
        if "properties" in page and not isinstance(page["properties"], Mapping):
            problems.append(f"{where}: properties must be a mapping of field names to schemas")
            continue
        try:
            validators.validator_for(schema, default=Draft7Validator).check_schema(schema)
        except SchemaError as exc:
            location = "/".join(str(part) for part in exc.absolute_path)
            problems.append(f"{where}: not a valid JSON Schema at {location or 'the top'}: {exc.message}")
            continue
        parsed.append(dict(page))
    return parsed


def _parse_steps(raw: Any, problems: list[str]) -> list[StepDefinition]:
    if not isinstance(raw, list):
        problems.append("spec.steps must be a list of steps (it may be empty)")
        return []
    steps: list[StepDefinition] = []
    seen: set[str] = set()
    for number, step in enumerate(raw, start=1):
        if not isinstance(step, Mapping):
            problems.append(f"step {number} must be a mapping with id, name, action and input")
            continue
        step_id = step.get("id", f"step-{number}")
        where = f"step {step_id!r}" if isinstance(step_id, str) else f"step {number}"
        if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
            problems.append(f"{where}: id must be letters, digits, - _ or . (it names the step in expressions)")
        elif step_id in seen:
            problems.append(f"{where}: another step already has this id")
        seen.add(str(step_id))
        action = step.get("action")
        if not isinstance(action, str) or not action.strip():
            problems.append(f"{where}: action is required (for example fetch:template)")
        if "parameters" in step and "input" not in step:
            problems.append(f"{where}: takes its input under 'input' in v1beta3, not 'parameters'")
        if "each" in step:
            problems.append(f"{where}: uses 'each', which Portico does not support; write one step per item")
        step_input = step.get("input", {}) or {}
        if not isinstance(step_input, Mapping):
            problems.append(f"{where}: input must be a mapping")
            step_input = {}
        condition = step.get("if")
        if condition is not None and not isinstance(condition, bool | str):
            problems.append(f"{where}: if must be true, false or a ${{{{ }}}} expression")
        steps.append(
            StepDefinition(
                id=str(step_id),
                name=str(step.get("name") or step_id),
                action=str(action or ""),
                input=dict(step_input),
                if_=condition if isinstance(condition, bool | str) else None,
            )
        )
    return steps
