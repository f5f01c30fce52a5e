"""The ``aws`` adapter (boto3) against a moto server on loopback: regions, every collected type,
metrics, and injected faults through a small proxy in front of moto."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from apps.clouds.adapters.aws import AwsAdapter
from apps.clouds.models import Flavor, Region
from apps.resources.models import Resource, ResourceRelation, SyncRun
from apps.resources.services import sync_drive, sync_start
from tests.aws_server import moto_reset

pytestmark = pytest.mark.django_db
CREDS = {"access_key_id": "testing", "access_key_secret": "testing"}


@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


class FaultProxy:
    """Forwards to moto; ``fail`` answers the next N requests with an AWS error instead."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.fail: list[tuple[int, str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.fail:
                    status, code, message = proxy.fail.pop(0)
                    xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
                           f"</Errors><RequestID>fault</RequestID></Response>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    self.wfile.write(xml)
                    return
                host, port = proxy.upstream.split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto):
    p = FaultProxy(moto)
    yield p
    p.close()


def _client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=f"http://{endpoint}",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def estate(moto):
    """Fresh resources in us-east-1 (moto keeps state for the module; ids are what we compare)."""
    ec2 = _client("ec2", moto)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"web-{vpc}", Description="web", VpcId=vpc)["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    run = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=2, MaxCount=2, SubnetId=subnet,
                            SecurityGroupIds=[sg], TagSpecifications=[{"ResourceType": "instance",
                                                                       "Tags": [{"Key": "team", "Value": "shop"}]}])
    instances = [i["InstanceId"] for i in run["Instances"]]
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instances[0], Device="/dev/sdf")
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=eip, InstanceId=instances[0])
    bucket = f"bucket-{vpc[4:]}"
    _client("s3", moto).create_bucket(Bucket=bucket)
    db = f"orders-{vpc[4:12]}"
    _client("rds", moto).create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="mysql",
                                            AllocatedStorage=20, MasterUsername="admin",
                                            MasterUserPassword="secret-password-1")
    # The companion services' first calls load their moto backends (slow on a busy machine): done here,
    # outside the sync's timeouts.
    for service, method in (("eks", "list_clusters"), ("ecr", "describe_repositories"), ("dynamodb", "list_tables"),
                            ("kms", "list_keys"), ("autoscaling", "describe_auto_scaling_groups"),
                            ("cloudformation", "describe_stacks")):
        getattr(_client(service, moto), method)()
    return {"ecs.instance": instances, "vpc.vpc": [vpc], "vpc.vswitch": [subnet], "ecs.security_group": [sg],
            "ecs.disk": [volume], "eip.eip": [eip], "oss.bucket": [bucket], "rds.instance": [db]}


def _platform(people, endpoint):
    from apps.clouds.tests.factories import platform

    return platform(people["hq"], type="aws", endpoint=endpoint, default_region="us-east-1",
                    access_key_id="testing", access_key_secret="testing", options={"regions": ["us-east-1",
                                                                                             "eu-west-1"]})


def test_aws_adapter_collects_every_supported_type_from_moto(people, moto, estate):
    platform = _platform(people, moto)
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    assert set(Region.objects.filter(platform=platform).values_list("region_id", flat=True)) == {
        "us-east-1", "eu-west-1"}
    assert list(Region.objects.filter(platform=platform, enabled=True).values_list("region_id", flat=True)) == [
        "us-east-1"]
    collected = set(Resource.objects.filter(platform=platform).values_list("type", "external_id"))
    for resource_type, ids in estate.items():
        for external_id in ids:
            assert (resource_type, external_id) in collected
    # Every type of the estate is collected, and nothing but the adapter's types (the companion services'
    # types, empty in this estate, are collected in test_aws_breadth).
    assert set(estate) <= {t for t, _e in collected} <= set(AwsAdapter.capabilities.resource_types)
    first = Resource.objects.get(platform=platform, external_id=estate["ecs.instance"][0])
    assert first.tags == {"team": "shop"} and first.vcpu == 2 and first.memory_mib == 1024
    assert ResourceRelation.objects.filter(source__external_id=estate["ecs.disk"][0], kind="attached_to",
                                           target_external_id=first.external_id).exists()
    assert ResourceRelation.objects.filter(source__external_id=estate["eip.eip"][0], kind="associated_with",
                                           target_external_id=first.external_id).exists()
    assert Flavor.objects.filter(platform=platform, kind="instance_type", code="t3.micro", vcpu=2).exists()
    again = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_aws_metrics_and_lifecycle_through_boto3(moto, estate):
    adapter = AwsAdapter(endpoint=moto, protocol="http", region="us-east-1", credentials=CREDS)
    iid = estate["ecs.instance"][1]
    assert adapter.get_resource("ecs.instance", "us-east-1", iid).spec["instance_type"] != "t3.small"
    adapter.stop("ecs.instance", "us-east-1", iid)
    assert adapter.get_resource("ecs.instance", "us-east-1", iid).status in ("stopping", "stopped")
    adapter.resize("ecs.instance", "us-east-1", iid, "t3.small")
    resized = adapter.get_resource("ecs.instance", "us-east-1", iid)
    assert resized.spec["instance_type"] == "t3.small" and (resized.vcpu, resized.memory_mib) == (2, 2048)
    assert _client("ec2", moto).describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "InstanceType"] == "t3.small"
    adapter.start("ecs.instance", "us-east-1", iid)
    assert adapter.get_resource("ecs.instance", "us-east-1", iid).status in ("pending", "starting", "running")
    _client("cloudwatch", moto).put_metric_data(Namespace="AWS/EC2", MetricData=[{
        "MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}], "Value": 42.0}])
    now = time.time()
    points = adapter.metrics("ecs.instance", "us-east-1", iid, "CPUUtilization", start=now - 600, end=now + 60)
    assert points and points[-1].value == 42.0
    assert adapter.get_resource("ecs.instance", "us-east-1", "i-00000000000000000") is None


def test_aws_faults_transient_retried_permanent_fails_with_the_clouds_message(people, proxy, estate):
    platform = _platform(people, proxy.endpoint)
    proxy.fail = [(503, "ServiceUnavailable", "try later")] * 4
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    before = list(Resource.objects.filter(platform=platform).order_by("id").values())
    proxy.fail = [(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")]
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "failed"
    assert "UnauthorizedOperation" in run.error and "not authorized" in run.error
    assert list(Resource.objects.filter(platform=platform).order_by("id").values()) == before
    assert SyncRun.objects.filter(platform=platform, status="running").count() == 0
