"""The disaster-recovery contract of the aws adapter (``aws_dr``) through boto3 against a moto server:
EBS snapshots copied across regions, AMIs, RDS snapshots, restores, copies and read replicas, Route 53
records for the endpoint switch, and what AWS does not offer here (refused, never faked)."""

from __future__ import annotations

import time

import boto3
import pytest

from apps.clouds.adapters import aws_dr
from apps.clouds.adapters.aws import AwsAdapter
from apps.clouds.adapters.base import UnsupportedOperation
from tests.aws_server import moto_reset

REGION, DEST = "us-east-1", "eu-west-1"
CREDS = {"access_key_id": "testing", "access_key_secret": "testing"}


@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


@pytest.fixture(scope="module")
def cloud(moto) -> AwsAdapter:
    return AwsAdapter(endpoint=moto, protocol="http", region=REGION, credentials=CREDS)


def boto(moto: str, service: str, region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=f"http://{moto}", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_ebs_snapshots_are_made_copied_across_regions_restored_as_volumes_and_deleted(cloud, moto):
    volume = boto(moto, "ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    sid = aws_dr.snapshot_create(cloud, REGION, volume, name="nightly", tags={"dr": "yes"})
    got = aws_dr.snapshot_get(cloud, REGION, sid)
    assert (got["disk_id"], got["size_gib"], got["name"], got["tags"]["dr"]) == (volume, 8, "nightly", "yes")
    assert got["status"] in ("pending", "completed") and got["created_at"] is not None
    copy = aws_dr.snapshot_copy(cloud, REGION, sid, dest_region=DEST, name="nightly-dr", tags={"dr": "copy"})
    copied = aws_dr.snapshot_get(cloud, DEST, copy)
    assert copied["region"] == DEST and copied["tags"]["dr"] == "copy"
    restored = aws_dr.disk_from_snapshot(cloud, DEST, zone=f"{DEST}b", snapshot_id=copy, name="restored", tags={})
    made = cloud.get_resource("ecs.disk", DEST, restored)
    assert made.zone == f"{DEST}b" and made.storage_gib == 8
    assert sid in [r.external_id for r in cloud.iter_resources("ecs.snapshot", REGION)]
    assert cloud.get_resource("ecs.snapshot", REGION, sid).relations[0].target_external_id == volume
    with pytest.raises(UnsupportedOperation):
        aws_dr.disk_rollback(cloud, REGION, volume, sid)
    aws_dr.snapshot_delete(cloud, REGION, sid)
    assert aws_dr.snapshot_get(cloud, REGION, sid) is None


def test_amis_are_made_from_an_instance_and_copied_across_regions(cloud, moto):
    ec2 = boto(moto, "ec2")
    base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    image = aws_dr.image_create(cloud, REGION, instance["InstanceId"], name="app-golden", tags={"dr": "ami"})
    got = aws_dr.image_get(cloud, REGION, image)
    assert (got["name"], got["tags"].get("dr")) == ("app-golden", "ami")
    copy = aws_dr.image_copy(cloud, REGION, image, dest_region=DEST, name="app-golden-dr")
    assert aws_dr.image_get(cloud, DEST, copy)["name"] == "app-golden-dr"
    aws_dr.image_delete(cloud, DEST, copy)
    assert aws_dr.image_get(cloud, DEST, copy) is None


def _database(moto: str, name: str) -> str:
    boto(moto, "rds").create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="mysql",
                                         AllocatedStorage=20, MasterUsername="admin",
                                         MasterUserPassword="change-me-now-1", BackupRetentionPeriod=7)
    return name


def test_rds_snapshots_restore_copy_across_regions_and_replicas_promote(cloud, moto):
    db = _database(moto, "orders")
    snapshot = aws_dr.rds_backup_create(cloud, REGION, db)
    job = aws_dr.rds_backup_job_get(cloud, REGION, db, snapshot)
    assert (job["status"], job["backup_id"]) == ("Finished", snapshot)
    backups = {b["id"]: b for b in aws_dr.rds_backups(cloud, REGION, db)}
    assert backups[snapshot]["type"] == "manual" and backups[snapshot]["status"] == "Success"
    assert {b["type"] for b in backups.values()} <= {"manual", "automated"}
    restored = aws_dr.rds_restore(cloud, REGION, db, backup_id=snapshot, name="Orders Restored", tags={"dr": "r"})
    assert restored == "orders-restored"
    assert cloud.get_resource("rds.instance", REGION, restored) is not None
    pitr = aws_dr.rds_restore(cloud, REGION, db, restore_time=time.time() - 1, name="orders-pitr", tags={})
    assert cloud.get_resource("rds.instance", REGION, pitr) is not None
    copy = aws_dr.rds_snapshot_copy(cloud, REGION, snapshot, dest_region=DEST, name="orders-dr-copy")
    assert boto(moto, "rds", DEST).describe_db_snapshots(DBSnapshotIdentifier=copy)["DBSnapshots"]
    replica = aws_dr.rds_replica_create(cloud, REGION, db, dest_region=REGION, name="orders-replica", tags={})
    described = boto(moto, "rds").describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0]
    assert described["ReadReplicaSourceDBInstanceIdentifier"] == db
    aws_dr.rds_replica_promote(cloud, REGION, replica)  # moto keeps the source's name after a promotion
    promoted = boto(moto, "rds").describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0]
    assert promoted["DBInstanceStatus"] == "available"
    with pytest.raises(UnsupportedOperation):
        aws_dr.rds_cross_region_backup(cloud, REGION, db, dest_region=DEST, enabled=True)


def test_the_endpoint_switch_upserts_a_route53_record(cloud, moto):
    zone = boto(moto, "route53").create_hosted_zone(Name="shop.example.com", CallerReference=str(time.time()))
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    aws_dr.change_record(cloud, zone_id, "api.shop.example.com", "10.0.0.10")
    assert aws_dr.record_get(cloud, zone_id, "api.shop.example.com") == "10.0.0.10"
    aws_dr.change_record(cloud, zone_id, "api.shop.example.com", "10.0.1.10")
    assert aws_dr.record_get(cloud, zone_id, "api.shop.example.com") == "10.0.1.10"
    aws_dr.change_record(cloud, zone_id, "www.shop.example.com", "lb-dr.example.net")
    assert aws_dr.record_get(cloud, zone_id, "www.shop.example.com") == "lb-dr.example.net"


@pytest.mark.parametrize("call", [
    lambda c: aws_dr.pair_create(c, REGION, source_disk_id="vol-1", dest_region=DEST, dest_zone=f"{DEST}a",
                                 rpo_seconds=900, name="p", tags={}),
    lambda c: aws_dr.pair_get(c, REGION, "pair-1"),
    lambda c: aws_dr.pair_drill_start(c, REGION, "pair-1"),
    lambda c: aws_dr.vault_create(c, REGION, name="v"),
    lambda c: aws_dr.backup_job_run(c, REGION, "plan-1"),
    lambda c: aws_dr.bucket_replication_create(c, REGION, "b", dest_region=DEST, dest_bucket="c"),
])
def test_what_moto_does_not_serve_is_refused_as_not_offered(cloud, call):
    with pytest.raises(UnsupportedOperation):
        call(cloud)


def test_aws_offers_snapshots_images_rds_and_dns_only(cloud):
    assert aws_dr.offered(cloud) == {"snapshots", "images", "rds_backups", "rds_replicas", "dns"}
    assert "ecs.snapshot" in AwsAdapter.capabilities.resource_types
