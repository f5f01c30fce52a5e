"""RDS, Redis (KVStore) and SLB through their official SDKs."""

from __future__ import annotations

import json

import pytest
from alibabacloud_r_kvstore20150101 import models as redis_models
from alibabacloud_rds20140815 import models as rds_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.exceptions import ClientException

from .conftest import REGION, ZONE_A, make_network, run_instances, wait_for


def test_rds_lifecycle_with_spec_change(rds, vpc):
    vpc_id, vsw = make_network(vpc)
    created = rds.create_dbinstance(rds_models.CreateDBInstanceRequest(
        region_id=REGION, engine="MySQL", engine_version="8.0", dbinstance_class="mysql.n2.medium.1",
        dbinstance_storage=50, dbinstance_net_type="Intranet", vpcid=vpc_id, v_switch_id=vsw, zone_id=ZONE_A,
        pay_type="Postpaid", security_iplist="192.168.1.0/24")).body
    db_id = created.dbinstance_id

    def db():
        items = rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(
            region_id=REGION, dbinstance_id=db_id)).body.items.dbinstance
        return items[0] if items else None

    assert db().dbinstance_status == "Creating"
    with pytest.raises(ClientException) as exc:
        rds.modify_dbinstance_spec(rds_models.ModifyDBInstanceSpecRequest(dbinstance_id=db_id,
                                                                          dbinstance_class="mysql.n4.large.1"))
    assert (exc.value.code, exc.value.status_code) == ("IncorrectDBInstanceState", 403)
    wait_for(lambda: db().dbinstance_status == "Running")
    rds.modify_dbinstance_spec(rds_models.ModifyDBInstanceSpecRequest(dbinstance_id=db_id,
                                                                      dbinstance_class="mysql.n4.large.1"))
    assert db().dbinstance_status == "DBInstanceClassChanging"
    wait_for(lambda: db().dbinstance_status == "Running")
    assert (db().dbinstance_class, db().dbinstance_memory) == ("mysql.n4.large.1", 16384)
    listed = rds.describe_dbinstances(rds_models.DescribeDBInstancesRequest(region_id=REGION, page_size=30)).body
    assert listed.total_record_count == 1 and listed.page_record_count == 1
    rds.delete_dbinstance(rds_models.DeleteDBInstanceRequest(dbinstance_id=db_id))
    assert db().dbinstance_status == "Deleting"
    wait_for(lambda: db() is None)


def test_redis_lifecycle_with_spec_change(redis, vpc):
    vpc_id, vsw = make_network(vpc)
    created = redis.create_instance(redis_models.CreateInstanceRequest(
        region_id=REGION, instance_class="redis.master.small.default", vpc_id=vpc_id, v_switch_id=vsw,
        instance_name="cache", engine_version="5.0")).body
    rid = created.instance_id
    assert created.instance_status == "Creating"

    def inst():
        found = redis.describe_instances(redis_models.DescribeInstancesRequest(
            region_id=REGION, instance_ids=rid)).body.instances.kvstore_instance
        return found[0] if found else None

    wait_for(lambda: inst().instance_status == "Normal")
    redis.modify_instance_spec(redis_models.ModifyInstanceSpecRequest(instance_id=rid,
                                                                      instance_class="redis.master.mid.default"))
    assert inst().instance_status == "Changing"
    wait_for(lambda: inst().instance_status == "Normal")
    assert inst().capacity == 4096
    with pytest.raises(ClientException) as exc:
        redis.modify_instance_spec(redis_models.ModifyInstanceSpecRequest(instance_id=rid, instance_class="nope"))
    assert exc.value.code == "InvalidInstanceClass.NotFound"
    redis.delete_instance(redis_models.DeleteInstanceRequest(instance_id=rid))
    wait_for(lambda: inst() is None)


def test_slb_with_backend_servers(slb, vpc, ecs):
    vpc_id, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    lb = slb.create_load_balancer(slb_models.CreateLoadBalancerRequest(
        region_id=REGION, address_type="intranet", v_switch_id=vsw, vpc_id=vpc_id,
        load_balancer_spec="slb.s2.small", load_balancer_name="front")).body
    assert lb.address.startswith("192.168.1.")

    def listed():
        return slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id=REGION)).body

    wait_for(lambda: listed().load_balancers.load_balancer[0].load_balancer_status == "active")
    slb.add_backend_servers(slb_models.AddBackendServersRequest(
        load_balancer_id=lb.load_balancer_id, backend_servers=json.dumps([{"ServerId": iid, "Weight": 50}])))
    attr = slb.describe_load_balancer_attribute(slb_models.DescribeLoadBalancerAttributeRequest(
        load_balancer_id=lb.load_balancer_id)).body
    assert [(b.server_id, b.weight) for b in attr.backend_servers.backend_server] == [(iid, 50)]
    slb.modify_load_balancer_instance_spec(slb_models.ModifyLoadBalancerInstanceSpecRequest(
        load_balancer_id=lb.load_balancer_id, load_balancer_spec="slb.s3.medium"))
    assert listed().load_balancers.load_balancer[0].load_balancer_spec == "slb.s3.medium"
    assert listed().total_count == 1
    slb.delete_load_balancer(slb_models.DeleteLoadBalancerRequest(load_balancer_id=lb.load_balancer_id))
    assert listed().total_count == 0
    with pytest.raises(ClientException) as exc:
        slb.delete_load_balancer(slb_models.DeleteLoadBalancerRequest(load_balancer_id=lb.load_balancer_id))
    assert (exc.value.code, exc.value.status_code) == ("InvalidLoadBalancerId.NotFound", 404)
