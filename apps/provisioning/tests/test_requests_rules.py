"""Rules of provisioning requests (``apps/provisioning/requests.py``) that the API tests reach but do not pin
down: what a refused request of each type says and names, what the cloud's own check decides for the
types other than an ECS instance, what the price estimate is asked, and the texts a requester reads."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.errors import Conflict, InvalidInput, Refused
from apps.provisioning import hooks
from apps.provisioning import requests as rules
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import spec

pytestmark = pytest.mark.django_db
NOT_VALID = "The request is not valid; see detail."


def vpc_spec(**kw: Any) -> dict[str, Any]:
    return {"cidr_block": "10.20.0.0/16", "name": "lab", **kw}


def rds_spec(world: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"engine": "MySQL", "engine_version": "8.0", "db_class": "mysql.n2.medium.1", "storage_gib": 50,
            "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "orders", **kw}


def check(world: dict[str, Any], resource_type: str, typed: dict[str, Any], count: int = 1) -> dict[str, Any]:
    return rules.validate_spec(platform=world["platform"], region="cn-hangzhou", spec=typed, count=count,
                               resource_type=resource_type, actor=world["tenant"])


# -- types other than an ECS instance: catalog, then the cloud's lists, then its DryRun --------------------

def test_a_database_the_catalog_refuses_says_so_and_asks_no_cloud(world, control):
    before = control.get("/stats")["calls"]
    with pytest.raises(InvalidInput) as refused:
        check(world, "rds.instance", rds_spec(world, db_class="mysql.x9.huge"))
    assert refused.value.message == NOT_VALID
    assert list(refused.value.detail) == ["db_class"]
    assert control.get("/stats")["calls"] == before


def test_a_database_the_cloud_lists_refuse_says_so(world, control):
    with pytest.raises(InvalidInput) as refused:
        check(world, "rds.instance", rds_spec(world, vswitch_id="vsw-nothere"))
    assert refused.value.message == NOT_VALID
    assert refused.value.detail == {"vswitch_id": ["'vsw-nothere' is not an available vSwitch of cn-hangzhou"]}


def test_a_bucket_name_the_cloud_has_is_refused(world, sim):
    from apps.clouds.simulated import sim_adapter

    adapter = sim_adapter(sim.endpoint)
    adapter.create("oss.bucket", "cn-hangzhou", {"name": "taken-by-rules", "acl": "private",
                                                 "storage_class": "Standard"})
    try:
        with pytest.raises(InvalidInput) as refused:
            check(world, "oss.bucket", {"name": "taken-by-rules", "acl": "private", "storage_class": "Standard"})
    finally:
        adapter.delete("oss.bucket", "cn-hangzhou", "taken-by-rules")
    assert refused.value.detail == {"name": ["a bucket named 'taken-by-rules' exists already; bucket names are unique"]}


def test_a_cloud_that_cannot_list_its_network_is_a_conflict_to_retry(world, control):
    control.post("/faults", {"action": "DescribeVSwitches", "error_rate": 1.0, "code": "Forbidden.RAM"})
    with pytest.raises(Conflict) as unavailable:
        check(world, "rds.instance", rds_spec(world))
    assert unavailable.value.code == "cloud_unavailable"
    assert unavailable.value.message == "The cloud cannot be reached to check the request (Forbidden.RAM); try again."


def test_the_clouds_own_check_refusing_a_vpc_refuses_the_request_with_its_words(world, control):
    control.post("/faults", {"action": "CreateVpc:DryRun", "error_rate": 1.0, "code": "QuotaExceeded.Vpc",
                             "message": "The VPC quota is used up."})
    with pytest.raises(Refused) as refused:
        check(world, "vpc.vpc", vpc_spec())
    assert refused.value.code == "cloud_refused"
    assert refused.value.message == "Sim refused the request: QuotaExceeded.Vpc: The VPC quota is used up."
    assert refused.value.detail == {"cloud": {"code": "QuotaExceeded.Vpc", "message": "The VPC quota is used up."}}


def test_a_check_the_cloud_could_not_run_is_no_refusal(world, control):
    control.post("/faults", {"action": "CreateVpc:DryRun", "error_rate": 1.0, "code": "ServiceUnavailable"})
    clean = check(world, "vpc.vpc", vpc_spec())
    assert (clean["cidr_block"], clean["name"]) == ("10.20.0.0/16", "lab")


def test_a_database_spec_comes_back_with_the_class_vcpus_and_memory(world, control):
    clean = check(world, "rds.instance", rds_spec(world))
    assert clean["db_class"] == "mysql.n2.medium.1" and clean["name"] == "orders"
    assert (clean["vcpu"], clean["memory_mib"]) == (2, 4096)


# -- the price estimate of a form ----------------------------------------------------------------------------

@pytest.fixture
def estimator():
    seen: list[dict[str, Any]] = []

    def estimate(**kw: Any) -> dict[str, Any]:
        seen.append(kw)
        return {"currency": "CNY", "hourly": "1.0000"}

    previous = hooks.install_price_estimator(estimate)
    yield seen
    hooks.install_price_estimator(previous)


def estimate(world: dict[str, Any], resource_type: str, typed: dict[str, Any], count: int = 1) -> dict[str, Any]:
    return rules.request_estimate(platform=world["platform"], region="cn-hangzhou", resource_type=resource_type,
                                  spec=typed, count=count)


def test_an_instance_is_estimated_with_its_types_vcpus_and_memory(world, estimator, control):
    before = control.get("/stats")["calls"]
    assert estimate(world, "ecs.instance", spec(world), count=3) == {"currency": "CNY", "hourly": "1.0000"}
    (asked,) = estimator
    assert asked["resource_type"] == "ecs.instance" and asked["count"] == 3 and asked["region"] == "cn-hangzhou"
    assert asked["platform"] == world["platform"]
    assert (asked["spec"]["instance_type"], asked["spec"]["vcpu"], asked["spec"]["memory_mib"]) == \
        ("ecs.g6.large", 2, 8192)
    assert control.get("/stats")["calls"] == before


def test_an_unknown_instance_type_is_estimated_with_no_vcpus(world, estimator):
    estimate(world, "ecs.instance", spec(world, instance_type="ecs.nothing.huge"))
    assert (estimator[0]["spec"]["vcpu"], estimator[0]["spec"]["memory_mib"]) == (0, 0)


def test_a_database_and_a_cache_are_estimated_with_their_class(world, estimator):
    estimate(world, "rds.instance", rds_spec(world), count=1)
    estimate(world, "redis.instance", {"cache_class": "redis.master.small.default", "engine_version": "6.0",
                                       "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "sessions"})
    estimate(world, "rds.instance", rds_spec(world, db_class="mysql.x9.huge"))
    rds, redis, unknown = (asked["spec"] for asked in estimator)
    assert (rds["class"], rds["vcpu"], rds["memory_mib"], rds["storage_gib"]) == ("mysql.n2.medium.1", 2, 4096, 50)
    # a cache is priced by its memory: no vCPUs are counted for it
    assert (redis["class"], redis["vcpu"], redis["memory_mib"]) == ("redis.master.small.default", 0, 2048)
    assert (unknown["vcpu"], unknown["memory_mib"]) == (0, 0)


def test_an_estimate_of_a_bad_field_names_it(world, estimator):
    with pytest.raises(InvalidInput) as refused:
        estimate(world, "rds.instance", rds_spec(world, storage_gib="lots"))
    assert list(refused.value.detail) == ["storage_gib"]
    assert not estimator
    assert not ProvisioningRequest.objects.exists()


# -- approval policies: what a policy may hold ---------------------------------------------------------------

POLICY_NOT_VALID = "The policy is not valid; see detail."
INTEGER = ["empty or an integer from 0 to 100000"]
LEVEL_SHAPE = ['{"mode": "any"|"all", "roles": [role keys], "users": [user ids]}']


def make_policy(world: dict[str, Any], **fields: Any):
    fields.setdefault("name", "policy")
    return rules.policy_create(actor=world["approver"], organization=world["hq"], **fields)


def test_a_policy_at_every_bound_is_accepted_and_stored_in_its_plain_form(world):
    user = world["approver"].pk
    levels = [{}, {"mode": "all", "roles": ["approver_role"], "users": [user]}, {"mode": "any"}, {"roles": []},
              {"users": []}]
    policy = make_policy(world, name="x" * 128, service="s" * 32, auto_approve_max_count=0,
                         auto_approve_max_vcpu=100000, levels=levels, project=world["project"])
    policy.refresh_from_db()
    assert (policy.name, policy.service, policy.auto_approve_max_count, policy.auto_approve_max_vcpu) == \
        ("x" * 128, "s" * 32, 0, 100000)
    assert policy.project == world["project"]
    assert policy.levels == [{"mode": "any", "roles": [], "users": []},
                             {"mode": "all", "roles": ["approver_role"], "users": [str(user)]},
                             *[{"mode": "any", "roles": [], "users": []}] * 3]
    assert make_policy(world, name="  ops  ", auto_approve_max_count=100000, auto_approve_max_vcpu=0).name == "ops"


@pytest.mark.parametrize("fields,detail", [
    ({"name": ""}, {"name": ["1 to 128 characters"]}),
    ({"name": "   "}, {"name": ["1 to 128 characters"]}),
    ({"name": "x" * 129}, {"name": ["1 to 128 characters"]}),
    ({"name": 5}, {"name": ["1 to 128 characters"]}),
    ({"service": "s" * 33}, {"service": ["a service code such as ecs, or empty for every service"]}),
    ({"service": None}, {"service": ["a service code such as ecs, or empty for every service"]}),
    ({"auto_approve_max_count": -1}, {"auto_approve_max_count": INTEGER}),
    ({"auto_approve_max_count": 100001}, {"auto_approve_max_count": INTEGER}),
    ({"auto_approve_max_count": True}, {"auto_approve_max_count": INTEGER}),
    ({"auto_approve_max_count": "3"}, {"auto_approve_max_count": INTEGER}),
    ({"auto_approve_max_vcpu": -1}, {"auto_approve_max_vcpu": INTEGER}),
    ({"auto_approve_max_vcpu": 100001}, {"auto_approve_max_vcpu": INTEGER}),
    ({"auto_approve_max_vcpu": False}, {"auto_approve_max_vcpu": INTEGER}),
    ({"auto_approve_max_count": 2.5, "auto_approve_max_vcpu": -3},
     {"auto_approve_max_count": INTEGER, "auto_approve_max_vcpu": INTEGER}),
    ({"levels": {"mode": "any"}}, {"levels": ["a list of at most 5 levels"]}),
    ({"levels": [{}] * 6}, {"levels": ["a list of at most 5 levels"]}),
    ({"levels": ["any"]}, {"levels[0]": LEVEL_SHAPE}),
    ({"levels": [{}, {"mode": "some"}]}, {"levels[1]": LEVEL_SHAPE}),
    ({"levels": [{"mode": "ALL"}]}, {"levels[0]": LEVEL_SHAPE}),
    ({"levels": [{"mode": None}]}, {"levels[0]": LEVEL_SHAPE}),
    ({"levels": [{"roles": "approver_role"}]}, {"levels[0]": LEVEL_SHAPE}),
    ({"levels": [{"users": "someone"}]}, {"levels[0]": LEVEL_SHAPE}),
    ({"levels": [{"mode": "some"}, {"users": 5}, {"roles": ["nope"]}]},
     {"levels[0]": LEVEL_SHAPE, "levels[1]": LEVEL_SHAPE, "levels[2].roles": ["unknown roles: nope"]}),
    ({"levels": [{"mode": "all", "roles": ["approver_role", "nope", "gone"]}, {"roles": ["nope"]}]},
     {"levels[0].roles": ["unknown roles: gone, nope"], "levels[1].roles": ["unknown roles: nope"]}),
])
def test_a_bad_policy_is_refused_naming_each_field_and_nothing_is_stored(world, fields, detail):
    with pytest.raises(InvalidInput) as refused:
        make_policy(world, **fields)
    assert refused.value.message == POLICY_NOT_VALID
    assert refused.value.detail == detail
    assert not rules.ApprovalPolicy.objects.exists()


def test_a_policy_for_another_organizations_project_is_refused(world):
    with pytest.raises(InvalidInput) as refused:
        make_policy(world, project=world["foreign_project"])
    assert refused.value.detail == {"project": ["must belong to the organization"]}
    assert not rules.ApprovalPolicy.objects.exists()


# -- an ECS instance: what each refusal says -------------------------------------------------------------------

def ecs(world: dict[str, Any], count: Any = 1, region: Any = "cn-hangzhou", **kw: Any) -> dict[str, Any]:
    return rules.validate_spec(platform=world["platform"], region=region, spec=spec(world, **kw), count=count)


def refusal(world: dict[str, Any], count: Any = 1, region: Any = "cn-hangzhou", **kw: Any) -> dict[str, Any]:
    with pytest.raises(InvalidInput) as refused:
        ecs(world, count, region, **kw)
    assert refused.value.message == NOT_VALID
    return refused.value.detail


def test_an_instance_spec_comes_back_with_its_types_vcpus_and_memory(world):
    clean = ecs(world, count=20)
    assert (clean["instance_type"], clean["vcpu"], clean["memory_mib"]) == ("ecs.g6.large", 2, 8192)
    assert clean["vswitch_id"] == world["vswitch"] and clean["name"] == "web"


@pytest.mark.parametrize("count", [0, 21, True, "2", None])
def test_a_count_outside_1_to_20_is_refused(world, count):
    assert refusal(world, count) == {"count": ["an integer from 1 to 20"]}


@pytest.mark.parametrize("region", ["cn-nowhere", 5])
def test_a_region_the_platform_has_not_is_refused(world, region):
    assert refusal(world, 1, region) == {"region": [f"Sim has no enabled region {region!r}"]}


def test_a_disabled_region_is_refused(world):
    rules.Region.objects.filter(platform=world["platform"], region_id="cn-hangzhou").update(enabled=False)
    assert refusal(world) == {"region": ["Sim has no enabled region 'cn-hangzhou'"]}


def test_a_bad_spec_a_bad_count_and_a_bad_region_are_named_together(world):
    with pytest.raises(InvalidInput) as refused:
        rules.validate_spec(platform=world["platform"], region="cn-nowhere", spec={"zone": 1}, count=0)
    assert {"count", "region", "zone", "instance_type"} <= set(refused.value.detail)
    assert refused.value.message == NOT_VALID


def test_one_of_a_type_that_is_not_countable_per_request(world):
    with pytest.raises(InvalidInput) as refused:
        check(world, "vpc.vpc", vpc_spec(), count=2)
    assert refused.value.detail == {"count": ["one vpc.vpc per request"]}
    with pytest.raises(InvalidInput) as refused:
        check(world, "vpc.vpc", vpc_spec(), count=0)
    assert refused.value.detail == {"count": ["an integer from 1 to 20"]}


def test_an_instance_type_and_zone_the_catalog_has_not_are_named(world, control):
    before = control.get("/stats")["calls"]
    assert refusal(world, instance_type="ecs.x9.huge", zone="cn-hangzhou-z") == {
        "instance_type": ["'ecs.x9.huge' is not an instance type Sim offers in cn-hangzhou"],
        "zone": ["'cn-hangzhou-z' is not a zone of cn-hangzhou on Sim"]}
    assert control.get("/stats")["calls"] == before


def test_a_system_disk_category_not_offered_in_the_zone_is_named(world):
    assert refusal(world, system_disk_category="cloud_nvme") == {
        "system_disk_category": ["'cloud_nvme' is not offered in cn-hangzhou-a"]}
    rules.offers.Flavor.objects.filter(platform=world["platform"], region="cn-hangzhou", kind="disk_category",
                                       code="cloud_essd").update(attributes={"zones": ["cn-hangzhou-b"]})
    assert refusal(world, system_disk_category="cloud_essd") == {
        "system_disk_category": ["'cloud_essd' is not offered in cn-hangzhou-a"]}
    rules.offers.Flavor.objects.filter(platform=world["platform"], region="cn-hangzhou", kind="disk_category",
                                       code="cloud_essd").update(attributes={"zones": ["cn-hangzhou-a"]})
    assert ecs(world, system_disk_category="cloud_essd")["system_disk_category"] == "cloud_essd"


def test_an_image_vswitch_and_security_group_the_cloud_has_not_are_named(world):
    assert refusal(world, image_id="img-gone", vswitch_id="vsw-gone", security_group_id="sg-gone") == {
        "image_id": ["'img-gone' is not an image of cn-hangzhou"],
        "vswitch_id": ["'vsw-gone' is not an available vSwitch of cn-hangzhou"],
        "security_group_id": ["'sg-gone' is not a security group of cn-hangzhou"]}


def test_a_vswitch_of_another_zone_is_named(world):
    assert refusal(world, zone="cn-hangzhou-b") == {
        "vswitch_id": ["the vSwitch is in cn-hangzhou-a, not cn-hangzhou-b"]}


@pytest.fixture
def other_vpc_group(sim):
    from apps.clouds.simulated import _wait, sim_adapter

    adapter = sim_adapter(sim.endpoint)
    vpc = adapter.create("vpc.vpc", "cn-hangzhou", {"cidr_block": "172.16.0.0/16", "name": "elsewhere"})
    _wait(adapter, "vpc.vpc", "cn-hangzhou", vpc, {"available"})
    group = adapter.create("ecs.security_group", "cn-hangzhou", {"vpc_id": vpc, "name": "elsewhere"})
    yield group
    adapter.delete("ecs.security_group", "cn-hangzhou", group)
    adapter.delete("vpc.vpc", "cn-hangzhou", vpc)


def test_a_security_group_of_another_vpc_is_named(world, other_vpc_group):
    assert refusal(world, security_group_id=other_vpc_group) == {
        "security_group_id": ["the security group is in another VPC than the vSwitch"]}


def test_an_instance_the_cloud_cannot_check_is_a_conflict_and_its_refusal_a_refusal(world, control):
    control.post("/faults", {"action": "DescribeImages", "error_rate": 1.0, "code": "Forbidden.RAM"})
    with pytest.raises(Conflict) as unavailable:
        ecs(world)
    assert unavailable.value.code == "cloud_unavailable"
    assert unavailable.value.message == "The cloud cannot be reached to check the request (Forbidden.RAM); try again."
    control.call("DELETE", "/faults")
    control.post("/faults", {"action": "RunInstances:DryRun", "error_rate": 1.0, "code": "OperationDenied.NoStock",
                             "message": "No stock."})
    with pytest.raises(Refused) as refused:
        ecs(world, count=3)
    assert refused.value.code == "cloud_refused"
    assert refused.value.message == "Sim refused the request: OperationDenied.NoStock: No stock."
    assert refused.value.detail == {"cloud": {"code": "OperationDenied.NoStock", "message": "No stock."}}
    control.call("DELETE", "/faults")
    control.post("/faults", {"action": "RunInstances:DryRun", "error_rate": 1.0, "code": "ServiceUnavailable"})
    assert ecs(world)["vcpu"] == 2


# -- submitting: who may ask where, and what the request's timeline says -------------------------------------

@pytest.fixture
def announced(monkeypatch):
    """Every announcement the request rules make (still made: this only listens)."""
    heard: list[tuple[Any, str, dict[str, Any]]] = []
    original = rules.emit

    def listen(org: Any, topic: str, payload: dict[str, Any], **kw: Any) -> None:
        heard.append((org, topic, payload))
        original(org, topic, payload, **kw)

    monkeypatch.setattr(rules, "emit", listen)
    return heard


def create(world: dict[str, Any], actor=None, count: int = 1, reason: str = "", **kw: Any) -> ProvisioningRequest:
    fields = {"project": world["project"], "platform": world["platform"], "region": "cn-hangzhou",
              "spec": spec(world), **kw}
    return rules.request_create(actor=actor or world["tenant"], count=count, reason=reason, **fields)


def timeline(request: ProvisioningRequest) -> list[tuple[str, str, Any]]:
    return [(e.kind, e.message, e.actor_id) for e in request.events.order_by("created_at", "id")]


def test_a_request_waits_for_an_approver_and_its_timeline_says_so(world, announced):
    request = create(world, count=2, reason="for the launch")
    request.refresh_from_db()
    assert request.status == ProvisioningRequest.Status.PENDING and request.policy is None
    assert request.levels == [{"mode": "any", "roles": [], "users": []}]
    assert (request.requester, request.count, request.reason, request.region) == \
        (world["tenant"], 2, "for the launch", "cn-hangzhou")
    assert timeline(request) == [
        ("submitted", "Requested 2 × ecs.g6.large in cn-hangzhou-a: for the launch", world["tenant"].pk),
        ("waiting", "Waiting for level 1 of 1: any of an approver", None)]
    assert [(org, topic, payload) for org, topic, payload in announced if topic == request.topic] == [
        (world["hq"].pk, request.topic, {"event": "request_changed", "id": request.id, "status": "pending",
                                         "kind": kind}) for kind in ("submitted", "waiting")]


def test_a_level_names_its_approvers_and_mode_in_the_timeline(world):
    user = world["approver"].pk
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="two levels", levels=[
        {"mode": "all", "roles": ["approver_role"], "users": [str(user)]}, {"mode": "all", "roles": [], "users": []}])
    request = create(world)
    assert timeline(request)[-1][:2] == ("waiting", f"Waiting for level 1 of 2: all of role approver_role, user {user}")
    assert timeline(request)[0][1] == "Requested 1 × ecs.g6.large in cn-hangzhou-a"
    request.level = 1
    assert rules._level_text(request) == "Waiting for level 2 of 2: any of an approver"
    request.levels = [{"roles": ["a", "b"]}]
    request.level = 0
    assert rules._level_text(request) == "Waiting for level 1 of 1: any of role a, role b"


def test_an_automatic_approval_launches_one_named_instance_per_count(world, announced):
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="small ones", levels=[{"mode": "any"}],
                                        auto_approve_max_count=3)
    request = create(world, count=3, reason="",
                     spec=spec(world, system_disk_category="cloud_essd", tags={"team": "web"}))
    request.refresh_from_db()
    assert request.status == ProvisioningRequest.Status.PROVISIONING and request.decided_at is not None
    kinds = [(kind, message) for kind, message, _ in timeline(request)]
    assert kinds[1:] == [("approved", "Approved automatically by policy small ones"),
                         ("provisioning", "Creating 3 instances")]
    changes = list(ChangeRecord.objects.filter(request=request).order_by("created_at", "id"))
    assert sorted(c.operation.target_name for c in changes) == ["web-1", "web-2", "web-3"]
    assert {c.comment for c in changes} == {f"Provisioning request {request.id}"}
    assert {c.actor_id for c in changes} == {world["tenant"].pk}
    assert {c.action for c in changes} == {"create"}
    params = changes[0].params
    assert (params["instance_type"], params["image_id"], params["zone"], params["vswitch_id"],
            params["security_group_id"]) == ("ecs.g6.large", spec(world)["image_id"], "cn-hangzhou-a",
                                             world["vswitch"], world["security_group"])
    assert "name" not in params and "vcpu" not in params
    assert set(params) == {"instance_type", "image_id", "zone", "vswitch_id", "security_group_id",
                           "system_disk_category", "system_disk_gib", "tags"}
    assert (params["system_disk_category"], params["tags"]) == ("cloud_essd", {"team": "web"})
    assert [p["status"] for _, topic, p in announced if topic == request.topic][-1] == "provisioning"


def test_two_instances_are_announced_in_the_plural(world):
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="all", levels=[])
    request = create(world, count=2)
    assert timeline(request)[-1][1] == "Creating 2 instances"
    assert sorted(ChangeRecord.objects.filter(request=request).values_list("operation__target_name", flat=True)) \
        == ["web-1", "web-2"]
    assert set(ChangeRecord.objects.filter(request=request).values_list("project", flat=True)) == {world["project"].pk}


def test_one_automatic_instance_keeps_its_name_and_the_reason_is_its_comment(world):
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="all", levels=[])
    request = create(world, reason="demo day", spec={k: v for k, v in spec(world).items() if k != "name"})
    change = ChangeRecord.objects.get(request=request)
    assert change.operation.target_name == "instance" and change.comment == "demo day"
    assert timeline(request)[-1][1] == "Creating 1 instance"


def test_a_disk_is_launched_with_its_name_and_attached_to_its_instance(world):
    from apps.resources.tests.factories import resource as make_resource
    from tests import factories as f

    instance = make_resource(world["platform"], type="ecs.instance", zone="cn-hangzhou-a", region="cn-hangzhou",
                             organization=world["hq"], project=world["project"])
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="all", levels=[])
    disk = {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "instance": instance.pk}
    f.grant(f.role("ecs:disk:create", key="disk_role"), world["tenant"], world["hq"])
    request = create(world, resource_type="ecs.disk", spec=disk)
    change = ChangeRecord.objects.get(request=request)
    assert change.operation.target_name == "data"  # the default name of a disk
    assert change.params["attach_to"] == instance.pk and change.params["size_gib"] == 40
    assert timeline(request)[-1][1] == "Creating 1 ecs.disk"


def test_a_type_requests_cannot_ask_for_is_refused_listing_those_they_can(world):
    with pytest.raises(Refused) as refused:
        create(world, resource_type="ecs.nothing")
    assert refused.value.code == "unsupported_service"
    assert refused.value.message == f"Requests can ask for {', '.join(sorted(rules.specs.SPECS))} so far."
    assert not ProvisioningRequest.objects.exists()


def test_who_may_ask_in_which_project_on_which_platform(world):
    with pytest.raises(InvalidInput) as refused:
        create(world, project="web")
    assert (refused.value.message, refused.value.detail) == ("Choose a project you belong to.",
                                                             {"project": ["not found"]})
    with pytest.raises(InvalidInput) as refused:
        create(world, actor=world["outsider"])
    assert (refused.value.message, refused.value.detail) == ("Choose a project you may provision in.",
                                                             {"project": ["not found"]})
    world["platform"].is_active = False
    with pytest.raises(InvalidInput) as refused:
        create(world)
    assert (refused.value.message, refused.value.detail) == ("This cloud platform does not serve the project.",
                                                             {"platform": ["not available"]})
    assert not ProvisioningRequest.objects.exists()


def test_a_platform_serves_its_organizations_projects_below_it_and_those_it_lists(world):
    from tests import factories as f

    platform, foreign = world["platform"], world["foreign_project"]
    child = f.org("HQ child", parent=world["hq"])
    assert rules.platform_serves(platform, world["project"])
    assert rules.platform_serves(platform, f.project(child, world["tenant"], name="below"))
    assert not rules.platform_serves(platform, foreign)
    platform.projects.add(foreign)
    assert rules.platform_serves(platform, foreign)


@pytest.mark.parametrize("reason,accepted", [("r" * 500, True), ("r" * 501, False), (5, False)])
def test_a_reason_is_at_most_500_characters(world, reason, accepted):
    if accepted:
        assert create(world, reason=reason).reason == reason
        return
    with pytest.raises(InvalidInput) as refused:
        create(world, reason=reason)
    assert (refused.value.message, refused.value.detail) == ("reason is at most 500 characters.",
                                                             {"reason": ["too long"]})
    assert not ProvisioningRequest.objects.exists()


def test_the_quota_is_reserved_for_the_request_and_a_refusal_is_told_to_the_backend(world):
    from apps.core.errors import Refused as QuotaRefused

    reserved, told = [], []

    class Backend:
        def reserve(self, **kw):
            reserved.append(kw)
            if kw["amounts"]["count"] > 2:
                raise QuotaRefused("No room.", code="quota_exceeded")
            if kw["amounts"]["count"] == 2:
                raise QuotaRefused("Not now.", code="something_else")
            return "res-1"

        def commit(self, reservation_id, *, part):
            return None

        def release(self, reservation_id, *, part):
            return None

    previous = hooks.install_quota_backend(Backend())
    original = hooks.quota_refused
    hooks.quota_refused = lambda **kw: told.append(kw)
    try:
        request = create(world)
        with pytest.raises(QuotaRefused):
            create(world, count=3)
        with pytest.raises(QuotaRefused):
            create(world, count=2)
    finally:
        hooks.install_quota_backend(previous)
        hooks.quota_refused = original
    assert request.quota_reservation == "res-1"
    assert reserved[0]["amounts"] == {"count": 1, "vcpu": 2, "memory_mib": 8192, "disk_gib": 40}
    assert (reserved[0]["organization"], reserved[0]["project"], reserved[0]["resource_type"],
            reserved[0]["platform"], reserved[0]["region"]) == (world["hq"], world["project"], "ecs.instance",
                                                                 world["platform"], "cn-hangzhou")
    assert [(t["organization"], t["project"], t["resource_type"], t["error"].code) for t in told] == [
        (world["hq"], world["project"], "ecs.instance", "quota_exceeded")]
    assert ProvisioningRequest.objects.count() == 1


# -- which policy, and when it approves by itself ------------------------------------------------------------

def test_the_most_specific_active_policy_decides(world):
    hq, project = world["hq"], world["project"]
    make = rules.ApprovalPolicy.objects.create
    org_any = make(organization=hq, name="org any")
    assert rules.policy_for(organization=hq, project=project, service="ecs") == org_any
    org_ecs = make(organization=hq, name="org ecs", service="ecs")
    make(organization=hq, name="org rds", service="rds")
    assert rules.policy_for(organization=hq, project=project, service="ecs") == org_ecs
    project_any = make(organization=hq, name="project any", project=project)
    assert rules.policy_for(organization=hq, project=project, service="ecs") == project_any
    make(organization=hq, name="inactive", project=project, service="ecs", is_active=False)
    make(organization=world["other"], name="theirs", service="ecs")
    assert rules.policy_for(organization=hq, project=project, service="ecs") == project_any
    first = make(organization=hq, name="project ecs", project=project, service="ecs")
    make(organization=hq, name="project ecs, later", project=project, service="ecs")
    assert rules.policy_for(organization=hq, project=project, service="ecs") == first
    assert rules.policy_for(organization=world["other"], project=world["foreign_project"], service="rds") is None


@pytest.mark.parametrize("levels,count_limit,vcpu_limit,count,vcpu,automatic", [
    ([], None, None, 20, 64, True),  # no levels: nothing to wait for
    ([{}], None, None, 1, 1, False),  # levels and no limit: always wait
    ([{}], 2, None, 2, 64, True),
    ([{}], 2, None, 3, 1, False),
    ([{}], None, 8, 4, 2, True),  # 4 × 2 vCPUs = 8
    ([{}], None, 8, 3, 3, False),  # 9 vCPUs
    ([{}], 0, None, 1, 1, False),
    ([{}], 3, 8, 3, 2, True),
    ([{}], 3, 8, 4, 2, False),
    ([{}], 3, 8, 2, 5, False),
])
def test_automatic_approval_under_every_limit(world, levels, count_limit, vcpu_limit, count, vcpu, automatic):
    policy = rules.ApprovalPolicy(organization=world["hq"], name="p", levels=levels,
                                  auto_approve_max_count=count_limit, auto_approve_max_vcpu=vcpu_limit)
    assert rules._auto_approves(policy, count, vcpu) is automatic
    assert rules._auto_approves(None, 1, 1) is False


def test_an_estimate_reads_only_the_class_the_platform_offers_in_the_region_asked(world, estimator):
    """Another platform's, another region's or another kind's entry of the same code is not the class
    asked for: with the platform's own entry gone, the estimate counts no vCPUs and no memory."""
    from apps.clouds.tests.factories import platform as make_platform

    flavors = rules.offers.Flavor.objects
    other = make_platform(world["other"], name="Elsewhere")
    for code, kind in (("ecs.g6.large", "instance_type"), ("mysql.n2.medium.1", "rds_class")):
        flavors.filter(platform=world["platform"], region="cn-hangzhou", code=code).delete()
        flavors.create(platform=other, region="cn-hangzhou", kind=kind, code=code, vcpu=64, memory_mib=65536)
        flavors.create(platform=world["platform"], region="cn-shanghai", kind=kind, code=code, vcpu=64,
                       memory_mib=65536)
        flavors.create(platform=world["platform"], region="cn-hangzhou", kind="slb_spec", code=code, vcpu=64,
                       memory_mib=65536)
    estimate(world, "ecs.instance", spec(world))
    estimate(world, "rds.instance", rds_spec(world))
    assert [(asked["spec"]["vcpu"], asked["spec"]["memory_mib"]) for asked in estimator] == [(0, 0), (0, 0)]


def test_a_class_whose_size_is_not_published_is_estimated_with_none(world, estimator):
    rules.offers.Flavor.objects.filter(platform=world["platform"], region="cn-hangzhou",
                                       code__in=["ecs.g6.large", "mysql.n2.medium.1"]).update(vcpu=None,
                                                                                               memory_mib=None)
    estimate(world, "ecs.instance", spec(world))
    estimate(world, "rds.instance", rds_spec(world))
    assert [(asked["spec"]["vcpu"], asked["spec"]["memory_mib"]) for asked in estimator] == [(0, 0), (0, 0)]


def test_a_cache_is_estimated_by_its_memory_even_when_its_class_publishes_vcpus(world, estimator):
    rules.offers.Flavor.objects.filter(platform=world["platform"], region="cn-hangzhou", kind="redis_class",
                                       code="redis.master.small.default").update(vcpu=2)
    estimate(world, "redis.instance", {"cache_class": "redis.master.small.default", "engine_version": "6.0",
                                       "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "sessions"})
    assert (estimator[0]["spec"]["vcpu"], estimator[0]["spec"]["memory_mib"]) == (0, 2048)


# -- who holds a level's role ---------------------------------------------------------------------------------

def test_a_role_held_on_the_requests_cloud_service_counts_and_on_another_service_does_not(world):
    """A level's role held through a grant on the request's cloud service (``ecs`` for an ECS
    instance) counts; the same role held on another service does not."""
    from tests import factories as f

    ecs_lead, rds_lead = f.user("ecs-lead", world["hq"]), f.user("rds-lead", world["hq"])
    lead_role = f.role("provisioning:*", key="lead_role")
    f.grant(lead_role, ecs_lead, None, scope_type="cloud_service", scope_key="ecs")
    f.grant(lead_role, rds_lead, None, scope_type="cloud_service", scope_key="rds")
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="leads",
                                        levels=[{"mode": "any", "roles": ["lead_role"]}])
    request = create(world)
    assert rules._holds_role(ecs_lead, ["lead_role"], request)
    assert not rules._holds_role(rds_lead, ["lead_role"], request)
    assert not rules._holds_role(ecs_lead, ["approver_role"], request)


def approver(world: dict[str, Any], name: str, *roles: str):
    from tests import factories as f

    person = f.user(name, world["hq"])
    for key in ("approver_role", *roles):
        f.grant(_role(key), person, world["hq"])
    return person


def _role(key: str):
    from apps.rbac.models import Role
    from tests import factories as f

    return Role.objects.filter(key=key).first() or f.role("menu:portal:read", key=key)


def test_an_all_level_counts_only_this_requests_approvals(world):
    alice, bob = approver(world, "alice"), approver(world, "bob")
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="both", levels=[
        {"mode": "all", "users": [str(alice.pk), str(bob.pk)]}])
    first, second = create(world), create(world)
    rules.request_decide(actor=alice, request=first, verdict="approve")
    second = rules.request_decide(actor=bob, request=second, verdict="approve")
    assert second.status == ProvisioningRequest.Status.PENDING
    assert ProvisioningRequest.objects.get(pk=first.pk).status == ProvisioningRequest.Status.PENDING


def test_a_level_counts_only_its_own_approvals(world):
    """Who approved the first level does not count again for the second (its roles included)."""
    first_lead, second_lead = approver(world, "first", "r_one"), approver(world, "second", "r_two")
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="two", levels=[
        {"mode": "any"}, {"mode": "all", "roles": ["r_one", "r_two"]}])
    request = rules.request_decide(actor=first_lead, request=create(world), verdict="approve")
    assert request.level == 1
    request = rules.request_decide(actor=second_lead, request=request, verdict="approve")
    assert (request.status, request.level) == (ProvisioningRequest.Status.PENDING, 1)
