"""Pages for locations: register a descriptor file or repository, see what each refresh said, refresh, delete."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalog.ingestion import location_refresh
from catalog.locations import location_delete, location_refresh_later, location_register
from catalog.models import Location
from catalog.services import CatalogError
from rbac.selectors import restrict

UPLOAD_FIELD_LIMIT = 1_048_576


def _locations(user):
    return restrict(Location.objects.order_by("-created_at", "-pk"), user=user).annotate(
        entity_count=Count("entities", distinct=True),
        error_count=Count("problems", filter=Q(problems__severity="error"), distinct=True),
    )


def may_manage(user, location: Location) -> bool:
    """Whoever registered a location, and staff, may refresh-confirm and delete it."""
    return (
        user.is_staff or user.is_superuser or (location.created_by_id is not None and location.created_by_id == user.pk)
    )


@login_required
def location_list(request):
    page = Paginator(_locations(request.user).select_related("created_by"), 50).get_page(request.GET.get("page"))
    return render(request, "catalog/locations/list.html", {"page": page})


@login_required
def location_detail(request, pk: int):
    location = get_object_or_404(_locations(request.user).select_related("created_by"), pk=pk)
    if request.htmx and request.GET.get("part") == "status":
        response = render(request, "catalog/locations/detail.html#status", {"location": location})
        if location.status != Location.Status.PENDING:
            response.status_code = 286  # htmx: stop polling, the refresh has finished
        return response
    entities = location.entities.select_related("blueprint").order_by("kind", "name")
    return render(
        request,
        "catalog/locations/detail.html",
        {
            "location": location,
            "problems": location.problems.all()[:500],
            "entities": Paginator(entities, 100).get_page(request.GET.get("page")),
            "may_manage": may_manage(request.user, location),
        },
    )


@login_required
def location_register_view(request):
    errors: dict[str, list[str]] = {}
    mode = request.POST.get("mode") or request.GET.get("mode") or "url"
    values = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        content = request.POST.get("content", "")
        upload = request.FILES.get("file")
        target = request.POST.get("target", "")
        if mode == "upload" and upload is not None:
            if upload.size > UPLOAD_FIELD_LIMIT:
                errors["content"] = [f"The file is {upload.size // 1024} KiB; the limit is 1024 KiB."]
            else:
                try:
                    content = upload.read().decode("utf-8")
                except UnicodeDecodeError:
                    errors["content"] = ["The file is not UTF-8 text."]
            target = target or upload.name
        if not errors:
            try:
                location = location_register(
                    actor=request.user,
                    type=Location.Type.UPLOAD if mode == "upload" else Location.Type.URL,
                    target=target or ("pasted catalog-info.yaml" if mode == "upload" else ""),
                    path=request.POST.get("path", "") if mode != "upload" else "",
                    branch=request.POST.get("branch", "") if mode != "upload" else "",
                    content=content if mode == "upload" else "",
                )
            except CatalogError as exc:
                errors = exc.errors if isinstance(exc.errors, dict) else {"__all__": list(exc.errors)}
                errors.setdefault("__all__", []).insert(0, exc.message)
            else:
                if location.type == Location.Type.UPLOAD:
                    report = location_refresh(location=location, actor=request.user)
                    level = messages.ERROR if report.failed else messages.SUCCESS
                    messages.add_message(request, level, f"Registered {location}: {report.summary()}.")
                else:
                    location_refresh_later(location=location)
                    messages.success(request, f"Registered {location}. Reading it now…")
                return redirect("catalog:location", pk=location.pk)
    context = {"errors": errors, "form_errors": errors.get("__all__", []), "mode": mode, "values": values}
    return render(request, "catalog/locations/register.html", context)


@login_required
@require_POST
def location_refresh_view(request, pk: int):
    location = get_object_or_404(restrict(Location.objects.all(), user=request.user), pk=pk)
    confirm = request.POST.get("confirm_empty") == "1"
    if confirm and not may_manage(request.user, location):
        return HttpResponse("Only whoever registered this location, or an administrator, may confirm.", status=403)
    if location.type == Location.Type.UPLOAD or confirm:
        report = location_refresh(location=location, actor=request.user, confirm_empty=confirm)
        messages.info(request, f"Refreshed: {report.summary()}.")
    else:
        Location.objects.filter(pk=location.pk).update(status=Location.Status.PENDING)
        location_refresh_later(location=location)
        messages.info(request, "Refresh queued.")
    return redirect("catalog:location", pk=location.pk)


@login_required
def location_delete_view(request, pk: int):
    location = get_object_or_404(_locations(request.user), pk=pk)
    if not may_manage(request.user, location):
        return render(request, "403.html", status=403)
    if request.method == "POST":
        count = location_delete(actor=request.user, location=location)
        messages.success(request, f"Deleted the location and the {count} entities that came from it.")
        return redirect("catalog:locations")
    return render(request, "catalog/locations/delete.html", {"location": location})
