"""Rules of provisioning requests (``apps/provisioning/requests.py``) that the API tests reach but do not pin
down: what a refused request of each type says and names, what the cloud's own check decides for the
types other than an ECS instance, what the price estimate is asked, and the texts a requester reads."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.errors import Conflict, InvalidInput, Refused
from apps.provisioning import hooks
from apps.provisioning import requests as rules
from apps.provisioning.models import ProvisioningRequest
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
    assert list(refused.value.detail) == ["vswitch_id"]


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
