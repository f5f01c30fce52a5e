"""The cloud side of disaster recovery, reached through the adapters' DR companions.

Every cloud call resilience makes goes through ``call`` here, which picks the companion module of the
platform's adapter type (``apps.clouds.adapters.apsara_dr`` or ``aws_dr``), builds the adapter for the
region and calls ``fn(adapter, region, ...)``. ``describe`` renders the same call as one line, which
is what a dry run lists: the dry run and the real run name their calls through one table (``CALLS``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from apps.clouds.adapters import adapter_for
from apps.clouds.adapters.base import CloudCallError
from apps.core.errors import Refused

# Which cloud API each contract function is, for dry runs and evidence (product.Action).
CALLS: dict[str, dict[str, str]] = {
    "apsara": {
        "pair_create": "ebs.CreateDiskReplicaPair", "pair_start": "ebs.StartDiskReplicaPair",
        "pair_stop": "ebs.StopDiskReplicaPair", "pair_failover": "ebs.FailoverDiskReplicaPair",
        "pair_reprotect": "ebs.ReprotectDiskReplicaPair", "pair_delete": "ebs.DeleteDiskReplicaPair",
        "pair_get": "ebs.DescribeDiskReplicaPairs", "pair_drill_start": "ebs.StartPairDrill",
        "pair_drill_clear": "ebs.ClearPairDrill", "pair_drill_get": "ebs.DescribePairDrills",
        "snapshot_create": "ecs.CreateSnapshot",
        "snapshot_copy": "ecs.CopySnapshot", "snapshot_delete": "ecs.DeleteSnapshot",
        "disk_from_snapshot": "ecs.CreateDisk", "rds_backup_create": "rds.CreateBackup",
        "rds_backups": "rds.DescribeBackups", "rds_restore": "rds.CloneDBInstance",
        "rds_cross_region_backup": "rds.ModifyBackupPolicy", "vault_create": "hbr.CreateVault",
        "backup_plan_create": "hbr.CreateBackupPlan", "backup_job_run": "hbr.ExecuteBackupPlan",
        "backup_job_get": "hbr.DescribeBackupJobs2", "restore_job_create": "hbr.CreateRestoreJob",
        "restore_job_get": "hbr.DescribeRestoreJobs2", "bucket_replication_create": "oss.PutBucketReplication",
        "bucket_replication_progress": "oss.GetBucketReplicationProgress", "change_record": "dns (not offered)",
        "vpc_create": "vpc.CreateVpc", "vswitch_create": "vpc.CreateVSwitch", "vpc_delete": "vpc.DeleteVpc",
        "vswitch_delete": "vpc.DeleteVSwitch", "instance_stop": "ecs.StopInstance",
        "instance_start": "ecs.StartInstance", "rds_delete": "rds.DeleteDBInstance", "disk_delete": "ecs.DeleteDisk",
    },
    "aws": {
        "snapshot_create": "ec2.CreateSnapshot", "snapshot_copy": "ec2.CopySnapshot",
        "snapshot_delete": "ec2.DeleteSnapshot", "disk_from_snapshot": "ec2.CreateVolume",
        "rds_backup_create": "rds.CreateDBSnapshot", "rds_backups": "rds.DescribeDBSnapshots",
        "rds_restore": "rds.RestoreDBInstanceFromDBSnapshot", "change_record": "route53.ChangeResourceRecordSets",
        "vpc_create": "ec2.CreateVpc", "vswitch_create": "ec2.CreateSubnet", "vpc_delete": "ec2.DeleteVpc",
        "vswitch_delete": "ec2.DeleteSubnet", "instance_stop": "ec2.StopInstances",
        "instance_start": "ec2.StartInstances", "rds_delete": "rds.DeleteDBInstance",
        "disk_delete": "ec2.DeleteVolume", "rds_snapshot_copy": "rds.CopyDBSnapshot",
        "rds_snapshot_delete": "rds.DeleteDBSnapshot",
    },
}
# Contract functions that change something (everything else only reads).
WRITES = frozenset({
    "pair_create", "pair_start", "pair_stop", "pair_failover", "pair_reprotect", "pair_delete",
    "pair_drill_start", "pair_drill_clear", "snapshot_create", "snapshot_copy", "snapshot_delete",
    "disk_from_snapshot", "rds_backup_create", "rds_restore", "rds_cross_region_backup", "vault_create",
    "backup_plan_create", "backup_job_run", "restore_job_create", "bucket_replication_create", "change_record",
    "vpc_create", "vswitch_create", "vpc_delete", "vswitch_delete", "instance_stop", "instance_start", "rds_delete",
    "disk_delete", "rds_snapshot_copy", "rds_snapshot_delete", "bucket_create",
})


def dr_module(platform: Any) -> ModuleType:
    """The DR companion of ``platform``'s adapter type; a type without one offers no DR at all."""
    try:
        return importlib.import_module(f"apps.clouds.adapters.{platform.type}_dr")
    except ImportError:
        raise Refused(f"{platform.name} ({platform.type}) offers no disaster-recovery calls.",
                      code="unsupported_operation", detail={"platform": platform.type}) from None


def offered(platform: Any) -> set[str]:
    module = dr_module(platform)
    fn = getattr(module, "offered", None)
    if fn is None:
        return set()
    try:
        return set(fn(adapter_for(platform)))
    except (CloudCallError, ValueError):
        return set()


def describe(platform: Any, region: str, fn: str, target: str = "") -> dict[str, Any]:
    """One cloud call as a dry run lists it."""
    api = CALLS.get(platform.type, {}).get(fn, fn)
    return {"platform": platform.name, "region": region, "call": api, "function": fn, "target": target,
            "write": fn in WRITES}


def call(platform: Any, region: str, fn: str, *args: Any, timeout: float | None = 30.0, **kwargs: Any) -> Any:
    """Call contract function ``fn`` of ``platform``'s DR companion in ``region``. Resource-level
    calls the adapter itself makes (``vpc_create`` ...) are routed to the adapter's generic methods."""
    adapter = adapter_for(platform, region=region, timeout=timeout)
    generic = _GENERIC.get(fn)
    if generic is not None:
        return generic(adapter, region, *args, **kwargs)
    module = dr_module(platform)
    function = getattr(module, fn, None)
    if function is None:
        raise CloudCallError(f"{platform.type} does not offer {fn}.", code="UnsupportedOperation")
    return function(adapter, region, *args, **kwargs)


def _vpc_create(adapter: Any, region: str, *, name: str, cidr_block: str, client_token: str) -> str:
    return adapter.create("vpc.vpc", region, {"cidr_block": cidr_block, "name": name, "client_token": client_token})


def _vswitch_create(adapter: Any, region: str, *, vpc_id: str, zone: str, cidr_block: str, name: str,
                    client_token: str) -> str:
    return adapter.create("vpc.vswitch", region, {"vpc_id": vpc_id, "zone": zone, "cidr_block": cidr_block,
                                                  "name": name, "client_token": client_token})


def _deleter(resource_type: str):
    def delete(adapter: Any, region: str, external_id: str) -> None:
        if adapter.get_resource(resource_type, region, external_id) is None:
            return
        adapter.delete(resource_type, region, external_id)
    return delete


def _getter(resource_type: str):
    def get(adapter: Any, region: str, external_id: str) -> dict[str, Any] | None:
        row = adapter.get_resource(resource_type, region, external_id)
        return None if row is None else {"status": row.status, "name": row.name, "tags": row.tags}
    return get


def _bucket_create(adapter: Any, region: str, *, name: str) -> str:
    """A bucket named ``name`` in ``region``; one this account already has there is kept as it is."""
    if adapter.get_resource("oss.bucket", region, name) is None:
        adapter.create("oss.bucket", region, {"name": name})
    return name


def _instance(action: str):
    def act(adapter: Any, region: str, external_id: str) -> None:
        getattr(adapter, action)("ecs.instance", region, external_id)
    return act


_GENERIC = {
    "vpc_create": _vpc_create, "vswitch_create": _vswitch_create,
    "vpc_delete": _deleter("vpc.vpc"), "vswitch_delete": _deleter("vpc.vswitch"),
    "rds_delete": _deleter("rds.instance"), "vpc_get": _getter("vpc.vpc"), "vswitch_get": _getter("vpc.vswitch"),
    "rds_get": _getter("rds.instance"), "instance_get": _getter("ecs.instance"),
    "disk_get": _getter("ecs.disk"), "disk_delete": _deleter("ecs.disk"), "bucket_create": _bucket_create,
    "instance_stop": _instance("stop"), "instance_start": _instance("start"),
}
