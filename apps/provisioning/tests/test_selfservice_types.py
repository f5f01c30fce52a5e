"""Self-service for every type the adapters create: a request through the API against cloudsim is
checked, approved, created, found by the next collection, operated on day 2 and released; bad input
is a 400 naming the field with no cloud call where the rule can be decided before one; each type's
request reserves quota through the hook like an ECS instance does."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.models import Operation
from apps.provisioning import hooks
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import drive
from apps.resources.models import Resource

pytestmark = pytest.mark.django_db
REQUESTS = "/api/v1/provisioning/requests/"
OPS = "/api/v1/provisioning/instances/"
SELF_SERVICE = ("ecs:*", "vpc:*", "eip:*", "slb:*", "rds:*", "redis:*", "oss:*", "nat:*", "resources:resource:read",
                "provisioning:request:read", "provisioning:change:read", "core:operation:*", "menu:portal:*")


@pytest.fixture
def builder(world):
    """A member of HQ who may request and operate every self-service type in the project."""
    from tests import factories as f

    user = f.user("builder", world["hq"])
    f.grant(f.role(*SELF_SERVICE, key="builder_role"), user, world["hq"])
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def auto_approve(world):
    from apps.provisioning.models import ApprovalPolicy

    ApprovalPolicy.objects.create(organization=world["hq"], name="auto", levels=[])


def body(world: dict[str, Any], resource_type: str, spec: dict[str, Any], count: int = 1) -> dict[str, Any]:
    return {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "resource_type": resource_type, "spec": spec, "count": count}


def specs_of(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "ecs.disk": {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "name": "data"},
        "ecs.security_group": {"vpc_id": world["vpc"], "name": "web-in", "rules": [
            {"protocol": "tcp", "port_range": "443/443", "source_cidr": "0.0.0.0/0"}]},
        "vpc.vpc": {"cidr_block": "10.20.0.0/16", "name": "lab"},
        "vpc.vswitch": {"vpc_id": world["vpc"], "zone": "cn-hangzhou-a", "cidr_block": "192.168.77.0/24",
                        "name": "lab-a"},
        "eip.eip": {"bandwidth_mbps": 10, "name": "edge"},
        "slb.instance": {"spec": "slb.s2.small", "address_type": "intranet", "vswitch_id": world["vswitch"],
                         "name": "front"},
        "rds.instance": {"engine": "MySQL", "engine_version": "8.0", "db_class": "mysql.n2.medium.1",
                         "storage_gib": 50, "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "orders"},
        "redis.instance": {"cache_class": "redis.master.small.default", "engine_version": "6.0",
                           "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "sessions"},
        "oss.bucket": {"name": "shop-assets-test", "acl": "private", "storage_class": "Standard"},
        "nat.nat_gateway": {"vpc_id": world["vpc"], "vswitch_id": world["vswitch"], "nat_spec": "Small",
                            "name": "egress"},
    }


def create(world, client, resource_type: str, spec: dict[str, Any]) -> Resource:
    response = client.post(REQUESTS, body(world, resource_type, spec), format="json")
    assert response.status_code == 202, response.content
    request = ProvisioningRequest.objects.get(pk=response.json()["id"])
    assert request.status == ProvisioningRequest.Status.PROVISIONING
    change = ChangeRecord.objects.get(request=request)
    drive(change.id)
    change.refresh_from_db()
    assert change.operation.status == Operation.Status.SUCCEEDED, change.operation.error
    request.refresh_from_db()
    assert request.status == ProvisioningRequest.Status.COMPLETED
    row = change.resource
    assert row is not None and row.type == resource_type and row.project_id == world["project"].pk
    return row


def operate(client, resource: Resource, verb: str, params: dict[str, Any] | None = None) -> Operation:
    response = client.post(f"{OPS}{resource.pk}/{verb}/", {"params": params or {}}, format="json")
    assert response.status_code == 202, response.content
    change = ChangeRecord.objects.filter(resource=resource, action=verb if verb != "modify" else "modify") \
        .order_by("-created_at").first()
    drive(change.id)
    change.operation.refresh_from_db()
    assert change.operation.status == Operation.Status.SUCCEEDED, change.operation.error
    return change.operation


def collect(world) -> None:
    from apps.resources.services import sync_drive, sync_start

    run = sync_start(actor=None, platform=world["platform"], check=False)
    sync_drive(run_id=run.id, sleep=False)


TYPES = ["ecs.disk", "ecs.security_group", "vpc.vpc", "vpc.vswitch", "eip.eip", "slb.instance", "rds.instance",
         "redis.instance", "oss.bucket", "nat.nat_gateway"]


@pytest.mark.parametrize("resource_type", TYPES)
def test_each_type_is_created_from_a_request_collected_and_released(world, builder, auto_approve, resource_type):
    row = create(world, builder, resource_type, specs_of(world)[resource_type])
    collect(world)
    row.refresh_from_db()
    assert not row.deleted and row.status in ("running", "available")
    operate(builder, row, "release")
    row.refresh_from_db()
    assert row.deleted or row.status == "deleted"  # a released cache is listed as such until it leaves the list


def modify(client, resource: Resource, operation: str, **args: Any) -> Operation:
    response = client.post(f"{OPS}{resource.pk}/modify/", {"params": {"operation": operation, "args": args}},
                           format="json")
    assert response.status_code == 202, response.content
    change = ChangeRecord.objects.filter(resource=resource, action="modify").order_by("-created_at").first()
    drive(change.id)
    change.operation.refresh_from_db()
    assert change.operation.status == Operation.Status.SUCCEEDED, change.operation.error
    return change.operation


def details(client, resource: Resource) -> dict[str, Any]:
    response = client.get(f"{OPS}{resource.pk}/details/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def instance(world, builder, auto_approve):
    """An ECS instance of the project in cn-hangzhou-a, running."""
    from apps.provisioning.tests.conftest import spec

    response = builder.post(REQUESTS, {**body(world, "ecs.instance", spec(world)), "resource_type": "ecs.instance"},
                            format="json")
    assert response.status_code == 202, response.content
    change = ChangeRecord.objects.get(request_id=response.json()["id"])
    drive(change.id)
    change.refresh_from_db()
    return change.resource


def test_a_disk_requested_with_an_instance_is_attached_then_resized_detached_and_released(world, builder, instance):
    disk = create(world, builder, "ecs.disk", {**specs_of(world)["ecs.disk"], "instance": instance.pk})
    attach = ChangeRecord.objects.get(resource=disk, action="attach")
    drive(attach.id)
    disk.refresh_from_db()
    assert disk.status == "in_use" and disk.spec["instance_id"] == instance.external_id
    assert [o["operation"] for o in details(builder, disk)["operations"]] == [
        "disk_resize", "snapshot_create", "snapshot_delete", "rollback"]
    modify(builder, disk, "disk_resize", size_gib=80)
    disk.refresh_from_db()
    assert disk.spec["size_gib"] == 80
    modify(builder, disk, "snapshot_create", name="before-upgrade")
    snapshots = details(builder, disk)["details"]["snapshots"]
    assert [s["name"] for s in snapshots] == ["before-upgrade"]
    snapshot = snapshots[0]["snapshot"]
    response = builder.post(f"{OPS}{disk.pk}/modify/", {"params": {"operation": "rollback", "args": {
        "snapshot": snapshot}}}, format="json")
    assert response.status_code == 409 and response.json()["detail"]["instance_status"] == "running"
    operate(builder, disk, "detach")
    deadline = time.monotonic() + 20
    while details(builder, disk)["details"]["snapshots"][0]["status"] != "available":
        assert time.monotonic() < deadline, "the snapshot never completed"
        time.sleep(0.1)
    modify(builder, disk, "rollback", snapshot=snapshot)
    operate(builder, disk, "attach", {"instance": instance.pk})
    operate(builder, disk, "detach")
    modify(builder, disk, "snapshot_delete", snapshot=snapshot)
    assert details(builder, disk)["details"]["snapshots"] == []
    operate(builder, disk, "release")


def test_security_group_rules_are_added_and_removed(world, builder, auto_approve):
    group = create(world, builder, "ecs.security_group", specs_of(world)["ecs.security_group"])
    assert [(r["protocol"], r["port_range"]) for r in details(builder, group)["details"]["rules"]] == \
        [("tcp", "443/443")]
    modify(builder, group, "rule_add", protocol="tcp", port_range="22/22", source_cidr="10.0.0.0/8")
    rules = details(builder, group)["details"]["rules"]
    assert {(r["port_range"], r["source_cidr"]) for r in rules} == {("443/443", "0.0.0.0/0"), ("22/22", "10.0.0.0/8")}
    modify(builder, group, "rule_remove", protocol="tcp", port_range="443/443", source_cidr="0.0.0.0/0")
    assert [r["port_range"] for r in details(builder, group)["details"]["rules"]] == ["22/22"]
    operate(builder, group, "release")


def test_an_eip_is_bound_rebandwidthed_unbound_and_released(world, builder, instance):
    eip = create(world, builder, "eip.eip", specs_of(world)["eip.eip"])
    operate(builder, eip, "attach", {"instance": instance.pk})
    modify(builder, eip, "bandwidth", bandwidth_mbps=50)
    eip.refresh_from_db()
    assert str(eip.spec["bandwidth_mbps"]) == "50" and eip.status == "in_use"
    operate(builder, eip, "detach")
    operate(builder, eip, "release")


def test_slb_listeners_and_backends_are_added_and_removed(world, builder, instance):
    lb = create(world, builder, "slb.instance", specs_of(world)["slb.instance"])
    modify(builder, lb, "listener_add", protocol="tcp", port=80, backend_port=8080)
    modify(builder, lb, "backend_add", instance=instance.pk, weight=50)
    found = details(builder, lb)["details"]
    assert found["listeners"] == [{"port": 80, "protocol": "tcp"}]
    assert found["backends"] == [{"instance_id": instance.external_id, "weight": 50}]
    modify(builder, lb, "backend_remove", instance=instance.pk)
    modify(builder, lb, "listener_remove", protocol="tcp", port=80)
    assert details(builder, lb)["details"] == {"listeners": [], "backends": []}
    operate(builder, lb, "resize", {"instance_type": "slb.s3.small"})
    operate(builder, lb, "release")


def test_rds_gets_accounts_and_databases_is_resized_restarted_and_released(world, builder, auto_approve):
    db = create(world, builder, "rds.instance", specs_of(world)["rds.instance"])
    modify(builder, db, "account_create", name="shop_app", password="Sh0p-secret")
    modify(builder, db, "database_create", name="orders", charset="utf8mb4")
    found = details(builder, db)["details"]
    assert [a["name"] for a in found["accounts"]] == ["shop_app"]
    assert [d["name"] for d in found["databases"]] == ["orders"]
    modify(builder, db, "backup_create")
    deadline = time.monotonic() + 20  # a backup is a job: its backup set is listed once the job finished
    while not details(builder, db)["details"]["backups"]:
        assert time.monotonic() < deadline, "the backup never appeared"
        time.sleep(0.1)
    assert [b["type"] for b in details(builder, db)["details"]["backups"]] == ["FullBackup"]
    change = ChangeRecord.objects.filter(resource=db, action="modify").order_by("created_at").first()
    assert "Sh0p-secret" not in str(change.params) and "Sh0p-secret" not in str(change.operation.params)
    operate(builder, db, "resize", {"instance_type": "mysql.n4.large.1"})
    operate(builder, db, "reboot")
    operate(builder, db, "release")


def test_redis_is_resized_restarted_and_released(world, builder, auto_approve):
    cache = create(world, builder, "redis.instance", specs_of(world)["redis.instance"])
    operate(builder, cache, "resize", {"instance_type": "redis.master.mid.default"})
    cache.refresh_from_db()
    assert cache.spec["class"] == "redis.master.mid.default"
    operate(builder, cache, "reboot")
    operate(builder, cache, "release")


def test_a_bucket_gets_an_acl_and_a_lifecycle_rule(world, builder, auto_approve):
    bucket = create(world, builder, "oss.bucket", {**specs_of(world)["oss.bucket"], "name": "shop-logs-test"})
    modify(builder, bucket, "acl", acl="public-read")
    bucket.refresh_from_db()
    assert bucket.spec["acl"] == "public-read"
    modify(builder, bucket, "lifecycle", prefix="logs/", days=30)
    assert details(builder, bucket)["details"]["lifecycle"] == [
        {"rule_id": "expire", "prefix": "logs/", "enabled": True, "days": 30}]
    operate(builder, bucket, "release")


# -- bad input: a 400 naming the field, nothing recorded, and no cloud call where none is needed ------------

def refused(world, client, control, resource_type: str, spec: dict[str, Any], field: str, *, cloud_calls: bool,
            count: int = 1) -> dict[str, Any]:
    before, requests = control.get("/stats")["calls"], ProvisioningRequest.objects.count()
    response = client.post(REQUESTS, body(world, resource_type, spec, count), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"], response.json()
    assert ProvisioningRequest.objects.count() == requests
    if not cloud_calls:
        assert control.get("/stats")["calls"] == before
    return response.json()


def test_a_disk_for_an_instance_in_another_zone_is_refused_before_the_cloud(world, builder, instance, control):
    spec = {**specs_of(world)["ecs.disk"], "zone": "cn-hangzhou-b", "instance": instance.pk}
    error = refused(world, builder, control, "ecs.disk", spec, "instance", cloud_calls=False)
    assert "cn-hangzhou-a" in error["detail"]["instance"][0]


def test_an_instance_of_another_organization_is_not_offered_to_a_disk(world, builder, control):
    from apps.resources.tests.factories import resource as make_resource

    theirs = make_resource(world["platform"], type="ecs.instance", zone="cn-hangzhou-a", region="cn-hangzhou",
                           organization=world["other"])
    spec = {**specs_of(world)["ecs.disk"], "instance": theirs.pk}
    assert refused(world, builder, control, "ecs.disk", spec, "instance", cloud_calls=False)["detail"]["instance"] \
        == ["not found"]


@pytest.mark.parametrize("resource_type,change,field", [
    ("rds.instance", {"db_class": "mysql.x9.huge"}, "db_class"),
    ("rds.instance", {"engine": "Oracle"}, "engine"),
    ("rds.instance", {"engine_version": "5.1"}, "engine_version"),
    ("rds.instance", {"zone": "cn-shanghai-a"}, "zone"),
    ("rds.instance", {"storage_gib": 5}, "storage_gib"),
    ("redis.instance", {"cache_class": "redis.cluster.huge"}, "cache_class"),
    ("redis.instance", {"engine_version": "2.8"}, "engine_version"),
    ("slb.instance", {"spec": "slb.s9.huge"}, "spec"),
    ("slb.instance", {"vswitch_id": ""}, "vswitch_id"),
    ("ecs.disk", {"category": "cloud_nvme"}, "category"),
    ("ecs.disk", {"size_gib": 10}, "size_gib"),
    ("vpc.vpc", {"cidr_block": "8.8.0.0/16"}, "cidr_block"),
    ("vpc.vpc", {"cidr_block": "10.0.0.1/16"}, "cidr_block"),
    ("vpc.vswitch", {"cidr_block": "192.168.1.0/30"}, "cidr_block"),
    ("eip.eip", {"bandwidth_mbps": 0}, "bandwidth_mbps"),
    ("oss.bucket", {"name": "Shop_Assets"}, "name"),
    ("oss.bucket", {"name": "-shop"}, "name"),
    ("oss.bucket", {"acl": "public"}, "acl"),
    ("ecs.security_group", {"rules": [{"protocol": "tcp", "port_range": "0/70000"}]}, "rules[0].port_range"),
    ("ecs.security_group", {"rules": [{"protocol": "tcp", "source_cidr": "everyone"}]}, "rules[0].source_cidr"),
])
def test_what_the_catalog_decides_is_refused_naming_the_field_with_no_cloud_call(world, builder, control,
                                                                                 resource_type, change, field):
    refused(world, builder, control, resource_type, {**specs_of(world)[resource_type], **change}, field,
            cloud_calls=False)


@pytest.mark.parametrize("resource_type,change,field", [
    ("rds.instance", {"vswitch_id": "vsw-nothere"}, "vswitch_id"),
    ("redis.instance", {"zone": "cn-hangzhou-b"}, "vswitch_id"),  # the vSwitch is in zone a
    ("vpc.vswitch", {"cidr_block": "10.1.0.0/24"}, "cidr_block"),  # outside the VPC's 192.168.0.0/16
    ("vpc.vswitch", {"cidr_block": "192.168.1.0/25"}, "cidr_block"),  # overlaps the fixture's vSwitch
    ("vpc.vswitch", {"vpc_id": "vpc-nothere"}, "vpc_id"),
    ("ecs.security_group", {"vpc_id": "vpc-nothere"}, "vpc_id"),
])
def test_what_the_cloud_lists_decides_is_refused_naming_the_field(world, builder, control, resource_type, change,
                                                                  field):
    refused(world, builder, control, resource_type, {**specs_of(world)[resource_type], **change}, field,
            cloud_calls=True)


def test_a_bucket_name_the_cloud_has_is_refused_naming_it(world, builder, auto_approve, control):
    create(world, builder, "oss.bucket", {**specs_of(world)["oss.bucket"], "name": "taken-name"})
    ProvisioningRequest.objects.all().delete()
    error = refused(world, builder, control, "oss.bucket", {**specs_of(world)["oss.bucket"], "name": "taken-name"},
                    "name", cloud_calls=True)
    assert "exists already" in error["detail"]["name"][0]


def test_one_database_per_request(world, builder, control):
    refused(world, builder, control, "rds.instance", specs_of(world)["rds.instance"], "count", cloud_calls=False,
            count=2)


def test_day2_arguments_are_refused_naming_the_field_with_no_cloud_call(world, builder, instance, control):
    from apps.resources.tests.factories import resource as make_resource

    elsewhere = make_resource(world["platform"], type="ecs.instance", zone="cn-beijing-a", region="cn-beijing",
                              organization=world["hq"], project=world["project"])
    lb = make_resource(world["platform"], type="slb.instance", region="cn-hangzhou", status="running",
                       organization=world["hq"], project=world["project"])
    disk = make_resource(world["platform"], type="ecs.disk", region="cn-hangzhou", status="available",
                         organization=world["hq"], project=world["project"], spec={"size_gib": 40})
    cases = [
        (lb, {"operation": "backend_add", "args": {"instance": elsewhere.pk}}, "args.instance"),
        (lb, {"operation": "listener_add", "args": {"protocol": "http", "port": 80, "backend_port": 80}},
         "args.protocol"),
        (lb, {"operation": "listener_add", "args": {"protocol": "tcp", "port": 0, "backend_port": 80}}, "args.port"),
        (lb, {"operation": "account_create", "args": {}}, "operation"),
        (disk, {"operation": "disk_resize", "args": {"size_gib": 20}}, "args.size_gib"),
        (disk, {"operation": "disk_resize", "args": {"size_gib": "80"}}, "args.size_gib"),
        (disk, {"operation": "disk_resize", "args": {"size_gib": 80, "fast": True}}, "args"),
    ]
    before = control.get("/stats")["calls"]
    for resource, params, field in cases:
        response = builder.post(f"{OPS}{resource.pk}/modify/", {"params": params}, format="json")
        assert response.status_code == 400, (params, response.content)
        assert field in response.json()["detail"], (params, response.json())
    assert not ChangeRecord.objects.filter(action="modify").exists()
    assert control.get("/stats")["calls"] == before


def test_rds_account_arguments_are_refused_naming_the_field(world, builder, control):
    from apps.resources.tests.factories import resource as make_resource

    db = make_resource(world["platform"], type="rds.instance", region="cn-hangzhou", status="running",
                       organization=world["hq"], project=world["project"])
    for args, field in (({"name": "Admin", "password": "Sh0p-secret"}, "args.name"),
                        ({"name": "shop", "password": "short"}, "args.password"),
                        ({"name": "shop", "password": "alllowercase"}, "args.password")):
        response = builder.post(f"{OPS}{db.pk}/modify/", {"params": {"operation": "account_create", "args": args}},
                                format="json")
        assert response.status_code == 400 and field in response.json()["detail"], response.content


def test_another_organizations_resource_is_not_found(world, builder, control):
    from apps.resources.tests.factories import resource as make_resource

    theirs = make_resource(world["platform"], type="slb.instance", region="cn-hangzhou", status="running",
                           organization=world["other"])
    response = builder.post(f"{OPS}{theirs.pk}/modify/", {"params": {"operation": "listener_add", "args": {
        "protocol": "tcp", "port": 80, "backend_port": 80}}}, format="json")
    assert response.status_code == 404
    assert builder.get(f"{OPS}{theirs.pk}/details/").status_code == 404


class Recording:
    """A quota backend that records what each request reserves."""

    def __init__(self):
        self.reserved: list[tuple[str, dict[str, int]]] = []

    def reserve(self, *, organization, project, resource_type, amounts, platform=None, region=""):
        self.reserved.append((resource_type, dict(amounts)))
        return f"r{len(self.reserved)}"

    def commit(self, reservation_id, *, part):
        return None

    def release(self, reservation_id, *, part):
        return None


def test_each_type_reserves_quota_for_its_dimensions(world, builder):
    backend = Recording()
    previous = hooks.install_quota_backend(backend)
    try:
        for resource_type in ("ecs.disk", "rds.instance", "redis.instance", "oss.bucket"):
            response = builder.post(REQUESTS, body(world, resource_type, specs_of(world)[resource_type]),
                                    format="json")
            assert response.status_code == 202, response.content
    finally:
        hooks.install_quota_backend(previous)
    assert backend.reserved == [
        ("ecs.disk", {"count": 1, "vcpu": 0, "memory_mib": 0, "disk_gib": 40}),
        ("rds.instance", {"count": 1, "vcpu": 2, "memory_mib": 4096, "disk_gib": 50}),
        ("redis.instance", {"count": 1, "vcpu": 0, "memory_mib": 2048, "disk_gib": 0}),
        ("oss.bucket", {"count": 1, "vcpu": 0, "memory_mib": 0, "disk_gib": 0}),
    ]
    assert ProvisioningRequest.objects.filter(status="pending").count() == 4


def test_a_refused_quota_records_no_request(world, builder):
    from apps.core.errors import Refused

    class Full(Recording):
        def reserve(self, **kw):
            raise Refused("No room.", code="quota_exceeded", detail={"dimension": "rds.instance"})

    previous = hooks.install_quota_backend(Full())
    try:
        response = builder.post(REQUESTS, body(world, "rds.instance", specs_of(world)["rds.instance"]), format="json")
    finally:
        hooks.install_quota_backend(previous)
    assert response.status_code in (403, 409, 422), response.content
    assert response.json()["code"] == "quota_exceeded"
    assert not ProvisioningRequest.objects.exists()


def test_the_estimate_endpoint_asks_the_price_hook_for_the_form_spec(world, builder, control):
    seen = []

    def estimator(**kw):
        seen.append(kw)
        return {"currency": "CNY", "hourly": "1.2000", "monthly": "876.00"}

    previous = hooks.install_price_estimator(estimator)
    before = control.get("/stats")["calls"]
    try:
        response = builder.post("/api/v1/provisioning/estimate/", {
            "platform": world["platform"].pk, "region": "cn-hangzhou", "resource_type": "rds.instance",
            "spec": specs_of(world)["rds.instance"], "count": 1}, format="json")
        bad = builder.post("/api/v1/provisioning/estimate/", {
            "platform": world["platform"].pk, "region": "cn-hangzhou", "resource_type": "rds.instance",
            "spec": {**specs_of(world)["rds.instance"], "storage_gib": "lots"}}, format="json")
    finally:
        hooks.install_price_estimator(previous)
    assert response.status_code == 200, response.content
    assert response.json() == {"currency": "CNY", "hourly": "1.2000", "monthly": "876.00", "priced": True}
    assert seen[0]["resource_type"] == "rds.instance"
    assert seen[0]["spec"] == {"class": "mysql.n2.medium.1", "vcpu": 2, "memory_mib": 4096, "storage_gib": 50,
                               "bandwidth_mbps": 0}
    assert bad.status_code == 400 and list(bad.json()["detail"]) == ["storage_gib"]
    assert control.get("/stats")["calls"] == before


def test_the_request_form_of_each_type_offers_what_the_cloud_offers(world, builder, instance):
    from django.test import Client

    client = Client()
    client.force_login(ProvisioningRequest.objects.first().requester)
    base = f"/portal/provisioning/new/{world['platform'].pk}/"
    catalog = client.get("/portal/provisioning/").content.decode()
    for resource_type in TYPES:
        assert f"?type={resource_type}" in catalog
        page = client.get(base, {"type": resource_type})
        assert page.status_code == 200, resource_type
        assert f'data-type="{resource_type}"' in page.content.decode()
    rds = client.get(base, {"type": "rds.instance"}).content.decode()
    assert "mysql.n2.medium.1" in rds and 'data-role="engine"' in rds
    assert "redis.master.small.default" in client.get(base, {"type": "redis.instance"}).content.decode()
    assert "slb.s2.small" in client.get(base, {"type": "slb.instance"}).content.decode()
    disk = client.get(base, {"type": "ecs.disk"}).content.decode()
    assert instance.pk in disk  # the instances a new disk may attach to, with their zones, for the form's script
    assert client.get(base, {"type": "ecs.snapshot"}).status_code == 404


def test_the_portal_resource_page_shows_the_operations_panel(world, builder, instance):
    from django.test import Client

    client = Client()
    client.force_login(ProvisioningRequest.objects.first().requester)
    page = client.get(f"/portal/provisioning/resources/{instance.pk}/")
    assert page.status_code == 200 and 'id="resource-ops"' in page.content.decode()
    panel = builder.get(f"{OPS}{instance.pk}/details/").json()
    assert {a["action"] for a in panel["actions"]} == {"stop", "reboot", "release"}
    assert page.status_code == 200
    mine = client.get("/portal/provisioning/resources/").content.decode()
    assert f"/portal/provisioning/resources/{instance.pk}/" in mine


def test_a_nat_gateway_gets_an_eip_snat_and_dnat_entries_and_is_released(world, builder, instance):
    nat = create(world, builder, "nat.nat_gateway", {"vpc_id": world["vpc"], "vswitch_id": world["vswitch"],
                                                      "nat_spec": "Small", "name": "egress"})
    assert nat.status == "available" and nat.spec["vpc_id"] == world["vpc"]
    eip = create(world, builder, "eip.eip", {"bandwidth_mbps": 20, "name": "egress-ip"})
    modify(builder, nat, "eip_bind", eip=eip.pk)
    ip = eip.spec["ip_address"]
    assert details(builder, nat)["details"]["eips"] == [{"ip_address": ip}]
    modify(builder, nat, "snat_add", ip_address=ip, vswitch_id=world["vswitch"])
    modify(builder, nat, "dnat_add", ip_address=ip, protocol="tcp", external_port=8443,
           internal_ip=instance.spec["private_ip"], internal_port=443)
    found = details(builder, nat)["details"]
    assert [(e["snat_ip"], e["source"]) for e in found["snat_entries"]] == [(ip, world["vswitch"])]
    assert [(e["external"], e["internal"]) for e in found["dnat_entries"]] == [
        (f"{ip}:8443", f"{instance.spec['private_ip']}:443")]
    modify(builder, nat, "snat_remove", entry_id=found["snat_entries"][0]["entry_id"])
    modify(builder, nat, "dnat_remove", entry_id=found["dnat_entries"][0]["entry_id"])
    modify(builder, nat, "eip_unbind", eip=eip.pk)
    assert details(builder, nat)["details"] == {"eips": [], "snat_entries": [], "dnat_entries": []}
    collect(world)
    nat.refresh_from_db()
    assert not nat.deleted and nat.vpc_id == world["vpc"]
    operate(builder, nat, "release")
    nat.refresh_from_db()
    assert nat.deleted


def test_a_nat_gateway_on_another_vpcs_vswitch_is_refused_naming_it(world, builder, control, auto_approve):
    from django.core.cache import cache

    other = create(world, builder, "vpc.vpc", {"cidr_block": "10.30.0.0/16", "name": "other"})
    cache.clear()  # the form's lists of the cloud are kept a minute
    error = refused(world, builder, control, "nat.nat_gateway", {"vpc_id": other.external_id,
                                                                   "vswitch_id": world["vswitch"]},
                    "vswitch_id", cloud_calls=True)
    assert "of the VPC" in error["detail"]["vswitch_id"][0]
    refused(world, builder, control, "nat.nat_gateway", {"vpc_id": world["vpc"], "vswitch_id": world["vswitch"],
                                                          "nat_spec": "Huge"}, "nat_spec", cloud_calls=False)
