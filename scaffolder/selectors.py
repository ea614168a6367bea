"""Reads of the scaffolder. Every list a user sees passes through rbac.selectors.restrict."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Entity
from rbac.selectors import restrict
from scaffolder.models import Action, ActionRun, RunLogLine

RUN_SCOPES = ("mine", "all")


def action_list(*, user, operation: str | None = None, blueprint_id: int | None = None) -> QuerySet:
    actions = restrict(Action.objects.filter(enabled=True), user=user).select_related("blueprint")
    if operation:
        actions = actions.filter(operation=operation)
    if blueprint_id:
        actions = actions.filter(blueprint_id=blueprint_id)
    return actions.order_by("blueprint__title", "operation", "title")


def action_get(*, user, identifier: str) -> Action:
    """The enabled action, or Action.DoesNotExist (a 404)."""
    return (
        restrict(Action.objects.filter(enabled=True), user=user).select_related("blueprint").get(identifier=identifier)
    )


def _runs(user) -> QuerySet:
    runs = restrict(ActionRun.objects.all(), user=user)
    if not user.is_staff and not user.is_superuser:
        # Runs are private to their requester; approvers (staff) see all.
        runs = runs.filter(requested_by=user)
    return runs.select_related("action", "requested_by", "target_entity")


def run_list(*, user, scope: str = "mine", status: str | None = None, entity: Entity | None = None) -> QuerySet:
    runs = _runs(user)
    if entity is not None:
        runs = (
            restrict(ActionRun.objects.all(), user=user)
            .filter(target_entity=entity)
            .select_related("action", "requested_by", "target_entity")
        )
    elif scope != "all" or not (user.is_staff or user.is_superuser):
        runs = runs.filter(requested_by=user)
    if status:
        runs = runs.filter(status=status)
    return runs


def run_get(*, user, pk: int) -> ActionRun:
    """A run the user may see (their own, or any for staff), or ActionRun.DoesNotExist."""
    return _runs(user).get(pk=pk)


def run_log(*, run: ActionRun, after: int = 0, limit: int = 500) -> list[RunLogLine]:
    return list(run.log_lines.filter(pk__gt=after).select_related("step")[:limit])


def day2_actions_for(*, user, entity: Entity) -> QuerySet:
    return action_list(user=user).filter(blueprint_id=entity.blueprint_id).exclude(operation=Action.Operation.CREATE)
