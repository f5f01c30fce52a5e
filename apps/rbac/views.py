"""Console pages of access: roles, grants, access policies, "Why?" and the access matrix, and the
access panel shown on the pages of organizations, users, user groups and projects.

Like the people pages: objects are looked up among what the user may read (else 404), changes go
through the services (a refusal is shown with the service's words and status), bad input changes
nothing.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from apps.core.api.base import visible
from apps.core.api.parsers import loads
from apps.core.errors import ApplicationError, InvalidInput
from apps.core.pages import LIST_LIMIT, csv_response, error_fields, is_uuid, posted
from apps.core.pagination import Page, choices_page, page_of, picker_options
from apps.core.scoping import authorize
from apps.organizations import selectors as people
from apps.organizations.models import Organization, Project, User, UserGroup
from apps.organizations.views import organization_options, page_action, people_options
from apps.rbac import selectors, services
from apps.rbac.catalog import matching_codes, permission_catalog
from apps.rbac.models import AccessPolicy, Grant, Role

ORG_READ = "organizations:organization:read"
ROLE_WRITE = "rbac:role:write"
GRANT_WRITE = "rbac:grant:write"
POLICY_WRITE = "rbac:policy:write"


def _visible_role(request: HttpRequest, pk: Any) -> Role:
    role = selectors.role_list(actor=request.user).filter(pk=pk).first()
    if role is None:
        raise Http404
    return role


def _owner(request: HttpRequest, action: str, chosen: Any = None) -> tuple[Page, bool]:
    """Organizations where the user may create roles or policies (the owner picker's first page),
    and whether the platform too."""
    return organization_options(request, action, chosen=chosen), authorize(request.user, action, None)


def _may_somewhere(request: HttpRequest, action: str) -> bool:
    """Whether the user may do ``action`` platform-wide or in at least one organization."""
    return authorize(request.user, action, None) or people.organization_list(actor=request.user, action=action).exists()


def _owner_from_post(request: HttpRequest) -> Organization | None:
    value = posted(request, "organization")
    if not value:
        return None
    return visible(Organization.objects.all(), request.user, "organizations:organization:read", value,
                   "organization")


# -- roles ---------------------------------------------------------------------------------------

def _codes_of(role: Role) -> tuple[str, ...]:
    return matching_codes(tuple(role.permissions or ()), tuple(role.excluded_permissions or ()))


@login_required
def role_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    roles = selectors.role_list(actor=request.user).annotate(grant_count=Count("grants"))
    if q:
        roles = roles.filter(Q(name__icontains=q) | Q(key__icontains=q) | Q(description__icontains=q))
    rows = list(roles.order_by("-is_predefined", "name", "id")[:LIST_LIMIT])
    for role in rows:
        role.code_count = len(_codes_of(role))
    return render(request, "rbac/roles.html", {"roles": rows, "q": q,
                                               "can_create": _may_somewhere(request, ROLE_WRITE)})


@login_required
def role_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    return _role_page(request, _visible_role(request, pk))


def _role_page(request: HttpRequest, role: Role, *, error: ApplicationError | None = None,
               status: int = 200) -> HttpResponse:
    catalog = {p.code: p for p in permission_catalog()}
    grouped: OrderedDict[str, list[Any]] = OrderedDict()
    for code in _codes_of(role):
        grouped.setdefault(code.split(":", 1)[0], []).append(catalog[code])
    grants = list(selectors.grant_list(actor=request.user).filter(role=role)[:50])
    return render(request, "rbac/role_detail.html", {
        "role": role, "grouped": grouped, "grants": grants, "grant_total": role.grants.count(),
        "can_write": not role.is_predefined and authorize(request.user, ROLE_WRITE, role.organization),
        "error": error,
    }, status=status)


def _catalog_groups(selected: set[str]) -> list[dict[str, Any]]:
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for p in permission_catalog():
        service = "menu" if p.is_menu else p.service
        groups.setdefault(service, []).append({"code": p.code, "description": p.description,
                                               "checked": p.code in selected})
    return [{"service": s, "items": items, "checked": sum(i["checked"] for i in items)} for s, items in groups.items()]


def _role_form(request: HttpRequest, *, role: Role | None, error: ApplicationError | None = None,
               status: int = 200) -> HttpResponse:
    if request.method == "POST":
        chosen = request.POST.getlist("permissions")
        patterns = request.POST.get("patterns", "")
        excluded = request.POST.get("excluded", "")
        values = {k: request.POST.get(k, "") for k in ("name", "key", "description", "organization")}
    else:
        current = list(role.permissions) if role else []
        chosen = [c for c in current if "*" not in c]
        patterns = "\n".join(c for c in current if "*" in c)
        excluded = "\n".join(role.excluded_permissions) if role else ""
        values = {"name": role.name if role else "", "key": role.key if role else "",
                  "description": role.description if role else "",
                  "organization": str(role.organization_id or "") if role else ""}
    orgs, platform = _owner(request, ROLE_WRITE, values["organization"])
    pattern_errors = []
    if error is not None and isinstance(error.detail, dict):
        pattern_errors = [e for e in error.detail.get("errors", []) if isinstance(e, dict)]
    return render(request, "rbac/role_form.html", {
        "role": role, "groups": _catalog_groups(set(chosen)), "patterns": patterns, "excluded": excluded,
        "values": values, "orgs": orgs, "platform": platform, "error": error, "fields": error_fields(error),
        "pattern_errors": pattern_errors,
    }, status=status)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _posted_permissions(request: HttpRequest) -> tuple[list[str], list[str]]:
    return (request.POST.getlist("permissions") + _lines(request.POST.get("patterns", "")),
            _lines(request.POST.get("excluded", "")))


@login_required
def role_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return (picker_options(request, {"owner": lambda: organization_options(request, ROLE_WRITE)})
                or _role_form(request, role=None))
    try:
        permissions, excluded = _posted_permissions(request)
        role = services.role_create(actor=request.user, name=posted(request, "name"), key=posted(request, "key"),
                                    description=posted(request, "description"), permissions=permissions,
                                    excluded_permissions=excluded, organization=_owner_from_post(request))
    except ApplicationError as exc:
        return _role_form(request, role=None, error=exc, status=exc.status)
    messages.success(request, f"Role {role.name} created.")
    return redirect("access:role", role.pk)


@login_required
def role_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    role = _visible_role(request, pk)
    if role.is_predefined:
        return _role_page(request, role, error=ApplicationError(
            "Predefined roles cannot be changed; create a custom role instead."), status=422)
    if request.method != "POST":
        return _role_form(request, role=role)
    try:
        permissions, excluded = _posted_permissions(request)
        role = services.role_update(actor=request.user, role=role, name=posted(request, "name"),
                                    description=posted(request, "description"), permissions=permissions,
                                    excluded_permissions=excluded)
    except ApplicationError as exc:
        return _role_form(request, role=role, error=exc, status=exc.status)
    messages.success(request, f"Role {role.name} saved.")
    return redirect("access:role", role.pk)


@login_required
@require_POST
def role_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(role: Role) -> str:
        services.role_delete(actor=request.user, role=role)
        return f"Role {role.name} deleted."
    return page_action(request, _visible_role(request, pk), change, page=_role_page, then=reverse("access:roles"))


# -- grants --------------------------------------------------------------------------------------

def _grant_target(grant: Grant) -> Any:
    if grant.scope_type == "organization":
        return grant.scope_organization
    if grant.scope_type == "project":
        return grant.scope_project
    return None


def _with_revoke(request: HttpRequest, grants: list[Grant]) -> list[Grant]:
    for grant in grants:
        grant.can_revoke = authorize(request.user, GRANT_WRITE, _grant_target(grant))
    return grants


@login_required
def grant_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    grants = selectors.grant_list(actor=request.user)
    if q:
        grants = grants.filter(
            Q(role__name__icontains=q) | Q(user__username__icontains=q) | Q(user__display_name__icontains=q)
            | Q(group__name__icontains=q) | Q(grantee_organization__name__icontains=q)
            | Q(grantee_project__name__icontains=q) | Q(scope_organization__name__icontains=q)
            | Q(scope_project__name__icontains=q) | Q(scope_key__icontains=q))
    role = None
    if request.GET.get("role"):
        role = selectors.role_list(actor=request.user).filter(pk=request.GET["role"]).first() \
            if is_uuid(request.GET["role"]) else None
        grants = grants.filter(role=role) if role else grants.none()
    page = page_of(grants, request, ("-created_at", "-id"))
    _with_revoke(request, page.rows)
    return render(request, "rbac/grants.html", {
        "page": page, "q": q, "role": role, "keep": [("role", str(role.pk))] if role else [],
        "can_create": _may_somewhere(request, GRANT_WRITE),
    })


GRANTEE_SOURCES = {
    "user": (User.objects.all(), "organizations:user:read"),
    "group": (UserGroup.objects.select_related("organization"), "organizations:group:read"),
    "organization": (Organization.objects.all(), "organizations:organization:read"),
    "project": (Project.objects.select_related("organization"), "organizations:project:read"),
}


def _role_label(role: Role) -> str:
    return role.name + (" (separated duty)" if role.duty else "") + ("" if role.is_predefined else " \u00b7 custom")


def _grant_choices(request: HttpRequest, kind: str, chosen: Any = None) -> Page:
    """One picker of the grant form: ``role``, or a grantee or scope of the kind ``user``,
    ``group``, ``organization`` or ``project``, among what the user can see."""
    user = request.user
    if kind == "role":
        return choices_page(selectors.role_list(actor=user), request, ordering=("-is_predefined", "name", "id"),
                            search=("name", "key"), label=_role_label, chosen=chosen)
    if kind == "user":
        return people_options(request, people.user_list(actor=user).filter(is_active=True), chosen=chosen)
    if kind == "organization":
        return organization_options(request, "organizations:organization:read", chosen=chosen)
    named = people.user_group_list(actor=user) if kind == "group" else people.project_list(actor=user)
    return choices_page(named, request, ordering=("name", "id"), search=("name", "organization__name"),
                        label=people.named_label, chosen=chosen)


GRANT_PICKERS = ("role", "user", "group", "organization", "project")


def _grant_form(request: HttpRequest, *, error: ApplicationError | None = None, status: int = 200) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    values = {k: source.get(k, "") for k in ("role", "grantee_type", "grantee", "scope_type", "scope", "scope_key",
                                              "note")}
    values["grantee_type"] = values["grantee_type"] or "user"
    values["scope_type"] = values["scope_type"] or "organization"

    def chosen(kind: str) -> str:
        """The value the form holds for a picker of ``kind`` (kept first on its first page)."""
        held = [values[field] for field, type_field in (("grantee", "grantee_type"), ("scope", "scope_type"))
                if values[type_field] == kind]
        return values["role"] if kind == "role" else next((v for v in held if v), "")

    pickers = {kind: _grant_choices(request, kind, chosen(kind)) for kind in GRANT_PICKERS}
    return render(request, "rbac/grant_form.html", {
        "values": values, "error": error, "fields": error_fields(error), "pickers": pickers,
        "roles": pickers["role"], "users": pickers["user"], "groups": pickers["group"],
        "orgs": pickers["organization"], "projects": pickers["project"],
        "grantee_types": Grant.GranteeType.choices, "scope_types": Grant.ScopeType.choices,
    }, status=status)


@login_required
def grant_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return (picker_options(request, {kind: (lambda kind=kind: _grant_choices(request, kind))
                                         for kind in GRANT_PICKERS})
                or _grant_form(request))
    user = request.user
    try:
        role = visible(Role.objects.all(), user, "rbac:role:read", posted(request, "role") or None, "role")
        grantee_type = posted(request, "grantee_type")
        if grantee_type not in GRANTEE_SOURCES:
            raise InvalidInput("Choose who receives the role.", detail={"grantee_type": ["Required."]})
        qs, read = GRANTEE_SOURCES[grantee_type]
        grantee = visible(qs, user, read, posted(request, "grantee") or None, "grantee")
        scope_type = posted(request, "scope_type")
        scope: Any = None
        if scope_type == "organization":
            scope = visible(Organization.objects.all(), user, "organizations:organization:read",
                            posted(request, "scope") or None, "scope")
        elif scope_type == "project":
            scope = visible(Project.objects.select_related("organization"), user, "organizations:project:read",
                            posted(request, "scope") or None, "scope")
        grant = services.grant_create(actor=user, role=role, grantee_type=grantee_type, grantee=grantee,
                                      scope_type=scope_type, scope=scope, scope_key=posted(request, "scope_key"),
                                      note=posted(request, "note"))
    except ApplicationError as exc:
        return _grant_form(request, error=exc, status=exc.status)
    messages.success(request, f"{grant.role.name} granted to {grant.grantee_label} on {grant.scope_label}.")
    following = request.POST.get("next", "")
    if following.startswith("/console/") and not following.startswith("//"):
        return redirect(following)
    return redirect("access:grants")


@login_required
@require_POST
def grant_revoke(request: HttpRequest, grant_id: Any) -> HttpResponse:
    grant = selectors.grant_list(actor=request.user).filter(pk=grant_id).first()
    if grant is None:
        raise Http404
    try:
        services.grant_revoke(actor=request.user, grant=grant)
    except ApplicationError as exc:
        if request.headers.get("HX-Request"):
            return HttpResponse(format_html('<tr><td colspan="9" class="text-danger"><i class="ti ti-alert-triangle '
                                            'me-1"></i>{}</td></tr>', exc.message), status=exc.status)
        messages.error(request, exc.message)
        return redirect("access:grants")
    if request.headers.get("HX-Request"):
        return HttpResponse(format_html('<tr class="table-success"><td colspan="9" class="text-secondary">'
                                        '<i class="ti ti-check me-1"></i>Revoked: {}.</td></tr>', str(grant)))
    messages.success(request, f"Revoked: {grant}.")
    return redirect("access:grants")


# -- access policies -----------------------------------------------------------------------------

EXAMPLE_POLICY = {"Version": "1", "Statement": [
    {"Effect": "Deny", "Action": ["core:operation:write"], "Resource": "*",
     "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}


def _visible_policy(request: HttpRequest, pk: Any) -> AccessPolicy:
    policy = selectors.policy_list(actor=request.user).filter(pk=pk).first()
    if policy is None:
        raise Http404
    return policy


def _parsed_document(text: str) -> Any:
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"The document is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
                           code="invalid_json", detail={"document": [{"path": f"line {exc.lineno}", "message":
                                                                      exc.msg}]}) from None


def _document_errors(error: ApplicationError | None) -> list[dict[str, str]]:
    if error is None or not isinstance(error.detail, dict):
        return []
    return [e for e in error.detail.get("document", []) if isinstance(e, dict)]


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    policies = selectors.policy_list(actor=request.user).annotate(
        user_count=Count("users", distinct=True), group_count=Count("groups", distinct=True))
    if q:
        policies = policies.filter(Q(name__icontains=q) | Q(description__icontains=q))
    page = page_of(policies, request, ("name", "id"))
    for policy in page.rows:
        statements = policy.document.get("Statement", []) if isinstance(policy.document, dict) else []
        policy.statement_count = len(statements)
        policy.effects = sorted({s.get("Effect", "") for s in statements if isinstance(s, dict)})
    return render(request, "rbac/policies.html", {"policies": page.rows, "page": page, "q": q,
                                                  "can_create": _may_somewhere(request, POLICY_WRITE)})


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    options = picker_options(request, {"owner": lambda: organization_options(request, POLICY_WRITE)})
    if options is not None:
        return options
    error = None
    values = {"name": "", "description": "", "organization": "", "document": json.dumps(EXAMPLE_POLICY, indent=2)}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            policy = services.policy_create(actor=request.user, name=posted(request, "name"),
                                            document=_parsed_document(values["document"]),
                                            organization=_owner_from_post(request),
                                            description=posted(request, "description"))
        except ApplicationError as exc:
            error = exc
        else:
            messages.success(request, f"Access policy {policy.name} created.")
            return redirect("access:policy", policy.pk)
    orgs, platform = _owner(request, POLICY_WRITE, values["organization"])
    return render(request, "rbac/policy_form.html", {
        "values": values, "orgs": orgs, "platform": platform, "error": error, "fields": error_fields(error),
        "document_errors": _document_errors(error),
    }, status=error.status if error else 200)


def _policy_page(request: HttpRequest, policy: AccessPolicy, *, error: ApplicationError | None = None,
                 status: int = 200, document: str | None = None, modal: str = "") -> HttpResponse:
    can_write = authorize(request.user, POLICY_WRITE, policy.organization)
    users = list(policy.users.order_by("username"))
    groups = list(policy.groups.select_related("organization").order_by("name"))
    context: dict[str, Any] = {
        "policy": policy, "users": users, "groups": groups, "can_write": can_write, "error": error,
        "fields": error_fields(error), "document_errors": _document_errors(error), "modal": modal,
        "document": document if document is not None else json.dumps(policy.document, indent=2),
        "statements": policy.document.get("Statement", []) if isinstance(policy.document, dict) else [],
    }
    if can_write:
        context["user_candidates"] = _policy_user_candidates(request, policy)
        context["group_candidates"] = _policy_group_candidates(request, policy)
    return render(request, "rbac/policy_detail.html", context, status=status)


def _policy_user_candidates(request: HttpRequest, policy: AccessPolicy) -> Page:
    """Active people the policy may be attached to (an organization's policy: its own people) and
    is not yet."""
    users = people.user_list(actor=request.user).filter(is_active=True).exclude(pk__in=policy.users.values("pk"))
    if policy.organization is not None:
        users = users.filter(memberships__organization__path__startswith=policy.organization.path).distinct()
    return people_options(request, users)


def _policy_group_candidates(request: HttpRequest, policy: AccessPolicy) -> Page:
    groups = people.user_group_list(actor=request.user).exclude(pk__in=policy.groups.values("pk"))
    if policy.organization is not None:
        groups = groups.filter(organization__path__startswith=policy.organization.path)
    return choices_page(groups, request, ordering=("name", "id"), search=("name", "organization__name"),
                        label=people.named_label)


@login_required
def policy_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    policy = _visible_policy(request, pk)
    if request.method != "POST":
        pickers: dict[str, Any] = {}
        if authorize(request.user, POLICY_WRITE, policy.organization):
            pickers = {"user": lambda: _policy_user_candidates(request, policy),
                       "group": lambda: _policy_group_candidates(request, policy)}
        return picker_options(request, pickers) or _policy_page(request, policy)
    text = request.POST.get("document", "")
    try:
        policy = services.policy_update(actor=request.user, policy=policy, name=posted(request, "name"),
                                        description=posted(request, "description"),
                                        document=_parsed_document(text))
    except ApplicationError as exc:
        return _policy_page(request, _visible_policy(request, pk), error=exc, status=exc.status, document=text)
    messages.success(request, f"Access policy {policy.name} saved.")
    return redirect("access:policy", policy.pk)


@login_required
@require_POST
def policy_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(policy: AccessPolicy) -> str:
        services.policy_delete(actor=request.user, policy=policy)
        return f"Access policy {policy.name} deleted."
    return page_action(request, _visible_policy(request, pk), change, page=_policy_page,
                       then=reverse("access:policies"))


@login_required
@require_POST
def policy_attachment(request: HttpRequest, pk: Any, attach: bool) -> HttpResponse:
    policy = _visible_policy(request, pk)
    try:
        user = visible(User.objects.all(), request.user, "organizations:user:read", posted(request, "user"),
                       "user") if posted(request, "user") else None
        group = visible(UserGroup.objects.select_related("organization"), request.user, "organizations:group:read",
                        posted(request, "group"), "group") if posted(request, "group") else None
        change = services.policy_attach if attach else services.policy_detach
        change(actor=request.user, policy=policy, user=user, group=group)
    except ApplicationError as exc:
        return _policy_page(request, policy, error=exc, status=exc.status, modal="attach" if attach else "")
    name = user.username if user else group.name  # type: ignore[union-attr]
    messages.success(request, f"{policy.name} {'attached to' if attach else 'detached from'} {name}.")
    return redirect("access:policy", policy.pk)


# -- the access panel of people pages ------------------------------------------------------------

def _sample_action(role: Role) -> str:
    """An action the role gives, to ask "Why?" about: a change if it has one, else a read."""
    codes = [c for c in _codes_of(role) if not c.startswith("menu:")]
    writes = [c for c in codes if c.rsplit(":", 1)[-1] in ("write", "create", "operate")]
    return (writes or codes or list(_codes_of(role)) or [""])[0]


def _why_url(subject: User, action: str, target: Any) -> str:
    params = {"user": str(subject.pk), "action": action, "target_type": "platform", "target_id": ""}
    if target is not None:
        params.update(target_type=target._meta.label_lower, target_id=str(target.pk))
    return "/console/access/explain/?" + urlencode(params)


def _panel_user(request: HttpRequest, subject: User) -> dict[str, Any]:
    memberships = list(subject.memberships.select_related("organization"))
    grants = list(selectors.grants_reaching(actor=request.user, subject=subject)[:LIST_LIMIT])
    for grant in _with_revoke(request, grants):
        grant.inherited = grant.grantee_type != "user"
        grant.why = _why_url(subject, _sample_action(grant.role), _grant_target(grant))
    grants.sort(key=lambda g: (g.inherited, g.role.name))
    visible_orgs = set(people.organization_list(actor=request.user).filter(
        pk__in=[m.organization_id for m in memberships]).values_list("pk", flat=True))
    member_role = selectors.role_list(actor=request.user).filter(key="organization_member").first()
    implicit = [{"organization": m.organization,
                 "why": _why_url(subject, "organizations:user:read", m.organization)}
                for m in memberships if m.organization_id in visible_orgs] if member_role else []
    policies = list(selectors.policy_list(actor=request.user).filter(
        Q(users=subject) | Q(groups__members=subject)).distinct().order_by("name"))
    return {"grants": grants, "implicit": implicit, "member_role": member_role, "policies": policies,
            "show_why": True, "grant_query": urlencode({"grantee_type": "user", "grantee": subject.pk}),
            "can_grant": _may_somewhere(request, GRANT_WRITE)}


@login_required
def access_panel(request: HttpRequest, kind: str, pk: Any) -> HttpResponse:
    """Grants (and attached policies) of one organization, user, user group or project."""
    user = request.user
    getters = {"organization": (people.organization_get, "organization_id"), "user": (people.user_get, "user_id"),
               "group": (people.user_group_get, "group_id"), "project": (people.project_get, "project_id")}
    if kind not in getters:
        raise Http404
    get, arg = getters[kind]
    obj = get(actor=user, **{arg: pk})
    context: dict[str, Any] = {"kind": kind, "obj": obj, "policies": None, "implicit": [], "show_why": False,
                               "back": reverse(f"organizations:{kind}", args=[obj.pk])}
    grants = selectors.grant_list(actor=user)
    if kind == "user":
        context.update(_panel_user(request, obj))
    else:
        if kind == "organization":
            grants = grants.filter(Q(scope_organization=obj) | Q(grantee_organization=obj))
            query = {"scope_type": "organization", "scope": obj.pk}
        elif kind == "project":
            grants = grants.filter(Q(scope_project=obj) | Q(grantee_project=obj))
            query = {"scope_type": "project", "scope": obj.pk}
        else:
            grants = grants.filter(group=obj)
            query = {"grantee_type": "group", "grantee": obj.pk}
            context["policies"] = list(selectors.policy_list(actor=user).filter(groups=obj).order_by("name"))
        context.update(grants=_with_revoke(request, list(grants[:LIST_LIMIT])), grant_query=urlencode(query),
                       can_grant=authorize(user, GRANT_WRITE, obj if kind != "group" else obj.organization))
    context["can_read_grants"] = authorize(user, "rbac:grant:read", obj if kind != "user" else None) or bool(
        context["grants"])
    return render(request, "rbac/_panel.html", context)


# -- "Why?" and the access matrix ----------------------------------------------------------------

@login_required
def explain_page(request: HttpRequest) -> HttpResponse:
    options = picker_options(request, {"user": lambda: people_options(request, people.user_list(actor=request.user))})
    if options is not None:
        return options
    result = None
    error = None
    params = {"user": request.GET.get("user", str(request.user.pk)), "action": request.GET.get("action", ""),
              "target_type": request.GET.get("target_type", "platform"), "target_id": request.GET.get("target_id", "")}
    if params["action"]:
        try:
            result = selectors.explain_for(actor=request.user, **params)
        except ApplicationError as exc:
            error = exc
    subject = None
    if result is not None:
        subject = people.user_list(actor=request.user).filter(pk=result["user"]).first()
    everyone = people_options(request, people.user_list(actor=request.user), chosen=params["user"])
    return render(request, "rbac/explain.html", {
        "params": params, "result": result, "people": everyone, "error": error, "subject": subject,
        "codes": [p.code for p in permission_catalog()],
    }, status=error.status if error else 200)


@login_required
def matrix_page(request: HttpRequest) -> HttpResponse:
    options = picker_options(request, {"organization": lambda: organization_options(request, ORG_READ)})
    if options is not None:
        return options
    orgs = organization_options(request, ORG_READ, chosen=request.GET.get("organization"))
    org_id = request.GET.get("organization") or (str(orgs.rows[0][0]) if orgs.rows else "")
    context: dict[str, Any] = {"orgs": orgs, "org_id": org_id, "codes": [], "rows": []}
    status = 200
    if org_id:
        try:
            org, codes, rows = selectors.access_matrix_for(actor=request.user, organization_id=org_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            status = exc.status
            context["org_id"] = ""
        else:
            if request.GET.get("export") == "csv":
                return csv_response(selectors.access_matrix_rows(codes, rows), f"access-matrix-{org.pk}.csv")
            context.update(codes=codes, rows=rows)
    return render(request, "rbac/matrix.html", context, status=status)
