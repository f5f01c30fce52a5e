"""Who decides a quota request: the lifecycle's approval policies and approve permission, reused.

Quota requests are decided like provisioning requests: the most specific active approval policy of
the lifecycle (``policy_for``, service "quotas" before organization-wide ones) of the organization
that gives the quota, its levels in order, each needing any one or all of its approvers (users, or
roles held on a scope containing that organization), each a holder of the lifecycle's approve
permission there; never the requester, and a person decides at most one level. One denial ends
the request.
"""

from __future__ import annotations

from typing import Any

from apps.core.scoping import authorize
from apps.organizations.models import Organization
from apps.provisioning.requests import APPROVE, DEFAULT_LEVELS
from apps.quotas.models import QuotaDecision, QuotaRequest
from apps.rbac.engine import roles_held

SERVICE = "quotas"


def decider(organization: Organization) -> Organization:
    """The organization whose approvers decide: the parent (an organization does not raise its own
    limits), or a root itself."""
    return organization.parent if organization.parent_id else organization


def decider_probe(row: QuotaRequest) -> QuotaRequest:
    return QuotaRequest(organization_id=row.organization.parent_id or row.organization_id)


def decided_before(user: Any, row: QuotaRequest) -> bool:
    return QuotaDecision.objects.filter(request=row, approver_id=getattr(user, "pk", None)).exists()


def holds_role(user: Any, roles: list[str], row: QuotaRequest) -> bool:
    return bool(set(roles) & roles_held(user, decider_probe(row), service=SERVICE))


def eligible(user: Any, row: QuotaRequest) -> bool:
    """Whether ``user`` may decide the current level of ``row`` now."""
    if row.status != QuotaRequest.Status.PENDING or not authorize(user, APPROVE, decider_probe(row)):
        return False
    if row.requester_id is not None and row.requester_id == getattr(user, "pk", None):
        return False
    if decided_before(user, row):
        return False
    level = (row.levels or DEFAULT_LEVELS)[row.level]
    users, roles = [str(u) for u in level.get("users", [])], level.get("roles", [])
    if not users and not roles:
        return True
    return str(user.pk) in users or (bool(roles) and holds_role(user, roles, row))


def level_complete(row: QuotaRequest) -> bool:
    level = (row.levels or DEFAULT_LEVELS)[row.level]
    approvals = QuotaDecision.objects.filter(request=row, level=row.level, verdict=QuotaDecision.Verdict.GRANT) \
        .select_related("approver")
    if level.get("mode") != "all":
        return approvals.exists()
    approvers = [d.approver for d in approvals]
    ids = {str(a.pk) for a in approvers}
    users_ok = all(str(u) in ids for u in level.get("users", []))
    roles_ok = all(any(holds_role(a, [r], row) for a in approvers) for r in level.get("roles", []))
    return users_ok and roles_ok and bool(approvers)


def waiting_for(row: QuotaRequest) -> str:
    """Who the request waits for, in words ("" once decided)."""
    if row.status != QuotaRequest.Status.PENDING:
        return ""
    levels = row.levels or DEFAULT_LEVELS
    level = levels[row.level]
    who = [*(f"role {r}" for r in level.get("roles", [])), *(f"user {u}" for u in level.get("users", []))]
    mode = "all of" if level.get("mode") == "all" and who else "any of"
    return f"Level {row.level + 1} of {len(levels)}: {mode} {', '.join(who) if who else 'an approver'}"


