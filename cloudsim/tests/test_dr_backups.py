"""ECS snapshots, RDS backups and clones, HBR vaults/plans/jobs/restores and OSS bucket replication in
cloudsim, through the official SDKs (``oss2`` for OSS): states, refusals that change nothing, answers
that hold to the SDK's response models, and faults applying to the new actions like to the old."""

from __future__ import annotations

import json
import time

import oss2
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_hbr20170908 import models as hbr_models
from alibabacloud_hbr20170908.client import Client as HbrClient
from alibabacloud_rds20140815 import models as rds_models
from Tea.exceptions import TeaException

from cloudsim.params import Params
from cloudsim.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from cloudsim.tests.conftest import REGION, ZONE_A, make_network, run_instances, sdk_config, wait_for
from cloudsim.tests.sdk_schema import undefined

DEST = "cn-shanghai"


@pytest.fixture
def fast(control):
    control.post("/config", {"provision_seconds": 0.05})
    return control


@pytest.fixture
def hbr(sim, fast) -> HbrClient:
    return HbrClient(sdk_config(sim))


def code_of(call) -> str:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value.code


def new_disk(ecs, size: int = 20, zone: str = ZONE_A) -> str:
    disk_id = ecs.create_disk(ecs_models.CreateDiskRequest(region_id=REGION, zone_id=zone, size=size)).body.disk_id
    wait_for(lambda: disk_of(ecs, disk_id).status == "Available")
    return disk_id


def disk_of(ecs, disk_id: str, region: str = REGION):
    found = ecs.describe_disks(ecs_models.DescribeDisksRequest(region_id=region, disk_ids=json.dumps([disk_id]))
                               ).body.disks.disk
    return found[0] if found else None


def snapshot_of(ecs, snapshot_id: str, region: str = REGION):
    found = ecs.describe_snapshots(ecs_models.DescribeSnapshotsRequest(
        region_id=region, snapshot_ids=json.dumps([snapshot_id]))).body.snapshots.snapshot
    return found[0] if found else None


# -- ECS snapshots ------------------------------------------------------------------------------------

def test_a_snapshot_progresses_then_copies_across_regions_and_makes_disks(sim, ecs, fast):
    disk_id = new_disk(ecs)
    sid = ecs.create_snapshot(ecs_models.CreateSnapshotRequest(disk_id=disk_id, snapshot_name="nightly", tag=[
        ecs_models.CreateSnapshotRequestTag(key="dr", value="yes")])).body.snapshot_id
    first = snapshot_of(ecs, sid)
    assert (first.status, first.progress, first.source_disk_id, first.source_disk_size) == (
        "progressing", "50%", disk_id, "20")
    wait_for(lambda: snapshot_of(ecs, sid).status == "accomplished")
    assert snapshot_of(ecs, sid).progress == "100%" and snapshot_of(ecs, sid).available is True
    copy = ecs.copy_snapshot(ecs_models.CopySnapshotRequest(
        region_id=REGION, snapshot_id=sid, destination_region_id=DEST, destination_snapshot_name="dr",
        destination_snapshot_description="copy")).body.snapshot_id
    wait_for(lambda: snapshot_of(ecs, copy, DEST) and snapshot_of(ecs, copy, DEST).status == "accomplished")
    assert (snapshot_of(ecs, copy, DEST).source_snapshot_id, snapshot_of(ecs, copy, DEST).source_region_id) == (
        sid, REGION)
    made = ecs.create_disk(ecs_models.CreateDiskRequest(region_id=REGION, zone_id="cn-hangzhou-b",
                                                        snapshot_id=sid)).body.disk_id
    wait_for(lambda: disk_of(ecs, made).status == "Available")
    assert (disk_of(ecs, made).size, disk_of(ecs, made).source_snapshot_id) == (20, sid)
    assert code_of(lambda: ecs.create_disk(ecs_models.CreateDiskRequest(
        region_id=REGION, zone_id=ZONE_A, snapshot_id=sid, size=10))) == "InvalidDiskSize.TooSmall"
    assert code_of(lambda: ecs.delete_snapshot(ecs_models.DeleteSnapshotRequest(snapshot_id=sid))) == \
        "SnapshotCreatedDisk"
    ecs.delete_snapshot(ecs_models.DeleteSnapshotRequest(snapshot_id=sid, force=True))
    assert snapshot_of(ecs, sid) is None
    body = sim.execute("2014-05-26", "DescribeSnapshots", Params({"RegionId": DEST}))
    assert undefined(ecs_models.DescribeSnapshotsResponseBody, body) == []


def test_create_disk_without_a_snapshot_is_unchanged(ecs, fast):
    assert code_of(lambda: ecs.create_disk(ecs_models.CreateDiskRequest(region_id=REGION, zone_id=ZONE_A))) == \
        "MissingParameter"
    disk_id = new_disk(ecs, size=40)
    assert (disk_of(ecs, disk_id).size, disk_of(ecs, disk_id).category) == (40, "cloud")


def test_reset_disk_needs_the_disks_own_snapshot_and_a_stopped_instance(ecs, vpc, fast):
    _vpc, vsw = make_network(vpc)
    iid = run_instances(ecs, vsw)[0]
    wait_for(lambda: ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps([iid]))).body.instances.instance[0].status == "Running")
    system = ecs.describe_disks(ecs_models.DescribeDisksRequest(region_id=REGION, instance_id=iid)).body.disks.disk[0]
    sid = ecs.create_snapshot(ecs_models.CreateSnapshotRequest(disk_id=system.disk_id)).body.snapshot_id
    wait_for(lambda: snapshot_of(ecs, sid).status == "accomplished")
    reset = ecs_models.ResetDiskRequest(disk_id=system.disk_id, snapshot_id=sid)
    assert code_of(lambda: ecs.reset_disk(reset)) == "IncorrectInstanceStatus"
    other = new_disk(ecs)
    assert code_of(lambda: ecs.reset_disk(ecs_models.ResetDiskRequest(disk_id=other, snapshot_id=sid))) == \
        "InvalidSnapshotId.NotMatch"
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=iid))
    wait_for(lambda: ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps([iid]))).body.instances.instance[0].status == "Stopped")
    assert code_of(lambda: ecs.reset_disk(ecs_models.ResetDiskRequest(
        disk_id=system.disk_id, snapshot_id=sid, dry_run=True))) == "DryRunOperation"
    assert disk_of(ecs, system.disk_id).status == "In_use"
    ecs.reset_disk(reset)
    assert disk_of(ecs, system.disk_id).status == "ReIniting"
    wait_for(lambda: disk_of(ecs, system.disk_id).status == "In_use")


def test_a_snapshot_copy_faults_like_any_action(ecs, fast):
    sid = ecs.create_snapshot(ecs_models.CreateSnapshotRequest(disk_id=new_disk(ecs))).body.snapshot_id
    wait_for(lambda: snapshot_of(ecs, sid).status == "accomplished")
    fast.post("/faults", {"action": "CopySnapshot", "error_rate": 1.0, "code": "Throttling", "remaining": 1})
    request = ecs_models.CopySnapshotRequest(region_id=REGION, snapshot_id=sid, destination_region_id=DEST,
                                             destination_snapshot_name="x", destination_snapshot_description="x")
    assert code_of(lambda: ecs.copy_snapshot(request)) == "Throttling"
    assert fast.get(f"/resources?type=snapshot&region_id={DEST}")["count"] == 0
    ecs.copy_snapshot(request)
    assert fast.get(f"/resources?type=snapshot&region_id={DEST}")["count"] == 1


# -- RDS backups ------------------------------------------------------------------------------------------

def database(rds, vpc) -> str:
    vpc_id, vsw = make_network(vpc)
    db = rds.create_dbinstance(rds_models.CreateDBInstanceRequest(
        region_id=REGION, zone_id=ZONE_A, engine="MySQL", engine_version="8.0", dbinstance_class="mysql.n2.small.1",
        dbinstance_storage=20, dbinstance_net_type="Intranet", security_iplist="10.0.0.0/8", pay_type="Postpaid",
        vpcid=vpc_id, v_switch_id=vsw)).body.dbinstance_id
    wait_for(lambda: status_of(rds, db) == "Running")
    return db


def status_of(rds, db: str) -> str | None:
    found = rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION, dbinstance_id=db)
                                     ).body.items.dbinstance
    return found[0].dbinstance_status if found else None


def test_an_rds_backup_job_finishes_with_a_backup_set_that_clones_a_new_instance(sim, rds, vpc, fast):
    db = database(rds, vpc)
    job = rds.create_backup(rds_models.CreateBackupRequest(dbinstance_id=db, backup_method="Physical",
                                                           backup_type="FullBackup")).body.backup_job_id

    def task():
        return rds.describe_backup_tasks(rds_models.DescribeBackupTasksRequest(
            dbinstance_id=db, backup_job_id=job)).body.items.backup_job[0]

    assert task().backup_status == "Uploading"
    wait_for(lambda: task().backup_status == "Finished")
    backups = rds.describe_backups(rds_models.DescribeBackupsRequest(dbinstance_id=db)).body
    assert [b.backup_id for b in backups.items.backup] == [task().backup_id]
    assert undefined(rds_models.DescribeBackupsResponseBody,
                     sim.execute("2014-08-15", "DescribeBackups", Params({"DBInstanceId": db}))) == []
    clone = rds.clone_dbinstance(rds_models.CloneDBInstanceRequest(
        dbinstance_id=db, pay_type="Postpaid", backup_id=task().backup_id,
        tag=[rds_models.CloneDBInstanceRequestTag(key="dr", value="clone")])).body.dbinstance_id
    wait_for(lambda: status_of(rds, clone) == "Running")
    assert code_of(lambda: rds.clone_dbinstance(rds_models.CloneDBInstanceRequest(
        dbinstance_id=db, pay_type="Postpaid", backup_id="999"))) == "InvalidBackupId.NotFound"
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    before = len(rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION)).body.items
                 .dbinstance)
    assert code_of(lambda: rds.clone_dbinstance(rds_models.CloneDBInstanceRequest(
        dbinstance_id=db, pay_type="Postpaid", restore_time=future))) == "InvalidRestoreTime"
    assert len(rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION)).body.items
               .dbinstance) == before
    log = fast.get(f"/calls?resource_id={db}&kind=write&applied=1")["calls"]
    assert [c["action"] for c in log] == ["CreateDBInstance", "CreateBackup", "CloneDBInstance"]


def test_cross_region_backup_policy_is_kept_and_refuses_its_own_region(rds, vpc, fast):
    db = database(rds, vpc)
    rds.modify_instance_cross_backup_policy(rds_models.ModifyInstanceCrossBackupPolicyRequest(
        region_id=REGION, dbinstance_id=db, backup_enabled="1", cross_backup_region=DEST, log_backup_enabled="1"))
    policy = rds.describe_instance_cross_backup_policy(rds_models.DescribeInstanceCrossBackupPolicyRequest(
        region_id=REGION, dbinstance_id=db)).body
    assert (policy.backup_enabled, policy.cross_backup_region, policy.log_backup_enabled) == ("Enable", DEST,
                                                                                              "Enable")
    assert code_of(lambda: rds.modify_instance_cross_backup_policy(rds_models.ModifyInstanceCrossBackupPolicyRequest(
        region_id=REGION, dbinstance_id=db, backup_enabled="1", cross_backup_region=REGION))) == \
        "InvalidCrossBackupRegion.NotSupport"
    assert rds.describe_instance_cross_backup_policy(rds_models.DescribeInstanceCrossBackupPolicyRequest(
        region_id=REGION, dbinstance_id=db)).body.cross_backup_region == DEST


# -- HBR ---------------------------------------------------------------------------------------------------

def test_hbr_vault_plan_job_snapshot_and_restore_as_new_disks(sim, hbr, ecs, vpc, fast):
    _vpc, vsw = make_network(vpc)
    iid = run_instances(ecs, vsw)[0]
    system = ecs.describe_disks(ecs_models.DescribeDisksRequest(region_id=REGION, instance_id=iid)).body.disks.disk[0]
    vault = hbr.create_vault(hbr_models.CreateVaultRequest(vault_region_id=REGION, vault_name="v1")).body.vault_id
    plan_request = hbr_models.CreateBackupPlanRequest(
        vault_id=vault, source_type="UDM_ECS", instance_id=iid, schedule="I|1700000000|P1D", retention=7,
        plan_name="app", detail={"diskIdList": [system.disk_id]})
    assert code_of(lambda: hbr.create_backup_plan(plan_request)) == "VaultStatusInvalid"  # still INITIALIZING
    wait_for(lambda: hbr.describe_vaults(hbr_models.DescribeVaultsRequest(vault_id=vault)).body.vaults.vault[0]
             .status == "CREATED")
    plan = hbr.create_backup_plan(plan_request).body.plan_id
    job = hbr.execute_backup_plan(hbr_models.ExecuteBackupPlanRequest(plan_id=plan)).body.job_id

    def job_of():
        return hbr.describe_backup_jobs_2(hbr_models.DescribeBackupJobs2Request(
            source_type="UDM_ECS", filters=[hbr_models.DescribeBackupJobs2RequestFilters(
                key="jobId", operator="EQUAL", values=[job])])).body.backup_jobs.backup_job

    assert job_of()[0].status == "CREATED"
    wait_for(lambda: job_of()[0].status == "COMPLETE")
    assert job_of()[0].progress == 10000
    assert hbr.describe_backup_jobs_2(hbr_models.DescribeBackupJobs2Request()).body.backup_jobs.backup_job == []
    snaps = hbr.search_historical_snapshots(hbr_models.SearchHistoricalSnapshotsRequest(
        source_type="UDM_ECS", query=[{"field": "jobId", "value": job, "operation": "MATCH_TERM"}])
    ).body.snapshots.snapshot
    assert len(snaps) == 1 and snaps[0].instance_id == iid
    restore = hbr.create_restore_job(hbr_models.CreateRestoreJobRequest(
        restore_type="UDM_ECS_DISK", source_type="UDM_ECS", snapshot_id=snaps[0].snapshot_id,
        udm_detail={"targetInstanceId": iid})).body.restore_id

    def restore_of():
        return hbr.describe_restore_jobs_2(hbr_models.DescribeRestoreJobs2Request(
            restore_type="UDM_ECS_DISK", filters=[hbr_models.DescribeRestoreJobs2RequestFilters(
                key="restoreId", operator="EQUAL", values=[restore])])).body.restore_jobs.restore_job[0]

    wait_for(lambda: restore_of().status == "COMPLETE")
    made = json.loads(restore_of().udm_detail)["diskIdList"]
    assert len(made) == 1 and disk_of(ecs, made[0]).size == system.size
    for name, params, model in [
        ("DescribeVaults", {}, hbr_models.DescribeVaultsResponseBody),
        ("DescribeBackupPlans", {}, hbr_models.DescribeBackupPlansResponseBody),
        ("DescribeBackupJobs2", {"SourceType": "UDM_ECS"}, hbr_models.DescribeBackupJobs2ResponseBody),
        ("DescribeRestoreJobs2", {"RestoreType": "UDM_ECS_DISK"}, hbr_models.DescribeRestoreJobs2ResponseBody),
        ("SearchHistoricalSnapshots", {"SourceType": "UDM_ECS"},
         hbr_models.SearchHistoricalSnapshotsResponseBody),
    ]:
        assert undefined(model, sim.execute("2017-09-08", name, Params(params))) == [], name


def test_hbr_refuses_bad_plans_and_creates_nothing(hbr, fast):
    vault = hbr.create_vault(hbr_models.CreateVaultRequest(vault_region_id=REGION, vault_name="v2")).body.vault_id
    wait_for(lambda: hbr.describe_vaults(hbr_models.DescribeVaultsRequest(vault_id=vault)).body.vaults.vault[0]
             .status == "CREATED")

    def plan(**kw):
        values = dict(vault_id=vault, source_type="OSS", bucket="missing", schedule="I|1700000000|P1D", retention=7)
        values.update(kw)
        return lambda: hbr.create_backup_plan(hbr_models.CreateBackupPlanRequest(**values))

    assert code_of(plan()) == "NoSuchBucket"
    assert code_of(plan(schedule="every day")) == "InvalidParameter"
    assert code_of(plan(source_type="ECS_FILE")) == "InvalidParameter"
    assert code_of(plan(vault_id="v-nope")) == "VaultNotExist"
    assert code_of(plan(source_type="UDM_ECS", instance_id="i-nope")) == "InvalidInstanceId.NotFound"
    assert hbr.describe_backup_plans(hbr_models.DescribeBackupPlansRequest()).body.backup_plans.backup_plan == []
    assert code_of(lambda: hbr.create_vault(hbr_models.CreateVaultRequest(vault_region_id=REGION,
                                                                          vault_name="v2"))) == "VaultNameExists"


def test_a_replication_vault_receives_a_copy_of_each_backup(hbr, fast):
    source = hbr.create_vault(hbr_models.CreateVaultRequest(vault_region_id=REGION, vault_name="src")).body.vault_id
    wait_for(lambda: hbr.describe_vaults(hbr_models.DescribeVaultsRequest(vault_id=source)).body.vaults.vault[0]
             .status == "CREATED")
    replica = hbr.create_replication_vault(hbr_models.CreateReplicationVaultRequest(
        vault_region_id=DEST, vault_name="src-copy", replication_source_region_id=REGION,
        replication_source_vault_id=source)).body.vault_id
    fast.post("/bulk", {"type": "bucket", "count": 1, "region_id": REGION, "name_prefix": "assets"})
    plan = hbr.create_backup_plan(hbr_models.CreateBackupPlanRequest(
        vault_id=source, source_type="OSS", bucket="assets-1", schedule="I|1700000000|PT6H", retention=3)).body.plan_id
    job = hbr.execute_backup_plan(hbr_models.ExecuteBackupPlanRequest(plan_id=plan)).body.job_id

    def snapshots(vault):
        return hbr.search_historical_snapshots(hbr_models.SearchHistoricalSnapshotsRequest(
            source_type="OSS", query=[{"field": "vaultId", "value": vault, "operation": "MATCH_TERM"}])
        ).body.snapshots.snapshot

    wait_for(lambda: snapshots(source))
    assert [s.job_id for s in snapshots(replica)] == [job]
    described = hbr.describe_vaults(hbr_models.DescribeVaultsRequest(vault_region_id=DEST)).body.vaults.vault
    assert [(v.vault_id, v.replication, v.replication_source_vault_id) for v in described] == [
        (replica, True, source)]


# -- OSS replication ----------------------------------------------------------------------------------------

def test_bucket_replication_copies_old_and_new_objects_and_reports_progress(sim, fast):
    fast.post("/bulk", {"type": "bucket", "count": 1, "region_id": REGION, "name_prefix": "site"})
    fast.post("/bulk", {"type": "bucket", "count": 1, "region_id": DEST, "name_prefix": "site-dr"})
    auth = oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    source = oss2.Bucket(auth, f"http://{sim.endpoint}", "site-1")
    source.put_object("old.html", b"old")
    with pytest.raises(oss2.exceptions.ServerError) as none:
        source.get_bucket_replication()
    assert (none.value.status, none.value.code) == (404, "NoSuchReplicationConfiguration")
    rule = oss2.models.ReplicationRule(target_bucket_name="site-dr-1", target_bucket_location=f"oss-{DEST}",
                                       action_list=["ALL"])
    source.put_bucket_replication(rule)
    rules = source.get_bucket_replication().rule_list
    assert [(r.target_bucket_name, r.target_bucket_location, r.status) for r in rules] == [
        ("site-dr-1", f"oss-{DEST}", "starting")]
    time.sleep(1.1)  # a new object written in a later second than the rule
    source.put_object("new.html", b"new!")
    progress = wait_for(lambda: (lambda p: p if p.status == "doing" and p.historical_object_progress == 1.0
                                 else None)(source.get_bucket_replication_progress(rules[0].rule_id).progress))
    assert progress.new_object_progress
    # cloudsim keeps objects' names and sizes only (no ListObjects): read the destination from its state.
    wait_for(lambda: set(sim.store.tables["bucket"]["site-dr-1"]["_objects"]) == {"old.html", "new.html"})
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        source.put_bucket_replication(oss2.models.ReplicationRule(target_bucket_name="nowhere",
                                                                  target_bucket_location=f"oss-{DEST}"))
    assert caught.value.code == "InvalidTargetBucketForReplication"
    source.delete_bucket_replication(rules[0].rule_id)
    assert source.get_bucket_replication().rule_list[0].status == "closing"



def test_snapshot_groups_answer_in_the_sdk_models_shape(sim, ecs, vpc, fast):
    _vpc, vsw = make_network(vpc)
    iid = run_instances(ecs, vsw)[0]
    wait_for(lambda: ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps([iid]))).body.instances.instance[0].status == "Running")
    group = ecs.create_snapshot_group(ecs_models.CreateSnapshotGroupRequest(region_id=REGION, instance_id=iid,
                                                                            name="g")).body.snapshot_group_id
    assert code_of(lambda: ecs.delete_snapshot_group(ecs_models.DeleteSnapshotGroupRequest(
        region_id=REGION, snapshot_group_id=group))) == "IncorrectSnapshotGroupStatus"
    body = sim.execute("2014-05-26", "DescribeSnapshotGroups", Params({"RegionId": REGION}))
    assert undefined(ecs_models.DescribeSnapshotGroupsResponseBody, body) == []
    wait_for(lambda: ecs.describe_snapshot_groups(ecs_models.DescribeSnapshotGroupsRequest(
        region_id=REGION, snapshot_group_id=[group])).body.snapshot_groups.snapshot_group[0].status == "accomplished")
    deleted = sim.execute("2014-05-26", "DeleteSnapshotGroup", Params({"RegionId": REGION, "SnapshotGroupId": group}))
    assert undefined(ecs_models.DeleteSnapshotGroupResponseBody, deleted) == []
    assert fast.get("/resources?type=snapshot")["count"] == 0


def test_an_own_image_is_copied_to_another_region_once_available(sim, ecs, vpc, fast):
    _vpc, vsw = make_network(vpc)
    iid = run_instances(ecs, vsw)[0]
    image = ecs.create_image(ecs_models.CreateImageRequest(region_id=REGION, instance_id=iid, image_name="golden")
                             ).body.image_id
    copy_request = ecs_models.CopyImageRequest(region_id=REGION, image_id=image, destination_region_id=DEST,
                                               destination_image_name="golden-dr")
    fast.post("/config", {"provision_seconds": 5})
    slow = ecs.create_image(ecs_models.CreateImageRequest(region_id=REGION, instance_id=iid)).body.image_id
    assert code_of(lambda: ecs.copy_image(ecs_models.CopyImageRequest(
        region_id=REGION, image_id=slow, destination_region_id=DEST))) == "IncorrectImageStatus"
    fast.post("/config", {"provision_seconds": 0.05})
    wait_for(lambda: ecs.describe_images(ecs_models.DescribeImagesRequest(
        region_id=REGION, image_id=image, image_owner_alias="self")).body.images.image[0].status == "Available")
    assert code_of(lambda: ecs.copy_image(ecs_models.CopyImageRequest(
        region_id=REGION, image_id=image, destination_region_id="nowhere"))) == "InvalidDestinationRegionId.NotFound"
    copy = ecs.copy_image(copy_request).body.image_id
    wait_for(lambda: ecs.describe_images(ecs_models.DescribeImagesRequest(
        region_id=DEST, image_id=copy, image_owner_alias="self")).body.images.image[0].status == "Available")
    body = sim.execute("2014-05-26", "DescribeImages", Params({"RegionId": DEST, "ImageOwnerAlias": "self"}))
    assert [(i["ImageName"], i["IsCopied"]) for i in body["Images"]["Image"]] == [("golden-dr", True)]
    assert undefined(ecs_models.DescribeImagesResponseBody, body) == []


def test_the_call_log_tells_the_resources_a_write_changes_from_those_it_only_reads(rds, vpc, ecs, fast):
    db = database(rds, vpc)
    disk_id = new_disk(ecs)
    since = fast.get("/calls")["last_seq"]
    sid = ecs.create_snapshot(ecs_models.CreateSnapshotRequest(disk_id=disk_id)).body.snapshot_id
    job = rds.create_backup(rds_models.CreateBackupRequest(dbinstance_id=db)).body.backup_job_id
    wait_for(lambda: rds.describe_backup_tasks(rds_models.DescribeBackupTasksRequest(
        dbinstance_id=db, backup_job_id=job)).body.items.backup_job[0].backup_status == "Finished")
    backup = rds.describe_backups(rds_models.DescribeBackupsRequest(dbinstance_id=db)).body.items.backup[0].backup_id
    clone = rds.clone_dbinstance(rds_models.CloneDBInstanceRequest(dbinstance_id=db, pay_type="Postpaid",
                                                                   backup_id=backup)).body.dbinstance_id
    writes = fast.get(f"/calls?since={since}&kind=write")["calls"]
    assert [(c["action"], c["written"]) for c in writes] == [
        ("CreateSnapshot", [sid]), ("CreateBackup", [job]), ("CloneDBInstance", [clone])]
    assert db in writes[2]["ids"] and disk_id in writes[0]["ids"]
    assert fast.get(f"/calls?since={since}&written_ids={db},{disk_id}")["calls"] == []
    rds.restart_dbinstance(rds_models.RestartDBInstanceRequest(dbinstance_id=db))
    assert [c["action"] for c in fast.get(f"/calls?since={since}&written_ids={db},{disk_id}")["calls"]] == [
        "RestartDBInstance"]
