"""The unified service catalog: categories -> services -> resource types.

The product classification of the reference catalog (services with their category, API code and
whether they are billed; resource types as ``<service>.<kind>``), written to the catalog tables
after every migration (``catalog_sync``). Types an adapter collects are marked ``collected``.
"""

from __future__ import annotations

CATEGORIES = [
    ("compute", "Compute"), ("storage", "Storage"), ("network", "Networking"), ("database", "Databases"),
    ("middleware", "Middleware"), ("bigdata", "Big data"), ("security", "Security"), ("application", "Application"),
    ("platform", "Platform and disaster recovery"),
]

# (code, category, name, API code, billable, resource kinds separated by spaces)
SERVICES = [
    ("ecs", "compute", "Elastic Compute Service", "ecs", "yes",
        "instance instance_type disk image snapshot snapshot_consistent_group auto_snapshot_policy "
        "security_group sg_rule key_pair deployment_set eni dedicated_host tag cloud_assistant_command"),
    ("ess", "compute", "Auto Scaling", "ess", "no",
        "scaling_group scaling_configuration launch_template scaling_rule scaling_activity scheduled_task "
        "event_triggered_task"),
    ("ros", "compute", "Resource Orchestration Service", "ros", "no(I)",
        "stack template"),
    ("oos", "compute", "Operation Orchestration Service", "oos", "no(I)",
        "template execution scheduled_task"),
    ("ack", "compute", "Container Service (Kubernetes)", "cs", "I",
        "cluster node_pool node application component volume"),
    ("cr", "compute", "Container Registry", "cr", "I",
        "instance namespace repository artifact image_tag replication_rule"),
    ("oss", "storage", "Object Storage Service", "oss", "yes",
        "bucket object acl lifecycle_rule retention_policy cors_rule referer_whitelist logging_config "
        "website_config image_style replication_rule csg"),
    ("ebs", "storage", "Elastic Block Storage", "ecs (disk APIs) / ebs", "yes",
        "disk shared_disk snapshot snapshot_consistent_group auto_snapshot_policy replication_pair "
        "replication_pair_group storage_cluster_partition"),
    ("ots", "storage", "Tablestore", "ots", "yes",
        "instance table secondary_index search_index tunnel"),
    ("nas", "storage", "File Storage NAS", "nas", "yes",
        "file_system mount_target access_group snapshot"),
    ("sls", "storage", "Simple Log Service", "sls", "yes",
        "project logstore index alert_rule dashboard saved_search scheduled_sql transform_job ship_job "
        "machine_group"),
    ("slb", "network", "Server Load Balancer", "slb", "yes",
        "instance listener backend_server vserver_group primary_secondary_group acl_whitelist certificate"),
    ("vpc", "network", "Virtual Private Cloud", "vpc", "no(I)",
        "vpc vrouter route_table route_entry vswitch network_acl peering_connection ipv6_cidr"),
    ("eip", "network", "Elastic IP Address", "vpc", "yes",
        "eip eip_association"),
    ("expressconnect", "network", "Express Connect", "vpc", "yes",
        "connection circuit physical_connection router_interface vbr"),
    ("nat", "network", "NAT Gateway", "vpc", "yes",
        "nat_gateway snat_entry dnat_entry"),
    ("ipv6gw", "network", "IPv6 Gateway", "vpc", "yes",
        "ipv6_gateway ipv6_address ipv6_internet_bandwidth egress_only_rule"),
    ("cgw", "network", "Cloud Gateway (ONSP)", "n/a", "I",
        "service_cluster network_element traffic_route"),
    ("dns", "network", "Apsara Stack DNS (incl. PrivateZone, internal GTM)", "n/a", "I",
        "global_domain tenant_domain record forwarding_config recursion_config private_zone "
        "gtm_scheduling_instance gtm_address_pool gtm_scheduling_domain resolution_line sync_task"),
    ("rds", "database", "ApsaraDB RDS", "rds", "yes",
        "instance read_only_instance account database whitelist backup rw_split_endpoint"),
    ("polardb", "database", "PolarDB", "polardb", "yes",
        "cluster node primary_node read_only_node proxy_endpoint whitelist backup_snapshot"),
    ("mongodb", "database", "ApsaraDB for MongoDB", "dds", "yes",
        "instance mongos_node shard_node config_server whitelist backup audit_log"),
    ("redis", "database", "KVStore for Redis", "r-kvstore", "yes",
        "instance shard read_replica account whitelist backup parameter"),
    ("dts", "database", "Data Transmission Service", "dts", "yes(I)",
        "migration_task sync_task subscription_task etl_task checkpoint"),
    ("dms", "database", "Data Management", "dms-enterprise", "I",
        "db_instance database table user permission security_rule approval_flow sql_task db_group ticket"),
    ("dbs", "database", "Database Backup", "dbs", "yes",
        "backup_plan backup_schedule storage_pool backup_policy backup_gateway backup_set sandbox_instance "
        "lifecycle_rule"),
    ("kafka", "middleware", "Message Queue for Apache Kafka", "alikafka", "yes",
        "instance topic consumer_group"),
    ("rocketmq", "middleware", "Message Queue for Apache RocketMQ", "ons", "yes(I)",
        "instance topic group message dead_letter_queue"),
    ("abm", "bigdata", "Apsara Big Data Manager", "n/a", "no",
        "dashboard health_item report job process operation_log cluster host service_role"),
    ("maxcompute", "bigdata", "MaxCompute", "odps", "yes",
        "project table external_table volume job queue resource_pool tunnel"),
    ("dataworks", "bigdata", "DataWorks", "dataworks-public", "I",
        "workspace member data_source sync_task workflow node solution resource udf alert_rule baseline api "
        "masking_rule data_model"),
    ("datahub", "bigdata", "DataHub", "dhs", "yes(I)",
        "project topic shard data_connector checkpoint"),
    ("security", "security", "Apsara Stack Security", "yundun-*", "licence(I)",
        "ndr_policy server_guard_asset baseline_check vulnerability audit_rule waf_site waf_rule waf_template "
        "soc_alert soc_rule report sddp_rule"),
    ("kms", "security", "Key Management Service", "kms", "yes",
        "cmk key_version alias tag imported_key_material hsm"),
    ("apigateway", "application", "API Gateway", "cloudapi", "yes",
        "api api_version environment app plugin alert api_group domain"),
    ("asr", "platform", "Apsara Stack Resilience (Zone-DR, Geo-DR, ASR-BR)", "n/a", "I",
        "protection_group drill_plan recovery_plan backup_vault backup_plan migration_plan"),
]

# Types with their own display names (the rest are derived from the kind).
TYPE_NAMES = {
    "ecs.instance": "ECS instance", "ecs.disk": "Disk", "ecs.security_group": "Security group", "vpc.vpc": "VPC",
    "vpc.vswitch": "vSwitch", "eip.eip": "Elastic IP address", "slb.instance": "Load balancer",
    "rds.instance": "RDS instance", "redis.instance": "Redis instance", "oss.bucket": "OSS bucket",
    "ecs.key_pair": "Key pair", "ecs.image": "Custom image", "mongodb.instance": "MongoDB instance",
    "polardb.cluster": "PolarDB cluster", "polardb.node": "PolarDB node", "kms.cmk": "KMS key",
    "ess.scaling_group": "Scaling group", "ros.stack": "Stack", "oos.template": "OOS template",
    "oos.execution": "OOS execution", "nas.file_system": "NAS file system", "dts.migration_task": "DTS migration",
    "dts.sync_task": "DTS synchronization", "dbs.backup_plan": "Backup plan", "apigateway.api_group": "API group",
    "kafka.instance": "Kafka instance", "cr.instance": "Registry instance", "cr.namespace": "Registry namespace",
    "cr.repository": "Image repository", "ots.instance": "Tablestore instance", "ots.table": "Table",
    "ack.cluster": "Kubernetes cluster", "nat.nat_gateway": "NAT gateway", "ack.node_pool": "Node pool",
    "sls.project": "Log project", "sls.logstore": "Logstore",
}
# Kinds collected under another service's code (disks are ECS disk APIs on Apsara Stack).
EXTRA_TYPES = [("ecs.disk", "ecs")]


def resource_types() -> list[tuple[str, str, str]]:
    """(type code, service code, display name) of every type in the catalog."""
    out = []
    for code, _cat, _name, _api, _billable, kinds in SERVICES:
        for kind in kinds.split():
            type_code = f"{code}.{kind}"
            out.append((type_code, code, TYPE_NAMES.get(type_code, kind.replace("_", " ").capitalize())))
    known = {t for t, _s, _n in out}
    out += [(t, s, TYPE_NAMES[t]) for t, s in EXTRA_TYPES if t not in known]
    return out


def type_name(type_code: str) -> str:
    if type_code in TYPE_NAMES:
        return TYPE_NAMES[type_code]
    return type_code.split(".", 1)[-1].replace("_", " ").capitalize()


def catalog_sync(**_kwargs) -> None:
    """Write the catalog to its tables (idempotent; run after every migration)."""
    from apps.clouds.adapters import adapter_types
    from apps.clouds.models import CloudService, ResourceType, ServiceCategory

    for order, (code, name) in enumerate(CATEGORIES):
        ServiceCategory.objects.update_or_create(code=code, defaults={"name": name, "order": order})
    for code, category, name, api, billable, _kinds in SERVICES:
        CloudService.objects.update_or_create(code=code, defaults={"category_id": category, "name": name,
                                                                   "api_code": api, "billable": billable})
    collected = {t for cls in adapter_types().values() for t in cls.capabilities.resource_types}
    existing = set(ResourceType.objects.values_list("code", flat=True))
    rows = resource_types()
    ResourceType.objects.bulk_create([ResourceType(code=t, service_id=s, name=n, collected=t in collected)
                                      for t, s, n in rows if t not in existing])
    for t, _s, n in rows:
        if t in existing:
            ResourceType.objects.filter(code=t).update(name=n, collected=t in collected)
