"""A few of each inventory service beyond the core seven, built through the official SDKs.

``seed_inventory`` adds to an estate made by ``simulated.seed_resources`` (it needs that estate's
VPC, vSwitches, instances and RDS instance): a MongoDB instance, a PolarDB cluster, KMS keys, an
Auto Scaling group holding two instances, a ROS stack, OOS templates and an execution, a NAS file
system, DTS migration and synchronization jobs, a Database Backup plan of the RDS instance, API
Gateway groups, a Kafka instance, a Container Registry instance with namespaces and repositories, a
Tablestore instance, key pairs and a custom image. Each call is one a user of the cloud would make.
"""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_alikafka20190916 import models as kafka_models
from alibabacloud_cloudapi20160714 import models as apigw_models
from alibabacloud_cr20181201 import models as cr_models
from alibabacloud_dbs20190306 import models as dbs_models
from alibabacloud_dds20151201 import models as dds_models
from alibabacloud_dts20200101 import models as dts_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ess20220222 import models as ess_models
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_nas20170626 import models as nas_models
from alibabacloud_oos20190601 import models as oos_models
from alibabacloud_ots20160620 import models as ots_models
from alibabacloud_polardb20170801 import models as polardb_models
from alibabacloud_ros20190910 import models as ros_models

TEMPLATE = json.dumps({"ROSTemplateFormatVersion": "2015-09-01",
                       "Resources": {"Vpc": {"Type": "ALIYUN::ECS::VPC", "Properties": {"CidrBlock": "10.8.0.0/16"}}}})
OOS_TEMPLATE = json.dumps({"FormatVersion": "OOS-2019-06-01", "Description": "Restart the web tier",
                           "Parameters": {}, "Tasks": [{"Name": "restart", "Action": "ACS::ECS::RebootInstance",
                                                        "Properties": {"instanceId": "{{ ACS::TaskLoopItem }}"}}]})


def seed_inventory(adapter: Any, made: dict[str, list[str]], *, region: str = "cn-hangzhou",
                   add_registry: Any = None) -> dict[str, list[str]]:
    """Create the services' demo resources next to ``made`` (``seed_resources``'s answer) and return
    the ids created, by type. ``add_registry(region, name)`` adds a Container Registry instance (bought
    through an order on the real cloud, so outside the API); without it, no registry is made."""
    call = adapter._invoke
    vpc, (vsw_a, vsw_b) = made["vpc.vpc"][0], made["vpc.vswitch"][:2]
    rds = made["rds.instance"][0]
    out: dict[str, list[str]] = {}
    zone_a, zone_b = f"{region}-a", f"{region}-b"

    out["mongodb.instance"] = [call("dds", region, "create_dbinstance", dds_models.CreateDBInstanceRequest(
        region_id=region, zone_id=zone_b, engine="MongoDB", engine_version="6.0", dbinstance_class="dds.mongo.mid",
        dbinstance_storage=20, vpc_id=vpc, v_switch_id=vsw_b, dbinstance_description="catalog-mongo"))["DBInstanceId"]]
    out["polardb.cluster"] = [call("polardb", region, "create_dbcluster", polardb_models.CreateDBClusterRequest(
        region_id=region, zone_id=zone_b, dbtype="MySQL", dbversion="8.0", pay_type="Postpaid",
        dbnode_class="polar.mysql.x4.medium", vpcid=vpc, v_switch_id=vsw_b,
        dbcluster_description="ledger"))["DBClusterId"]]
    out["kms.cmk"] = [call("kms", region, "create_key", kms_models.CreateKeyRequest(description=d, key_spec=s))
                      ["KeyMetadata"]["KeyId"] for d, s in (("orders-data", "Aliyun_AES_256"),
                                                             ("release-signing", "RSA_2048"))]
    group = call("ess", region, "create_scaling_group", ess_models.CreateScalingGroupRequest(
        region_id=region, min_size=0, max_size=4, scaling_group_name="web-asg", v_switch_id=vsw_a))["ScalingGroupId"]
    call("ess", region, "attach_instances", ess_models.AttachInstancesRequest(
        region_id=region, scaling_group_id=group, instance_ids=made["ecs.instance"][:2]))
    out["ess.scaling_group"] = [group]
    out["ros.stack"] = [call("ros", region, "create_stack", ros_models.CreateStackRequest(
        region_id=region, stack_name="network-baseline", template_body=TEMPLATE))["StackId"]]
    templates = []
    for name in ("restart-web-tier", "rotate-logs"):
        templates.append(call("oos", region, "create_template", oos_models.CreateTemplateRequest(
            region_id=region, template_name=name, content=OOS_TEMPLATE))["Template"]["TemplateId"])
    out["oos.template"] = templates
    out["oos.execution"] = [call("oos", region, "start_execution", oos_models.StartExecutionRequest(
        region_id=region, template_name="restart-web-tier"))["Execution"]["ExecutionId"]]
    out["nas.file_system"] = [call("nas", region, "create_file_system", nas_models.CreateFileSystemRequest(
        protocol_type="NFS", storage_type="Performance", file_system_type="standard", zone_id=zone_a,
        vpc_id=vpc, v_switch_id=vsw_a, description="shared-uploads"))["FileSystemId"]]
    jobs = []
    for job_type, name in (("MIGRATION", "orders-to-polardb"), ("SYNC", "orders-replica")):
        jobs.append(call("dts", region, "configure_dts_job", dts_models.ConfigureDtsJobRequest(
            region_id=region, dts_job_name=name, job_type=job_type, source_endpoint_instance_type="RDS",
            source_endpoint_instance_id=rds, source_endpoint_engine_name="MySQL", source_endpoint_region=region,
            destination_endpoint_instance_type="POLARDB",
            destination_endpoint_instance_id=out["polardb.cluster"][0], destination_endpoint_engine_name="MySQL",
            destination_endpoint_region=region, structure_initialization=True, data_initialization=True,
            data_synchronization=job_type == "SYNC", db_list=json.dumps({"orders": {"name": "orders", "all": True}})))
            ["DtsJobId"])
    out["dts.migration_task"], out["dts.sync_task"] = [jobs[0]], [jobs[1]]
    plan = call("dbs", region, "create_backup_plan", dbs_models.CreateBackupPlanRequest(
        region=region, database_type="MySQL", instance_class="small", backup_method="logical"))["BackupPlanId"]
    call("dbs", region, "configure_backup_plan", dbs_models.ConfigureBackupPlanRequest(
        backup_plan_id=plan, backup_plan_name="orders-daily", source_endpoint_instance_type="RDS",
        source_endpoint_instance_id=rds, source_endpoint_region=region, source_endpoint_database_name="orders",
        backup_period="Monday,Thursday", backup_start_time="02:00"))
    call("dbs", region, "start_backup_plan", dbs_models.StartBackupPlanRequest(backup_plan_id=plan))
    out["dbs.backup_plan"] = [plan]
    out["apigateway.api_group"] = [call("cloudapi", region, "create_api_group", apigw_models.CreateApiGroupRequest(
        group_name=name, description=f"{name} APIs"))["GroupId"] for name in ("shop_public", "partner_feed")]
    call("alikafka", region, "create_post_pay_order", kafka_models.CreatePostPayOrderRequest(
        region_id=region, deploy_type=5, disk_size=500, disk_type=1, io_max_spec="alikafka.hw.2xlarge",
        spec_type="normal"))
    listed = call("alikafka", region, "get_instance_list", kafka_models.GetInstanceListRequest(region_id=region))
    pending = [k["InstanceId"] for k in listed["InstanceList"]["InstanceVO"] if not k.get("VpcId")]
    for instance_id in pending:
        call("alikafka", region, "start_instance", kafka_models.StartInstanceRequest(
            region_id=region, instance_id=instance_id, vpc_id=vpc, v_switch_id=vsw_a, name="order-events"))
    out["kafka.instance"] = pending
    if add_registry is not None:
        registry = add_registry(region, "shop-registry")
        call("cr", region, "create_namespace", cr_models.CreateNamespaceRequest(instance_id=registry,
                                                                                  namespace_name="shop"))
        repos = []
        for repo in ("web", "worker"):
            repos.append(call("cr", region, "create_repository", cr_models.CreateRepositoryRequest(
                instance_id=registry, repo_namespace_name="shop", repo_name=repo, repo_type="PRIVATE",
                summary=f"The {repo} image"))["RepoId"])
        out["cr.instance"], out["cr.repository"] = [registry], repos
    call("ots", region, "insert_instance", ots_models.InsertInstanceRequest(
        instance_name="shop-events", cluster_type="HYBRID", description="Click stream"))
    out["ots.instance"] = ["shop-events"]
    out["ecs.key_pair"] = [call("ecs", region, "create_key_pair", ecs_models.CreateKeyPairRequest(
        region_id=region, key_pair_name=name))["KeyPairName"] for name in ("deploy", "break-glass")]
    out["ecs.image"] = [call("ecs", region, "create_image", ecs_models.CreateImageRequest(
        region_id=region, instance_id=made["ecs.instance"][0], image_name="web-golden"))["ImageId"]]
    return out


def seed_demo_estate(endpoint: str, *, region: str = "cn-hangzhou", store: Any = None) -> dict[str, list[str]]:
    """Add the services' demo resources to a cloudsim region that holds ``seed_resources``'s estate (found
    by listing it); nothing when the region has them already or lacks that estate. With cloudsim's
    ``store`` (the embedded mode, in this process) a Container Registry instance is added too."""
    from apps.clouds.simulated import sim_adapter

    adapter = sim_adapter(endpoint, region)
    if adapter.list_resources("mongodb.instance", region, None).items:
        return {}
    made: dict[str, list[str]] = {}
    for t in ("vpc.vpc", "vpc.vswitch", "ecs.instance", "rds.instance"):
        made[t] = [r.external_id for r in adapter.iter_resources(t, region)
                   if t != "ecs.instance" or r.status == "running"]
    if not made["vpc.vpc"] or len(made["vpc.vswitch"]) < 2 or not made["rds.instance"] or not made["ecs.instance"]:
        return {}
    vpc = made["vpc.vpc"][0]
    vswitches = [r.external_id for r in adapter.iter_resources("vpc.vswitch", region) if r.vpc_id == vpc]
    if len(vswitches) < 2:
        return {}
    made["vpc.vpc"], made["vpc.vswitch"] = [vpc], vswitches
    add_registry = None
    if store is not None:
        from cloudsim.services import cr

        def add_registry(r: str, name: str) -> str:
            return cr.add_instance(store, r, name)["InstanceId"]
    return seed_inventory(adapter, made, region=region, add_registry=add_registry)
