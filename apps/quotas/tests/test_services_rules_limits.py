"""Setting a limit, as an operator sees it: the hierarchy refusals (from above and from below, with
and without overcommit) and the usage refusal say exactly what is wrong and by how much, in the
message and in the detail a client reads; ``force`` must be a boolean; every change is announced
once with what it was and what it became, who did it and why (the reason cut to 500 characters)."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import InvalidInput, Refused
from apps.quotas import services
from apps.quotas.models import QuotaLimit
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(monkeypatch):
    seen = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: seen.append((org, topic, payload)))
    return seen


def _set(org, value, **kw):
    return services.limit_set(actor=kw.pop("actor", None), organization=org, dimension="ecs.vcpu", limit=value,
                              **kw)


def _holder(org, project=None):
    return {"organization": {"id": str(org.pk), "name": org.name},
            "project": {"id": str(project.pk), "name": project.name} if project else None}


def test_limits_below_that_would_add_up_past_their_parent_are_refused_with_the_shortfall(announced):
    root = f.org("HQ")
    shop, web = f.org("Shop", parent=root), f.org("Web", parent=root)
    _set(root, 10)
    _set(shop, 6)
    with pytest.raises(Refused) as refused:
        _set(web, 5)
    assert refused.value.code == "quota_hierarchy"
    assert refused.value.message == ("The limits below organization HQ would add up to 11 ecs.vcpu, more than "
                                     "the 10 it holds (1 short).")
    assert refused.value.detail == {**_holder(root), "dimension": "ecs.vcpu", "limit": 10, "capacity": 10,
                                    "usage": 11, "requested": 5, "shortfall": 1}
    _set(root, 10, overcommit=True, overcommit_factor="1.05")
    with pytest.raises(Refused) as refused:
        _set(web, 6)
    assert refused.value.message == ("The limits below organization HQ would add up to 12 ecs.vcpu, more than "
                                     "the 10 it holds with overcommit (2 short).")
    assert refused.value.detail["capacity"] == 10 and refused.value.detail["shortfall"] == 2
    assert not QuotaLimit.objects.filter(organization=web).exists()


def test_a_projects_limit_is_held_by_its_organizations(announced):
    org = f.org("HQ")
    shop = f.project(org, name="shop-web")
    _set(org, 4)
    with pytest.raises(Refused) as refused:
        _set(org, 5, project=shop)
    assert refused.value.message == ("The limits below organization HQ would add up to 5 ecs.vcpu, more than "
                                     "the 4 it holds (1 short).")
    assert refused.value.detail["requested"] == 5


def test_a_limit_below_what_its_children_hold_is_refused(announced):
    root = f.org("HQ")
    shop, web = f.org("Shop", parent=root), f.org("Web", parent=root)
    _set(root, 10)
    _set(shop, 5), _set(web, 3)
    with pytest.raises(Refused) as refused:
        _set(root, 6)
    assert refused.value.code == "quota_hierarchy"
    assert refused.value.message == "The limits below already hold 8 ecs.vcpu; this limit must hold at least that."
    assert refused.value.detail == {**_holder(root), "dimension": "ecs.vcpu", "limit": 6, "usage": 8,
                                    "requested": 6, "shortfall": 2}
    with pytest.raises(Refused) as refused:
        _set(root, 6, overcommit=True, overcommit_factor="1.2")
    assert refused.value.message == ("The limits below already hold 8 ecs.vcpu; this limit must hold at least "
                                     "that (with its overcommit factor).")
    assert refused.value.detail["shortfall"] == 1  # 8 against 6 x 1.2 = 7.2
    assert _set(root, 6, overcommit=True, overcommit_factor="1.34").limit == 6  # 8.04 holds 8
    assert QuotaLimit.objects.get(organization=root).limit == 6


def test_a_limit_below_its_usage_needs_force_and_is_announced_as_forced(announced):
    org = f.org("HQ")
    operator = f.user(None, org)
    f.grant(f.role("quotas:limit:write"), operator, org)
    cloud = make_platform(org, type="aws", name="East")
    lim = _set(org, 10, platform=cloud, region="us-east-1", warning_percent=70)
    QuotaLimit.objects.filter(pk=lim.pk).update(committed=2, reserved=1)
    announced.clear()
    with pytest.raises(Refused) as refused:
        _set(org, 2, platform=cloud, region="us-east-1")
    assert refused.value.code == "quota_below_usage"
    assert refused.value.message == "3 ecs.vcpu are in use or reserved; a limit of 2 needs force."
    assert refused.value.detail == {**_holder(org), "dimension": "ecs.vcpu", "limit": 2, "usage": 3,
                                    "requested": 2, "shortfall": 1, "force": ["required"]}
    for bad in ("yes", 1, None):
        with pytest.raises(InvalidInput) as invalid:
            _set(org, 2, platform=cloud, region="us-east-1", force=bad)
        assert invalid.value.message == "force is true or false."
        assert invalid.value.detail == {"force": ["true or false"]}
    assert QuotaLimit.objects.get(pk=lim.pk).limit == 10 and announced == []
    # Down to exactly its usage: no force needed, and a change, not a forced one.
    _set(org, 3, platform=cloud, region="us-east-1", warning_percent=70)
    assert [payload["event"] for _org, _topic, payload in announced] == ["limit_changed"]
    _set(org, 10, platform=cloud, region="us-east-1", warning_percent=70)
    announced.clear()
    forced = _set(org, 2, platform=cloud, region="us-east-1", force=True, reason="r" * 600, actor=operator)
    assert forced.pk == lim.pk and QuotaLimit.objects.get(pk=lim.pk).limit == 2
    assert announced == [(org.pk, f"quota:{org.pk}", {
        "event": "limit_forced", "id": str(lim.pk), "name": "ecs.vcpu", **_holder(org), "dimension": "ecs.vcpu",
        "platform": str(cloud.pk), "region": "us-east-1", "usage": 3,
        "before": {"limit": 10, "warning_percent": 70, "overcommit": False, "overcommit_factor": "1.00"},
        "after": {"limit": 2, "warning_percent": 80, "overcommit": False, "overcommit_factor": "1.00"},
        "reason": "r" * 500, "actor": operator.username})]


def test_a_new_limit_and_a_changed_one_are_announced_with_before_and_after(announced):
    org = f.org("HQ")
    shop = f.project(org, name="shop-web")
    created = _set(org, 4, project=shop, reason="first budget")
    changed = _set(org, 6, project=shop, overcommit=True, overcommit_factor=2, reason=None)
    assert created.pk == changed.pk and QuotaLimit.objects.count() == 1
    services.limit_set(actor=None, organization=org, project=shop, dimension="ecs.vcpu", limit=6, overcommit=True,
                       overcommit_factor=2)  # no reason given: none announced
    assert announced[-1][2]["reason"] == "" and len(announced) == 3
    del announced[-1]
    common = {"id": str(created.pk), "name": "ecs.vcpu", **_holder(org, shop), "dimension": "ecs.vcpu",
              "platform": None, "region": "", "usage": 0, "actor": None}
    assert announced == [
        (org.pk, f"quota:{org.pk}", {"event": "limit_created", **common, "before": None, "reason": "first budget",
                                     "after": {"limit": 4, "warning_percent": 80, "overcommit": False,
                                               "overcommit_factor": "1.00"}}),
        (org.pk, f"quota:{org.pk}", {"event": "limit_changed", **common, "reason": "",
                                     "before": {"limit": 4, "warning_percent": 80, "overcommit": False,
                                                "overcommit_factor": "1.00"},
                                     "after": {"limit": 6, "warning_percent": 80, "overcommit": True,
                                               "overcommit_factor": "2.00"}}),
    ]
    row = QuotaLimit.objects.get()
    assert (row.project_id, row.path, row.depth, row.scope_key) == (shop.pk, org.path, org.depth + 1,
                                                                    f"{shop.pk}|-|")
    # An organization's own limit sits at the organization's depth, its projects' one below.
    whole = services.limit_set(actor=None, organization=org, dimension="ecs.vcpu", limit=8)
    assert (QuotaLimit.objects.get(pk=whole.pk).depth, whole.depth) == (org.depth, org.depth)
