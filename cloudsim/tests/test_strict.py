"""Strict mode: cloudsim refuses what a real Apsara Stack refuses, answers DryRun without creating
anything, and uses the real pagination, state names and metric names."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from urllib.parse import urlencode

import pytest
from alibabacloud_cms20190101 import models as cms_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_r_kvstore20150101 import models as redis_models
from alibabacloud_r_kvstore20150101.client import Client as RedisClient
from alibabacloud_rds20140815 import models as rds_models
from alibabacloud_rds20140815.client import Client as RdsClient
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_slb20140515.client import Client as SlbClient
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.request import DaraRequest
from darabonba.runtime import RuntimeOptions

from cloudsim.server import APSARA_ACCESS_KEY_ID, APSARA_ACCESS_KEY_SECRET, CloudSim

from .conftest import IMAGE, REGION, ZONE_A, apsara_config, make_network, sdk_config, security_group, wait_for


def error_of(fn) -> ClientException:
    with pytest.raises(ClientException) as exc:
        fn()
    return exc.value


# -- Apsara Stack accounts -------------------------------------------------------------------------


def test_an_apsara_key_must_name_its_organization_and_resource_set(sim, control):
    def regions(**headers):
        return EcsClient(apsara_config(sim, **headers)).describe_regions(ecs_models.DescribeRegionsRequest())

    assert [r.region_id for r in regions().body.regions.region] == ["cn-hangzhou", "cn-shanghai"]
    exc = error_of(lambda: regions(organization=None))
    assert (exc.code, exc.status_code) == ("MissingParameter", 400) and "x-acs-organizationid" in exc.message
    exc = error_of(lambda: regions(organization="20", resource_set="201"))
    assert (exc.code, exc.status_code) == ("Forbidden.RAM", 403)
    exc = error_of(lambda: regions(resource_set=None))
    assert exc.code == "MissingParameter" and "x-acs-resourcegroupid" in exc.message
    for wrong in ("201", "999"):  # another organization's resource set, one that does not exist
        exc = error_of(lambda wrong=wrong: regions(resource_set=wrong))
        assert (exc.code, exc.status_code) == ("InvalidResourceGroup.NotFound", 404)
    assert regions(resource_set="102").body.regions.region  # the organization's other resource set
    # An Alibaba Cloud AccessKey needs no Apsara headers.
    assert EcsClient(sdk_config(sim)).describe_regions(ecs_models.DescribeRegionsRequest()).body.regions.region


def test_oss_calls_of_an_apsara_key_need_the_headers_too(sim, control):
    import oss2

    auth = oss2.Auth(APSARA_ACCESS_KEY_ID, APSARA_ACCESS_KEY_SECRET)
    with pytest.raises(oss2.exceptions.OssError) as exc:
        oss2.Service(auth, f"http://{sim.endpoint}").list_buckets()
    assert exc.value.code == "MissingParameter"
    listed = oss2.Service(auth, f"http://{sim.endpoint}").list_buckets(
        headers={"x-acs-organizationid": "10", "x-acs-resourcegroupid": "101"})
    assert listed.buckets == []


def signed(sim, headers: dict[str, str], *, unsigned: tuple[str, ...] = ()) -> tuple[int, dict]:
    """A DescribeRegions call signed like the SDK signs, leaving ``unsigned`` headers out of the signature."""
    request = DaraRequest()
    request.method, request.pathname, request.query = "POST", "/", {}
    request.headers = {"host": sim.endpoint, "x-acs-version": "2014-05-26", "x-acs-action": "DescribeRegions",
                       "x-acs-date": Utils.get_timestamp(), "x-acs-signature-nonce": Utils.get_nonce(),
                       "accept": "application/json", "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
                       **headers}
    covered = DaraRequest()
    covered.method, covered.pathname, covered.query = "POST", "/", {}
    covered.headers = {k: v for k, v in request.headers.items() if k not in unsigned}
    request.headers["Authorization"] = Utils.get_authorization(
        covered, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], APSARA_ACCESS_KEY_ID,
        APSARA_ACCESS_KEY_SECRET)
    conn = http.client.HTTPConnection(sim.endpoint, timeout=5)
    conn.request("POST", "/?" + urlencode({}), body=b"", headers=request.headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def test_every_x_acs_header_present_must_be_signed(sim, control):
    apsara = {"x-acs-organizationid": "10", "x-acs-resourcegroupid": "101"}
    assert signed(sim, apsara)[0] == 200
    status, payload = signed(sim, apsara, unsigned=("x-acs-organizationid",))
    assert (status, payload["Code"]) == (400, "SignatureDoesNotMatch")
    assert "x-acs-organizationid" in payload["Message"]
    status, payload = signed(sim, apsara, unsigned=("x-acs-action",))
    assert (status, payload["Code"]) == (400, "SignatureDoesNotMatch")


def test_lenient_mode_takes_unsigned_headers_and_needs_no_organization():
    lenient = CloudSim(port=0, provision_seconds=0.05, strict=False).start()
    try:
        status, _ = signed(lenient, {"x-acs-organizationid": "10", "x-acs-resourcegroupid": "101"},
                           unsigned=("x-acs-organizationid",))
        assert status == 200
        assert signed(lenient, {})[0] == 200
    finally:
        lenient.stop()


def test_an_asapi_gateway_call_names_its_product(sim, control):
    def regions(headers):
        config = apsara_config(sim)
        config.global_parameters.headers.update(headers)
        client = EcsClient(config)
        original = client.call_api

        def through_gateway(params, request, runtime):
            params.pathname = "/asapi/v3"
            return original(params, request, runtime)

        client.call_api = through_gateway
        return client.describe_regions(ecs_models.DescribeRegionsRequest())

    before = control.get("/stats")["asapi_calls"]
    assert regions({"x-acs-asapi-product": "Ecs", "x-ascm-product-name": "Ecs"}).body.regions.region
    assert control.get("/stats")["asapi_calls"] == before + 1
    assert error_of(lambda: regions({})).code == "MissingParameter"
    assert error_of(lambda: regions({"x-acs-asapi-product": "Vpc"})).code == "InvalidProduct.NotMatch"


# -- STS -------------------------------------------------------------------------------------------


def assume_role(sim, *, duration: int = 3600) -> dict:
    client = OpenApiClient(apsara_config(sim))
    params = Params(action="AssumeRole", version="2015-04-01", protocol="HTTP", pathname="/", method="POST",
                    auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    body = client.call_api(params, OpenApiRequest(query={
        "RoleArn": "acs:ram::1000000000000000:role/unimanager-collector", "RoleSessionName": "collector",
        "DurationSeconds": str(duration)}), RuntimeOptions())["body"]
    return body["Credentials"]


def test_sts_tokens_act_for_the_account_that_assumed_the_role_until_they_expire(sim, control):
    issued = assume_role(sim)
    assert issued["AccessKeyId"].startswith("STS.") and issued["SecurityToken"]

    def client(token: str) -> EcsClient:
        return EcsClient(apsara_config(sim, access_key_id=issued["AccessKeyId"],
                                       access_key_secret=issued["AccessKeySecret"], security_token=token))

    assert client(issued["SecurityToken"]).describe_regions(ecs_models.DescribeRegionsRequest()).body.regions
    exc = error_of(lambda: client("not-the-token").describe_regions(ecs_models.DescribeRegionsRequest()))
    assert exc.code == "InvalidSecurityToken.MismatchWithAccessKey"
    exc = error_of(lambda: assume_role(sim, duration=60))
    assert exc.code == "InvalidParameter.DurationSeconds"
    control.post("/config", {"sts_token_seconds": 0.3})
    try:
        short = assume_role(sim)
        time.sleep(0.4)
        exc = error_of(lambda: EcsClient(apsara_config(
            sim, access_key_id=short["AccessKeyId"], access_key_secret=short["AccessKeySecret"],
            security_token=short["SecurityToken"])).describe_regions(ecs_models.DescribeRegionsRequest()))
        assert exc.code == "InvalidSecurityToken.Expired"
    finally:
        control.post("/config", {"sts_token_seconds": None})
    assert control.get("/stats")["sts"]["issued"] >= 2


# -- requests the real API refuses, DryRun ---------------------------------------------------------


def test_run_instances_needs_a_security_group_and_dry_run_creates_nothing(ecs, vpc, control):
    _, vsw = make_network(vpc)
    base = {"region_id": REGION, "instance_type": "ecs.g6.large", "image_id": IMAGE, "v_switch_id": vsw}
    exc = error_of(lambda: ecs.run_instances(ecs_models.RunInstancesRequest(**base)))
    assert exc.code == "MissingParameter" and "SecurityGroupId" in exc.message
    sg = security_group(ecs, vsw)
    exc = error_of(lambda: ecs.run_instances(ecs_models.RunInstancesRequest(**base, security_group_id=sg,
                                                                            dry_run=True)))
    assert (exc.code, exc.status_code) == ("DryRunOperation", 400)
    exc = error_of(lambda: ecs.run_instances(ecs_models.RunInstancesRequest(
        **{**base, "instance_type": "ecs.nope"}, security_group_id=sg, dry_run=True)))
    assert exc.code == "InvalidInstanceType.NotFound"
    stats = control.get("/stats")
    assert stats["resources"]["ecs_instance"]["total"] == 0
    # Checks are counted (and matched by fault rules) apart from the calls that act.
    assert (stats["calls"]["RunInstances"], stats["calls"]["RunInstances:DryRun"]) == (1, 2)
    control.post("/faults", {"action": "RunInstances", "error_rate": 1.0, "code": "OperationDenied.NoStock",
                             "status": 403})
    exc = error_of(lambda: ecs.run_instances(ecs_models.RunInstancesRequest(**base, security_group_id=sg,
                                                                            dry_run=True)))
    assert exc.code == "DryRunOperation"


def test_a_disk_without_category_is_a_basic_disk(ecs, control):
    disk_id = ecs.create_disk(ecs_models.CreateDiskRequest(region_id=REGION, zone_id=ZONE_A, size=40)).body.disk_id
    disk = ecs.describe_disks(ecs_models.DescribeDisksRequest(region_id=REGION, disk_ids=json.dumps([disk_id])))
    assert disk.body.disks.disk[0].category == "cloud"


def test_an_instance_with_outbound_bandwidth_gets_a_public_address(ecs, vpc, control):
    _, vsw = make_network(vpc)
    [iid] = ecs.run_instances(ecs_models.RunInstancesRequest(
        region_id=REGION, instance_type="ecs.g6.large", image_id=IMAGE, v_switch_id=vsw,
        security_group_id=security_group(ecs, vsw), internet_max_bandwidth_out=5)).body.instance_id_sets.instance_id_set
    found = ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION,
                                                                       instance_ids=json.dumps([iid]))).body
    assert found.instances.instance[0].public_ip_address.ip_address


def test_rds_needs_its_whitelist_and_zone_and_answers_a_dry_run_with_dry_run_result(sim, rds, vpc, control):
    vpc_id, vsw = make_network(vpc)
    base = {"region_id": REGION, "engine": "MySQL", "engine_version": "8.0", "dbinstance_class": "mysql.n2.medium.1",
            "dbinstance_storage": 50, "dbinstance_net_type": "Intranet", "vpcid": vpc_id, "v_switch_id": vsw,
            "pay_type": "Postpaid"}
    exc = error_of(lambda: rds.create_dbinstance(rds_models.CreateDBInstanceRequest(**base, zone_id=ZONE_A)))
    assert exc.code == "MissingParameter" and "SecurityIPList" in exc.message
    exc = error_of(lambda: rds.create_dbinstance(rds_models.CreateDBInstanceRequest(
        **base, security_iplist="192.168.1.0/24")))
    assert exc.code == "MissingParameter" and "ZoneId" in exc.message
    full = {**base, "zone_id": ZONE_A, "security_iplist": "192.168.1.0/24"}
    checked = rds.create_dbinstance(rds_models.CreateDBInstanceRequest(**full, dry_run=True)).body
    assert (checked.dry_run, checked.dry_run_result, checked.dbinstance_id) == (True, True, None)
    assert control.get("/stats")["resources"]["rds"]["total"] == 0
    db_id = rds.create_dbinstance(rds_models.CreateDBInstanceRequest(
        **full, tag=[rds_models.CreateDBInstanceRequestTag(key="team", value="data")])).body.dbinstance_id
    listed = rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION)).body
    item = listed.items.dbinstance[0]
    assert item.dbinstance_id == db_id and not hasattr(item, "dbinstance_storage")
    detail = rds.describe_dbinstance_attribute(rds_models.DescribeDBInstanceAttributeRequest(dbinstance_id=db_id))
    attribute = detail.body.items.dbinstance_attribute[0]
    assert (attribute.dbinstance_storage, attribute.port, attribute.security_iplist) == (50, "3306", "192.168.1.0/24")
    tags = rds.list_tag_resources(rds_models.ListTagResourcesRequest(region_id=REGION, resource_type="INSTANCE",
                                                                     resource_id=[db_id])).body
    assert [(t.tag_key, t.tag_value) for t in tags.tag_resources.tag_resource] == [("team", "data")]
    wait_for(lambda: rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION))
             .body.items.dbinstance[0].dbinstance_status == "Running")
    rds.restart_dbinstance(rds_models.RestartDBInstanceRequest(dbinstance_id=db_id))
    assert rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION)) \
        .body.items.dbinstance[0].dbinstance_status == "Rebooting"


def test_rds_classes_need_an_order_type_and_report_memory_in_gb(rds, control):
    exc = error_of(lambda: rds.list_classes(rds_models.ListClassesRequest(region_id=REGION, commodity_code="bards")))
    assert exc.code == "MissingParameter" and "OrderType" in exc.message
    items = rds.list_classes(rds_models.ListClassesRequest(region_id=REGION, commodity_code="bards",
                                                           order_type="BUY", engine="MySQL")).body.items
    medium = next(i for i in items if i.class_code == "mysql.n2.medium.1")
    assert (medium.cpu, medium.memory_class) == ("2", "4GB")


def test_redis_reboots_as_rebooting_and_a_released_instance_disappears(redis, vpc, control):
    vpc_id, vsw = make_network(vpc)
    request = {"region_id": REGION, "instance_class": "redis.master.small.default", "vpc_id": vpc_id,
               "v_switch_id": vsw}
    exc = error_of(lambda: redis.create_instance(redis_models.CreateInstanceRequest(**request, dry_run=True)))
    assert exc.code == "DryRunOperation"
    assert control.get("/stats")["resources"]["redis"]["total"] == 0
    rid = redis.create_instance(redis_models.CreateInstanceRequest(**request)).body.instance_id

    def status():
        found = redis.describe_instances(redis_models.DescribeInstancesRequest(
            region_id=REGION, instance_ids=rid)).body.instances.kvstore_instance
        return found[0].instance_status if found else None

    wait_for(lambda: status() == "Normal")
    redis.restart_instance(redis_models.RestartInstanceRequest(instance_id=rid))
    assert status() == "Rebooting"
    wait_for(lambda: status() == "Normal")
    redis.delete_instance(redis_models.DeleteInstanceRequest(instance_id=rid))
    assert status() == "Released"
    wait_for(lambda: status() is None)


def test_create_vpc_dry_run(vpc, control):
    exc = error_of(lambda: vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=REGION, cidr_block="10.0.0.0/8",
                                                                       dry_run=True)))
    assert exc.code == "DryRunOperation"
    assert control.get("/stats")["resources"]["vpc"]["total"] == 0


# -- pagination and metrics ------------------------------------------------------------------------


def rpc(client_class, sim, version: str, action: str, query: dict[str, str]) -> dict:
    """A raw RPC call through the SDK's generic path, for parameters its request model does not have."""
    params = Params(action=action, version=version, protocol="HTTP", pathname="/", method="POST", auth_type="AK",
                    style="RPC", req_body_type="formData", body_type="json")
    return client_class(sdk_config(sim)).call_api(params, OpenApiRequest(query=query), RuntimeOptions())["body"]


def test_next_token_is_ignored_where_the_real_api_pages_only_by_number(sim, slb, vpc, control):
    _, vsw = make_network(vpc)
    for _ in range(3):
        slb.create_load_balancer(slb_models.CreateLoadBalancerRequest(region_id=REGION, v_switch_id=vsw,
                                                                      address_type="intranet"))
    tokened = {"RegionId": REGION, "MaxResults": "1", "NextToken": "1", "PageSize": "2"}
    body = rpc(SlbClient, sim, "2014-05-15", "DescribeLoadBalancers", tokened)
    assert "NextToken" not in body and (body["PageNumber"], body["TotalCount"]) == (1, 3)
    assert len(body["LoadBalancers"]["LoadBalancer"]) == 2
    body = rpc(RedisClient, sim, "2015-01-01", "DescribeInstances", tokened)
    assert "NextToken" not in body and body["PageNumber"] == 1
    # ECS security groups page by NextToken, as the real API does.
    ecs = EcsClient(sdk_config(sim))
    security_group(ecs, vsw)
    security_group(EcsClient(sdk_config(sim)), vsw)
    paged = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(region_id=REGION, max_results=10))
    assert paged.body.next_token == "" and len(paged.body.security_groups.security_group) == 1


def test_clb_instance_metrics_exist(cms, slb, vpc, control):
    _, vsw = make_network(vpc)
    lb = slb.create_load_balancer(slb_models.CreateLoadBalancerRequest(region_id=REGION, v_switch_id=vsw,
                                                                       address_type="intranet")).body.load_balancer_id
    for metric in ("InstanceTrafficRX", "InstanceTrafficTX", "InstanceActiveConnection"):
        body = cms.describe_metric_list(cms_models.DescribeMetricListRequest(
            namespace="acs_slb_dashboard", metric_name=metric, period="60",
            dimensions=json.dumps([{"instanceId": lb}]))).body
        assert json.loads(body.datapoints), metric


def test_clients_for_every_product_work_through_the_apsara_headers(sim, control):
    for client, call in ((VpcClient, lambda c: c.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION))),
                         (SlbClient, lambda c: c.describe_load_balancers(
                             slb_models.DescribeLoadBalancersRequest(region_id=REGION))),
                         (RdsClient, lambda c: c.describe_dbinstances(
                             rds_models.DescribeDBInstancesRequest(region_id=REGION)))):
        assert call(client(apsara_config(sim))).body.request_id
        assert error_of(lambda client=client, call=call: call(client(apsara_config(sim, organization=None)))) \
            .code == "MissingParameter"
