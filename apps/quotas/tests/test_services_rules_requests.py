"""Asking for more quota, through the services: what a request that is not valid is told (each field's
message, several at once, nothing kept or announced), who may ask on a project (a permission granted
on the project itself, or the right to create resources in that very project), a request at or below
the limit of exactly its place (platform and region), what is kept and announced when a request is
made, and a policy that grants every request: granted at once, saying by which policy, announced."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import Forbidden, InvalidInput
from apps.provisioning.models import ApprovalPolicy
from apps.quotas import services
from apps.quotas.dimensions import dimensions
from apps.quotas.models import QuotaLimit, QuotaRequest
from tests import factories as f

pytestmark = pytest.mark.django_db

NOT_VALID = "The quota request is not valid; see detail."
LIMIT_RANGE = [f"an integer from 0 to {services.MAX_LIMIT}"]
REASON = ["say why, in at most 500 characters"]
REGION = ["a region narrows a platform: choose the platform too"]


@pytest.fixture
def shop(monkeypatch):
    announced: list[tuple] = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    tenant = f.user("tenant", team)
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, team)
    return {"root": root, "team": team, "tenant": tenant, "announced": announced}


def _ask(shop, **kw):
    args = {"actor": shop["tenant"], "organization": shop["team"], "project": None, "dimension": "ecs.instance",
            "requested_limit": 4, "reason": "launch week", **kw}
    return services.quota_request_create(**args)


@pytest.mark.parametrize(("asked", "detail"), [
    ({"dimension": "ecs.nothing"}, {"dimension": [f"one of {', '.join(dimensions())}"]}),
    ({"requested_limit": -1}, {"requested_limit": LIMIT_RANGE}),
    ({"requested_limit": services.MAX_LIMIT + 1}, {"requested_limit": LIMIT_RANGE}),
    ({"requested_limit": True}, {"requested_limit": LIMIT_RANGE}),
    ({"requested_limit": "5"}, {"requested_limit": LIMIT_RANGE}),
    ({"reason": "   "}, {"reason": REASON}),
    ({"reason": "x" * 501}, {"reason": REASON}),
    ({"reason": 5}, {"reason": REASON}),
    ({"region": "us-east-1"}, {"region": REGION}),
    ({"region": 5}, {"region": REGION}),
    ({"platform": "cp-0000000000000000"}, {"platform": ["Not found."]}),
    ({"dimension": "ecs.nothing", "requested_limit": -1, "reason": "", "region": "us-east-1"},
     {"dimension": [f"one of {', '.join(dimensions())}"], "requested_limit": LIMIT_RANGE, "reason": REASON,
      "region": REGION}),
])
def test_a_request_that_is_not_valid_is_told_what_is_wrong_and_nothing_is_kept(shop, asked, detail):
    with pytest.raises(InvalidInput) as refused:
        _ask(shop, **asked)
    assert (refused.value.code, refused.value.message, refused.value.detail) == ("invalid", NOT_VALID, detail)
    assert not QuotaRequest.objects.exists() and shop["announced"] == []


@pytest.mark.parametrize("requested_limit", [0, services.MAX_LIMIT])
def test_the_ends_of_the_range_and_a_reason_of_500_characters_are_asked_for(shop, requested_limit):
    row = _ask(shop, requested_limit=requested_limit, reason="r" * 500)
    stored = QuotaRequest.objects.get(pk=row.pk)
    assert (stored.requested_limit, stored.reason, stored.status) == (requested_limit, "r" * 500, "pending")


def test_a_project_of_another_organization_is_refused_and_an_outsider_is_told_the_permission(shop):
    elsewhere = f.project(f.org("Other"), name="other-web")
    with pytest.raises(InvalidInput) as refused:
        _ask(shop, project=elsewhere)
    assert (refused.value.message, refused.value.detail) == (
        "The project is not in the organization.", {"project": ["not found"]})
    with pytest.raises(Forbidden) as forbidden:
        _ask(shop, actor=f.user("outsider", f.org("Elsewhere")))
    assert (forbidden.value.code, forbidden.value.message, forbidden.value.detail) == (
        "forbidden", "You may not ask for quota here.", {"permission": "quotas:request:create"})
    assert not QuotaRequest.objects.exists() and shop["announced"] == []


def test_on_a_project_asks_who_holds_the_permission_there_or_may_create_resources_in_it(shop):
    web, shop_db = f.project(shop["team"], name="shop-web"), f.project(shop["team"], name="shop-db")
    holder = f.user("holder", shop["team"])
    f.grant(f.role("quotas:request:create"), holder, web)
    builder = f.user("builder", shop["team"])
    f.grant(f.role("ecs:instance:create"), builder, web)
    for person in (holder, builder):
        row = _ask(shop, actor=person, project=web)
        assert QuotaRequest.objects.get(pk=row.pk).project_id == web.pk
    # Neither may ask on the organization's other project (the permission and the right to create are
    # the web project's), nor for the organization as a whole by the permission held on a project.
    for person in (holder, builder):
        with pytest.raises(Forbidden):
            _ask(shop, actor=person, project=shop_db)
    with pytest.raises(Forbidden):
        _ask(shop, actor=holder)
    assert QuotaRequest.objects.count() == 2


def test_asking_at_or_below_the_limit_of_exactly_that_place_is_refused_and_the_limit_is_kept(shop):
    cloud = make_platform(shop["root"], type="aws", name="East")
    here = {"platform": cloud.pk, "region": "us-east-1"}
    services.limit_set(actor=None, organization=shop["team"], dimension="ecs.instance", limit=5, **here)
    with pytest.raises(InvalidInput) as refused:
        _ask(shop, requested_limit=5, **here)
    assert (refused.value.message, refused.value.detail) == (
        "The limit is already 5; ask for more than that.", {"requested_limit": ["more than 5"]})
    # Elsewhere on the platform (no limit yet) or in the whole organization the same ask is a request.
    assert _ask(shop, requested_limit=5, platform=cloud.pk).current_limit is None
    assert _ask(shop, requested_limit=5).current_limit is None
    row = _ask(shop, requested_limit=6, **here)
    stored = QuotaRequest.objects.get(pk=row.pk)
    assert (stored.current_limit, stored.requested_limit, stored.platform_id, stored.region) == (
        5, 6, cloud.pk, "us-east-1")


def test_a_request_is_kept_with_its_requester_and_announced(shop):
    services.limit_set(actor=None, organization=shop["team"], dimension="ecs.instance", limit=2)
    shop["announced"].clear()
    row = _ask(shop, reason="  launch week  ")
    stored = QuotaRequest.objects.get(pk=row.pk)
    assert (stored.requester, stored.current_limit, stored.reason, stored.policy) == (
        shop["tenant"], 2, "launch week", None)
    team = shop["team"].pk
    assert shop["announced"] == [(team, f"quota:{team}", {
        "event": "request_created", "id": row.id, "name": "ecs.instance", "dimension": "ecs.instance",
        "requested_limit": 4, "current_limit": 2, "reason": "launch week", "policy": None, "levels": 1})]


def test_a_policy_that_grants_every_request_grants_it_at_once_and_says_so(shop):
    ApprovalPolicy.objects.create(organization=shop["root"], name="Quotas unasked", service="quotas", levels=[])
    services.limit_set(actor=None, organization=shop["team"], dimension="ecs.instance", limit=2)
    shop["announced"].clear()
    row = _ask(shop, requested_limit=3)
    stored = QuotaRequest.objects.get(pk=row.pk)
    assert (stored.status, stored.decided_by, stored.comment) == ("granted", None, "granted by policy Quotas unasked")
    assert stored.decided_at is not None
    assert QuotaLimit.objects.get(organization=shop["team"]).limit == 3
    team, topic = shop["team"].pk, f"quota:{shop['team'].pk}"
    created, changed, granted = shop["announced"]
    assert created == (team, topic, {
        "event": "request_created", "id": row.id, "name": "ecs.instance", "dimension": "ecs.instance",
        "requested_limit": 3, "current_limit": 2, "reason": "launch week", "policy": "Quotas unasked", "levels": 0})
    assert changed[2]["event"] == "limit_changed"
    assert granted == (team, topic, {"event": "request_granted", "id": row.id, "name": "ecs.instance",
                                     "dimension": "ecs.instance", "requested_limit": 3,
                                     "comment": "granted by policy Quotas unasked"})
