"""Dashboard pages: the list, a dashboard (live), the editor, and wall screens (kiosk, with a display
token or a person's session). Thin: the same selectors and services as the API."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError, NotFound
from apps.core.selectors import organization_list
from apps.core.widgets import queries, widget_kinds
from apps.dashboards import live, predefined, selectors, services
from apps.dashboards.document import UID_RE
from apps.dashboards.models import Dashboard

DEFAULT_ROTATE_SECONDS = 30


def _list(request: HttpRequest, surface: str) -> HttpResponse:
    rows = selectors.dashboard_list(actor=request.user).select_related("organization").order_by("title", "uid")[:500]
    writable = organization_list(actor=request.user, action=selectors.WRITE).order_by("path")[:200]
    return render(request, f"dashboards/list_{surface}.html" if surface == "portal" else "dashboards/list.html", {
        "rows": rows, "templates": predefined.templates(), "organizations": writable, "surface": surface,
        "error": request.GET.get("error", "")[:200],
    })


@login_required
def dashboard_list(request: HttpRequest) -> HttpResponse:
    return _list(request, "console")


@login_required
def portal_list(request: HttpRequest) -> HttpResponse:
    return _list(request, "portal")


def board_context(request: HttpRequest, row: Dashboard, surface: str) -> dict[str, Any]:
    return {
        "d": row, "surface": surface, "can_edit": selectors.may_write(actor=request.user, dashboard=row),
        "board": {"uid": row.uid, "version": row.version, "document": row.document, "topic": row.topic,
                  "data_url": reverse("dashboard-data", args=[row.uid]),
                  "organizations": [{"id": str(o.pk), "name": o.name} for o in organization_list(
                      actor=request.user, action="organizations:organization:read").order_by("path")[:200]]},
    }


@login_required
def dashboard_view(request: HttpRequest, uid: str) -> HttpResponse:
    row = selectors.dashboard_get(actor=request.user, uid=uid)
    return render(request, "dashboards/view.html", board_context(request, row, "console"))


@login_required
def portal_view(request: HttpRequest, uid: str) -> HttpResponse:
    row = selectors.dashboard_get(actor=request.user, uid=uid)
    return render(request, "dashboards/view_portal.html", board_context(request, row, "portal"))


@login_required
def dashboard_edit(request: HttpRequest, uid: str) -> HttpResponse:
    row = selectors.dashboard_get(actor=request.user, uid=uid)
    if not selectors.may_write(actor=request.user, dashboard=row):
        return redirect("dashboards:view", uid=row.uid)
    context = board_context(request, row, "console")
    context["catalog"] = {
        "widget_kinds": [{"name": k.name, "label": k.label, "shapes": list(k.shapes), "icon": k.icon}
                         for k in widget_kinds()],
        "queries": [{"name": q.name, "label": q.label, "shape": q.shape,
                     "params": [{"name": n, "kind": p.kind, "label": p.label or n, "default": p.default,
                                 "choices": list(p.choices), "low": p.low, "high": p.high}
                                for n, p in q.params.items()]} for q in queries()],
    }
    return render(request, "dashboards/edit.html", context)


@login_required
@require_POST
def dashboard_new(request: HttpRequest) -> HttpResponse:
    """The list page's "new dashboard" form: blank or from a template, then the editor."""
    try:
        org = services.organization_for_write(actor=request.user, organization_id=request.POST.get("organization"))
        template = request.POST.get("template", "")
        title = request.POST.get("title", "").strip()
        if template:
            row = services.dashboard_from_template(actor=request.user, organization=org, template=template,
                                                   title=title or None)
        else:
            row = services.dashboard_create(actor=request.user, organization=org,
                                            document={"title": title or "New dashboard", "widgets": []})
    except ApplicationError as exc:
        return redirect(f"{reverse('dashboards:list')}?error={exc.message[:200]}")
    return redirect("dashboards:edit", uid=row.uid)


# -- data sources --------------------------------------------------------------------------------

@login_required
def data_sources(request: HttpRequest) -> HttpResponse:
    """Data sources of the organizations the person may read; add an HTTP JSON source or upload a
    CSV / Excel table (errors name the row and column, and nothing is stored)."""
    from apps.dashboards import source_services

    errors: list[str] = []
    if request.method == "POST":
        try:
            org = services.organization_for_write(actor=request.user, organization_id=request.POST.get("organization"),
                                                  action=source_services.WRITE)
            if request.POST.get("kind") == "http_json":
                row = source_services.data_source_create_http(
                    actor=request.user, organization=org, name=request.POST.get("name"), url=request.POST.get("url"))
            else:
                upload = request.FILES.get("file")
                if upload is None:
                    raise ApplicationError("Choose a .csv or .xlsx file.", code="invalid")
                row = source_services.data_source_create_table(
                    actor=request.user, organization=org, name=request.POST.get("name"), file_name=upload.name,
                    content=None, content_base64=base64.b64encode(upload.read(5_000_001)).decode())
            return redirect(f"{reverse('dashboards:sources')}?added={row.pk}")
        except ApplicationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            errors = [str(m) for messages in detail.values() for m in (messages if isinstance(messages, list)
                                                                      else [messages])] or [exc.message]
    rows = source_services.data_source_list(actor=request.user).select_related("organization")[:500]
    writable = organization_list(actor=request.user, action=source_services.WRITE).order_by("path")[:200]
    return render(request, "dashboards/sources.html", {
        "rows": rows, "organizations": writable, "errors": errors, "added": request.GET.get("added", ""),
        "posted": request.POST if request.method == "POST" else {},
    }, status=400 if errors else 200)


# -- wall screens ------------------------------------------------------------------------------

def _screen_token(request: HttpRequest):
    """The display token of this screen session (security decides), or ``None``."""
    from apps.security.views import screen_token

    return screen_token(request)


def _token_dashboard(token: Any, uid: str) -> Dashboard | None:
    # The screen's socket follows topics in its token's organization: a dashboard of another one
    # could never be live there, and must not be readable through this token anyway.
    return Dashboard.objects.filter(pk=uid, organization_id=token.organization_id).first()


def _screen_board(uid: str, row: Dashboard | None, token: Any = None) -> dict[str, Any]:
    if row is None:
        # A token may name a dashboard before it exists: the screen waits on its topic and loads it
        # once it is created.
        return {"uid": uid, "missing": True, "topic": f"dashboard:{uid}"}
    board = {"uid": row.uid, "version": row.version, "document": row.document, "topic": row.topic,
             "data_url": reverse("dashboards-screens:data", args=[row.uid])}
    if token is not None:
        # A display token's screen is pushed its widgets' values (``apps.dashboards.live``) and its
        # edits on the screen topic, instead of being told to read them again.
        board["values_topic"] = f"{live.SCREEN_TOPIC}:{row.uid}"
    return board


@never_cache
def screen_home(request: HttpRequest) -> HttpResponse:
    """``/screens/``: a display token's playlist (its dashboards, rotating), or for a signed-in person
    the operations wall with the dashboards they may open full screen."""
    if request.user.is_authenticated:
        from apps.core.views import screens_home

        visible = selectors.dashboard_list(actor=request.user).order_by("title", "uid")[:24]
        return screens_home(request, extra={"dashboards": [
            {"uid": d.uid, "title": d.title, "widgets": len(d.document.get("widgets", [])),
             "url": reverse("dashboards-screens:dashboard", args=[d.uid])} for d in visible]})
    token = _screen_token(request)
    if token is None:
        return redirect("wallscreens:signin")
    # Tokens made before dashboard ids had to start with a letter or digit may list ids no screen
    # address can carry; those are left out rather than breaking the page.
    uids = [d for d in token.dashboards if UID_RE.match(d)]
    rows = {r.uid: r for r in Dashboard.objects.filter(pk__in=uids, organization_id=token.organization_id)}
    return _render_screen(request, [_screen_board(uid, rows.get(uid), token) for uid in uids], token)


@never_cache
def screen_dashboard(request: HttpRequest, dashboard_id: str) -> HttpResponse:
    if request.user.is_authenticated:
        row = selectors.dashboard_get(actor=request.user, uid=dashboard_id)
        return _render_screen(request, [_screen_board(row.uid, row)], None)
    token = _screen_token(request)
    if token is None:
        return redirect("wallscreens:signin")
    if dashboard_id not in token.dashboards:
        raise NotFound("Dashboard not found.")
    return _render_screen(request, [_screen_board(dashboard_id, _token_dashboard(token, dashboard_id), token)], token)


def _render_screen(request: HttpRequest, boards: list[dict[str, Any]], token: Any) -> HttpResponse:
    try:
        rotate = max(5, min(3600, int(request.GET.get("rotate", DEFAULT_ROTATE_SECONDS))))
    except ValueError:
        rotate = DEFAULT_ROTATE_SECONDS
    return render(request, "screens/dashboard.html", {
        "token": token, "boards": boards,
        "screen": {"boards": boards, "rotate": rotate, "signin": reverse("wallscreens:signin")},
    })


@never_cache
def screen_data(request: HttpRequest, dashboard_id: str) -> JsonResponse:
    """Widget data for a wall screen: a token's organization subtree, or the person's own scope."""
    if request.user.is_authenticated:
        row = selectors.dashboard_get(actor=request.user, uid=dashboard_id)
        scope = selectors.viewer_scope(actor=request.user)
    else:
        token = _screen_token(request)
        if token is None:
            return JsonResponse({"code": "not_authenticated", "message": "Open the screen with its display token.",
                                 "detail": None}, status=401)
        row = _token_dashboard(token, dashboard_id) if dashboard_id in token.dashboards else None
        if row is None:
            raise NotFound("Dashboard not found.")
        scope = selectors.screen_scope(organization_id=token.organization_id)
    wanted = request.GET.get("widgets")
    widgets = selectors.widget_data(dashboard=row, scope=scope, widget_ids=wanted.split(",")[:100] if wanted else None)
    return JsonResponse({"uid": row.uid, "version": row.version, "widgets": widgets})


@login_required
def homes(request: HttpRequest) -> HttpResponse:
    """Which dashboards each role's console overview and portal home show (per organization): add
    one, remove one. Refusals are shown on the page and change nothing."""
    from apps.dashboards.models import HomeDashboard
    from apps.rbac.selectors import role_list

    error = ""
    writable = organization_list(actor=request.user, action=selectors.WRITE).order_by("path")[:200]
    readable = selectors.dashboard_list(actor=request.user).order_by("title", "uid")[:500]
    roles = role_list(actor=request.user).order_by("name")[:200]
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                home = selectors.home_list(actor=request.user).filter(pk=request.POST["remove"]).first()
                if home is None:
                    raise NotFound("That home dashboard was not found.")
                services.home_remove(actor=request.user, home=home)
            else:
                org = services.organization_for_write(actor=request.user,
                                                      organization_id=request.POST.get("organization"))
                dashboard = selectors.dashboard_get(actor=request.user, uid=request.POST.get("dashboard", ""))
                role = None
                if request.POST.get("role"):
                    role = role_list(actor=request.user).filter(key=request.POST["role"]).first()
                    if role is None:
                        raise NotFound("That role was not found.")
                try:
                    position = int(request.POST.get("position") or 0)
                except ValueError:
                    position = -1
                services.home_assign(actor=request.user, organization=org, surface=request.POST.get("surface"),
                                     dashboard=dashboard, role=role, position=position)
            return redirect("dashboards:homes")
        except ApplicationError as exc:
            error = exc.message
    rows = selectors.home_list(actor=request.user).order_by("organization__path", "surface", "position")[:500]
    return render(request, "dashboards/homes.html", {
        "rows": rows, "organizations": writable, "dashboards": readable, "roles": roles,
        "surfaces": HomeDashboard.Surface.choices, "error": error,
        "fallback": selectors.HOME_FALLBACK,
    }, status=400 if error else 200)
