"""The protection, drill and failover path on AWS through the API, against a moto server: EBS volumes
(and an RDS instance) have no replication pairs there, so they are protected by periodic cross-region
snapshot copies (RPO = the age of the snapshot the last complete copy copies); a drill restores the
copies into an isolated VPC at the secondary and leaves nothing behind; a failover restores the last
copies; a switchback of snapshot-protected members is refused, not faked."""

from __future__ import annotations

import time

import boto3
import pytest

from apps.resilience.models import PlanRun, ProtectedMember, ProtectionGroup
from apps.resilience.tests.conftest import OPERATOR, drive
from tests.aws_server import moto_reset
from tests.fixtures import api_as, rbac_scoping  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=False)
PRIMARY, SECONDARY = "us-east-1", "eu-west-1"


@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


def boto(moto: str, service: str, region: str = PRIMARY):
    return boto3.client(service, region_name=region, endpoint_url=f"http://{moto}", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def aws(db, moto, request):
    from apps.clouds.adapters import adapter_for
    from apps.clouds.tests.factories import platform as make_platform
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh
    from tests import factories as f

    request.getfixturevalue("rbac_scoping")
    hq, other = f.org("HQ"), f.org("Other")
    operator, outsider = f.user("operator", hq), f.user("outsider", other)
    f.grant(f.role(*OPERATOR, key="dr_operator"), operator, hq)
    f.grant(f.role(*OPERATOR, key="dr_outsider"), outsider, other)
    platform = make_platform(hq, type="aws", endpoint=moto, default_region=PRIMARY, access_key_id="testing",
                             access_key_secret="testing", options={"regions": [PRIMARY, SECONDARY]})
    ec2 = boto(moto, "ec2")
    tag = f"shop-{time.monotonic_ns()}"
    volumes = [ec2.create_volume(AvailabilityZone=f"{PRIMARY}a", Size=8 + n)["VolumeId"] for n in range(2)]
    db_id = f"orders-{time.monotonic_ns() % 10**9}"
    boto(moto, "rds").create_db_instance(DBInstanceIdentifier=db_id, DBInstanceClass="db.t3.micro", Engine="mysql",
                                         AllocatedStorage=20, MasterUsername="admin",
                                         MasterUserPassword="secret-password-1")
    adapter = adapter_for(platform, region=PRIMARY)
    for rtype, ext in [*(("ecs.disk", v) for v in volumes), ("rds.instance", db_id)]:
        row = resource_refresh(platform=platform, resource_type=rtype, region=PRIMARY, external_id=ext,
                               adapter=adapter)
        Resource.objects.filter(pk=row.pk).update(organization=hq, tags={"app": tag}, zone=f"{PRIMARY}a")
    return {"hq": hq, "operator": operator, "outsider": outsider, "platform": platform, "moto": moto,
            "volumes": volumes, "db": db_id, "tag": tag}


def _protected(aws) -> ProtectionGroup:
    from apps.resilience import services

    body = {"organization": str(aws["hq"].pk), "name": "shop on aws", "selection": "tag", "tag_key": "app",
            "tag_value": aws["tag"], "primary_platform": str(aws["platform"].pk), "primary_region": PRIMARY,
            "primary_zone": f"{PRIMARY}a", "secondary_platform": str(aws["platform"].pk),
            "secondary_region": SECONDARY, "secondary_zone": f"{SECONDARY}a", "target_rpo_seconds": 60}
    made = api_as(aws["operator"]).post("/api/v1/resilience/groups/", body, format="json")
    assert made.status_code == 201, made.json()
    group = ProtectionGroup.objects.get(pk=made.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        services.group_setup(group_id=group.id)
        polled = services.group_poll(group=group)
        if polled.rpo_seconds is not None:
            return polled
        time.sleep(0.1)
    raise TimeoutError([(m.replica_status, m.error) for m in group.members.all()])


def _volumes(aws, region, prefix=""):
    ec2 = boto(aws["moto"], "ec2", region)
    out = []
    for v in ec2.describe_volumes()["Volumes"]:
        name = {t["Key"]: t["Value"] for t in v.get("Tags", [])}.get("Name", "")
        if name.startswith(prefix) and v["State"] not in ("deleting", "deleted"):
            out.append((v["VolumeId"], name, v.get("SnapshotId", ""), v["State"]))
    return out


def test_aws_volumes_and_a_database_are_protected_by_cross_region_snapshot_copies_with_a_live_rpo(aws):
    group = _protected(aws)
    members = list(group.members.order_by("resource_type"))
    assert {m.channel for m in members} == {ProtectedMember.Channel.SNAPSHOT_COPY} and len(members) == 3
    copies = boto(aws["moto"], "ec2", SECONDARY).describe_snapshots(OwnerIds=["self"])["Snapshots"]
    disks = [m for m in members if m.resource_type == "ecs.disk"]
    assert {m.replica_id for m in disks} <= {s["SnapshotId"] for s in copies}
    db = next(m for m in members if m.resource_type == "rds.instance")
    copied = boto(aws["moto"], "rds", SECONDARY).describe_db_snapshots(DBSnapshotIdentifier=db.replica_id)
    assert copied["DBSnapshots"][0]["Status"] == "available"
    listed = api_as(aws["operator"]).get(f"/api/v1/resilience/groups/{group.id}/").json()
    assert listed["rpo_seconds"] is not None and listed["rpo_seconds"] < 60
    assert all(m["replica_id"] and m["rpo_seconds"] is not None for m in listed["members"])
    # Another organization does not see the group.
    assert api_as(aws["outsider"]).get(f"/api/v1/resilience/groups/{group.id}/").status_code == 404


def test_a_drill_on_aws_restores_the_copies_in_an_isolated_vpc_then_leaves_nothing(aws):
    group = _protected(aws)
    before = sorted(_volumes(aws, PRIMARY))
    client = api_as(aws["operator"])
    dry = client.post(f"/api/v1/resilience/groups/{group.id}/dry-run/", {"kind": "drill"}, format="json").json()
    assert dry["writes_on_production"] == 0
    assert {c["call"] for s in dry["steps"] for c in s["calls"]} >= {"ec2.CreateVpc", "ec2.CreateVolume",
                                                                     "rds.RestoreDBInstanceFromDBSnapshot"}
    started = client.post(f"/api/v1/resilience/groups/{group.id}/run/", {"kind": "drill"}, format="json")
    assert started.status_code == 202, started.json()
    run = drive(PlanRun.objects.get(pk=started.json()["id"]), timeout=120)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    restores = list(run.steps.filter(action="drill_restore"))
    assert len(restores) == 3 and all(s.result["copy_id"] and s.result["rpo_seconds"] is not None for s in restores)
    assert run.evidence["copies"] == 3 and run.measured_rpo_seconds is not None
    # Nothing left at the secondary: no drill volume, database or VPC.
    assert _volumes(aws, SECONDARY, "drill-") == []
    rds = boto(aws["moto"], "rds", SECONDARY).describe_db_instances()["DBInstances"]
    assert [d for d in rds if d["DBInstanceIdentifier"].startswith("drill-")] == []
    vpcs = boto(aws["moto"], "ec2", SECONDARY).describe_vpcs()["Vpcs"]
    assert [v for v in vpcs if any(t["Value"].startswith("drill-") for t in v.get("Tags", []))] == []
    assert run.leftovers == []
    # Production untouched.
    assert sorted(_volumes(aws, PRIMARY)) == before
    group.refresh_from_db()
    assert group.state == "protected"


def test_a_failover_on_aws_restores_each_last_copy_once_and_a_switchback_is_refused(aws):
    group = _protected(aws)
    client = api_as(aws["operator"])
    started = client.post(f"/api/v1/resilience/groups/{group.id}/run/", {"kind": "failover"}, format="json")
    assert started.status_code == 202, started.json()
    run = drive(PlanRun.objects.get(pk=started.json()["id"]), timeout=120)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    restored = _volumes(aws, SECONDARY, f"dr-{run.id}-")
    disks = {m.external_id: m.replica_id for m in group.members.filter(resource_type="ecs.disk")}
    assert sorted(snap for _id, _name, snap, _state in restored) == sorted(disks.values())
    assert sorted(name for _id, name, _snap, _state in restored) == sorted(f"dr-{run.id}-{v}" for v in disks)
    rds = boto(aws["moto"], "rds", SECONDARY).describe_db_instances()["DBInstances"]
    assert len([d for d in rds if d["DBInstanceIdentifier"].startswith(f"dr-{run.id}")]) == 1
    group.refresh_from_db()
    assert group.state == "failed_over"
    back = client.post(f"/api/v1/resilience/groups/{group.id}/run/", {"kind": "failback"}, format="json")
    assert back.status_code == 422 and back.json()["code"] == "unsupported_operation"
    assert PlanRun.objects.filter(group=group).count() == 1


def test_each_new_copy_replaces_the_last_so_no_snapshot_piles_up_on_either_side(aws):
    from datetime import timedelta

    from django.utils import timezone

    from apps.resilience import services

    group = _protected(aws)
    first = {m.id: m.replica_id for m in group.members.all()}
    # Make every recovery point old enough for the next cycle, and let it run to its copy.
    ProtectedMember.objects.filter(group=group).update(last_recovery_point=timezone.now() - timedelta(hours=1))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        services.group_poll(group=group)
        now = {m.id: m.replica_id for m in group.members.all()}
        if all(now[k] and now[k] != first[k] for k in first):
            break
        time.sleep(0.1)
    members = list(group.members.all())
    assert all(m.replica_id != first[m.id] for m in members), [(m.replica_status, m.error) for m in members]

    ec2_dest, ec2_src = boto(aws["moto"], "ec2", SECONDARY), boto(aws["moto"], "ec2", PRIMARY)
    rds_dest, rds_src = boto(aws["moto"], "rds", SECONDARY), boto(aws["moto"], "rds", PRIMARY)
    for m in members:
        if m.resource_type == "rds.instance":
            copies = [s["DBSnapshotIdentifier"] for s in rds_dest.describe_db_snapshots(SnapshotType="manual")
                      ["DBSnapshots"] if s["DBSnapshotIdentifier"].startswith(f"um-{m.id}-".lower())]
            taken = [s["DBSnapshotIdentifier"] for s in rds_src.describe_db_snapshots(
                DBInstanceIdentifier=aws["db"], SnapshotType="manual")["DBSnapshots"]]
        else:
            copies = [s["SnapshotId"] for s in ec2_dest.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                      if s.get("Description", "").startswith(f"um-{m.id}-")]
            taken = [s["SnapshotId"] for s in ec2_src.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                     if s.get("VolumeId") == m.external_id]
        # The secondary keeps the member's current recovery point only; the primary keeps none of ours.
        assert copies == [m.replica_id], (m.resource_type, copies, m.replica_id, first[m.id])
        assert taken == [], (m.resource_type, taken)
