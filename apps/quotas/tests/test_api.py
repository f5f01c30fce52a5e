"""The quotas API: limits are set, changed and removed with validation; refusals and another
organization's objects answer as the API conventions say; the usage tree and headroom add up."""

from __future__ import annotations

import pytest

from apps.quotas import services
from apps.quotas.models import QuotaLimit, QuotaRequest
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db

URL = "/api/v1/quotas/"


@pytest.fixture
def tree():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    other = f.org("Other")
    proj = f.project(team, name="web")
    admin = f.user("quota-admin", root)
    f.grant(f.role("quotas:*", "provisioning:request:approve", "organizations:organization:read",
                   "clouds:platform:read"), admin, root)
    tenant = f.user("tenant", team)
    f.grant(f.role("ecs:instance:create", "quotas:request:read"), tenant, proj)
    outsider = f.user("outsider", other)
    f.grant(f.role("quotas:*"), outsider, other)
    return {"root": root, "team": team, "other": other, "project": proj, "admin": admin, "tenant": tenant,
            "outsider": outsider}


def test_a_limit_is_created_then_changed_and_removed(tree):
    api = api_as(tree["admin"])
    r = api.post(URL + "limits/", {"organization": str(tree["team"].pk), "dimension": "ecs.vcpu", "limit": 16,
                                   "warning_percent": 75}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["limit"], body["used"], body["free"], body["warning_percent"]) == (16, 0, 16, 75)
    r = api.patch(f"{URL}limits/{body['id']}/", {"limit": 24}, format="json")
    assert r.status_code == 200 and r.json()["limit"] == 24
    r = api.post(URL + "limits/", {"organization": str(tree["team"].pk), "dimension": "ecs.vcpu", "limit": 20},
                 format="json")
    assert r.status_code == 200 and QuotaLimit.objects.get().limit == 20
    assert api.delete(f"{URL}limits/{body['id']}/").status_code == 204
    assert not QuotaLimit.objects.exists()


@pytest.mark.parametrize("body,field", [
    ({"dimension": "ecs.gpu", "limit": 1}, "dimension"),
    ({"dimension": "ecs.vcpu", "limit": -1}, "limit"),
    ({"dimension": "ecs.vcpu", "limit": 1, "warning_percent": 101}, "warning_percent"),
    ({"dimension": "ecs.vcpu", "limit": 1, "region": "cn-hangzhou"}, "region"),
    ({"dimension": "ecs.vcpu"}, "limit"),
])
def test_bad_limits_get_400_naming_the_field_and_change_nothing(tree, body, field):
    r = api_as(tree["admin"]).post(URL + "limits/", {"organization": str(tree["team"].pk), **body}, format="json")
    assert r.status_code == 400 and field in r.json()["detail"], r.json()
    assert not QuotaLimit.objects.exists()


def test_a_hierarchy_refusal_is_422_naming_the_parent(tree):
    api = api_as(tree["admin"])
    api.post(URL + "limits/", {"organization": str(tree["root"].pk), "dimension": "ecs.instance", "limit": 5},
             format="json")
    r = api.post(URL + "limits/", {"organization": str(tree["team"].pk), "dimension": "ecs.instance", "limit": 6},
                 format="json")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "quota_hierarchy"
    assert (body["detail"]["organization"]["name"], body["detail"]["limit"], body["detail"]["shortfall"]) == \
        ("HQ", 5, 1)
    assert QuotaLimit.objects.count() == 1


def test_another_organizations_limits_are_not_found(tree):
    lim = services.limit_set(actor=None, organization=tree["team"], dimension="ecs.vcpu", limit=8)
    api = api_as(tree["outsider"])
    assert api.get(f"{URL}limits/{lim.pk}/").status_code == 404
    assert api.patch(f"{URL}limits/{lim.pk}/", {"limit": 1}, format="json").status_code == 404
    assert api.delete(f"{URL}limits/{lim.pk}/").status_code == 404
    assert api.get(URL + "limits/").json()["results"] == []
    r = api.post(URL + "limits/", {"organization": str(tree["team"].pk), "dimension": "ecs.vcpu", "limit": 1},
                 format="json")
    assert r.status_code == 400 and "organization" in r.json()["detail"]
    assert QuotaLimit.objects.get().limit == 8


def test_the_usage_tree_shows_limit_used_and_free_down_the_hierarchy(tree):
    services.limit_set(actor=None, organization=tree["root"], dimension="ecs.instance", limit=10)
    services.limit_set(actor=None, organization=tree["team"], dimension="ecs.instance", limit=4)
    services.limit_set(actor=None, organization=tree["team"], project=tree["project"], dimension="ecs.instance",
                       limit=3)
    services.quota_reserve(organization=tree["team"], project=tree["project"], resource_type="ecs.instance",
                           amounts={"count": 3})
    r = api_as(tree["admin"]).get(URL + "usage/", {"organization": str(tree["root"].pk)})
    assert r.status_code == 200
    root = r.json()
    team = root["children"][0]
    assert [(n["limits"][0]["limit"], n["limits"][0]["used"], n["limits"][0]["free"]) for n in
            (root, team, team["projects"][0])] == [(10, 3, 7), (4, 3, 1), (3, 3, 0)]
    assert team["projects"][0]["limits"][0]["warning"] is True
    assert api_as(tree["outsider"]).get(URL + "usage/", {"organization": str(tree["root"].pk)}).status_code == 400


def test_headroom_is_the_tightest_limit_for_a_tenant_who_may_create(tree):
    services.limit_set(actor=None, organization=tree["root"], dimension="ecs.vcpu", limit=10)
    services.limit_set(actor=None, organization=tree["team"], dimension="ecs.vcpu", limit=8)
    services.quota_reserve(organization=tree["other"], project=None, resource_type="ecs.instance",
                           amounts={"count": 1, "vcpu": 2})
    services.quota_reserve(organization=tree["team"], project=tree["project"], resource_type="ecs.instance",
                           amounts={"count": 1, "vcpu": 6})
    r = api_as(tree["tenant"]).get(URL + "headroom/", {"project": str(tree["project"].pk)})
    assert r.status_code == 200
    assert [(row["dimension"], row["free"], row["bound_by"]) for row in r.json()["results"]] == \
        [("ecs.vcpu", 2, "Shop")]
    assert api_as(tree["outsider"]).get(URL + "headroom/", {"project": str(tree["project"].pk)}).status_code == 400


def test_a_tenant_asks_for_more_and_an_approver_grants_it(tree):
    services.limit_set(actor=None, organization=tree["root"], dimension="ecs.instance", limit=10)
    services.limit_set(actor=None, organization=tree["team"], dimension="ecs.instance", limit=2)
    tenant = api_as(tree["tenant"])
    r = tenant.post(URL + "requests/", {"organization": str(tree["team"].pk), "dimension": "ecs.instance",
                                        "requested_limit": 4, "reason": "launch week"}, format="json")
    assert r.status_code == 201, r.json()
    rid = r.json()["id"]
    assert tenant.post(f"{URL}requests/{rid}/grant/", {}, format="json").status_code in (403, 404)
    assert tenant.get(f"{URL}requests/{rid}/").json()["status"] == "pending"
    assert api_as(tree["outsider"]).post(f"{URL}requests/{rid}/grant/", {}, format="json").status_code == 404
    r = api_as(tree["admin"]).post(f"{URL}requests/{rid}/grant/", {"comment": "ok"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "granted"
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 4
    r = api_as(tree["admin"]).post(f"{URL}requests/{rid}/deny/", {"comment": "late"}, format="json")
    assert r.status_code == 409


def test_a_request_beyond_what_the_parent_holds_cannot_be_granted(tree):
    services.limit_set(actor=None, organization=tree["root"], dimension="ecs.instance", limit=3)
    services.limit_set(actor=None, organization=tree["team"], dimension="ecs.instance", limit=2)
    req = services.quota_request_create(actor=tree["tenant"], organization=tree["team"], project=None,
                                        dimension="ecs.instance", requested_limit=5, reason="more")
    r = api_as(tree["admin"]).post(f"{URL}requests/{req.id}/grant/", {}, format="json")
    assert r.status_code == 422 and r.json()["code"] == "quota_hierarchy"
    assert QuotaRequest.objects.get().status == "pending"
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 2


def test_reservations_and_dimensions_are_listed(tree):
    services.quota_reserve(organization=tree["team"], project=tree["project"], resource_type="ecs.instance",
                           amounts={"count": 2, "vcpu": 4})
    api = api_as(tree["admin"])
    rows = api.get(URL + "reservations/").json()["results"]
    assert [(r["count"], r["unit"]) for r in rows] == [(2, {"ecs.instance": 1, "ecs.vcpu": 2})]
    assert api_as(tree["outsider"]).get(URL + "reservations/").json()["results"] == []
    assert "ecs.memory_gib" in {d["code"] for d in api.get(URL + "dimensions/").json()["results"]}


def test_drift_lists_limits_whose_usage_disagrees_with_the_inventory(tree):
    platform = f.platform(tree["root"])
    services.limit_set(actor=None, organization=tree["team"], dimension="ecs.instance", limit=5)
    f.resource(platform, organization=tree["team"])
    rows = api_as(tree["admin"]).get(URL + "drift/").json()["results"]
    assert [(r["dimension"], r["recorded"], r["inventory"]) for r in rows] == [("ecs.instance", 0, 1)]
    assert api_as(tree["outsider"]).get(URL + "drift/").json()["results"] == []
