"""Quota rules one by one, through the services: who may delete a limit (whoever may write limits on
the parent organization, never the organization itself) and what its deletion announces, what a
decision on a request for more refuses before anything is decided, and who may decide it (an
approver, not the requester, one level a person, not after the request ended; an outsider is told
who decides), and how each decision is kept and announced level by level."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.provisioning.models import ApprovalPolicy
from apps.quotas import approvals, services
from apps.quotas.models import QuotaLimit, QuotaRequest
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    services.limit_set(actor=None, organization=root, dimension="ecs.instance", limit=20)
    services.limit_set(actor=None, organization=team, dimension="ecs.instance", limit=2)
    return {"root": root, "team": team}


def _writer(name, org):
    person = f.user(name, org)
    f.grant(f.role(services.WRITE), person, org)
    return person


def test_a_limit_is_deleted_by_who_writes_the_parents_limits_and_the_deletion_is_announced(tree, monkeypatch):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    team_limit = QuotaLimit.objects.get(organization=tree["team"])
    QuotaLimit.objects.filter(pk=team_limit.pk).update(committed=1, reserved=1)
    with pytest.raises(Forbidden):
        services.limit_delete(actor=_writer("own", tree["team"]), quota_limit=team_limit)
    assert QuotaLimit.objects.filter(pk=team_limit.pk).exists() and announced == []
    services.limit_delete(actor=_writer("parent", tree["root"]), quota_limit=team_limit)
    assert not QuotaLimit.objects.filter(pk=team_limit.pk).exists()
    team = tree["team"].pk
    assert announced == [(team, f"quota:{team}", {
        "event": "limit_deleted", "id": str(team_limit.pk), "name": "ecs.instance", "dimension": "ecs.instance",
        "before": {"limit": 2, "usage": 2}, "after": None})]


@pytest.mark.parametrize(("verdict", "comment", "message", "detail"), [
    ("maybe", "", "verdict is grant or deny.", {"verdict": ["grant or deny"]}),
    ("grant", "x" * 501, "comment is at most 500 characters.", {"comment": ["too long"]}),
    ("grant", 5, "comment is at most 500 characters.", {"comment": ["too long"]}),
    ("deny", "  ", "Say why the request is denied.", {"comment": ["required when denying"]}),
])
def test_a_decision_that_is_not_valid_is_refused_and_decides_nothing(tree, verdict, comment, message, detail):
    tenant = f.user("tenant", tree["team"])
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, tree["team"])
    request = services.quota_request_create(actor=tenant, organization=tree["team"], project=None,
                                            dimension="ecs.instance", requested_limit=4, reason="launch week")
    with pytest.raises(InvalidInput) as refused:
        services.quota_request_decide(actor=_writer("approver", tree["root"]), quota_request=request,
                                      verdict=verdict, comment=comment)
    assert (refused.value.message, refused.value.detail) == (message, detail)
    assert QuotaRequest.objects.get(pk=request.pk).status == request.status
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 2


def test_only_an_approver_decides_and_a_comment_of_500_characters_is_kept(tree):
    tenant = f.user("tenant", tree["team"])
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, tree["team"])
    request = services.quota_request_create(actor=tenant, organization=tree["team"], project=None,
                                            dimension="ecs.instance", requested_limit=4, reason="launch week")
    with pytest.raises(Forbidden):
        services.quota_request_decide(actor=_writer("writer", tree["root"]), quota_request=request, verdict="grant")
    approver = f.user("approver", tree["root"])
    f.grant(f.role("provisioning:request:approve"), approver, tree["root"])
    decided = services.quota_request_decide(actor=approver, quota_request=request, verdict="deny",
                                            comment="n" * 500)
    assert decided.status == "denied"
    assert decided.decisions.get().comment == "n" * 500
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 2


def test_a_request_is_not_decided_by_its_requester_twice_by_one_person_or_after_its_end(tree):
    approve = f.role("provisioning:request:approve")
    requester, first, second = (f.user(name, tree["root"]) for name in ("requester", "first", "second"))
    for person in (requester, first, second):
        f.grant(approve, person, tree["root"])
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), requester, tree["team"])
    ApprovalPolicy.objects.create(organization=tree["root"], name="Quota requests", service="quotas", levels=[
        {"mode": "any", "roles": [], "users": [str(requester.pk), str(first.pk)]},
        {"mode": "any", "roles": [], "users": [str(first.pk), str(second.pk)]}])
    request = services.quota_request_create(actor=requester, organization=tree["team"], project=None,
                                            dimension="ecs.instance", requested_limit=4, reason="launch week")

    def refusal(actor, kind):
        with pytest.raises(kind) as refused:
            services.quota_request_decide(actor=actor, quota_request=request, verdict="grant")
        return refused.value.code, refused.value.message

    assert refusal(requester, Forbidden) == ("own_request", "You cannot decide your own request.")
    services.quota_request_decide(actor=first, quota_request=request, verdict="grant")
    assert refusal(first, Conflict) == (
        "already_decided", "You have already decided a level of this request; another approver decides this one.")
    services.quota_request_decide(actor=second, quota_request=request, verdict="deny", comment="not now")
    assert refusal(second, Conflict) == ("request_decided", "The request is already denied.")
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 2


def test_each_decision_is_kept_and_announced_level_by_level_and_an_outsider_is_told_who_decides(tree, monkeypatch):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    approve = f.role("provisioning:request:approve")
    tenant = f.user("tenant", tree["team"])
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, tree["team"])
    people = [f.user(name, tree["root"]) for name in ("one", "two", "three", "outsider")]
    for person in people:
        f.grant(approve, person, tree["root"])
    ApprovalPolicy.objects.create(organization=tree["root"], name="Quota requests", service="quotas", levels=[
        {"mode": "any", "roles": [], "users": [str(person.pk)]} for person in people[:3]])
    request = services.quota_request_create(actor=tenant, organization=tree["team"], project=None,
                                            dimension="ecs.instance", requested_limit=4, reason="launch week")
    with pytest.raises(Forbidden) as refused:
        services.quota_request_decide(actor=people[3], quota_request=request, verdict="grant")
    waiting = approvals.waiting_for(QuotaRequest.objects.get(pk=request.pk))
    assert (refused.value.code, refused.value.message, refused.value.detail) == (
        "not_an_approver", "You are not an approver of this level.", {"waiting_for": waiting})
    announced.clear()
    team, topic = tree["team"].pk, request.topic
    for level, person in enumerate(people[:2], start=1):
        row = services.quota_request_decide(actor=person, quota_request=request, verdict="grant", comment=f"ok {level}")
        assert QuotaRequest.objects.get(pk=request.pk).level == level
        assert announced[-1] == (team, topic, {
            "event": "request_waiting", "id": request.id, "name": "ecs.instance", "dimension": "ecs.instance",
            "level": level + 1, "waiting_for": approvals.waiting_for(row)})
    services.quota_request_decide(actor=people[2], quota_request=request, verdict="deny", comment="not now")
    assert announced[-1] == (team, topic, {"event": "request_denied", "id": request.id, "name": "ecs.instance",
                                           "dimension": "ecs.instance", "requested_limit": 4, "comment": "not now"})
    stored = QuotaRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by, stored.comment) == ("denied", people[2], "not now")
    assert list(stored.decisions.order_by("level").values_list("level", "verdict", "comment")) == [
        (0, "grant", "ok 1"), (1, "grant", "ok 2"), (2, "deny", "not now")]
