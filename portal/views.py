from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import services


def home(request):
    return render(request, "portal/home.html")


@require_GET
@never_cache
def healthz(request):
    """The process is alive and can answer HTTP. Nothing else is checked, so restarts are not triggered by a DB blip."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    """Ready to serve: the database answers, the broker accepts connections and a worker reported recently."""
    checks = services.readiness_checks()
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JsonResponse(body, status=200 if ready else 503)


@login_required
def profile(request):
    """The signed-in user's page: who they are and their API token (created or replaced with a POST)."""
    token = None
    if request.method == "POST":
        token = services.api_token_rotate(user=request.user)
    return render(
        request, "portal/profile.html", {"new_token": token, "has_token": services.api_token_exists(user=request.user)}
    )


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
