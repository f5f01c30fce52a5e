"""Pages of the shell (home of each surface, sign-in), health, readiness, metrics, error pages."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.core import readiness, selectors
from apps.core.errors import error_body
from apps.core.home import home_panel


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if request.user.is_staff or request.user.is_superuser:
        return redirect("console:home")
    return redirect("portal:home")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive", "mode": settings.MODE})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness.check_all()
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ready" if ready else "not_ready", "mode": settings.MODE, "checks": checks},
                        status=200 if ready else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; when ``METRICS_TOKEN`` is set, only for ``Authorization: Bearer <token>``."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            response = JsonResponse(error_body("not_authenticated", "The metrics need the bearer token."), status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    context = selectors.operation_summary(actor=request.user)
    context["operations"] = selectors.operation_list(actor=request.user)[:10]
    context["organizations"] = list(request.user.organizations.order_by("name"))
    context["home_panel"] = home_panel(request, "portal")
    return render(request, "portal/home.html", context)


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {
        "checks": readiness.check_all(),
        "operations": selectors.operation_list(actor=request.user)[:10],
        "home_panel": home_panel(request, "console"),
    })


@login_required
def console_diagnostics(request: HttpRequest) -> HttpResponse:
    return render(request, "console/diagnostics.html")


@login_required
def screens_home(request: HttpRequest, extra: dict[str, Any] | None = None) -> HttpResponse:
    """The operations wall of a signed-in person; ``extra`` is what later apps add (the dashboards
    the person may open as wall screens)."""
    context = selectors.operation_summary(actor=request.user)
    context["checks"] = readiness.check_all()
    context["activity_topics"] = selectors.activity_topics_for(request.user)
    context.update(extra or {})
    return render(request, "screens/home.html", context)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(code, message), status=status)
    context: dict[str, Any] = {"status": status, "message": message}
    return render(request, "errors/error.html", context, status=status)


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad_request", "The request could not be understood.")


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "forbidden", "You are not allowed to see this page.")


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", "There is nothing here.")


def error_500(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "server_error", "Something went wrong on our side; it has been logged.")
