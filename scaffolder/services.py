"""Writes of the scaffolder: actions from files, the API and catalog Templates; requesting, approving, cancelling and
re-running runs. Each write records an audit event; a run is enqueued on commit with its id only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import Blueprint, Entity, Relation
from catalog.refs import InvalidRef, parse_ref
from catalog.relations_spec import HAS_MEMBER, MEMBER_OF
from rbac.selectors import restrict
from rbac.services import audit_record
from scaffolder.definitions import (
    BACKSTAGE_API_VERSION,
    ActionDefinition,
    DefinitionError,
    golden_paths,
    load_yaml_documents,
    parse_definition,
)
from scaffolder.form_fields import form_fields
from scaffolder.forms import clean_inputs, pages, split_secrets
from scaffolder.models import Action, ActionRun, RunStep
from scaffolder.steps import dry_run_check

_TEMPLATE_MARKERS = ("${{", "{{", "{%", "{#")


class ScaffolderError(Exception):
    """A request was refused; `errors` maps field names to messages ("__all__" for the whole request)."""

    def __init__(self, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {"__all__": [message]})


# --- actions -------------------------------------------------------------------------------------------------------


def _blueprint_for(definition: ActionDefinition) -> Blueprint:
    blueprint = Blueprint.objects.filter(identifier=definition.blueprint.lower()).first()
    if blueprint is None:
        raise ScaffolderError(
            f"The action {definition.identifier!r} belongs to the blueprint {definition.blueprint!r}, "
            "which does not exist; create the blueprint first.",
            {"blueprint": [f"No blueprint {definition.blueprint!r}."]},
        )
    return blueprint


def _action_save(
    *, actor, data: Mapping[str, Any], source: str, source_path: str = "", definition: ActionDefinition | None = None
) -> tuple[Action, bool]:
    """Create or update the action a definition describes; (action, changed)."""
    definition = definition or parse_definition(data)
    blueprint = _blueprint_for(definition)
    existing = Action.objects.filter(identifier=definition.identifier).first()
    if existing is not None and existing.source != source:
        raise ScaffolderError(
            f"An action {definition.identifier!r} exists already ({existing.get_source_display().lower()}); "
            "choose another metadata.name.",
            {"definition": [f"metadata.name {definition.identifier!r} is taken."]},
        )
    values = {
        "title": definition.title[:200],
        "description": definition.description,
        "blueprint": blueprint,
        "operation": definition.operation,
        "definition": json.loads(json.dumps(dict(data))),
        "source": source,
        "source_path": source_path,
        "approval_required": definition.approval_required,
        "tags": definition.tags,
    }
    if existing is not None and all(getattr(existing, key) == value for key, value in values.items()):
        return existing, False
    with transaction.atomic():
        action, created = Action.objects.update_or_create(identifier=definition.identifier, defaults=values)
        audit_record(
            actor=actor,
            verb="action.create" if created else "action.update",
            target=action,
            changes={"source": source, "source_path": source_path},
        )
    return action, True


def actions_sync_shipped(*, actor=None) -> list[Action]:
    """Load the golden paths under scaffolder/golden_paths/ into the database (unchanged ones write nothing)."""
    synced = []
    for golden_path in golden_paths():
        action_file = golden_path.directory / "action.yaml"
        data = load_yaml_documents(action_file.read_text(encoding="utf-8"))[0]
        action, _changed = _action_save(
            actor=actor,
            data=data,
            source=Action.Source.SHIPPED,
            source_path=str(golden_path.directory),
            definition=golden_path.definition,
        )
        synced.append(action)
    return synced


def action_create_from_text(*, actor, text: str | bytes) -> Action:
    """An action from a definition posted through the API (YAML or JSON text, one document)."""
    try:
        documents = load_yaml_documents(text)
        if len(documents) != 1:
            raise DefinitionError(f"the definition holds {len(documents)} documents; post exactly one")
        definition = parse_definition(documents[0])
    except DefinitionError as exc:
        raise ScaffolderError(f"The definition cannot be used: {exc}", {"definition": exc.problems}) from exc
    problems = dry_run_check(definition)
    unknown = [problem for problem in problems if "which Portico does not have" in problem]
    if unknown:
        raise ScaffolderError("The definition uses steps Portico does not have.", {"definition": unknown})
    action, _changed = _action_save(actor=actor, data=documents[0], source=Action.Source.API, definition=definition)
    return action


def actions_sync_from_catalog(*, actor=None) -> dict[str, list[str]]:
    """Turn catalog Template entities (scaffolder.backstage.io/v1beta3) into actions; disable those that went away.

    Returns {"synced": [identifiers], "problems": ["ref: why"]}.
    """
    synced, problems, seen = [], [], set()
    templates = Entity.objects.filter(kind__iexact="template", api_version=BACKSTAGE_API_VERSION)
    for entity in templates.only("ref", "descriptor"):
        try:
            action, _changed = _action_save(
                actor=actor, data=entity.descriptor, source=Action.Source.LOCATION, source_path=entity.ref
            )
        except DefinitionError as exc:
            problems.append(f"{entity.ref}: {exc}")
            continue
        except ScaffolderError as exc:
            problems.append(f"{entity.ref}: {exc.message}")
            continue
        if not action.enabled:
            action.enabled = True
            action.save(update_fields=["enabled", "updated_at"])
        seen.add(action.pk)
        synced.append(action.identifier)
    Action.objects.filter(source=Action.Source.LOCATION, enabled=True).exclude(pk__in=seen).update(enabled=False)
    return {"synced": synced, "problems": problems}


# --- runs ----------------------------------------------------------------------------------------------------------


def user_team_refs(user) -> set[str]:
    """Group refs the user belongs to: relations of the catalog User entity named like the user's username."""
    if user is None or not user.is_authenticated:
        return set()
    user_ref = f"user:default/{user.get_username().lower()}"
    groups = set(Relation.objects.filter(source__ref=user_ref, type=MEMBER_OF).values_list("target_ref", flat=True))
    groups |= set(Relation.objects.filter(type=HAS_MEMBER, target_ref=user_ref).values_list("source__ref", flat=True))
    return {ref.lower() for ref in groups}


def _template_text_errors(value: Any, name: str, errors: dict[str, list[str]]) -> None:
    if isinstance(value, str):
        if any(marker in value for marker in _TEMPLATE_MARKERS):
            errors.setdefault(name, []).append("Template expressions such as ${{ }} or {% %} are not allowed here.")
    elif isinstance(value, list):
        for item in value:
            _template_text_errors(item, name, errors)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _template_text_errors(item, f"{name}.{key}" if name else str(key), errors)


def _picker_errors(*, user, definition: ActionDefinition, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Entity picker values must name entities the user may see, of the allowed kinds (and their own teams)."""
    errors: dict[str, list[str]] = {}
    teams: set[str] | None = None
    visible = restrict(Entity.objects.all(), user=user)
    for page in pages(definition.parameters):
        for field in form_fields(page, values):
            picker = field.entity_picker
            if not picker or field.value in (None, "", []) or not field.visible:
                continue
            kinds = [kind.lower() for kind in picker["kinds"]]
            default_kind = picker.get("default_kind") or (picker["kinds"][0] if picker["kinds"] else None)
            for raw in field.value if isinstance(field.value, list) else [field.value]:
                try:
                    ref = str(
                        parse_ref(
                            str(raw),
                            default_kind=default_kind,
                            default_namespace=picker.get("default_namespace") or "default",
                        )
                    )
                except InvalidRef as exc:
                    errors.setdefault(field.name, []).append(str(exc))
                    continue
                if kinds and ref.split(":", 1)[0] not in kinds:
                    errors.setdefault(field.name, []).append(f"{raw} is not a {' or '.join(picker['kinds'])}.")
                elif not visible.filter(ref=ref).exists():
                    errors.setdefault(field.name, []).append(f"{raw} is not in the catalog.")
                elif picker["only_my_teams"] and not user.is_superuser:
                    teams = user_team_refs(user) if teams is None else teams
                    if ref not in teams:
                        errors.setdefault(field.name, []).append(f"{raw} is not one of your teams.")
    return errors


def run_validate(*, user, action: Action, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(cleaned values, errors by field) of a submission; used by the form as the user types and by run_request."""
    definition = parse_definition(action.definition)
    cleaned = clean_inputs(definition.parameters, inputs if isinstance(inputs, Mapping) else {})
    errors = {key: list(messages) for key, messages in cleaned.errors.items()}
    for name, value in cleaned.values.items():
        _template_text_errors(value, name, errors)
    if not errors:
        for key, messages in _picker_errors(user=user, definition=definition, values=cleaned.values).items():
            errors.setdefault(key, []).extend(messages)
    return cleaned.values, errors


def run_request(
    *,
    actor,
    action: Action,
    inputs: Mapping[str, Any],
    target_entity: Entity | None = None,
    dry_run: bool = False,
) -> ActionRun:
    """Validate and store a run, then enqueue it when the transaction commits. Raises ScaffolderError."""
    if not action.enabled:
        raise ScaffolderError(f"{action.title} is disabled.")
    if action.operation == Action.Operation.CREATE and target_entity is not None:
        raise ScaffolderError(f"{action.title} creates a new entity; it takes no target entity.")
    if action.operation != Action.Operation.CREATE:
        if target_entity is None:
            raise ScaffolderError(f"{action.title} acts on an entity: choose one.", {"target": ["Choose an entity."]})
        if target_entity.blueprint_id != action.blueprint_id:
            raise ScaffolderError(
                f"{action.title} acts on {action.blueprint.title} entities, not on {target_entity.kind}.",
                {"target": [f"Not a {action.blueprint.title}."]},
            )
    definition = parse_definition(action.definition)
    problems = dry_run_check(definition)
    if problems and not dry_run:
        raise ScaffolderError("The action cannot run: " + "; ".join(problems))
    values, errors = run_validate(user=actor, action=action, inputs=inputs)
    if errors:
        raise ScaffolderError("Some inputs need fixing.", errors)
    stored, _secrets = split_secrets(definition.parameters, values)
    approval = action.approval_required and not dry_run
    with transaction.atomic():
        run = ActionRun.objects.create(
            action=action,
            target_entity=target_entity,
            target_ref=target_entity.ref if target_entity else "",
            inputs=stored,
            definition=action.definition,
            requested_by=actor,
            dry_run=dry_run,
            status=ActionRun.Status.AWAITING_APPROVAL if approval else ActionRun.Status.PENDING,
        )
        RunStep.objects.bulk_create(
            RunStep(run=run, position=index, step_id=step.id, name=step.name, action=step.action)
            for index, step in enumerate(definition.steps)
        )
        audit_record(
            actor=actor,
            verb="run.request",
            target=run,
            changes={"action": action.identifier, "dry_run": dry_run, "target": run.target_ref},
        )
        if not approval:
            _enqueue(run)
    return run


def _enqueue(run: ActionRun) -> None:
    from scaffolder.tasks import execute_run

    run_id = run.pk
    transaction.on_commit(lambda: execute_run.delay(run_id))


def run_approve(*, actor, run: ActionRun) -> ActionRun:
    if run.status != ActionRun.Status.AWAITING_APPROVAL:
        raise ScaffolderError("Only a run awaiting approval can be approved.")
    if run.requested_by_id == actor.pk and not actor.is_superuser:
        raise ScaffolderError("Someone other than the requester must approve this run.")
    with transaction.atomic():
        updated = ActionRun.objects.filter(pk=run.pk, status=ActionRun.Status.AWAITING_APPROVAL).update(
            status=ActionRun.Status.PENDING, approved_by=actor
        )
        if not updated:
            raise ScaffolderError("The run changed in the meantime; reload the page.")
        audit_record(actor=actor, verb="run.approve", target=run)
        _enqueue(run)
    run.refresh_from_db()
    return run


def run_cancel(*, actor, run: ActionRun) -> ActionRun:
    """Cancel a run: at once when it has not started, else before its next step."""
    if run.finished:
        raise ScaffolderError("The run has finished already.")
    with transaction.atomic():
        ActionRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        not_started = ActionRun.objects.filter(
            pk=run.pk, status__in=[ActionRun.Status.PENDING, ActionRun.Status.AWAITING_APPROVAL], attempts=0
        ).update(status=ActionRun.Status.CANCELLED, finished_at=timezone.now(), error="Cancelled.")
        if not_started:
            RunStep.objects.filter(run=run, status=RunStep.Status.PENDING).update(status=RunStep.Status.CANCELLED)
        audit_record(actor=actor, verb="run.cancel", target=run)
    run.refresh_from_db()
    return run


def run_retry(*, actor, run: ActionRun) -> ActionRun:
    """Run the same action again with the same inputs and target, as a new run."""
    if not run.finished:
        raise ScaffolderError("The run has not finished; cancel it first.")
    # A create run is linked to the entity it made once it succeeds; running it again creates, it takes no target.
    target = run.target_entity if run.action.operation != Action.Operation.CREATE else None
    new = run_request(actor=actor, action=run.action, inputs=run.inputs, target_entity=target, dry_run=run.dry_run)
    ActionRun.objects.filter(pk=new.pk).update(retry_of=run)
    new.retry_of = run
    return new
