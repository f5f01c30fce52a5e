"""Backup and recovery, and the RDS and OSS replication channels, through the API against cloudsim:
vaults (local, cross-region), backup plans of ECS disks, RDS and OSS, run now, restores as a new
resource and in place, refusals that write nothing, other organizations' objects as 404; a protection
group whose database replicates by cross-region backups and whose bucket by OSS replication, with
their RPO from the cloud and a failover restoring the database at the secondary."""

from __future__ import annotations

import time

import pytest

from apps.resilience import backups
from apps.resilience.models import BackupJob, BackupPlan, PlanRun, ProtectedMember, ProtectionGroup, Vault
from apps.resilience.tests.conftest import PRIMARY, SECONDARY, adapter, drive
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db(transaction=False)


def _until(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(check)


def _run_job(job_id: str, timeout: float = 30.0) -> BackupJob:
    """Drive a backup or restore job in this process, as its task would (tests only)."""
    deadline = time.monotonic() + timeout
    tick = 1
    while time.monotonic() < deadline:
        more, _delay, tick = backups.job_step(job_id=job_id, tick=tick)
        if not more:
            return BackupJob.objects.get(pk=job_id)
        time.sleep(0.02)
    raise TimeoutError(job_id)


def _network(a):
    vpc = a.create("vpc.vpc", PRIMARY, {"cidr_block": "192.168.0.0/16", "name": "bk"})
    _until(lambda: a.get_resource("vpc.vpc", PRIMARY, vpc).status == "available")
    vsw = a.create("vpc.vswitch", PRIMARY, {"vpc_id": vpc, "zone": f"{PRIMARY}-a", "cidr_block": "192.168.1.0/24"})
    _until(lambda: a.get_resource("vpc.vswitch", PRIMARY, vsw).status == "available")
    return vpc, vsw


def _instance_with_disk(world):
    a = adapter(world)
    vpc, vsw = _network(a)
    sg = a.create("ecs.security_group", PRIMARY, {"vpc_id": vpc, "name": "bk"})
    iid = a.create("ecs.instance", PRIMARY, {"instance_type": "ecs.g6.large", "vswitch_id": vsw,
                                            "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
                                            "security_group_id": sg, "name": "app"})
    _until(lambda: a.get_resource("ecs.instance", PRIMARY, iid).status == "running")
    disk = a.create("ecs.disk", PRIMARY, {"zone": f"{PRIMARY}-a", "size_gib": 20, "category": "cloud_essd"})
    _until(lambda: a.get_resource("ecs.disk", PRIMARY, disk).status == "available")
    a.attach("ecs.disk", PRIMARY, disk, iid)
    _until(lambda: a.get_resource("ecs.disk", PRIMARY, disk).status == "in_use")
    return iid, disk, (vpc, vsw)


def _database(world, network=None):
    a = adapter(world)
    vpc, vsw = network or _network(a)
    db = a.create("rds.instance", PRIMARY, {"engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.small.1",
                                            "storage_gib": 20, "vpc_id": vpc, "vswitch_id": vsw, "name": "orders"})
    _until(lambda: a.get_resource("rds.instance", PRIMARY, db).status == "running")
    return db


def _vault(world, client, **kw):
    body = {"organization": str(world["hq"].pk), "name": "vault", "platform": str(world["platform"].pk),
            "region": PRIMARY, **kw}
    response = client.post("/api/v1/resilience/vaults/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _plan(client, vault, **kw):
    response = client.post("/api/v1/resilience/backup-plans/", {"vault": vault["id"], "name": "plan", **kw},
                           format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_ecs_disk_backup_runs_now_and_restores_as_a_new_disk_and_in_place_through_the_api(world):
    instance, disk, _net = _instance_with_disk(world)
    client = api_as(world["operator"])
    vault = _vault(world, client, kind="cross_region", dest_region=SECONDARY)
    assert vault["kind"] == "cross_region" and vault["external_id"]
    plan = _plan(client, vault, source_type="ECS_DISK", source_id=disk, schedule="every 24h")
    started = client.post(f"/api/v1/resilience/backup-plans/{plan['id']}/run/")
    assert started.status_code == 202, started.json()
    # One backup of a plan at a time.
    again = client.post(f"/api/v1/resilience/backup-plans/{plan['id']}/run/")
    assert again.status_code == 409 and again.json()["code"] == "backup_running"
    backup = _run_job(started.json()["id"])
    assert backup.status == "succeeded", backup.error
    shown = client.get(f"/api/v1/resilience/backup-jobs/{backup.id}/").json()
    assert shown["status"] == "succeeded" and shown["progress"] == 100
    rebuilt = client.post(f"/api/v1/resilience/backup-jobs/{backup.id}/restore/", {"target": "new"}, format="json")
    assert rebuilt.status_code == 202, rebuilt.json()
    job = _run_job(rebuilt.json()["id"])
    assert job.status == "succeeded", job.error
    new_disk = job.operation.result["target_id"]
    made = adapter(world).get_resource("ecs.disk", PRIMARY, new_disk)
    assert new_disk != disk and made is not None and made.storage_gib == 20
    in_place = client.post(f"/api/v1/resilience/backup-jobs/{backup.id}/restore/", {"target": "in_place"},
                           format="json")
    job = _run_job(in_place.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.operation.result["target_id"] == instance


def test_rds_and_oss_backups_run_and_a_database_restores_as_a_new_instance(world):
    client = api_as(world["operator"])
    db = _database(world)
    bucket = world["control"].post("/bulk", {"type": "bucket", "count": 1, "region_id": PRIMARY,
                                             "name_prefix": "shop-assets"})["ids"][0]
    vault = _vault(world, client)
    db_plan = _plan(client, vault, source_type="RDS", source_id=db)
    backup = _run_job(client.post(f"/api/v1/resilience/backup-plans/{db_plan['id']}/run/").json()["id"])
    assert backup.status == "succeeded", backup.error
    restored = _run_job(client.post(f"/api/v1/resilience/backup-jobs/{backup.id}/restore/", {"target": "new"},
                                    format="json").json()["id"])
    assert restored.status == "succeeded", restored.error
    clone = restored.operation.result["target_id"]
    assert clone and clone != db
    assert _until(lambda: (adapter(world).get_resource("rds.instance", PRIMARY, clone) or 0) and
                  adapter(world).get_resource("rds.instance", PRIMARY, clone).status == "running")
    oss_plan = _plan(client, vault, name="assets", source_type="OSS", source_id=bucket, schedule="every 12h")
    oss = _run_job(client.post(f"/api/v1/resilience/backup-plans/{oss_plan['id']}/run/").json()["id"])
    assert oss.status == "succeeded", oss.error


def test_bad_backup_input_is_a_4xx_naming_the_field_and_writes_nothing(world):
    client = api_as(world["operator"])
    _instance, disk, _net = _instance_with_disk(world)
    cross = client.post("/api/v1/resilience/vaults/", {"organization": str(world["hq"].pk), "name": "geo",
                                                       "platform": str(world["platform"].pk), "region": PRIMARY,
                                                       "kind": "cross_region"}, format="json")
    assert cross.status_code == 400 and "dest_region" in cross.json()["detail"]
    vault = _vault(world, client)
    for body, field in (({"source_type": "TAPE", "source_id": disk}, "source_type"),
                        ({"source_type": "ECS_DISK", "source_id": disk, "schedule": "daily"}, "schedule"),
                        ({"source_type": "ECS_DISK", "source_id": disk, "retention_days": 0}, "retention_days")):
        response = client.post("/api/v1/resilience/backup-plans/", {"vault": vault["id"], "name": "x", **body},
                               format="json")
        assert response.status_code == 400 and field in response.json()["detail"], response.json()
    assert Vault.objects.count() == 1 and BackupPlan.objects.count() == 0
    plan = _plan(client, vault, source_type="ECS_DISK", source_id=disk)
    running = client.post(f"/api/v1/resilience/backup-plans/{plan['id']}/run/").json()
    # A backup still running cannot be restored; a bad target names the field.
    refused = client.post(f"/api/v1/resilience/backup-jobs/{running['id']}/restore/", {"target": "new"},
                          format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "backup_not_ready"
    _run_job(running["id"])
    bad = client.post(f"/api/v1/resilience/backup-jobs/{running['id']}/restore/", {"target": "sideways"},
                      format="json")
    assert bad.status_code == 400 and "target" in bad.json()["detail"]
    assert BackupJob.objects.count() == 1
    # Another organization's vault, plan and backup are not found, and nothing is written for it.
    outsider = api_as(world["outsider"])
    assert outsider.get(f"/api/v1/resilience/vaults/{vault['id']}/").status_code == 404
    assert outsider.post(f"/api/v1/resilience/backup-plans/{plan['id']}/run/").status_code == 404
    assert outsider.post(f"/api/v1/resilience/backup-jobs/{running['id']}/restore/", {"target": "new"},
                         format="json").status_code == 404
    hidden = outsider.post("/api/v1/resilience/backup-plans/", {"vault": vault["id"], "name": "theirs",
                                                                "source_type": "ECS_DISK", "source_id": disk},
                           format="json")
    # A vault named in a body that the user may not see is "not found" on that field.
    assert hidden.status_code == 400 and hidden.json()["detail"]["vault"] == ["Not found."]
    assert BackupPlan.objects.count() == 1 and BackupJob.objects.count() == 1


def test_a_database_and_a_bucket_replicate_by_their_channels_and_a_failover_restores_the_database(world):
    from apps.clouds.adapters import apsara_dr
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    a = adapter(world)
    db = _database(world)
    bucket = world["control"].post("/bulk", {"type": "bucket", "count": 1, "region_id": PRIMARY,
                                             "name_prefix": "site"})["ids"][0]
    # cloudsim places a bucket made through an address endpoint in its first region (it reads the region from
    # the Host name), so the destination the channel would make is made at the secondary here.
    from cloudsim.services.oss import new_bucket

    with world["sim"].store.lock:
        new_bucket(world["sim"].store, f"{bucket}-dr", SECONDARY)
    for rtype, ext in (("rds.instance", db), ("oss.bucket", bucket)):
        row = resource_refresh(platform=world["platform"], resource_type=rtype, region=PRIMARY, external_id=ext,
                               adapter=a)
        Resource.objects.filter(pk=row.pk).update(organization=world["hq"], tags={"app": "site"})
    client = api_as(world["operator"])
    made = client.post("/api/v1/resilience/groups/", {
        "organization": str(world["hq"].pk), "name": "site", "selection": "tag", "tag_key": "app",
        "tag_value": "site", "primary_platform": str(world["platform"].pk), "primary_region": PRIMARY,
        "secondary_platform": str(world["platform"].pk), "secondary_region": SECONDARY,
        "secondary_zone": f"{SECONDARY}-a", "target_rpo_seconds": 600}, format="json")
    assert made.status_code == 201, made.json()
    group = ProtectionGroup.objects.get(pk=made.json()["id"])
    from apps.resilience import services

    services.group_setup(group_id=group.id)
    channels = {m.resource_type: m for m in group.members.all()}
    assert channels["rds.instance"].channel == ProtectedMember.Channel.RDS_BACKUP
    assert channels["oss.bucket"].channel == ProtectedMember.Channel.OSS_REPLICATION
    assert all(m.replica_id and not m.error for m in group.members.all()), [
        (m.resource_type, m.error) for m in group.members.all()]
    # The database's recovery point is its last finished backup; none yet: the group's RPO is unknown.
    assert services.group_poll(group=group).rpo_seconds is None
    job = apsara_dr.rds_backup_create(a, PRIMARY, db)
    _until(lambda: (apsara_dr.rds_backup_job_get(a, PRIMARY, db, job) or {}).get("status") == "Finished")
    polled = _until(lambda: (lambda g: g if g.rpo_seconds is not None else None)(services.group_poll(group=group)))
    assert polled.rpo_seconds < 60 and not polled.rpo_breached
    listed = client.get(f"/api/v1/resilience/groups/{group.id}/").json()
    assert {m["resource_type"]: m["rpo_seconds"] is not None for m in listed["members"]} == {
        "rds.instance": True, "oss.bucket": True}
    started = client.post(f"/api/v1/resilience/groups/{group.id}/run/", {"kind": "failover"}, format="json")
    assert started.status_code == 202, started.json()
    run = drive(PlanRun.objects.get(pk=started.json()["id"]), timeout=90)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    restore = run.steps.get(action="rds_restore")
    copy = adapter(world).get_resource("rds.instance", PRIMARY, restore.result["copy_id"])
    assert copy is not None and copy.external_id != db and restore.result["rpo_seconds"] is not None
