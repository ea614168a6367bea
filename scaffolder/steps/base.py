"""The step interface: a step is a plain function `(ctx, input) -> outputs`, registered in STEP_LIBRARY by name.

Other modules register their steps (publish:git, publish:github, gitops:commit, argocd:application,
catalog:register, catalog:update...) with the same `register` decorator; the library stays open.

A step must be safe to run again after a crash: it records what it has done in `ctx.checkpoint` (the engine
persists it between attempts) before doing the next thing, and skips what the checkpoint says is done.
In a dry run (`ctx.dry_run`) a step with side effects describes what it would do and does nothing outside the
workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from scaffolder.definitions import ActionDefinition
from scaffolder.expressions import expression_errors, expression_references, redact
from scaffolder.forms import declared_fields, humanize


class StepError(Exception):
    """A step failed; the message says what a person can do about it. `retryable`: worth another attempt."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StepInputError(StepError):
    """The step's input does not match its input schema."""


@dataclass
class StepContext:
    workspace: Path  # the run's scratch folder; steps read and write files only under it
    parameters: dict[str, Any]
    user: dict[str, Any]  # {entity, ref, username, email}
    steps_outputs: dict[str, dict[str, Any]]  # outputs of the steps before this one, by step id
    checkpoint: dict[str, Any]  # this step's own record of what is done; persisted by the engine between attempts
    dry_run: bool
    log: Callable[[str, str], None]  # (level, message); secret values are replaced by *** before it is called
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    action_dir: Path | None = None  # the folder holding the action file: relative template urls start there
    step_id: str = ""
    entity: Mapping[str, Any] | None = None  # the target entity of a day-2 or delete action

    def __post_init__(self) -> None:
        sink, secrets = self.log, self.secrets

        def log(level: str, message: str) -> None:
            sink(level, redact(str(message), secrets))

        self.log = log


@dataclass(frozen=True)
class StepSpec:
    name: str
    run: Callable[[StepContext, dict[str, Any]], dict[str, Any]]
    input_schema: dict[str, Any]
    output_keys: tuple[str, ...] = ()
    description: str = ""
    side_effects: bool = False  # touches something outside the workspace (a repository, Argo CD, the catalog)


STEP_LIBRARY: dict[str, StepSpec] = {}


def register(
    name: str,
    *,
    input_schema: dict[str, Any],
    output_keys: tuple[str, ...] = (),
    description: str = "",
    side_effects: bool = False,
) -> Callable[[Callable[[StepContext, dict[str, Any]], dict[str, Any]]], Callable]:
    """Decorator adding a step function to STEP_LIBRARY under `name` (e.g. "publish:github")."""
    Draft7Validator.check_schema(input_schema)

    def decorator(run: Callable[[StepContext, dict[str, Any]], dict[str, Any]]) -> Callable:
        existing = STEP_LIBRARY.get(name)
        if existing and (existing.run.__module__, existing.run.__qualname__) != (run.__module__, run.__qualname__):
            raise ValueError(f"step {name!r} is already registered by {existing.run.__module__}")
        STEP_LIBRARY[name] = StepSpec(name, run, input_schema, tuple(output_keys), description, side_effects)
        return run

    return decorator


def validate_step_input(spec: StepSpec, step_id: str, step_input: Mapping[str, Any]) -> None:
    """Raise StepInputError naming the step and the field when the (rendered) input does not fit the schema."""
    validator = Draft7Validator(spec.input_schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(dict(step_input)), key=lambda error: list(map(str, error.absolute_path)))
    if not errors:
        return
    error = errors[0]
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        where = ".".join(filter(None, [where, error.message.split("'")[1]]))
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(spec.input_schema.get("properties", {})))
        raise StepInputError(f"step {step_id!r} ({spec.name}): {error.message}; it takes {known}")
    message = "This field is required." if error.validator == "required" else humanize(error)
    raise StepInputError(f"step {step_id!r} ({spec.name}): input {where or '(the whole input)'}: {message}")


def run_step(action: str, ctx: StepContext, step_input: Mapping[str, Any]) -> dict[str, Any]:
    """Look the step up, check its rendered input, run it; returns its outputs."""
    spec = STEP_LIBRARY.get(action)
    if spec is None:
        raise StepError(_unknown(ctx.step_id, action))
    validate_step_input(spec, ctx.step_id, step_input)
    outputs = spec.run(ctx, dict(step_input))
    if not isinstance(outputs, Mapping):
        raise StepError(f"step {ctx.step_id!r} ({action}) returned {type(outputs).__name__}, not a mapping of outputs")
    return dict(outputs)


def _unknown(step_id: str, action: str) -> str:
    available = ", ".join(sorted(STEP_LIBRARY)) or "none"
    return f"step {step_id!r} uses {action!r}, which Portico does not have; available: {available}"


def _reference_problems(definition: ActionDefinition) -> list[str]:
    """Expressions that read a parameter no page declares, or a step that does not run before them."""
    declared = declared_fields(definition.parameters)
    problems: list[str] = []

    def check(prefix: str, value: Any, where: str, earlier: list[str]) -> None:
        for place, root, key in expression_references(value, ("parameters", "steps"), where):
            if root == "parameters" and key not in declared:
                problems.append(f"{prefix}{place} uses parameters.{key}, which no parameter page declares")
            if root == "steps" and key not in earlier:
                problems.append(f"{prefix}{place} uses steps.{key}, which is not a step that runs before it")

    for index, step in enumerate(definition.steps):
        earlier = [other.id for other in definition.steps[:index]]
        check(f"step {step.id!r}: ", step.input, "input", earlier)
        check(f"step {step.id!r}: ", step.if_, "if", earlier)
    check("", definition.output, "output", [step.id for step in definition.steps])
    return problems


def dry_run_check(definition: ActionDefinition) -> list[str]:
    """What stops the action from running, before anything runs: unknown steps first, then bad inputs, then
    expressions that cannot work (syntax errors, undeclared parameters, steps that do not run before)."""
    problems = [_unknown(step.id, step.action) for step in definition.steps if step.action not in STEP_LIBRARY]
    for step in definition.steps:
        spec = STEP_LIBRARY.get(step.action)
        if spec is not None:
            missing = [name for name in spec.input_schema.get("required", []) if name not in step.input]
            problems += [f"step {step.id!r} ({step.action}) needs input {name!r}" for name in missing]
            if spec.input_schema.get("additionalProperties") is False:
                known = spec.input_schema.get("properties", {})
                extra = [name for name in step.input if name not in known]
                problems += [f"step {step.id!r} ({step.action}) does not take input {name!r}" for name in extra]
        problems += [f"step {step.id!r}: {problem}" for problem in expression_errors(step.input, "input")]
        problems += [f"step {step.id!r}: {problem}" for problem in expression_errors(step.if_, "if")]
    problems += expression_errors(definition.output, "output")
    for number, page in enumerate(definition.parameters, start=1):
        if isinstance(page.get("if"), str):
            problems += expression_errors(page["if"], f"parameters page {number} if")
    return problems + _reference_problems(definition)
