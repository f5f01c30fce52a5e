"""What a refused reservation says and to whom it is announced, and which reservation announces a
warning threshold, through the services: the refusal names the first limit from the root that is
overrun (not one the reservation would exactly fill), with its holder, dimension and its name,
platform, region, usage and shortfall; the refusal is announced to the organization holding that
limit, saying who asked; a threshold is announced by the reservation that reaches it, once, for the
limit that reached it only, with its usage; a decision needs the approval permission first, and a
grant without a comment keeps none."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import Forbidden, Refused
from apps.quotas import services
from apps.quotas.models import QuotaRequest
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(monkeypatch):
    announced: list[tuple] = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    sibling = f.org("Lab", parent=root)
    return {"root": root, "team": team, "sibling": sibling, "announced": announced}


def _limit(org, value, dimension="ecs.instance", **kw):
    return services.limit_set(actor=None, organization=org, dimension=dimension, limit=value, **kw)


def _reserve(org, count, **kw):
    return services.quota_reserve(organization=org, project=kw.pop("project", None), resource_type="ecs.instance",
                                  amounts={"count": count, **kw.pop("amounts", {})}, **kw)


def _holder(org, project=None):
    return {"organization": {"id": str(org.pk), "name": org.name},
            "project": {"id": str(project.pk), "name": project.name} if project else None}


def _refused(org, count, **kw):
    with pytest.raises(Refused) as refused:
        _reserve(org, count, **kw)
    return refused.value


def test_a_refusal_by_a_projects_limit_on_a_platform_and_region_says_so_and_is_announced_to_its_organization(tree):
    team = tree["team"]
    project = f.project(team, name="shop-web")
    cloud = make_platform(tree["root"], type="aws", name="East")
    _limit(tree["root"], 10)
    _limit(team, 2, project=project, platform=cloud, region="us-east-1")
    here = {"project": project, "platform": cloud, "region": "us-east-1"}
    _reserve(team, 2, **here)
    error = _refused(team, 1, **here)
    detail = {**_holder(team, project), "dimension": "ecs.instance", "dimension_name": "ECS instances",
              "platform": str(cloud.pk), "region": "us-east-1", "limit": 2, "usage": 2, "requested": 1, "shortfall": 1}
    assert (error.code, error.message, error.detail) == (
        "quota_exceeded", "Quota exceeded: project shop-web may use 2 ECS instances; 2 in use or reserved, 1 asked, "
        "1 short.", detail)
    tree["announced"].clear()
    services.quota_refused(organization=team, project=project, resource_type="ecs.instance", error=error)
    assert tree["announced"] == [(str(team.pk), f"quota:{team.pk}", {
        "event": "refused", "name": "ecs.instance", "resource_type": "ecs.instance",
        "requested_by_organization": str(team.pk), "requested_by_project": str(project.pk), **detail})]


def test_a_refusal_names_the_first_overrun_limit_from_the_root_and_is_announced_to_its_holder(tree):
    root, team = tree["root"], tree["team"]
    _limit(root, 10, "ecs.vcpu")
    _limit(team, 4, "ecs.vcpu")
    _reserve(tree["sibling"], 5, amounts={"vcpu": 10})  # the root's 10 vCPUs: 10 used
    error = _refused(team, 1, amounts={"vcpu": 2})
    assert (error.message, error.detail["organization"]["name"], error.detail["shortfall"]) == (
        "Quota exceeded: organization HQ may use 10 ECS vCPUs; 10 in use or reserved, 2 asked, 2 short.", "HQ", 2)
    assert (error.detail["platform"], error.detail["region"], error.detail["project"]) == (None, "", None)
    tree["announced"].clear()
    services.quota_refused(organization=team, project=None, resource_type="ecs.instance", error=error)
    ((holder, topic, payload),) = tree["announced"]
    assert (holder, topic, payload["name"], payload["requested_by_organization"], payload["requested_by_project"]) == (
        str(root.pk), f"quota:{root.pk}", "ecs.vcpu", str(team.pk), None)


def test_the_limit_a_reservation_overruns_is_named_not_one_it_would_exactly_fill(tree):
    root, team = tree["root"], tree["team"]
    _limit(root, 10)
    _limit(team, 4)
    _reserve(tree["sibling"], 5)
    _reserve(team, 3)
    error = _refused(team, 2)  # the root would be exactly full (10 of 10); the team's 4 are overrun
    assert (error.detail["organization"]["name"], error.detail["limit"], error.detail["shortfall"]) == ("Shop", 4, 1)
    _reserve(team, 1)  # the team's limit exactly filled: granted


@pytest.mark.parametrize("detail", [None, ["no room"]])
def test_a_refusal_without_a_limits_detail_is_announced_to_the_asking_organization(tree, detail):
    team = tree["team"]
    services.quota_refused(organization=team, project=None, resource_type="ecs.instance",
                           error=Refused("Quota exceeded.", code="quota_exceeded", detail=detail))
    assert tree["announced"] == [(team.pk, f"quota:{team.pk}", {
        "event": "refused", "name": "ecs.instance", "resource_type": "ecs.instance",
        "requested_by_organization": str(team.pk), "requested_by_project": None})]


def test_a_threshold_is_announced_once_by_the_reservation_reaching_it_for_that_limit_only(tree):
    root, team = tree["root"], tree["team"]
    top = _limit(root, 10, warning_percent=50)
    low = _limit(team, 4, warning_percent=50)

    def crossing(lim, org, usage):
        return (org.pk, f"quota:{org.pk}", {
            "event": "threshold_crossed", "id": str(lim.pk), "name": "ecs.instance", "dimension": "ecs.instance",
            **_holder(org), "limit": lim.limit, "usage": usage, "warning_percent": 50})

    tree["announced"].clear()
    _reserve(tree["sibling"], 4)
    assert tree["announced"] == []
    _reserve(tree["sibling"], 1)  # the root's 5 of 10
    assert tree["announced"] == [crossing(top, root, 5)]
    tree["announced"].clear()
    _reserve(team, 2)  # the team's 2 of 4 at once; the root (7) had already reached its threshold
    assert tree["announced"] == [crossing(low, team, 2)]
    tree["announced"].clear()
    _reserve(team, 1)
    assert tree["announced"] == []


def test_a_decision_needs_the_approval_permission_and_a_grant_without_comment_keeps_none(tree):
    root, team = tree["root"], tree["team"]
    _limit(root, 20)
    tenant = f.user("tenant", team)
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, team)
    request = services.quota_request_create(actor=tenant, organization=team, project=None, dimension="ecs.instance",
                                            requested_limit=4, reason="launch week")
    with pytest.raises(Forbidden) as refused:
        services.quota_request_decide(actor=f.user("reader", root), quota_request=request, verdict="grant")
    assert (refused.value.code, refused.value.detail) == ("forbidden", {"permission": "provisioning:request:approve"})
    approver = f.user("approver", root)
    f.grant(f.role("provisioning:request:approve"), approver, root)
    services.quota_request_decide(actor=approver, quota_request=request, verdict="grant")
    stored = QuotaRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by, stored.comment) == ("granted", approver, "")
    assert stored.decisions.get().comment == ""
