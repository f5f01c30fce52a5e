"""Rules of provisioning requests after they are checked: who may decide a request (the approvals page and
a request's page offer the decision only to them), in whose name an approved request's resources are
created and with which parameters, and what the cloud's own check of a request is asked."""

from __future__ import annotations

from typing import Any

import pytest

from apps.clouds.models import Region
from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import InvalidInput
from apps.provisioning import requests as rules
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import spec
from apps.provisioning.tests.test_requests_rules import check, create, rds_spec, vpc_spec
from apps.rbac.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def one_level(world: dict[str, Any], **level: Any) -> None:
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="one level",
                                        levels=[{"mode": "any", "roles": [], "users": [], **level}])


# -- who may decide ------------------------------------------------------------------------------------------

def test_an_approver_may_decide_a_pending_request_and_no_one_a_decided_one(world):
    one_level(world)
    approver, tenant = world["approver"], world["tenant"]
    waiting = create(world)
    assert rules.eligible(approver, waiting) is True
    cancelled = rules.request_cancel(actor=tenant, request=create(world))
    denied = rules.request_decide(actor=approver, request=create(world), verdict="deny", comment="not now")
    approved = rules.request_decide(actor=approver, request=create(world), verdict="approve")
    for decided in (cancelled, denied, approved):
        assert decided.status != ProvisioningRequest.Status.PENDING
        other = f.user(f"late-{decided.status}", world["hq"])
        f.grant(Role.objects.get(key="approver_role"), other, world["hq"])
        assert rules.eligible(other, decided) is False, decided.status


def test_a_person_without_the_approve_permission_may_not_decide(world):
    one_level(world)
    request = create(world)
    assert rules.eligible(world["outsider"], request) is False
    assert rules.eligible(f.user("colleague", world["hq"]), request) is False


def test_a_requester_who_may_approve_may_still_not_decide_their_own_request(world):
    one_level(world)
    f.grant(f.role("provisioning:request:approve", key="self_approver"), world["tenant"], world["hq"])
    own = create(world)
    assert rules.eligible(world["tenant"], own) is False
    assert rules.eligible(world["approver"], own) is True


def test_who_decided_a_level_may_not_decide_the_next(world):
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="two levels", levels=[
        {"mode": "any", "roles": [], "users": []}, {"mode": "any", "roles": [], "users": []}])
    second = f.user("second", world["hq"])
    f.grant(f.role("provisioning:request:approve", key="second_approver"), second, world["hq"])
    request = rules.request_decide(actor=world["approver"], request=create(world), verdict="approve")
    assert request.level == 1
    assert rules.eligible(world["approver"], request) is False
    assert rules.eligible(second, request) is True



def test_a_long_denial_is_kept_in_the_timeline_cut_to_500_characters(world):
    one_level(world)
    comment = "c" * 500
    request = rules.request_decide(actor=world["approver"], request=create(world), verdict="deny", comment=comment)
    denial = request.events.get(kind="denied")
    assert denial.message == (f"Denied by {world['approver'].get_username()}: " + comment)[:500]
    assert len(denial.message) == 500 and denial.actor_id == world["approver"].pk

# -- launching an approved request -------------------------------------------------------------------------

def test_an_approved_requests_instances_are_created_in_the_requesters_name(world):
    one_level(world)
    request = rules.request_decide(actor=world["approver"], request=create(world, count=2), verdict="approve")
    assert request.status == ProvisioningRequest.Status.PROVISIONING
    changes = ChangeRecord.objects.filter(request=request)
    assert changes.count() == 2
    assert {c.actor_id for c in changes} == {world["tenant"].pk}


@pytest.fixture
def disk_requester(world):
    f.grant(f.role("ecs:disk:create", key="disk_role"), world["tenant"], world["hq"])
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="all", levels=[])
    return world["tenant"]


def test_a_disk_without_an_instance_is_created_with_its_own_parameters_only(world, disk_requester):
    disk = {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "name": "scratch"}
    request = create(world, resource_type="ecs.disk", spec=disk)
    change = ChangeRecord.objects.get(request=request)
    assert change.operation.target_name == "scratch"
    assert change.params == {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40}


def test_a_disk_for_an_instance_is_created_with_its_own_parameters_and_attached(world, disk_requester):
    from apps.resources.tests.factories import resource as make_resource

    instance = make_resource(world["platform"], type="ecs.instance", zone="cn-hangzhou-a", region="cn-hangzhou",
                             organization=world["hq"], project=world["project"])
    disk = {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "instance": instance.pk}
    request = create(world, resource_type="ecs.disk", spec=disk, count=2)
    changes = ChangeRecord.objects.filter(request=request)
    assert sorted(c.operation.target_name for c in changes) == ["data-1", "data-2"]
    assert [c.params for c in changes] == [{"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40,
                                           "attach_to": instance.pk}] * 2


# -- the cloud's own check of a request --------------------------------------------------------------------

@pytest.fixture
def cloud_checks(monkeypatch):
    """The checks (DryRun) the request rules ask of the cloud (still asked: this only listens)."""
    asked: list[dict[str, Any]] = []
    original = rules.platform_check_create

    def listen(**kw: Any) -> bool:
        asked.append(kw)
        return original(**kw)

    monkeypatch.setattr(rules, "platform_check_create", listen)
    return asked


def test_the_clouds_check_of_a_database_is_asked_with_its_name_and_network(world, cloud_checks):
    """With the VPC of its vSwitch, found in the cloud's lists the rules read."""
    check(world, "rds.instance", rds_spec(world))
    (asked,) = cloud_checks
    assert (asked["platform"], asked["region"], asked["resource_type"], asked["count"]) == \
        (world["platform"], "cn-hangzhou", "rds.instance", 1)
    assert asked["params"]["name"] == "orders"
    assert (asked["params"]["vswitch_id"], asked["params"]["vpc_id"]) == (world["vswitch"], world["vpc"])


def test_the_clouds_check_of_a_vpc_is_asked_with_its_name(world, cloud_checks):
    check(world, "vpc.vpc", vpc_spec(name="lab-two"))
    assert [(c["resource_type"], c["params"]["name"], c["params"]["cidr_block"]) for c in cloud_checks] == [
        ("vpc.vpc", "lab-two", "10.20.0.0/16")]


def test_the_clouds_check_is_asked_for_the_whole_count(world, cloud_checks):
    check(world, "eip.eip", {"bandwidth_mbps": 5, "name": "edge"}, count=3)
    assert [(c["resource_type"], c["count"], c["params"]["name"]) for c in cloud_checks] == [("eip.eip", 3, "edge")]


def test_the_clouds_check_of_instances_is_asked_for_the_whole_count(world, cloud_checks):
    """An ECS request of three asks the cloud's DryRun whether three can be created, not one."""
    cleaned = check(world, "ecs.instance", spec(world), count=3)
    assert cleaned["instance_type"] == "ecs.g6.large"
    assert [(c["resource_type"], c["region"], c["count"]) for c in cloud_checks] == [
        ("ecs.instance", "cn-hangzhou", 3)]


def test_a_region_is_one_of_the_requests_own_platform(world, cloud_checks):
    """A region another platform has enabled is no region of this one: a 400 naming the region, no cloud call."""
    other = make_platform(world["hq"], endpoint=world["platform"].endpoint, name="Sim two")
    Region.objects.create(platform=other, region_id="cn-lab-1", name="Lab", enabled=True)
    assert not Region.objects.filter(platform=world["platform"], region_id="cn-lab-1").exists()
    with pytest.raises(InvalidInput) as refused:
        rules.validate_spec(platform=world["platform"], region="cn-lab-1", spec=spec(world), count=1,
                            actor=world["tenant"])
    assert refused.value.detail["region"] == ["Sim has no enabled region 'cn-lab-1'"]
    assert cloud_checks == []
