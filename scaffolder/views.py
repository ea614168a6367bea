"""Pages: the action list (/create/), the action form, run lists and the run page with its live log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from catalog.models import Entity
from catalog.selectors import entity_get_by_ref
from catalog.views import entity_tab_context
from rbac.selectors import restrict
from scaffolder import selectors, services
from scaffolder.definitions import parse_definition
from scaffolder.form_fields import coerce_form_data, form_fields
from scaffolder.forms import pages
from scaffolder.models import Action, ActionRun
from scaffolder.services import ScaffolderError

PICKER_LIMIT = 500
HTMX_STOP_POLLING = 286


def _action_or_404(user, identifier: str) -> Action:
    try:
        return selectors.action_get(user=user, identifier=identifier)
    except Action.DoesNotExist as exc:
        raise Http404("No such action.") from exc


def _run_or_404(user, pk: int) -> ActionRun:
    try:
        return selectors.run_get(user=user, pk=pk)
    except ActionRun.DoesNotExist as exc:
        raise Http404("No such run.") from exc


@login_required
@require_GET
def create_index(request: HttpRequest) -> HttpResponse:
    actions = selectors.action_list(user=request.user, operation=Action.Operation.CREATE)
    groups: dict[str, list[Action]] = {}
    for action in actions:
        groups.setdefault(action.blueprint.title, []).append(action)
    day2 = selectors.action_list(user=request.user).exclude(operation=Action.Operation.CREATE)
    return render(request, "scaffolder/create_index.html", {"groups": groups, "day2_actions": day2})


def _picker_choices(request: HttpRequest, picker: dict[str, Any]) -> list[tuple[str, str]]:
    entities = restrict(Entity.objects.all(), user=request.user).only("ref", "kind", "namespace", "name", "title")
    if picker["kinds"]:
        entities = entities.filter(blueprint__identifier__in=[kind.lower() for kind in picker["kinds"]])
    if picker["only_my_teams"] and not request.user.is_superuser:
        entities = entities.filter(ref__in=services.user_team_refs(request.user))
    return [(entity.ref, entity.title or entity.ref) for entity in entities.order_by("ref")[:PICKER_LIMIT]]


def _form_pages(request, action: Action, values: dict, errors: dict) -> list[dict[str, Any]]:
    definition = parse_definition(action.definition)
    result = []
    for number, page in enumerate(pages(definition.parameters), start=1):
        fields = form_fields(page, values, errors)
        for field in fields:
            if field.entity_picker:
                field.attrs["choices"] = _picker_choices(request, field.entity_picker)
        result.append({"number": number, "title": page.get("title") or f"Step {number}", "fields": fields})
    return result


def _posted_values(action: Action, request: HttpRequest) -> dict[str, Any]:
    definition = parse_definition(action.definition)
    form = dict(request.POST.lists())
    values: dict[str, Any] = {}
    for page in pages(definition.parameters):
        values |= coerce_form_data(page, form)
    return values


def _target(request: HttpRequest, action: Action) -> Entity | None:
    if action.operation == Action.Operation.CREATE:
        return None
    ref = request.POST.get("entity") or request.GET.get("entity") or ""
    if not ref:
        raise Http404("This action acts on an entity: open it from the entity's Runs tab.")
    return entity_get_by_ref(user=request.user, ref=ref)


@login_required
@require_http_methods(["GET", "POST"])
def action_form(request: HttpRequest, identifier: str) -> HttpResponse:
    """The action's form, one parameter page at a time. Every page's fields stay in the form (the others hidden), so
    Next and Back are plain posts that carry all values; Next checks the page it leaves, Run checks them all."""
    action = _action_or_404(request.user, identifier)
    target = _target(request, action)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    current, status = 1, 200
    if request.method == "POST":
        values = _posted_values(action, request)
        current = _int(request.POST.get("page"), 1)
        if "next" in request.POST or "back" in request.POST:
            current, errors = _turn_page(request, action, values, current, forward="next" in request.POST)
        else:
            try:
                run = services.run_request(
                    actor=request.user,
                    action=action,
                    inputs=values,
                    target_entity=target,
                    dry_run="dry_run" in request.POST,
                )
            except ScaffolderError as exc:
                errors, status = exc.errors, 400
            else:
                url = reverse("scaffolder:run", args=[run.pk])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    form_pages = _form_pages(request, action, values, errors)
    if status == 400:  # show the first page with a problem
        current = next((page["number"] for page in form_pages if any(f.errors for f in page["fields"])), current)
    current = min(max(current, 1), max(len(form_pages), 1))
    context = {
        "action": action,
        "target": target,
        "form_pages": form_pages,
        "current_page": current,
        "last_page": max(len(form_pages), 1),
        "form_errors": errors.get("__all__", []) + errors.get("target", []),
    }
    return render(request, "scaffolder/action_form.html", context, status=status)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def _turn_page(request, action: Action, values: dict, current: int, *, forward: bool) -> tuple[int, dict]:
    """(page to show, errors to show): Next stays on a page whose fields have errors."""
    if not forward:
        return current - 1, {}
    _cleaned, errors = services.run_validate(user=request.user, action=action, inputs=values)
    pages_now = _form_pages(request, action, values, errors)
    here = next((page for page in pages_now if page["number"] == current), None)
    if here is not None:
        names = {field.name for field in here["fields"] if field.visible}
        page_errors = {name: messages for name, messages in errors.items() if name in names}
        if page_errors:
            return current, page_errors
    return current + 1, {}


@login_required
@require_POST
def action_validate(request: HttpRequest, identifier: str) -> HttpResponse:
    """One field re-rendered with its errors, as the user fills the form (hx-post on change), plus the fields shown
    or hidden by its value, swapped out of band."""
    action = _action_or_404(request.user, identifier)
    name = request.GET.get("field", "")
    values = _posted_values(action, request)
    _cleaned, errors = services.run_validate(user=request.user, action=action, inputs=values)
    fields = [field for page in _form_pages(request, action, values, errors) for field in page["fields"]]
    target = next((field for field in fields if field.name == name), None)
    if target is None:
        raise Http404("No such field.")
    # `swapped`: a field that comes back while the person types elsewhere must not take the focus (autofocus).
    parts = [
        render_to_string(
            "scaffolder/action_form.html#field", {"field": target, "action": action, "swapped": True}, request
        )
    ]
    for field in fields:
        if field.visible_when is not None and field.visible_when.field == name:
            field.errors = []  # a field that just appeared has not been filled yet
            context = {"field": field, "action": action, "oob": True, "swapped": True}
            parts.append(render_to_string("scaffolder/action_form.html#field", context, request))
    return HttpResponse("".join(parts))


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    scope = request.GET.get("scope", "mine")
    status = request.GET.get("status") or None
    if status not in dict(ActionRun.Status.choices):
        status = None
    runs = selectors.run_list(user=request.user, scope=scope, status=status)
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "scope": scope if request.user.is_staff else "mine",
        "status": status or "",
        "statuses": ActionRun.Status.choices,
    }
    return render(request, "scaffolder/run_list.html", context)


def _run_context(run: ActionRun, request: HttpRequest) -> dict[str, Any]:
    return {
        "run": run,
        "steps": list(run.steps.all()),
        "log_lines": selectors.run_log(run=run, limit=2000),
        "can_approve": run.status == ActionRun.Status.AWAITING_APPROVAL
        and request.user.is_staff
        and (run.requested_by_id != request.user.pk or request.user.is_superuser),
        "can_manage": request.user.is_staff or run.requested_by_id == request.user.pk,
    }


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(request.user, pk)
    context = _run_context(run, request)
    if request.htmx and request.GET.get("live"):
        response = render(request, "scaffolder/run_detail.html#live", context)
        if run.finished:
            response.status_code = HTMX_STOP_POLLING  # htmx stops polling on 286
        return response
    return render(request, "scaffolder/run_detail.html", context)


def _run_command(request: HttpRequest, pk: int, command) -> HttpResponse:
    run = _run_or_404(request.user, pk)
    if not (request.user.is_staff or run.requested_by_id == request.user.pk):
        raise Http404("No such run.")
    try:
        result = command(actor=request.user, run=run)
    except ScaffolderError as exc:
        messages.error(request, exc.message)
        result = run
    url = reverse("scaffolder:run", args=[result.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_command(request, pk, services.run_cancel)


@login_required
@require_POST
def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_command(request, pk, services.run_retry)


@login_required
@require_POST
def run_approve(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_staff:
        raise Http404("No such run.")
    return _run_command(request, pk, services.run_approve)


@login_required
@require_GET
def entity_runs(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    context = entity_tab_context(request, kind=kind, namespace=namespace, name=name)
    entity = context["entity"]
    runs = selectors.run_list(user=request.user, entity=entity)
    context |= {
        "actions": selectors.day2_actions_for(user=request.user, entity=entity),
        "page": Paginator(runs, 25).get_page(request.GET.get("page")),
    }
    return render(request, "scaffolder/entity_runs.html", context)
