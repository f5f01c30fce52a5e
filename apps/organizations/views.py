"""Console pages of people: the organization tree, users, user groups and projects.

Pages use the same selectors and services as the API; a refusal is shown as a message on the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import ApplicationError
from apps.organizations import selectors, services

PAGE_LIMIT = 500


def table_page(request: HttpRequest, *, title: str, section: str, headers: list[str], rows: list[list[Any]],
               form: list[dict[str, Any]] | None = None, action_label: str = "Create",
               template: str = "organizations/table.html") -> HttpResponse:
    return render(request, template, {"title": title, "section": section, "headers": headers, "rows": rows,
                                      "form": form, "action_label": action_label})


def _run(request: HttpRequest, fn, **kwargs) -> None:
    try:
        fn(actor=request.user, **kwargs)
        messages.success(request, "Saved.")
    except ApplicationError as exc:
        messages.error(request, exc.message)


def _org_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(o.pk), "· " * o.depth + o.name) for o in selectors.organization_list(actor=request.user)[:PAGE_LIMIT]]


@login_required
def organization_tree(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        parent = None
        if request.POST.get("parent"):
            try:
                parent = selectors.organization_get(actor=request.user, organization_id=request.POST["parent"])
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect("organizations:tree")
        _run(request, services.organization_create, name=request.POST.get("name", ""), parent=parent,
             kind=request.POST.get("kind", "department"))
        return redirect("organizations:tree")
    orgs = selectors.organization_list(actor=request.user)[:PAGE_LIMIT]
    rows = [[{"indent": o.depth, "text": o.name}, o.get_kind_display(), "active" if o.is_active else "disabled",
             o.memberships.count()] for o in orgs]
    form = [{"name": "name", "label": "Name"},
            {"name": "kind", "label": "Kind", "choices": [("headquarters", "Headquarters"), ("region", "Region"),
                                                          ("department", "Department")]},
            {"name": "parent", "label": "Parent", "choices": [("", "(none: a root)"), *_org_choices(request)]}]
    return table_page(request, title="Organizations", section="People", headers=["Name", "Kind", "Status", "Members"],
                      rows=rows, form=form)


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        org = None
        try:
            if request.POST.get("organization"):
                org = selectors.organization_get(actor=request.user, organization_id=request.POST["organization"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("organizations:users")
        _run(request, services.user_create, username=request.POST.get("username", ""),
             password=request.POST.get("password") or None, organization=org,
             display_name=request.POST.get("display_name", ""))
        return redirect("organizations:users")
    users = selectors.user_list(actor=request.user).prefetch_related("organizations").order_by("username")[:PAGE_LIMIT]
    rows = [[u.username, u.display_name, ", ".join(o.name for o in u.organizations.all()),
             "active" if u.is_active else "disabled"] for u in users]
    form = [{"name": "username", "label": "Username"}, {"name": "display_name", "label": "Display name"},
            {"name": "password", "label": "Password", "type": "password"},
            {"name": "organization", "label": "Organization", "choices": _org_choices(request)}]
    return table_page(request, title="Users", section="People", headers=["Username", "Name", "Organizations",
                                                                          "Status"], rows=rows, form=form)


def _named_page(request: HttpRequest, *, title: str, url_name: str, items, create) -> HttpResponse:
    if request.method == "POST":
        try:
            org = selectors.organization_get(actor=request.user, organization_id=request.POST.get("organization"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(url_name)
        _run(request, create, organization=org, name=request.POST.get("name", ""),
             description=request.POST.get("description", ""))
        return redirect(url_name)
    rows = [[i.name, i.organization.name, i.description, i.members.count()] for i in items[:PAGE_LIMIT]]
    form = [{"name": "name", "label": "Name"}, {"name": "description", "label": "Description"},
            {"name": "organization", "label": "Organization", "choices": _org_choices(request)}]
    return table_page(request, title=title, section="People", headers=["Name", "Organization", "Description",
                                                                        "Members"], rows=rows, form=form)


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    return _named_page(request, title="User groups", url_name="organizations:groups",
                       items=selectors.user_group_list(actor=request.user), create=services.user_group_create)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    return _named_page(request, title="Projects", url_name="organizations:projects",
                       items=selectors.project_list(actor=request.user), create=services.project_create)
