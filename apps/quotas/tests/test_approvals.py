"""Quota requests are decided under the lifecycle's approval policies: the policy of the organization
that gives the quota (the parent) sets the levels, each decided by its own approvers holding the
lifecycle's approve permission there; the requester's own organization cannot approve itself."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, Forbidden
from apps.provisioning.models import ApprovalPolicy
from apps.quotas import selectors, services
from apps.quotas.models import QuotaDecision, QuotaLimit, QuotaRequest
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=False)

APPROVE = "provisioning:request:approve"


@pytest.fixture
def tree():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    proj = f.project(team, name="web")
    tenant = f.user("tenant", team)
    f.grant(f.role("ecs:instance:create"), tenant, proj)
    services.limit_set(actor=None, organization=root, dimension="ecs.instance", limit=20)
    services.limit_set(actor=None, organization=team, dimension="ecs.instance", limit=2)
    return {"root": root, "team": team, "project": proj, "tenant": tenant}


def _ask(tree, limit=4):
    return services.quota_request_create(actor=tree["tenant"], organization=tree["team"], project=None,
                                         dimension="ecs.instance", requested_limit=limit, reason="launch week")


def _approver(name, org, *extra_roles):
    person = f.user(name, org)
    f.grant(f.role(APPROVE), person, org)
    for r in extra_roles:
        f.grant(r, person, org)
    return person


def _team_limit(tree):
    return QuotaLimit.objects.get(organization=tree["team"], dimension="ecs.instance").limit


def test_the_parents_quota_policy_decides_level_by_level_and_the_last_grant_raises_the_limit(tree):
    finance = f.role("quotas:limit:read", key="finance")
    first = _approver("first", tree["root"], finance)
    second = _approver("second", tree["root"])
    ApprovalPolicy.objects.create(organization=tree["root"], name="Quota requests", service="quotas", levels=[
        {"mode": "any", "roles": ["finance"], "users": []},
        {"mode": "any", "roles": [], "users": [str(second.pk)]}])
    req = _ask(tree)
    assert (req.policy.name, len(req.levels), req.level, req.status) == ("Quota requests", 2, 0, "pending")
    # Level 1 wants the finance role: the level-2 approver is not one of its approvers.
    assert [r.pk for r in selectors.approval_queue(actor=second)] == []
    with pytest.raises(Forbidden) as refused:
        services.quota_request_decide(actor=second, quota_request=req, verdict="grant")
    assert refused.value.code == "not_an_approver"
    assert [r.pk for r in selectors.approval_queue(actor=first)] == [req.pk]
    req = services.quota_request_decide(actor=first, quota_request=req, verdict="grant", comment="fine")
    assert (req.status, req.level, _team_limit(tree)) == ("pending", 1, 2)
    # A person decides one level only, and the second level is someone else's.
    with pytest.raises(Conflict):
        services.quota_request_decide(actor=first, quota_request=req, verdict="grant")
    assert [r.pk for r in selectors.approval_queue(actor=second)] == [req.pk]
    req = services.quota_request_decide(actor=second, quota_request=req, verdict="grant")
    assert (req.status, req.decided_by, _team_limit(tree)) == ("granted", second, 4)
    assert list(QuotaDecision.objects.order_by("level").values_list("approver__username", "level", "verdict")) == \
        [("first", 0, "grant"), ("second", 1, "grant")]


def test_one_denial_ends_the_request_and_leaves_the_limit(tree):
    approver = _approver("approver", tree["root"])
    req = _ask(tree)
    req = services.quota_request_decide(actor=approver, quota_request=req, verdict="deny", comment="not this month")
    assert (req.status, req.comment, _team_limit(tree)) == ("denied", "not this month", 2)
    with pytest.raises(Conflict):
        services.quota_request_decide(actor=_approver("late", tree["root"]), quota_request=req, verdict="grant")


def test_without_a_policy_one_holder_of_the_lifecycles_approve_permission_on_the_parent_decides(tree):
    req = _ask(tree)
    assert (req.policy, req.levels) == (None, [{"mode": "any", "roles": [], "users": []}])
    quota_admin = f.user("quota-admin", tree["root"])
    f.grant(f.role("quotas:*"), quota_admin, tree["root"])  # quotas' own permissions decide nothing
    team_approver = _approver("team-approver", tree["team"])  # the team does not raise its own limit
    for person in (quota_admin, team_approver, tree["tenant"]):
        with pytest.raises(Forbidden):
            services.quota_request_decide(actor=person, quota_request=req, verdict="grant")
    assert QuotaRequest.objects.get().status == "pending" and not QuotaDecision.objects.exists()
    services.quota_request_decide(actor=_approver("approver", tree["root"]), quota_request=req, verdict="grant")
    assert _team_limit(tree) == 4


def test_a_quotas_policy_without_levels_grants_at_once_and_the_requesters_own_policy_does_not_count(tree):
    ApprovalPolicy.objects.create(organization=tree["team"], name="Team approves itself", service="quotas", levels=[])
    assert _ask(tree).status == "pending"  # the team's own policy does not decide what its parent gives
    QuotaRequest.objects.all().delete()
    # An organization-wide policy letting provisioning through does not raise quotas unasked.
    ApprovalPolicy.objects.create(organization=tree["root"], name="Provision freely", levels=[])
    req = _ask(tree)
    assert (req.status, req.policy, req.levels, _team_limit(tree)) == \
        ("pending", None, [{"mode": "any", "roles": [], "users": []}], 2)
    QuotaRequest.objects.all().delete()
    ApprovalPolicy.objects.create(organization=tree["root"], name="Trust the teams", service="quotas", levels=[])
    req = _ask(tree, limit=5)
    assert (req.status, req.policy.name, _team_limit(tree)) == ("granted", "Trust the teams", 5)


def test_a_level_needing_all_its_approvers_waits_for_each(tree):
    a, b = _approver("a", tree["root"]), _approver("b", tree["root"])
    ApprovalPolicy.objects.create(organization=tree["root"], name="Both", service="quotas",
                                  levels=[{"mode": "all", "roles": [], "users": [str(a.pk), str(b.pk)]}])
    req = _ask(tree)
    req = services.quota_request_decide(actor=a, quota_request=req, verdict="grant")
    assert (req.status, _team_limit(tree)) == ("pending", 2)
    req = services.quota_request_decide(actor=b, quota_request=req, verdict="grant")
    assert (req.status, _team_limit(tree)) == ("granted", 4)
