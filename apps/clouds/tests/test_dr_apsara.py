"""The disaster-recovery contract of the apsara adapter (``apsara_dr``), each function through the official
SDKs against cloudsim in strict Apsara Stack mode: snapshots, replication pairs and drills, RDS backups
and restores, HBR vaults, plans, jobs and restores, OSS replication, the endpoint switch (not offered),
the collected types, and every call sending what the SDK marks required."""

from __future__ import annotations

import ast
import inspect
import json
import time
import urllib.request
from typing import Any

import pytest

from apps.clouds.adapters import apsara_dr
from apps.clouds.adapters.apsara import PRODUCTS, ApsaraAdapter
from apps.clouds.adapters.base import CloudCallError, UnsupportedOperation
from apps.clouds.simulated import sim_connection
from cloudsim.server import CloudSim
from cloudsim.tests.sdk_schema import missing_required

REGION, DEST = "cn-hangzhou", "cn-shanghai"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"


class CheckedAdapter(ApsaraAdapter):
    """The adapter, recording every OpenAPI call and holding its request to the SDK's required parameters."""

    calls: list[tuple[str, str]]

    def _invoke(self, product: str, region: str | None, method: str, request: Any) -> dict[str, Any]:
        missing = missing_required(request)
        assert missing == [], f"{product}.{method} leaves out required {missing}"
        self.calls.append((product, method))
        return super()._invoke(product, region, method, request)


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=[REGION, DEST]).start()
    yield server
    server.stop()


def control(sim: CloudSim, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def cloud(sim) -> CheckedAdapter:
    control(sim, "POST", "/reset")
    control(sim, "POST", "/config", {"provision_seconds": 0.05})
    connection = sim_connection()
    adapter = CheckedAdapter(endpoint=sim.endpoint, protocol="http", region=REGION, timeout=10,
                             credentials=connection["credentials"],
                             options={"organization_id": connection["organization_id"],
                                      "resource_set_id": connection["resource_set_id"]})
    adapter.calls = []
    adapter.retry_backoff = 0.01
    return adapter


def until(check, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def disk(cloud: ApsaraAdapter, region: str = REGION, size: int = 20) -> str:
    disk_id = cloud.create("ecs.disk", region, {"zone": f"{region}-a", "size_gib": size, "category": "cloud_essd"})
    until(lambda: cloud.get_resource("ecs.disk", region, disk_id).status == "available")
    return disk_id


def network(cloud: ApsaraAdapter, region: str = REGION) -> tuple[str, str, str]:
    vpc = cloud.create("vpc.vpc", region, {"cidr_block": "192.168.0.0/16", "name": "dr"})
    until(lambda: cloud.get_resource("vpc.vpc", region, vpc).status == "available")
    vsw = cloud.create("vpc.vswitch", region, {"vpc_id": vpc, "zone": f"{region}-a", "cidr_block": "192.168.1.0/24"})
    until(lambda: cloud.get_resource("vpc.vswitch", region, vsw).status == "available")
    sg = cloud.create("ecs.security_group", region, {"vpc_id": vpc, "name": "dr"})
    return vpc, vsw, sg


def instance_with_disk(cloud: ApsaraAdapter) -> tuple[str, str]:
    _vpc, vsw, sg = network(cloud)
    iid = cloud.create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                "vswitch_id": vsw, "security_group_id": sg, "name": "app"})
    until(lambda: cloud.get_resource("ecs.instance", REGION, iid).status == "running")
    data = disk(cloud)
    cloud.attach("ecs.disk", REGION, data, iid)
    until(lambda: cloud.get_resource("ecs.disk", REGION, data).status == "in_use")
    return iid, data


def database(cloud: ApsaraAdapter) -> str:
    vpc, vsw, _sg = network(cloud)
    db = cloud.create("rds.instance", REGION, {"engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.small.1",
                                               "storage_gib": 20, "vpc_id": vpc, "vswitch_id": vsw, "name": "orders"})
    until(lambda: cloud.get_resource("rds.instance", REGION, db).status == "running")
    return db


def code(call) -> str:
    with pytest.raises(CloudCallError) as caught:
        call()
    return caught.value.code


# -- snapshots -----------------------------------------------------------------------------------------

def test_snapshots_are_made_copied_across_regions_restored_as_disks_rolled_back_and_deleted(cloud):
    source = disk(cloud)
    sid = apsara_dr.snapshot_create(cloud, REGION, source, name="nightly", tags={"dr": "yes"})
    first = apsara_dr.snapshot_get(cloud, REGION, sid)
    assert (first["disk_id"], first["size_gib"], first["name"], first["tags"]) == (source, 20, "nightly",
                                                                                  {"dr": "yes"})
    assert first["created_at"] <= time.time() + 1
    done = until(lambda: (lambda s: s if s["status"] == "accomplished" else None)(
        apsara_dr.snapshot_get(cloud, REGION, sid)))
    assert done["progress"] == 100
    copy = apsara_dr.snapshot_copy(cloud, REGION, sid, dest_region=DEST, name="nightly-dr", tags={"dr": "copy"})
    copied = until(lambda: (lambda s: s if s and s["status"] == "accomplished" else None)(
        apsara_dr.snapshot_get(cloud, DEST, copy)))
    assert (copied["source_snapshot_id"], copied["source_region"], copied["region"]) == (sid, REGION, DEST)
    assert apsara_dr.snapshot_get(cloud, REGION, copy) is None  # the copy lives in its own region only
    restored = apsara_dr.disk_from_snapshot(cloud, DEST, zone=f"{DEST}-b", snapshot_id=copy, name="restored",
                                            tags={"dr": "restore"})
    made = until(lambda: cloud.get_resource("ecs.disk", DEST, restored))
    assert (made.zone, made.storage_gib, made.tags) == (f"{DEST}-b", 20, {"dr": "restore"})
    apsara_dr.disk_rollback(cloud, REGION, source, sid)
    assert cloud.get_resource("ecs.disk", REGION, source).spec["cloud_status"] == "ReIniting"
    assert code(lambda: apsara_dr.disk_rollback(cloud, REGION, restored, sid)) in ("InvalidDiskId.NotFound",
                                                                                  "InvalidSnapshotId.NotMatch")
    assert code(lambda: apsara_dr.snapshot_delete(cloud, DEST, copy)) == "SnapshotCreatedDisk"
    apsara_dr.snapshot_delete(cloud, REGION, sid)
    assert apsara_dr.snapshot_get(cloud, REGION, sid) is None


def test_a_snapshot_still_in_progress_cannot_be_copied(cloud, sim):
    control(sim, "POST", "/config", {"provision_seconds": 5})
    sid = apsara_dr.snapshot_create(cloud, REGION, disk_after_step(cloud, sim), name="slow", tags={})
    assert code(lambda: apsara_dr.snapshot_copy(cloud, REGION, sid, dest_region=DEST, name="x", tags={})) == \
        "IncorrectSnapshotStatus"
    assert [r for r in control(sim, "GET", f"/resources?type=snapshot&region_id={DEST}")["resources"]] == []


def disk_after_step(cloud: ApsaraAdapter, sim: CloudSim) -> str:
    """A disk made while steps are short, then steps made long again."""
    control(sim, "POST", "/config", {"provision_seconds": 0.05})
    disk_id = disk(cloud)
    control(sim, "POST", "/config", {"provision_seconds": 5})
    return disk_id


# -- replication pairs -----------------------------------------------------------------------------------

def test_a_pair_is_created_with_its_secondary_started_drilled_failed_over_reprotected_and_deleted(cloud, sim):
    source = disk(cloud)
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=source, dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name="orders-db", tags={"app": "orders"})
    got = until(lambda: (lambda p: p if p["status"] == "created" else None)(apsara_dr.pair_get(cloud, REGION, pid)))
    assert (got["source_disk_id"], got["source_region"], got["dest_region"], got["dest_zone"], got["direction"],
            got["rpo_seconds"], got["name"], got["tags"], got["last_recovery_point"]) == (
        source, REGION, DEST, f"{DEST}-a", "forward", 900, "orders-db", {"app": "orders"}, None)
    secondary = cloud.get_resource("ecs.disk", DEST, got["dest_disk_id"])
    assert (secondary.name, secondary.storage_gib) == ("orders-db-secondary", 20)
    assert code(lambda: apsara_dr.pair_failover(cloud, REGION, pid)) == "OperationDenied.PairStatus"
    apsara_dr.pair_start(cloud, REGION, pid)
    normal = until(lambda: (lambda p: p if p["status"] == "normal" else None)(apsara_dr.pair_get(cloud, REGION, pid)))
    assert normal["progress"] == 100
    assert time.time() - normal["last_recovery_point"] < 2
    drill = apsara_dr.pair_drill_start(cloud, REGION, pid)
    ran = until(lambda: (lambda d: d if d["status"] == "executed" else None)(
        apsara_dr.pair_drill_get(cloud, REGION, pid, drill)))
    assert ran["region"] == DEST and cloud.get_resource("ecs.disk", DEST, ran["disk_id"]) is not None
    apsara_dr.pair_drill_clear(cloud, REGION, pid, drill)
    until(lambda: apsara_dr.pair_drill_get(cloud, REGION, pid, drill) is None)
    assert cloud.get_resource("ecs.disk", DEST, ran["disk_id"]) is None
    apsara_dr.pair_failover(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "failovered")
    apsara_dr.pair_reprotect(cloud, REGION, pid)
    back = until(lambda: (lambda p: p if p["status"] == "stopped" else None)(apsara_dr.pair_get(cloud, REGION, pid)))
    assert (back["direction"], back["source_disk_id"], back["source_region"]) == ("reverse", got["dest_disk_id"],
                                                                                  DEST)
    apsara_dr.pair_start(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "normal")
    apsara_dr.pair_stop(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "stopped")
    apsara_dr.pair_delete(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid) is None)
    calls = {m for p, m in cloud.calls if p == "ebs"}
    regions = control(sim, "GET", "/calls?action=FailoverDiskReplicaPair")["calls"]
    assert regions and "failover_disk_replica_pair" in calls


@pytest.mark.parametrize("lag", [0, 30, 300])
def test_rpo_from_the_last_recovery_point_is_within_a_second_of_the_truth(cloud, sim, lag):
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=disk(cloud), dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name="rpo", tags={})
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "created")
    apsara_dr.pair_start(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "normal")
    control(sim, "POST", "/replication", {"pair_id": pid, "lag_seconds": lag, "settle": True})
    seen = time.time() - apsara_dr.pair_get(cloud, REGION, pid)["last_recovery_point"]
    real = control(sim, "GET", f"/replication?pair_id={pid}")["pairs"][0]["rpo_seconds"]
    assert abs(seen - real) < 1.0
    assert abs(seen - lag) < 1.5


def test_a_pair_created_while_answers_fail_or_get_lost_exists_once(cloud, sim):
    source = disk(cloud)
    control(sim, "POST", "/faults", {"rules": [
        {"action": "CreateDiskReplicaPair", "lost_rate": 1.0, "remaining": 1},
        {"action": "CreateDisk", "error_rate": 1.0, "remaining": 1},
        {"action": "StartDiskReplicaPair", "lost_rate": 1.0, "remaining": 1}]})
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=source, dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name="once", tags={}, client_token="op-17-step-1")
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "created")
    apsara_dr.pair_start(cloud, REGION, pid, client_token="op-17-step-2")
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "normal")
    pairs = control(sim, "GET", "/resources?type=replica_pair")["resources"]
    assert [p["id"] for p in pairs] == [pid]
    assert len(control(sim, "GET", f"/resources?type=disk&region_id={DEST}")["resources"]) == 1
    again = apsara_dr.pair_create(cloud, REGION, source_disk_id=source, dest_region=DEST, dest_zone=f"{DEST}-a",
                                  rpo_seconds=900, name="once", tags={}, client_token="op-17-step-1")
    assert again == pid  # the step run a second time (a resumed worker) makes nothing new


# -- RDS -----------------------------------------------------------------------------------------------

def test_rds_backups_restore_as_new_instances_from_a_backup_or_a_point_in_time(cloud, sim):
    db = database(cloud)
    assert code(lambda: apsara_dr.rds_restore(cloud, REGION, db, restore_time=time.time(), name="early",
                                              tags={})) == "InvalidRestoreTime"
    job = apsara_dr.rds_backup_create(cloud, REGION, db)
    finished = until(lambda: (lambda j: j if j["status"] == "Finished" else None)(
        apsara_dr.rds_backup_job_get(cloud, REGION, db, job)))
    backups = apsara_dr.rds_backups(cloud, REGION, db)
    assert [b["id"] for b in backups] == [finished["backup_id"]]
    assert backups[0]["status"] == "Success" and backups[0]["size_bytes"] > 0
    clone = apsara_dr.rds_restore(cloud, REGION, db, backup_id=finished["backup_id"], name="orders-restored",
                                  tags={"dr": "restore"})
    restored = until(lambda: (lambda r: r if r.status == "running" else None)(
        cloud.get_resource("rds.instance", REGION, clone)))
    assert (restored.name, restored.tags, restored.spec["engine"]) == ("orders-restored", {"dr": "restore"}, "MySQL")
    # a point after the backup set's consistent time (the API takes whole seconds) and not in the future
    point = float(backups[0]["started_at"]) + 2
    until(lambda: time.time() >= point)
    pitr = apsara_dr.rds_restore(cloud, REGION, db, restore_time=point, name="orders-pitr", tags={})
    assert pitr not in (db, clone)
    with pytest.raises(CloudCallError):
        apsara_dr.rds_restore(cloud, REGION, db, name="neither", tags={})
    apsara_dr.rds_cross_region_backup(cloud, REGION, db, dest_region=DEST, enabled=True)
    record = [r for r in control(sim, "GET", "/resources?type=rds")["resources"] if r["id"] == db][0]
    assert record["status"] == "Running"
    assert code(lambda: apsara_dr.rds_cross_region_backup(cloud, REGION, db, dest_region=REGION,
                                                          enabled=True)) == "InvalidCrossBackupRegion.NotSupport"


# -- HBR ---------------------------------------------------------------------------------------------------

def test_vaults_local_and_cross_region(cloud):
    local = apsara_dr.vault_create(cloud, REGION, name="local-vault", kind="local")
    until(lambda: apsara_dr.vault_get(cloud, REGION, local)["status"] == "CREATED")
    cross = apsara_dr.vault_create(cloud, REGION, name="geo-vault", kind="cross_region", dest_region=DEST)
    got = apsara_dr.vault_get(cloud, REGION, cross)
    assert (got["name"], got["kind"], got["region"]) == ("geo-vault", "cross_region", REGION)
    replica = apsara_dr.vault_get(cloud, DEST, got["replica_vault_id"])
    assert (replica["name"], replica["kind"], replica["source_vault_id"]) == ("geo-vault-replica", "replica", cross)
    assert apsara_dr.vault_get(cloud, REGION, local)["kind"] == "local"
    assert apsara_dr.vault_get(cloud, REGION, "v-missing") is None
    with pytest.raises(CloudCallError):
        apsara_dr.vault_create(cloud, REGION, name="x", kind="cross_region")
    assert code(lambda: apsara_dr.vault_create(cloud, REGION, name="local-vault")) == "VaultNameExists"


def test_an_ecs_disk_backup_plan_runs_a_job_whose_snapshot_restores_as_a_new_disk_or_in_place(cloud):
    instance, data = instance_with_disk(cloud)
    vault = apsara_dr.vault_create(cloud, REGION, name="ecs-vault", kind="cross_region", dest_region=DEST)
    until(lambda: apsara_dr.vault_get(cloud, REGION, vault)["status"] == "CREATED")
    plan = apsara_dr.backup_plan_create(cloud, REGION, vault_id=vault, source_type="ECS_DISK", source_id=data,
                                        schedule="I|1700000000|P1D", retention_days=7, name="app-disks")
    job = apsara_dr.backup_job_run(cloud, REGION, plan)
    first = apsara_dr.backup_job_get(cloud, REGION, job)
    assert first["status"] in ("CREATED", "RUNNING") and first["plan_id"] == plan
    done = until(lambda: (lambda j: j if j["status"] == "COMPLETE" else None)(apsara_dr.backup_job_get(cloud, REGION,
                                                                                                     job)))
    assert done["progress"] == 100 and done["bytes"] == 2 * 1024 ** 3 and done["snapshot_id"]
    rebuild = apsara_dr.restore_job_create(cloud, REGION, snapshot_id=done["snapshot_id"], target="new",
                                           name="rebuild")
    restored = until(lambda: (lambda r: r if r["status"] == "COMPLETE" else None)(
        apsara_dr.restore_job_get(cloud, REGION, rebuild)))
    new_disk = cloud.get_resource("ecs.disk", REGION, restored["target_id"])
    assert new_disk is not None and new_disk.external_id != data and new_disk.storage_gib == 20
    in_place = apsara_dr.restore_job_create(cloud, REGION, snapshot_id=done["snapshot_id"], target="in_place",
                                            name="rollback")
    back = until(lambda: (lambda r: r if r["status"] == "COMPLETE" else None)(
        apsara_dr.restore_job_get(cloud, REGION, in_place)))
    assert back["target_id"] == instance
    assert apsara_dr.backup_job_get(cloud, REGION, "job-missing") is None
    assert code(lambda: apsara_dr.backup_plan_create(
        cloud, REGION, vault_id=vault, source_type="ECS_DISK", source_id=data, schedule="daily",
        retention_days=7, name="bad")) == "InvalidParameter"


def test_rds_and_oss_backup_plans(cloud, sim):
    db = database(cloud)
    vault = apsara_dr.vault_create(cloud, REGION, name="db-vault")
    until(lambda: apsara_dr.vault_get(cloud, REGION, vault)["status"] == "CREATED")
    plan = apsara_dr.backup_plan_create(cloud, REGION, vault_id=vault, source_type="RDS", source_id=db,
                                        schedule="I|1700000000|P1D", retention_days=7, name="db")
    assert plan == f"rds:{db}"
    job = apsara_dr.backup_job_run(cloud, REGION, plan)
    done = until(lambda: (lambda j: j if j["status"] == "COMPLETE" else None)(apsara_dr.backup_job_get(cloud, REGION,
                                                                                                     job)))
    restore = apsara_dr.restore_job_create(cloud, REGION, snapshot_id=done["snapshot_id"], target="new", name="db-r")
    assert restore.startswith("rds:") and apsara_dr.restore_job_get(cloud, REGION, restore)["target_id"] != db
    with pytest.raises(UnsupportedOperation):
        apsara_dr.restore_job_create(cloud, REGION, snapshot_id=done["snapshot_id"], target="in_place", name="x")
    bucket = control(sim, "POST", "/bulk", {"type": "bucket", "count": 1, "region_id": REGION,
                                            "name_prefix": "shop-assets"})["ids"][0]
    oss_plan = apsara_dr.backup_plan_create(cloud, REGION, vault_id=vault, source_type="OSS", source_id=bucket,
                                            schedule="I|1700000000|PT12H", retention_days=30, name="assets")
    oss_job = apsara_dr.backup_job_run(cloud, REGION, oss_plan)
    assert until(lambda: apsara_dr.backup_job_get(cloud, REGION, oss_job)["status"] == "COMPLETE")
    assert code(lambda: apsara_dr.backup_plan_create(
        cloud, REGION, vault_id=vault, source_type="OSS", source_id="no-such-bucket", schedule="I|1700000000|P1D",
        retention_days=1, name="x")) == "NoSuchBucket"


# -- OSS replication and the endpoint switch ------------------------------------------------------------

def test_bucket_replication_reports_progress(cloud, sim):
    source = control(sim, "POST", "/bulk", {"type": "bucket", "count": 1, "region_id": REGION,
                                            "name_prefix": "site"})["ids"][0]
    dest = control(sim, "POST", "/bulk", {"type": "bucket", "count": 1, "region_id": DEST,
                                          "name_prefix": "site-dr"})["ids"][0]
    rule = apsara_dr.bucket_replication_create(cloud, REGION, source, dest_region=DEST, dest_bucket=dest)
    done = until(lambda: (lambda p: p if p["status"] == "doing" else None)(
        apsara_dr.bucket_replication_progress(cloud, REGION, source, rule)))
    assert done["historical_progress"] == 1.0 and done["dest_bucket"] == dest
    assert abs(done["new_object_point"] - time.time()) < 3
    assert code(lambda: apsara_dr.bucket_replication_create(cloud, REGION, source, dest_region=DEST,
                                                            dest_bucket="missing-bucket")) == \
        "InvalidTargetBucketForReplication"


def test_apsara_offers_every_group_but_the_endpoint_switch(cloud):
    assert apsara_dr.offered(cloud) == {"snapshots", "snapshot_groups", "images", "replication_pairs",
                                        "rds_backups", "hbr", "oss_replication"}
    with pytest.raises(UnsupportedOperation):
        apsara_dr.change_record(cloud, "zone-1", "app.example.com", "10.0.0.1")


# -- inventory --------------------------------------------------------------------------------------------

def test_inventory_collects_snapshots_pairs_vaults_and_plans(cloud):
    for resource_type in ("ecs.snapshot", "ebs.replication_pair", "asr.backup_vault", "asr.backup_plan"):
        assert resource_type in ApsaraAdapter.capabilities.resource_types
    source = disk(cloud)
    sid = apsara_dr.snapshot_create(cloud, REGION, source, name="inv", tags={"k": "v"})
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=source, dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name="inv-pair", tags={})
    vault = apsara_dr.vault_create(cloud, REGION, name="inv-vault")
    other = apsara_dr.vault_create(cloud, DEST, name="other-vault")
    until(lambda: apsara_dr.vault_get(cloud, REGION, vault)["status"] == "CREATED")
    until(lambda: apsara_dr.vault_get(cloud, DEST, other)["status"] == "CREATED")
    _instance, data = instance_with_disk(cloud)
    plan = apsara_dr.backup_plan_create(cloud, REGION, vault_id=vault, source_type="ECS_DISK", source_id=data,
                                        schedule="I|1700000000|P1D", retention_days=7, name="inv-plan")
    listed = {t: [r.external_id for r in cloud.iter_resources(t, REGION)]
              for t in ("ecs.snapshot", "ebs.replication_pair", "asr.backup_vault", "asr.backup_plan")}
    assert listed == {"ecs.snapshot": [sid], "ebs.replication_pair": [pid], "asr.backup_vault": [vault],
                      "asr.backup_plan": [plan]}
    snapshot = cloud.get_resource("ecs.snapshot", REGION, sid)
    assert (snapshot.tags, snapshot.relations[0].target_external_id) == ({"k": "v"}, source)
    assert cloud.get_resource("ebs.replication_pair", REGION, pid).spec["source_disk_id"] == source
    assert cloud.get_resource("asr.backup_vault", REGION, vault).name == "inv-vault"
    assert [r.external_id for r in cloud.iter_resources("asr.backup_plan", DEST)] == []
    assert cloud.get_resource("ecs.snapshot", REGION, "s-missing") is None


# -- every action ------------------------------------------------------------------------------------------

def dr_calls() -> list[tuple[str, str]]:
    """(product, SDK method) of every ``_invoke`` call in ``apsara_dr``'s source."""
    tree = ast.parse(inspect.getsource(apsara_dr))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_invoke":
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            found.append((strings[0], strings[1]) if len(strings) >= 2 else ("?", ast.unparse(node)))
    return found


def test_every_call_the_module_makes_names_a_product_and_a_method_of_its_sdk_client():
    calls = dr_calls()
    assert len(calls) > 30
    wrong = [(p, m) for p, m in calls if p not in PRODUCTS or not hasattr(PRODUCTS[p], f"{m}_with_options")]
    assert wrong == []
    source = inspect.getsource(apsara_dr)
    for odd in ("describe_backup_jobs_2with_options", "describe_restore_jobs_2with_options"):
        assert odd in source and hasattr(PRODUCTS["hbr"], odd)


def test_a_snapshot_consistent_group_snaps_every_disk_of_an_instance_at_one_point(cloud):
    instance, data = instance_with_disk(cloud)
    group = apsara_dr.snapshot_group_create(cloud, REGION, instance, name="app-consistent", tags={"dr": "group"})
    done = until(lambda: (lambda g: g if g["status"] == "accomplished" else None)(
        apsara_dr.snapshot_group_get(cloud, REGION, group)))
    disks = {d.external_id for d in cloud.iter_resources("ecs.disk", REGION) if d.spec["instance_id"] == instance}
    assert set(done["snapshots"]) == disks and data in disks and len(disks) == 2
    assert done["instance_id"] == instance and done["name"] == "app-consistent"
    one = apsara_dr.snapshot_get(cloud, REGION, done["snapshots"][data])
    assert (one["disk_id"], one["tags"]) == (data, {"dr": "group"})
    only = apsara_dr.snapshot_group_create(cloud, REGION, instance, name="data-only", tags={}, disk_ids=[data])
    assert set(until(lambda: apsara_dr.snapshot_group_get(cloud, REGION, only))["snapshots"]) == {data}
    assert code(lambda: apsara_dr.snapshot_group_create(cloud, REGION, instance, name="x", tags={},
                                                        disk_ids=[disk(cloud)])) == \
        "InvalidDiskIds.NotBelongToInstance"
    apsara_dr.snapshot_group_delete(cloud, REGION, group)
    assert apsara_dr.snapshot_group_get(cloud, REGION, group) is None
    assert apsara_dr.snapshot_get(cloud, REGION, done["snapshots"][data]) is None


def test_an_image_of_an_instance_is_copied_to_the_secondary_region_and_deleted(cloud):
    instance, _data = instance_with_disk(cloud)
    image = apsara_dr.image_create(cloud, REGION, instance, name="app-golden", tags={})
    made = until(lambda: (lambda i: i if i["status"] == "Available" else None)(
        apsara_dr.image_get(cloud, REGION, image)))
    assert (made["name"], made["region"]) == ("app-golden", REGION)
    copy = apsara_dr.image_copy(cloud, REGION, image, dest_region=DEST, name="app-golden-dr")
    copied = until(lambda: (lambda i: i if i and i["status"] == "Available" else None)(
        apsara_dr.image_get(cloud, DEST, copy)))
    assert copied["name"] == "app-golden-dr"
    assert apsara_dr.image_get(cloud, REGION, copy) is None
    assert code(lambda: apsara_dr.image_copy(cloud, REGION, "m-missing", dest_region=DEST, name="x")) == \
        "InvalidImageId.NotFound"
    apsara_dr.image_delete(cloud, DEST, copy)
    assert apsara_dr.image_get(cloud, DEST, copy) is None
    assert apsara_dr.image_get(cloud, REGION, image) is not None


def test_a_pair_in_its_first_sync_reports_its_progress_and_no_recovery_point_yet(cloud, sim):
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=disk(cloud), dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name="slow-sync", tags={})
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "created")
    control(sim, "POST", "/config", {"provision_seconds": 30})
    apsara_dr.pair_start(cloud, REGION, pid)
    syncing = apsara_dr.pair_get(cloud, REGION, pid)
    assert syncing["status"] == "initial_syncing"
    assert 0 <= syncing["progress"] < 100 and syncing["last_recovery_point"] is None
    assert ("ebs", "describe_disk_replica_pair_progress") in cloud.calls
