"""Console pages of access: roles, grants, access policies, "Why?" and the access matrix."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.organizations.views import table_page
from apps.rbac import selectors, services
from apps.rbac.api.views import explain_for, matrix_csv, matrix_for
from apps.rbac.catalog import matching_codes


@login_required
def role_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for role in selectors.role_list(actor=request.user)[:500]:
        codes = matching_codes(tuple(role.permissions or ()), tuple(role.excluded_permissions or ()))
        owner = role.organization.name if role.organization else "platform"
        rows.append([role.name, role.get_duty_display() if role.duty else "",
                     "predefined" if role.is_predefined else owner,
                     ", ".join(role.permissions), len(codes)])
    return table_page(request, title="Roles", section="Access", rows=rows,
                      headers=["Role", "Separated duty", "Owner", "Permissions", "Catalog codes"])


@login_required
def grant_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for grant in selectors.grant_list(actor=request.user)[:500]:
        revoke = format_html(
            '<button class="btn btn-sm btn-outline-danger" hx-post="{}" hx-confirm="Revoke this grant?" '
            'hx-target="closest tr" hx-swap="outerHTML">Revoke</button>', f"/console/access/grants/{grant.pk}/revoke/")
        rows.append([grant.role.name, grant.grantee_label, grant.scope_label, grant.created_at.strftime("%Y-%m-%d"),
                     {"html": revoke}])
    return table_page(request, title="Grants", section="Access", rows=rows,
                      headers=["Role", "Grantee", "Scope", "Granted", ""])


@login_required
@require_POST
def grant_revoke(request: HttpRequest, grant_id: str) -> HttpResponse:
    grant = selectors.grant_list(actor=request.user).filter(pk=grant_id).first()
    if grant is None:
        return HttpResponse(status=404)
    try:
        services.grant_revoke(actor=request.user, grant=grant)
    except ApplicationError as exc:
        return HttpResponse(f'<tr><td colspan="5" class="text-danger">{exc.message}</td></tr>', status=200)
    return HttpResponse('<tr><td colspan="5" class="text-secondary">Revoked.</td></tr>')


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    example = {"Version": "1", "Statement": [{"Effect": "Deny", "Action": ["core:operation:write"],
                                              "Resource": "*", "Condition": {
                                                  "NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}
    document_text = json.dumps(example, indent=2)
    if request.method == "POST":
        document_text = request.POST.get("document", "")
        try:
            document = json.loads(document_text)
            services.policy_create(actor=request.user, name=request.POST.get("name", ""), document=document)
            messages.success(request, "Policy created.")
            return redirect("access:policies")
        except json.JSONDecodeError as exc:
            messages.error(request, f"The document is not JSON: {exc}")
        except ApplicationError as exc:
            errors = exc.detail.get("document") if isinstance(exc.detail, dict) else None
            messages.error(request, "; ".join(f"{e['path']}: {e['message']}" for e in errors) if errors
                           else exc.message)
    rows = [[p.name, p.organization.name if p.organization else "platform",
             len(p.document.get("Statement", [])), p.users.count() + p.groups.count()]
            for p in selectors.policy_list(actor=request.user)[:500]]
    form = [{"name": "name", "label": "Name"},
            {"name": "document", "label": "Document", "textarea": True, "value": document_text}]
    return table_page(request, title="Access policies", section="Access", rows=rows, form=form,
                      headers=["Policy", "Owner", "Statements", "Attached to"])


@login_required
def explain_page(request: HttpRequest) -> HttpResponse:
    result = None
    params = {"user": request.GET.get("user", str(request.user.pk)), "action": request.GET.get("action", ""),
              "target_type": request.GET.get("target_type", "platform"), "target_id": request.GET.get("target_id", "")}
    if params["action"]:
        try:
            result = explain_for(request.user, params)
        except ApplicationError as exc:
            messages.error(request, exc.message)
    from apps.organizations.selectors import user_list

    people = user_list(actor=request.user).order_by("username")[:500]
    return render(request, "rbac/explain.html", {"params": params, "result": result, "people": people})


@login_required
def matrix_page(request: HttpRequest) -> HttpResponse:
    from apps.organizations.selectors import organization_list

    orgs = organization_list(actor=request.user)[:500]
    org_id = request.GET.get("organization") or (str(orgs[0].pk) if orgs else "")
    context = {"orgs": orgs, "org_id": org_id, "codes": [], "rows": []}
    if org_id:
        try:
            org, codes, rows = matrix_for(request.user, org_id)
        except (ApplicationError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Organization not found."))
        else:
            if request.GET.get("export") == "csv":
                return matrix_csv(org, codes, rows)
            context.update(codes=codes, rows=rows)
    return render(request, "rbac/matrix.html", context)
