"""Day-2 changes of the Apsara adapter that are neither a create nor a state change: a disk's size
and snapshots (create, delete, roll back: through the disaster-recovery contract of ``apsara_dr``),
security group rules, an EIP's bandwidth, SLB listeners and backend servers, RDS accounts, databases
and backups, an OSS bucket's ACL and lifecycle rule; and the details a resource page shows about them
(rules, listeners, backends, accounts, databases, backups, snapshots, lifecycle rules).

Each operation takes arguments the console has checked (``apps/provisioning/day2.py``) and makes one
or two calls of the product's official SDK; the cloud's refusals are raised as ``CloudCallError``.
"""

from __future__ import annotations

import json
from typing import Any

import oss2
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_rds20140815 import models as rds_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_vpc20160428 import models as vpc_models

from apps.clouds.adapters import apsara_dr, apsara_nat
from apps.clouds.adapters.base import CloudCallError, UnsupportedOperation

# resource type -> the day-2 operations the adapter makes
OPERATIONS: dict[str, tuple[str, ...]] = {
    "ecs.disk": ("disk_resize", "snapshot_create", "snapshot_delete", "rollback"),
    "ecs.security_group": ("rule_add", "rule_remove"),
    "eip.eip": ("bandwidth",),
    "slb.instance": ("listener_add", "listener_remove", "backend_add", "backend_remove"),
    "rds.instance": ("account_create", "database_create", "backup_create"),
    "oss.bucket": ("acl", "lifecycle"),
    "nat.nat_gateway": ("eip_bind", "eip_unbind", "snat_add", "snat_remove", "dnat_add", "dnat_remove"),
}


def security_group_rule(adapter: Any, region: str, group_id: str, rule: dict[str, Any], *, add: bool,
                        exist_ok: bool = False) -> None:
    """Add (AuthorizeSecurityGroup) or remove (RevokeSecurityGroup) one ingress rule; ``rule`` has
    protocol, port_range, source_cidr, policy, priority and description."""
    fields = {"region_id": region, "security_group_id": group_id, "ip_protocol": rule["protocol"],
              "port_range": rule.get("port_range") or "-1/-1",
              "source_cidr_ip": rule.get("source_cidr") or "0.0.0.0/0",
              "policy": rule.get("policy") or "accept", "priority": str(rule.get("priority") or 1)}
    if not add:
        adapter._invoke("ecs", region, "revoke_security_group", ecs_models.RevokeSecurityGroupRequest(**fields))
        return
    try:
        adapter._invoke("ecs", region, "authorize_security_group", ecs_models.AuthorizeSecurityGroupRequest(
            **fields, description=rule.get("description") or None))
    except CloudCallError as exc:
        if not (exist_ok and exc.code == "InvalidPermission.Duplicate"):
            raise


def modify(adapter: Any, resource_type: str, region: str, external_id: str, operation: str,
           args: dict[str, Any]) -> str:
    """Carry out one day-2 operation; returns a line saying what was asked of the cloud."""
    if operation not in OPERATIONS.get(resource_type, ()):
        raise UnsupportedOperation(f"{adapter.display_name} cannot {operation} {resource_type}.")
    a = args
    if operation == "disk_resize":
        adapter._invoke("ecs", region, "resize_disk", ecs_models.ResizeDiskRequest(
            disk_id=external_id, new_size=int(a["size_gib"]), type="online" if a.get("attached") else "offline"))
        return f"Resize to {a['size_gib']} GiB requested"
    if resource_type == apsara_nat.TYPE:
        if operation in ("eip_bind", "eip_unbind"):
            apsara_nat.eip_bind(adapter, region, external_id, a["eip_id"], bind=operation == "eip_bind")
            return f"EIP {a['eip_id']} {'bound' if operation == 'eip_bind' else 'unbound'}"
        if operation == "snat_add":
            entry = apsara_nat.snat_add(adapter, region, external_id, snat_ip=a["ip_address"],
                                        vswitch_id=a["vswitch_id"], client_token=a.get("client_token"))
            return f"SNAT entry {entry} added"
        if operation == "dnat_add":
            entry = apsara_nat.dnat_add(adapter, region, external_id, external_ip=a["ip_address"],
                                        protocol=a["protocol"], external_port=a["external_port"],
                                        internal_ip=a["internal_ip"], internal_port=a["internal_port"],
                                        client_token=a.get("client_token"))
            return f"DNAT entry {entry} added"
        (apsara_nat.snat_remove if operation == "snat_remove" else apsara_nat.dnat_remove)(
            adapter, region, external_id, a["entry_id"])
        return f"Entry {a['entry_id']} removed"
    # Snapshots, roll-backs and database backups: the disaster-recovery contract (``apsara_dr``).
    if operation == "snapshot_create":
        snapshot = apsara_dr.snapshot_create(adapter, region, external_id, name=a["name"], tags={},
                                             client_token=a.get("client_token"))
        return f"Snapshot {snapshot} requested"
    if operation == "snapshot_delete":
        apsara_dr.snapshot_delete(adapter, region, a["snapshot"])
        return f"Snapshot {a['snapshot']} deleted"
    if operation == "rollback":
        apsara_dr.disk_rollback(adapter, region, external_id, a["snapshot"])
        return f"Rolled back to {a['snapshot']}"
    if operation == "backup_create":
        job = apsara_dr.rds_backup_create(adapter, region, external_id)
        return f"Backup job {job} started"
    if operation in ("rule_add", "rule_remove"):
        security_group_rule(adapter, region, external_id, a, add=operation == "rule_add",
                            exist_ok=operation == "rule_add")
        return f"Rule {a['protocol']} {a.get('port_range')} from {a.get('source_cidr')} " \
               f"{'added' if operation == 'rule_add' else 'removed'}"
    if operation == "bandwidth":
        adapter._invoke("vpc", region, "modify_eip_address_attribute", vpc_models.ModifyEipAddressAttributeRequest(
            region_id=region, allocation_id=external_id, bandwidth=str(int(a["bandwidth_mbps"]))))
        return f"Bandwidth {a['bandwidth_mbps']} Mbit/s requested"
    if operation == "listener_add":
        product, method, model = (
            ("slb", "create_load_balancer_tcplistener", slb_models.CreateLoadBalancerTCPListenerRequest)
            if a["protocol"] == "tcp" else
            ("slb", "create_load_balancer_udplistener", slb_models.CreateLoadBalancerUDPListenerRequest))
        adapter._invoke(product, region, method, model(region_id=region, load_balancer_id=external_id,
                                                       listener_port=int(a["port"]),
                                                       backend_server_port=int(a["backend_port"]), bandwidth=-1))
        return f"{a['protocol'].upper()} listener on {a['port']} added"
    if operation == "listener_remove":
        adapter._invoke("slb", region, "delete_load_balancer_listener", slb_models.DeleteLoadBalancerListenerRequest(
            region_id=region, load_balancer_id=external_id, listener_port=int(a["port"]),
            listener_protocol=a.get("protocol") or None))
        return f"Listener on {a['port']} removed"
    if operation in ("backend_add", "backend_remove"):
        servers = json.dumps([{"ServerId": a["instance_id"], "Weight": int(a.get("weight") or 100), "Type": "ecs"}])
        if operation == "backend_add":
            adapter._invoke("slb", region, "add_backend_servers", slb_models.AddBackendServersRequest(
                region_id=region, load_balancer_id=external_id, backend_servers=servers))
            return f"Backend {a['instance_id']} added"
        adapter._invoke("slb", region, "remove_backend_servers", slb_models.RemoveBackendServersRequest(
            region_id=region, load_balancer_id=external_id, backend_servers=servers))
        return f"Backend {a['instance_id']} removed"
    if operation == "account_create":
        adapter._invoke("rds", region, "create_account", rds_models.CreateAccountRequest(
            dbinstance_id=external_id, account_name=a["name"], account_password=a["password"],
            account_type=a.get("account_type") or "Normal"))
        return f"Account {a['name']} created"
    if operation == "database_create":
        adapter._invoke("rds", region, "create_database", rds_models.CreateDatabaseRequest(
            dbinstance_id=external_id, dbname=a["name"], character_set_name=a.get("charset") or "utf8mb4"))
        return f"Database {a['name']} created"
    bucket = adapter._oss(region, external_id)
    if operation == "acl":
        adapter.call("PutBucketAcl", lambda: bucket.put_bucket_acl(a["acl"]))
        return f"ACL {a['acl']} set"
    rule = oss2.models.LifecycleRule(
        a.get("rule_id") or "expire", a.get("prefix") or "",
        status=oss2.models.LifecycleRule.ENABLED if a.get("enabled", True) else oss2.models.LifecycleRule.DISABLED,
        expiration=oss2.models.LifecycleExpiration(days=int(a["days"])))
    adapter.call("PutBucketLifecycle", lambda: bucket.put_bucket_lifecycle(oss2.models.BucketLifecycle([rule])))
    return f"Objects under '{a.get('prefix') or ''}' expire after {a['days']} days"


def details(adapter: Any, resource_type: str, region: str, external_id: str) -> dict[str, Any]:
    """What the resource page lists beside the inventory's fields, read from the cloud."""
    if resource_type == "ecs.security_group":
        body = adapter._invoke("ecs", region, "describe_security_group_attribute",
                               ecs_models.DescribeSecurityGroupAttributeRequest(region_id=region,
                                                                                security_group_id=external_id))
        return {"rules": [{"protocol": str(r.get("IpProtocol") or "").lower(), "port_range": r.get("PortRange"),
                           "source_cidr": r.get("SourceCidrIp"), "policy": str(r.get("Policy") or "").lower(),
                           "priority": r.get("Priority"), "description": r.get("Description") or ""}
                          for r in (body.get("Permissions") or {}).get("Permission") or []]}
    if resource_type == "slb.instance":
        body = adapter._invoke("slb", region, "describe_load_balancer_attribute",
                               slb_models.DescribeLoadBalancerAttributeRequest(region_id=region,
                                                                               load_balancer_id=external_id))
        listeners = (body.get("ListenerPortsAndProtocol") or {}).get("ListenerPortAndProtocol") or []
        backends = (body.get("BackendServers") or {}).get("BackendServer") or []
        return {"listeners": [{"port": item.get("ListenerPort"), "protocol": item.get("ListenerProtocol")}
                              for item in listeners],
                "backends": [{"instance_id": b.get("ServerId"), "weight": b.get("Weight")} for b in backends]}
    if resource_type == apsara_nat.TYPE:
        return apsara_nat.entries(adapter, region, external_id)
    if resource_type == "ecs.disk":
        return {"snapshots": [{"snapshot": r.external_id, "name": r.name, "status": r.status,
                               "progress": (r.spec or {}).get("progress")}
                              for r in adapter.iter_resources("ecs.snapshot", region)
                              if (r.spec or {}).get("disk_id") == external_id]}
    if resource_type == "rds.instance":
        backups = [{"id": b["id"], "status": b["status"], "type": b["type"], "size_bytes": b["size_bytes"]}
                   for b in apsara_dr.rds_backups(adapter, region, external_id)]
        accounts = adapter._invoke("rds", region, "describe_accounts",
                                   rds_models.DescribeAccountsRequest(dbinstance_id=external_id))
        databases = adapter._invoke("rds", region, "describe_databases",
                                    rds_models.DescribeDatabasesRequest(dbinstance_id=external_id))
        return {"accounts": [{"name": x.get("AccountName"), "type": x.get("AccountType"),
                              "status": x.get("AccountStatus")}
                             for x in (accounts.get("Accounts") or {}).get("DBInstanceAccount") or []],
                "databases": [{"name": x.get("DBName"), "charset": x.get("CharacterSetName"),
                               "status": x.get("DBStatus")}
                              for x in (databases.get("Databases") or {}).get("Database") or []],
                "backups": backups}
    if resource_type == "oss.bucket":
        bucket = adapter._oss(region, external_id)
        try:
            found = adapter.call("GetBucketLifecycle", lambda: bucket.get_bucket_lifecycle())
        except CloudCallError as exc:
            if exc.code != "NoSuchLifecycle":
                raise
            return {"lifecycle": []}
        return {"lifecycle": [{"rule_id": r.id, "prefix": r.prefix, "enabled": r.status == "Enabled",
                               "days": r.expiration.days if r.expiration else None} for r in found.rules]}
    return {}
