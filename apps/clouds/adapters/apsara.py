"""Apsara Stack and Alibaba Cloud, through Alibaba Cloud's official Python SDKs.

Endpoint, protocol and region come from the platform, so the same adapter reaches an Apsara Stack
(per-product endpoints or one ASAPI gateway, its organization and resource set sent as headers,
a private CA, STS credentials), an Alibaba Cloud region, or cloudsim; ``apsara_connection`` holds
those connection rules. OSS buckets go through the OSS SDK (``oss2``) at the region's OSS endpoint;
on an IP endpoint (cloudsim) the SDK addresses buckets by path. Every call carries connect and read
timeouts; the OpenAPI SDKs' own retries are off, ``CloudAdapter.call`` retries transient failures.

Fields are read only where the product's real response has them (the fidelity test in
``apps/clouds/tests`` holds every read to the SDK's response models): RDS storage, port and tags
come from ``DescribeDBInstanceAttribute`` and ``ListTagResources``, not from the list.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import oss2
import requests
from alibabacloud_cms20190101 import models as cms_models
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_r_kvstore20150101 import models as redis_models
from alibabacloud_r_kvstore20150101.client import Client as RedisClient
from alibabacloud_rds20140815 import models as rds_models
from alibabacloud_rds20140815.client import Client as RdsClient
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_slb20140515.client import Client as SlbClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils_models import GlobalParameters
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.runtime import RuntimeOptions

from apps.clouds.adapters import (  # noqa: F401 (companions register)
    apsara_containers,
    apsara_day2,
    apsara_dr,
    apsara_inventory,
    apsara_nat,
    extensions,
    register_adapter,
)
from apps.clouds.adapters.apsara_connection import PRODUCT_CODES, AssumedRole, Connection, assumed_role, with_path
from apps.clouds.adapters.base import (
    Capabilities,
    CloudAdapter,
    CloudCallError,
    CloudResource,
    FlavorInfo,
    ImageInfo,
    MetricPoint,
    RegionInfo,
    Relation,
    ResourcePage,
    UnsupportedOperation,
    ZoneInfo,
    normal_status,
)

PRODUCTS = {"ecs": EcsClient, "vpc": VpcClient, "slb": SlbClient, "rds": RdsClient, "redis": RedisClient,
            "cms": CmsClient,
            **{code: client for code, (client, _asapi) in extensions.registry("apsara").products.items()}}
PRODUCT_CODES.update({code: asapi for code, (_client, asapi) in extensions.registry("apsara").products.items()
                      if asapi})
TRANSIENT_CODES = {
    "ServiceUnavailable", "Throttling", "Throttling.User", "Throttling.Api", "InternalError", "UnknownError",
    "ServiceBusy", "RequestTimeout", "OperationConflict", "LastTokenProcessing", "SystemBusy",
}
LIFECYCLE = ("create", "start", "stop", "reboot", "resize", "delete")
# type -> (SDK product, page size, whether the list pages by NextToken: the real API has it for these)
LISTS = {
    "ecs.instance": ("ecs", 100, True),
    "ecs.disk": ("ecs", 100, True),
    "ecs.security_group": ("ecs", 100, True),
    "vpc.vpc": ("vpc", 50, False),
    "vpc.vswitch": ("vpc", 50, False),
    "eip.eip": ("vpc", 100, False),
    "slb.instance": ("slb", 100, False),
    "rds.instance": ("rds", 100, True),
    "redis.instance": ("redis", 50, False),
}
IMAGE_PAGE_SIZE = 100
RDS_TAG_BATCH = 50  # ListTagResources takes at most 50 resource ids
# Types listed through the OSS SDK rather than an OpenAPI product (ListBuckets is global; each
# region's collection keeps the buckets located in the region's OSS clusters).
OSS_TYPES = ("oss.bucket",)
OSS_PAGE_SIZE = 100
CMS_NAMESPACES = {"ecs.instance": "acs_ecs_dashboard", "rds.instance": "acs_rds_dashboard",
                  "redis.instance": "acs_kvstore", "slb.instance": "acs_slb_dashboard"}
# The types whose create API has a DryRun check, and how the cloud answers a check that passed.
DRY_RUN = {"ecs.instance": "DryRunOperation", "vpc.vpc": "DryRunOperation", "redis.instance": "DryRunOperation",
           "rds.instance": "DryRunResult"}
# Engines and versions ApsaraDB RDS and ApsaraDB for Redis create (pay-as-you-go, VPC).
ENGINES = {"rds.instance": {"MySQL": ("5.7", "8.0"), "PostgreSQL": ("13.0", "14.0", "15.0"),
                            "SQLServer": ("2019_std_ha",)},
           "redis.instance": {"Redis": ("4.0", "5.0", "6.0", "7.0")}}
# Standard (master-replica) Redis classes: code -> memory MiB; classic load balancer specs. Neither
# product has a list call the console uses, so the adapter publishes them with the catalog.
REDIS_CLASSES = {"redis.master.micro.default": 1024, "redis.master.small.default": 2048,
                 "redis.master.mid.default": 4096, "redis.master.stand.default": 8192,
                 "redis.master.large.default": 16384}
SLB_SPECS = ("slb.s1.small", "slb.s2.small", "slb.s2.medium", "slb.s3.small", "slb.s3.medium", "slb.s3.large")
_MESSAGE_RE = re.compile(r"^code: \d+, (?P<msg>.*?)(?: request id: .*)?$", re.S)
_GB_RE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[GMT]i?B)?\s*$", re.I)


_raw_answer = threading.local()
_NOT_RAW = object()
_RAW_CLIENTS: dict[type, type] = {}
_raw_lock = threading.Lock()


# The SDK opens one HTTP session per host and process, on the first call to that host (with a TLS context
# loaded from the system's CA store even for http: about 20 ms of CPU, holding the interpreter lock), and
# first calls side by side each opened one: the ten requests a fresh server took at once opened ten. The first
# call to a host in a process goes alone; the others wait for it at most ``OPENING_WAIT`` seconds (a cloud
# that does not answer must not hold them longer), then go on.
_opened_hosts: set[str] = set()
_opening = threading.Lock()
OPENING_WAIT = 1.0


@contextlib.contextmanager
def _first_to(client: Any) -> Iterator[None]:
    host = f"{getattr(client, '_protocol', '')}://{getattr(client, '_endpoint', '')}"
    if host in _opened_hosts:
        yield
        return
    alone = _opening.acquire(timeout=OPENING_WAIT)
    try:
        if alone and host in _opened_hosts:  # opened while this one waited
            _opening.release()
            alone = False
        yield
    finally:
        _opened_hosts.add(host)
        if alone:
            _opening.release()


def _answering_raw(client_class: type) -> type:
    """``client_class`` whose JSON answers, while the calling thread asks for them (``_invoke``), are handed
    over as received instead of being built into the SDK's response model."""
    with _raw_lock:
        if client_class not in _RAW_CLIENTS:
            def call_api(self: Any, params: Any, request: Any, runtime: Any) -> dict:
                answer = client_class.call_api(self, params, request, runtime)
                if getattr(_raw_answer, "wanted", False) and isinstance(answer, dict) and \
                        isinstance(answer.get("body"), dict):
                    _raw_answer.body = answer["body"]
                    return {**answer, "body": None}
                return answer

            _RAW_CLIENTS[client_class] = type(f"{client_class.__name__}Raw", (client_class,), {"call_api": call_api})
        return _RAW_CLIENTS[client_class]


def _tags(raw: Any, key: str = "TagKey", value: str = "TagValue") -> dict[str, str]:
    """Tags from a product's ``{"Tag": [...]}`` (ECS and SLB name them TagKey/TagValue, VPC and Redis Key/Value)."""
    out: dict[str, str] = {}
    for t in (raw or {}).get("Tag") or []:
        name = t.get(key)
        if name:
            out[str(name)] = str(t.get(value) or "")
    return out


def _ints(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _mib(memory_class: Any) -> int:
    """MiB of a memory size the cloud gives in GB ("4GB", "0.5", 4)."""
    match = _GB_RE.match(str(memory_class or ""))
    if match is None:
        return 0
    factor = {"M": 1, "T": 1024 * 1024}.get((match["unit"] or "G")[0].upper(), 1024)
    return int(float(match["n"]) * factor)


def _net(vpc_id: str, vswitch_id: str) -> list[Relation]:
    rels = []
    if vpc_id:
        rels.append(Relation("in_vpc", "vpc.vpc", vpc_id))
    if vswitch_id:
        rels.append(Relation("in_vswitch", "vpc.vswitch", vswitch_id))
    return rels


def to_instance(region: str, r: dict[str, Any]) -> CloudResource:
    vpc = r.get("VpcAttributes") or {}
    ips = (vpc.get("PrivateIpAddress") or {}).get("IpAddress") or []
    # An EIP, or else the public address the instance got with outbound bandwidth at creation.
    public = (r.get("EipAddress") or {}).get("IpAddress") or next(
        iter((r.get("PublicIpAddress") or {}).get("IpAddress") or []), "")
    sgs = list((r.get("SecurityGroupIds") or {}).get("SecurityGroupId") or [])
    rels = _net(vpc.get("VpcId", ""), vpc.get("VSwitchId", ""))
    rels += [Relation("in_security_group", "ecs.security_group", s) for s in sgs]
    memory = _ints(r.get("Memory"))
    return CloudResource(
        type="ecs.instance", external_id=r["InstanceId"], region=region, zone=r.get("ZoneId", ""),
        name=r.get("InstanceName") or r["InstanceId"], status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "instance_type": r.get("InstanceType"), "cpu": r.get("Cpu"),
              "memory_mib": memory, "image_id": r.get("ImageId"), "os_name": r.get("OSName"),
              "os_type": r.get("OSType"), "private_ip": ips[0] if ips else "", "public_ip": public,
              "security_groups": sgs, "charge_type": r.get("InstanceChargeType"),
              "created_at": r.get("CreationTime"), "host_name": r.get("HostName")},
        tags=_tags(r.get("Tags")), relations=rels, vcpu=_ints(r.get("Cpu")), memory_mib=memory,
        resource_group=r.get("ResourceGroupId") or "", vpc_id=vpc.get("VpcId", ""),
    )


def to_disk(region: str, r: dict[str, Any]) -> CloudResource:
    rels = [Relation("attached_to", "ecs.instance", r["InstanceId"])] if r.get("InstanceId") else []
    return CloudResource(
        type="ecs.disk", external_id=r["DiskId"], region=region, zone=r.get("ZoneId", ""),
        name=r.get("DiskName") or r["DiskId"], status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "category": r.get("Category"), "size_gib": r.get("Size"),
              "disk_type": r.get("Type"), "instance_id": r.get("InstanceId") or "", "device": r.get("Device") or "",
              "delete_with_instance": r.get("DeleteWithInstance"), "encrypted": r.get("Encrypted"),
              "created_at": r.get("CreationTime")},
        tags=_tags(r.get("Tags")), relations=rels, storage_gib=_ints(r.get("Size")),
        resource_group=r.get("ResourceGroupId") or "",
    )


def to_security_group(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="ecs.security_group", external_id=r["SecurityGroupId"], region=region,
        name=r.get("SecurityGroupName") or r["SecurityGroupId"], status="available",
        spec={"vpc_id": r.get("VpcId", ""), "group_type": r.get("SecurityGroupType"),
              "description": r.get("Description", ""), "created_at": r.get("CreationTime")},
        tags=_tags(r.get("Tags")), relations=_net(r.get("VpcId", ""), ""), vpc_id=r.get("VpcId", ""),
        resource_group=r.get("ResourceGroupId") or "",
    )


def to_vpc(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="vpc.vpc", external_id=r["VpcId"], region=region, name=r.get("VpcName") or r["VpcId"],
        status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "cidr_block": r.get("CidrBlock"), "is_default": r.get("IsDefault"),
              "description": r.get("Description", ""), "created_at": r.get("CreationTime")},
        tags=_tags(r.get("Tags"), "Key", "Value"), vpc_id=r["VpcId"], resource_group=r.get("ResourceGroupId") or "",
    )


def to_vswitch(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="vpc.vswitch", external_id=r["VSwitchId"], region=region, zone=r.get("ZoneId", ""),
        name=r.get("VSwitchName") or r["VSwitchId"], status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "cidr_block": r.get("CidrBlock"), "vpc_id": r.get("VpcId", ""),
              "created_at": r.get("CreationTime")},
        tags=_tags(r.get("Tags"), "Key", "Value"), relations=_net(r.get("VpcId", ""), ""), vpc_id=r.get("VpcId", ""),
        resource_group=r.get("ResourceGroupId") or "",
    )


def to_eip(region: str, r: dict[str, Any]) -> CloudResource:
    rels = []
    target = r.get("InstanceId") or ""
    if target:
        kind = {"EcsInstance": "ecs.instance", "SlbInstance": "slb.instance"}.get(r.get("InstanceType", ""))
        if kind:
            rels.append(Relation("associated_with", kind, target))
    return CloudResource(
        type="eip.eip", external_id=r["AllocationId"], region=region, name=r.get("Name") or r.get("IpAddress", ""),
        status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "ip_address": r.get("IpAddress"), "bandwidth_mbps": r.get("Bandwidth"),
              "charge_type": r.get("InternetChargeType"), "instance_id": target,
              "instance_type": r.get("InstanceType", ""), "allocated_at": r.get("AllocationTime")},
        tags=_tags(r.get("Tags"), "Key", "Value"), relations=rels, resource_group=r.get("ResourceGroupId") or "",
    )


def to_slb(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="slb.instance", external_id=r["LoadBalancerId"], region=region, zone=r.get("MasterZoneId", ""),
        name=r.get("LoadBalancerName") or r["LoadBalancerId"], status=normal_status(r.get("LoadBalancerStatus")),
        spec={"cloud_status": r.get("LoadBalancerStatus"), "address": r.get("Address"),
              "address_type": r.get("AddressType"), "spec": r.get("LoadBalancerSpec"),
              "network_type": r.get("NetworkType"), "slave_zone": r.get("SlaveZoneId"),
              "created_at": r.get("CreateTime")},
        tags=_tags(r.get("Tags")), relations=_net(r.get("VpcId", ""), r.get("VSwitchId", "")),
        vpc_id=r.get("VpcId", ""), resource_group=r.get("ResourceGroupId") or "",
    )


def to_rds(region: str, r: dict[str, Any], detail: dict[str, Any] | None = None,
           tags: dict[str, str] | None = None) -> CloudResource:
    """An RDS instance from its list item, its DBInstanceAttribute (storage, port) and its tags."""
    detail = detail or {}
    storage = detail.get("DBInstanceStorage")
    return CloudResource(
        type="rds.instance", external_id=r["DBInstanceId"], region=region, zone=r.get("ZoneId", ""),
        name=r.get("DBInstanceDescription") or r["DBInstanceId"], status=normal_status(r.get("DBInstanceStatus")),
        spec={"cloud_status": r.get("DBInstanceStatus"), "engine": r.get("Engine"),
              "engine_version": r.get("EngineVersion"), "class": r.get("DBInstanceClass"),
              "storage_gib": storage, "storage_type": r.get("DBInstanceStorageType"),
              "connection_string": r.get("ConnectionString"), "port": detail.get("Port"),
              "max_connections": detail.get("MaxConnections"), "created_at": r.get("CreateTime")},
        tags=dict(tags or {}), relations=_net(r.get("VpcId", ""), r.get("VSwitchId", "")),
        vcpu=_ints(r.get("DBInstanceCPU")), memory_mib=_ints(r.get("DBInstanceMemory")),
        storage_gib=_ints(storage), vpc_id=r.get("VpcId", ""), resource_group=r.get("ResourceGroupId") or "",
    )


def to_redis(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="redis.instance", external_id=r["InstanceId"], region=region, zone=r.get("ZoneId", ""),
        name=r.get("InstanceName") or r["InstanceId"], status=normal_status(r.get("InstanceStatus")),
        spec={"cloud_status": r.get("InstanceStatus"), "class": r.get("InstanceClass"),
              "engine_version": r.get("EngineVersion"), "capacity_mib": r.get("Capacity"),
              "architecture": r.get("ArchitectureType"), "private_ip": r.get("PrivateIp"),
              "connection_domain": r.get("ConnectionDomain"), "created_at": r.get("CreateTime")},
        tags=_tags(r.get("Tags"), "Key", "Value"), relations=_net(r.get("VpcId", ""), r.get("VSwitchId", "")),
        memory_mib=_ints(r.get("Capacity")), vpc_id=r.get("VpcId", ""), resource_group=r.get("ResourceGroupId") or "",
    )


def to_bucket(region: str, info: Any) -> CloudResource:
    """A bucket from the OSS SDK's GetBucketInfo result."""
    return CloudResource(
        type="oss.bucket", external_id=info.name, region=region, name=info.name, status="available",
        spec={"cloud_status": "Available", "storage_class": info.storage_class,
              "acl": info.acl.grant if info.acl else "",
              "location": info.location, "data_redundancy_type": info.data_redundancy_type,
              "versioning": info.versioning_status, "extranet_endpoint": info.extranet_endpoint,
              "intranet_endpoint": info.intranet_endpoint, "created_at": info.creation_date},
        resource_group=info.resource_group_id or "",
    )


CONVERTERS = {
    "ecs.instance": to_instance, "ecs.disk": to_disk, "ecs.security_group": to_security_group, "vpc.vpc": to_vpc,
    "vpc.vswitch": to_vswitch, "eip.eip": to_eip, "slb.instance": to_slb, "rds.instance": to_rds,
    "redis.instance": to_redis,
}


class _OssSession(oss2.Session):
    """An OSS session that adds the Apsara headers to every request and verifies TLS as configured
    (passed on each request, so that a CA bundle named by the environment cannot replace it)."""

    def __init__(self, headers: dict[str, str], verify: bool | str):
        super().__init__()
        self.verify = verify
        self.extra_headers = headers

    def do_request(self, req: Any, timeout: Any) -> Any:
        req.headers.update(self.extra_headers)
        try:
            return oss2.http.Response(self.session.request(
                req.method, req.url, data=req.data, params=req.params, headers=req.headers, stream=True,
                timeout=timeout, proxies=req.proxies, verify=self.verify))
        except requests.RequestException as exc:
            raise oss2.exceptions.RequestError(exc) from exc


@register_adapter
class ApsaraAdapter(CloudAdapter):
    type_name = "apsara"
    display_name = "Apsara Stack / Alibaba Cloud"
    capabilities = extensions.merged("apsara", Capabilities(
        services=("ecs", "vpc", "eip", "slb", "rds", "redis", "oss"),
        resource_types=(*LISTS, *OSS_TYPES),
        operations={
            "ecs.instance": LIFECYCLE, "ecs.disk": ("create", "attach", "detach", "delete", "modify"),
            "ecs.security_group": ("create", "delete", "modify"), "vpc.vpc": ("create", "delete"),
            "vpc.vswitch": ("create", "delete"), "eip.eip": ("create", "attach", "detach", "delete", "modify"),
            "slb.instance": ("create", "resize", "delete", "modify"),
            "rds.instance": ("create", "reboot", "resize", "delete", "modify"),
            "redis.instance": ("create", "reboot", "resize", "delete"), "oss.bucket": ("create", "delete", "modify"),
        },
        metrics={"ecs.instance": ("CPUUtilization", "memory_usedutilization", "InternetInRate", "InternetOutRate"),
                 "rds.instance": ("CpuUsage", "MemoryUsage", "DiskUsage"),
                 "redis.instance": ("CpuUsage", "MemoryUsage"),
                 "slb.instance": ("InstanceTrafficRX", "InstanceTrafficTX", "InstanceActiveConnection")},
        display_names={"ecs": "Elastic Compute Service", "vpc": "Virtual Private Cloud", "eip": "Elastic IP Address",
                       "slb": "Server Load Balancer", "rds": "ApsaraDB RDS", "redis": "ApsaraDB for Redis",
                       "oss": "Object Storage Service"},
    ))

    engines = ENGINES

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.connection = Connection.from_options(self.endpoint, self.protocol, self.options)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._oss_sessions: dict[str, Any] = {}

    # -- plumbing ------------------------------------------------------------------------------------

    def _runtime(self) -> RuntimeOptions:
        ms = int(self.timeout * 1000)
        return RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=ms, connect_timeout=min(ms, 5000),
                              ignore_ssl=not self.connection.verify_tls)

    def _role(self, region: str) -> AssumedRole | None:
        if not self.credentials.get("role_arn"):
            return None
        return assumed_role(self.connection, self.credentials, region, self.timeout)

    def _config(self, product: str, region: str) -> tuple[type, Config]:
        """The client class and SDK ``Config`` of one product in one region."""
        target = self.connection.target(product, region)
        ms = int(self.timeout * 1000)
        config = Config(endpoint=target.host, protocol=target.protocol, region_id=region, read_timeout=ms,
                        connect_timeout=min(ms, 5000), ca=self.connection.ca_path,
                        global_parameters=GlobalParameters(headers=target.headers) if target.headers else None)
        role = self._role(region)
        if role is not None:
            config.credential = role
        else:
            config.access_key_id = self.credentials.get("access_key_id", "")
            config.access_key_secret = self.credentials.get("access_key_secret", "")
            config.security_token = self.credentials.get("security_token") or None
        cls = PRODUCTS[product]
        return _answering_raw(with_path(cls, target.path) if target.path else cls), config

    def _client(self, product: str, region: str | None = None) -> Any:
        region = region or self.region or "cn-hangzhou"
        key = (product, region)
        with self._lock:
            if key not in self._clients:
                cls, config = self._config(product, region)
                self._clients[key] = cls(config)
            return self._clients[key]

    def _call(self, product: str, region: str | None, method: str, request: Any) -> Any:
        """One OpenAPI call; the SDK's response model."""
        client = self._client(product, region)
        fn = getattr(client, f"{method}_with_options")
        with _first_to(client):
            return self.call(method, lambda: fn(request, self._runtime()))

    def _invoke(self, product: str, region: str | None, method: str, request: Any) -> dict[str, Any]:
        """One OpenAPI call; its JSON body as the SDK received it.

        The SDK checks and sends the request as always; only the answer skips the round trip through
        its response model (built from the body, then turned back into the same mapping), which cost
        more than the call itself on a page of 100 instances. The adapter reads nothing a model lacks
        (``test_sdk_fidelity`` holds every read to the models), so the mapping is the same for it."""
        client = self._client(product, region)
        fn = getattr(client, f"{method}_with_options")

        def raw() -> Any:
            _raw_answer.wanted, _raw_answer.body = True, _NOT_RAW
            try:
                response = fn(request, self._runtime())
                body = _raw_answer.body
            finally:
                _raw_answer.wanted, _raw_answer.body = False, _NOT_RAW
            if body is _NOT_RAW:  # not a JSON answer: the model's mapping
                return response.body.to_map() if response.body is not None else {}
            return body

        with _first_to(client):
            return self.call(method, raw) or {}

    def _oss(self, region: str, bucket: str | None = None) -> Any:
        """An OSS SDK ``Service`` (no bucket) or ``Bucket`` for the region's endpoint."""
        headers = self.connection.apsara_headers(region)
        with self._lock:
            if region not in self._oss_sessions:
                verify: bool | str = self.connection.ca_path or self.connection.verify_tls
                self._oss_sessions[region] = _OssSession(headers, verify)
            session = self._oss_sessions[region]
        role = self._role(region)
        if role is not None:
            auth: Any = oss2.ProviderAuth(role)
        elif self.credentials.get("security_token"):
            auth = oss2.StsAuth(self.credentials.get("access_key_id", ""),
                                self.credentials.get("access_key_secret", ""), self.credentials["security_token"])
        else:
            auth = oss2.Auth(self.credentials.get("access_key_id", ""), self.credentials.get("access_key_secret", ""))
        endpoint = self.connection.oss_endpoint(region)
        if bucket is None:
            return oss2.Service(auth, endpoint, session=session, connect_timeout=self.timeout)
        return oss2.Bucket(auth, endpoint, bucket, session=session, connect_timeout=self.timeout)

    def _bucket_page(self, region: str, marker: str | None) -> ResourcePage:
        listing = self.call("ListBuckets", lambda: self._oss(region).list_buckets(
            marker=marker or "", max_keys=OSS_PAGE_SIZE))
        items = []
        for b in listing.buckets:
            if not self.connection.holds_bucket(region, b.location):
                continue
            found = self._bucket(region, b.name)
            if found is not None:
                items.append(found)
        return ResourcePage(items, listing.next_marker or None if listing.is_truncated else None)

    def _bucket(self, region: str, name: str) -> CloudResource | None:
        try:
            info = self.call("GetBucketInfo", lambda: self._oss(region, name).get_bucket_info())
        except CloudCallError as exc:
            if exc.code == "NoSuchBucket":
                return None
            raise
        if not self.connection.holds_bucket(region, info.location):
            return None
        return to_bucket(region, info)

    def classify(self, exc: Exception, action: str) -> CloudCallError:
        if isinstance(exc, oss2.exceptions.OssError):
            if exc.status < 0:  # no answer: a timeout, a refused or dropped connection
                return CloudCallError(str(exc.message or exc)[:500], code="ConnectionError", transient=True,
                                      action=action)
            code = exc.code or f"HTTP{exc.status}"
            transient = code in TRANSIENT_CODES or code.startswith("Throttling") or exc.status >= 500
            return CloudCallError(exc.message or code, code=code, transient=transient, status=exc.status,
                                  request_id=exc.request_id or "", action=action)
        code = getattr(exc, "code", None)
        status = getattr(exc, "status_code", None)
        if code is not None and status is not None:
            data = getattr(exc, "data", None) or {}
            message = str(data.get("Message") or getattr(exc, "message", "") or exc)
            match = _MESSAGE_RE.match(message)
            if match:
                message = match["msg"].strip()
            transient = (code in TRANSIENT_CODES or code.startswith("Throttling")
                         or (isinstance(status, int) and status >= 500))
            return CloudCallError(message, code=str(code), transient=transient, status=status,
                                  request_id=str(getattr(exc, "request_id", "") or data.get("RequestId") or ""),
                                  action=action)
        # No answer at all: a timeout, a refused or dropped connection. Worth another try.
        text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
        return CloudCallError(text[:500], code="ConnectionError", transient=True, action=action)

    # -- discovery -----------------------------------------------------------------------------------

    def regions(self) -> list[RegionInfo]:
        body = self._invoke("ecs", None, "describe_regions", ecs_models.DescribeRegionsRequest())
        out = []
        for r in (body.get("Regions") or {}).get("Region", []):
            zones_body = self._invoke("ecs", r["RegionId"], "describe_zones",
                                      ecs_models.DescribeZonesRequest(region_id=r["RegionId"]))
            zones = tuple(ZoneInfo(z["ZoneId"], z.get("LocalName") or z["ZoneId"])
                          for z in (zones_body.get("Zones") or {}).get("Zone", []))
            out.append(RegionInfo(r["RegionId"], r.get("LocalName") or r["RegionId"], zones))
        return out

    def probe(self) -> list[dict[str, Any]]:
        """One cheap call per product the adapter uses, each reported as it went (the connection test)."""
        region = self.region or "cn-hangzhou"
        checks: list[tuple[str, str, Any]] = []
        if self.credentials.get("role_arn"):
            role = self._role(region)
            checks.append(("sts", "AssumeRole", lambda: self.call("AssumeRole", role.current)))  # type: ignore[union-attr]
        checks += [
            ("ecs", "DescribeRegions", lambda: self._invoke("ecs", region, "describe_regions",
                                                            ecs_models.DescribeRegionsRequest())),
            ("vpc", "DescribeVpcs", lambda: self._invoke("vpc", region, "describe_vpcs", vpc_models.DescribeVpcsRequest(
                region_id=region, page_size=1))),
            ("slb", "DescribeLoadBalancers", lambda: self._invoke(
                "slb", region, "describe_load_balancers",
                slb_models.DescribeLoadBalancersRequest(region_id=region, page_size=1))),
            ("rds", "DescribeDBInstances", lambda: self._invoke(
                "rds", region, "describe_dbinstances",
                rds_models.DescribeDBInstancesRequest(region_id=region, max_results=1))),
            ("redis", "DescribeInstances", lambda: self._invoke(
                "redis", region, "describe_instances",
                redis_models.DescribeInstancesRequest(region_id=region, page_size=30))),
            ("cms", "DescribeMetricList", lambda: self._invoke(
                "cms", region, "describe_metric_list", cms_models.DescribeMetricListRequest(
                    namespace="acs_ecs_dashboard", metric_name="CPUUtilization", period="60", length="1"))),
            ("oss", "ListBuckets", lambda: self.call("ListBuckets", lambda: self._oss(region).list_buckets(
                max_keys=1))),
        ]
        out = []
        for product, action, check in checks:
            try:
                check()
                out.append({"product": product, "action": action, "ok": True})
            except CloudCallError as exc:
                out.append({"product": product, "action": action, "ok": False, "code": exc.code,
                            "message": exc.message, "transient": exc.transient})
        return out

    def flavors(self, region: str) -> list[FlavorInfo]:
        out: list[FlavorInfo] = []
        types = self._invoke("ecs", region, "describe_instance_types", ecs_models.DescribeInstanceTypesRequest())
        for t in (types.get("InstanceTypes") or {}).get("InstanceType", []):
            out.append(FlavorInfo("instance_type", t["InstanceTypeId"], t["InstanceTypeId"],
                                  vcpu=_ints(t.get("CpuCoreCount")),
                                  memory_mib=int(float(t.get("MemorySize") or 0) * 1024),
                                  attributes={"family": t.get("InstanceTypeFamily"),
                                              "architecture": t.get("CpuArchitecture")}))
        zones = self._invoke("ecs", region, "describe_zones", ecs_models.DescribeZonesRequest(region_id=region))
        categories: dict[str, list[str]] = {}
        for z in (zones.get("Zones") or {}).get("Zone", []):
            for c in (z.get("AvailableDiskCategories") or {}).get("DiskCategories", []):
                categories.setdefault(c, []).append(z["ZoneId"])
        out += [FlavorInfo("disk_category", c, c, attributes={"zones": zs}) for c, zs in sorted(categories.items())]
        try:
            classes = self._invoke("rds", region, "list_classes", rds_models.ListClassesRequest(
                region_id=region, commodity_code="bards", order_type="BUY"))
            for c in classes.get("Items") or []:
                out.append(FlavorInfo("rds_class", c.get("ClassCode", ""), c.get("ClassCode", ""),
                                      vcpu=_ints(c.get("Cpu")), memory_mib=_mib(c.get("MemoryClass")),
                                      attributes={"group": c.get("ClassGroup"),
                                                  "max_connections": _ints(c.get("MaxConnections"))}))
        except CloudCallError as exc:
            if exc.transient or exc.code not in ("InvalidAction.NotFound", "Forbidden.RAM"):
                raise
            # A cloud that does not publish database classes: the console accepts any class code.
        out += [FlavorInfo("redis_class", code, code, memory_mib=mib) for code, mib in REDIS_CLASSES.items()]
        out += [FlavorInfo("slb_spec", code, code) for code in SLB_SPECS]
        return out

    # -- collection ----------------------------------------------------------------------------------

    def _request(self, resource_type: str, region: str, page_token: str | None, size: int, token_paged: bool,
                 **filters: Any) -> tuple[str, str, Any]:
        paging = ({"max_results": size, "next_token": page_token or None} if token_paged
                  else {"page_number": int(page_token or 1), "page_size": size})
        r = region
        if resource_type == "ecs.instance":
            return "ecs", "describe_instances", ecs_models.DescribeInstancesRequest(region_id=r, **paging, **filters)
        if resource_type == "ecs.disk":
            return "ecs", "describe_disks", ecs_models.DescribeDisksRequest(region_id=r, **paging, **filters)
        if resource_type == "ecs.security_group":
            return "ecs", "describe_security_groups", ecs_models.DescribeSecurityGroupsRequest(
                region_id=r, **paging, **filters)
        if resource_type == "vpc.vpc":
            return "vpc", "describe_vpcs", vpc_models.DescribeVpcsRequest(region_id=r, **paging, **filters)
        if resource_type == "vpc.vswitch":
            return "vpc", "describe_vswitches", vpc_models.DescribeVSwitchesRequest(region_id=r, **paging, **filters)
        if resource_type == "eip.eip":
            return "vpc", "describe_eip_addresses", vpc_models.DescribeEipAddressesRequest(
                region_id=r, **paging, **filters)
        if resource_type == "slb.instance":
            return "slb", "describe_load_balancers", slb_models.DescribeLoadBalancersRequest(
                region_id=r, **paging, **filters)
        if resource_type == "rds.instance":
            return "rds", "describe_dbinstances", rds_models.DescribeDBInstancesRequest(
                region_id=r, **paging, **filters)
        if resource_type == "redis.instance":
            return "redis", "describe_instances", redis_models.DescribeInstancesRequest(
                region_id=r, **paging, **filters)
        raise UnsupportedOperation(f"{self.display_name} does not collect {resource_type}.")

    @staticmethod
    def _rows(resource_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        path = {
            "ecs.instance": ("Instances", "Instance"), "ecs.disk": ("Disks", "Disk"),
            "ecs.security_group": ("SecurityGroups", "SecurityGroup"), "vpc.vpc": ("Vpcs", "Vpc"),
            "vpc.vswitch": ("VSwitches", "VSwitch"), "eip.eip": ("EipAddresses", "EipAddress"),
            "slb.instance": ("LoadBalancers", "LoadBalancer"), "rds.instance": ("Items", "DBInstance"),
            "redis.instance": ("Instances", "KVStoreInstance"),
        }[resource_type]
        return list((body.get(path[0]) or {}).get(path[1]) or [])

    def _convert(self, resource_type: str, region: str, rows: list[dict[str, Any]]) -> list[CloudResource]:
        if resource_type != "rds.instance":
            convert = CONVERTERS[resource_type]
            return [convert(region, r) for r in rows]
        ids = [r["DBInstanceId"] for r in rows]
        tags = self._rds_tags(region, ids)
        return [to_rds(region, r, self._rds_detail(region, r["DBInstanceId"]), tags.get(r["DBInstanceId"]))
                for r in rows]

    def _rds_detail(self, region: str, db_id: str) -> dict[str, Any]:
        """Storage, port and the rest the list does not have, from DescribeDBInstanceAttribute."""
        try:
            body = self._invoke("rds", region, "describe_dbinstance_attribute",
                                rds_models.DescribeDBInstanceAttributeRequest(dbinstance_id=db_id))
        except CloudCallError as exc:
            if exc.code == "InvalidDBInstanceId.NotFound":  # released between the list and this call
                return {}
            raise
        found = (body.get("Items") or {}).get("DBInstanceAttribute") or []
        return found[0] if found else {}

    def _rds_tags(self, region: str, ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(ids), RDS_TAG_BATCH):
            token: str | None = None
            while True:
                try:
                    body = self._invoke("rds", region, "list_tag_resources", rds_models.ListTagResourcesRequest(
                        region_id=region, resource_type="INSTANCE", resource_id=ids[start:start + RDS_TAG_BATCH],
                        next_token=token))
                except CloudCallError as exc:
                    if exc.code != "InvalidDBInstanceId.NotFound":  # one of them released meanwhile
                        raise
                    break
                for t in (body.get("TagResources") or {}).get("TagResource") or []:
                    out.setdefault(t.get("ResourceId", ""), {})[str(t.get("TagKey", ""))] = str(t.get("TagValue") or "")
                token = body.get("NextToken") or None
                if token is None:
                    break
        return out

    def list_resources(self, resource_type: str, region: str, page_token: str | None = None) -> ResourcePage:
        self.check_type(resource_type)
        extra = extensions.listing("apsara", resource_type)
        if extra is not None:
            return extra.list(self, region, page_token)
        if resource_type == "oss.bucket":
            return self._bucket_page(region, page_token)
        product, size, token_paged = LISTS[resource_type]
        _p, method, request = self._request(resource_type, region, page_token, size, token_paged)
        body = self._invoke(product, region, method, request)
        rows = self._rows(resource_type, body)
        items = self._convert(resource_type, region, rows)
        if token_paged:
            next_token = body.get("NextToken") or None
        else:
            number = int(page_token or 1)
            total = _ints(body.get("TotalCount"))
            next_token = str(number + 1) if rows and number * size < total else None
        return ResourcePage(items, next_token)

    def get_resource(self, resource_type: str, region: str, external_id: str) -> CloudResource | None:
        self.check_type(resource_type)
        extra = extensions.listing("apsara", resource_type)
        if extra is not None:
            return extensions.get(self, extra, region, external_id)
        if resource_type == "oss.bucket":
            return self._bucket(region, external_id)
        product, size, token_paged = LISTS[resource_type]
        by_id = {
            "ecs.instance": {"instance_ids": json.dumps([external_id])},
            "ecs.disk": {"disk_ids": json.dumps([external_id])},
            "ecs.security_group": {"security_group_ids": json.dumps([external_id])},
            "vpc.vpc": {"vpc_id": external_id}, "vpc.vswitch": {"v_switch_id": external_id},
            "eip.eip": {"allocation_id": external_id}, "slb.instance": {"load_balancer_id": external_id},
            "rds.instance": {"dbinstance_id": external_id}, "redis.instance": {"instance_ids": external_id},
        }[resource_type]
        _p, method, request = self._request(resource_type, region, None, size, token_paged, **by_id)
        rows = [r for r in self._rows(resource_type, self._invoke(product, region, method, request))
                if r.get(_ID_FIELDS[resource_type]) == external_id]
        found = self._convert(resource_type, region, rows)
        return found[0] if found else None

    def get_resources(self, resource_type: str, region: str,
                      external_ids: list[str]) -> dict[str, CloudResource | None]:
        """Instances, disks and security groups are described up to a page of ids per call (the API takes
        at most 100 in its ``...Ids`` list); other types one by one."""
        field = _IDS_FILTERS.get(resource_type)
        if field is None or extensions.listing("apsara", resource_type) is not None:
            return super().get_resources(resource_type, region, external_ids)
        self.check_type(resource_type)
        product, size, token_paged = LISTS[resource_type]
        out: dict[str, CloudResource | None] = dict.fromkeys(external_ids)
        for start in range(0, len(external_ids), size):
            page = external_ids[start:start + size]
            _p, method, request = self._request(resource_type, region, None, size, token_paged,
                                                **{field: json.dumps(page)})
            rows = [r for r in self._rows(resource_type, self._invoke(product, region, method, request))
                    if r.get(_ID_FIELDS[resource_type]) in out]
            for found in self._convert(resource_type, region, rows):
                out[found.external_id] = found
        return out

    # -- lifecycle -----------------------------------------------------------------------------------

    def _vswitch(self, region: str, vswitch_id: str) -> dict[str, Any]:
        body = self._invoke("vpc", region, "describe_vswitches",
                            vpc_models.DescribeVSwitchesRequest(region_id=region, v_switch_id=vswitch_id))
        found = (body.get("VSwitches") or {}).get("VSwitch") or []
        if not found:
            raise CloudCallError(f"The vSwitch {vswitch_id} does not exist in {region}.",
                                 code="InvalidVSwitchId.NotFound", action="DescribeVSwitches")
        return found[0]

    def _create_call(self, resource_type: str, region: str, p: dict[str, Any]) -> tuple[str, str, Any, str]:
        """(product, SDK method, request, the response field holding the new id) of a create."""
        if resource_type == "ecs.instance":
            system_disk = None
            if p.get("system_disk_category") or p.get("system_disk_gib"):
                system_disk = ecs_models.RunInstancesRequestSystemDisk(
                    category=p.get("system_disk_category") or None,
                    size=str(int(p["system_disk_gib"])) if p.get("system_disk_gib") else None)
            tags = [ecs_models.RunInstancesRequestTag(key=str(k), value=str(v))
                    for k, v in (p.get("tags") or {}).items()] or None
            return "ecs", "run_instances", ecs_models.RunInstancesRequest(
                region_id=region, instance_type=p["instance_type"], image_id=p["image_id"],
                v_switch_id=p["vswitch_id"], zone_id=p.get("zone") or None, instance_name=p.get("name"),
                amount=int(p.get("amount") or 1),
                security_group_id=p.get("security_group_id"), client_token=p.get("client_token"),
                system_disk=system_disk, tag=tags), "InstanceIdSets.InstanceIdSet.0"
        if resource_type == "ecs.disk":
            return "ecs", "create_disk", ecs_models.CreateDiskRequest(
                region_id=region, zone_id=p["zone"], size=int(p["size_gib"]), disk_category=p.get("category"),
                disk_name=p.get("name"), client_token=p.get("client_token")), "DiskId"
        if resource_type == "vpc.vpc":
            return "vpc", "create_vpc", vpc_models.CreateVpcRequest(
                region_id=region, cidr_block=p["cidr_block"], vpc_name=p.get("name"),
                description=p.get("description") or None, client_token=p.get("client_token")), "VpcId"
        if resource_type == "vpc.vswitch":
            return "vpc", "create_vswitch", vpc_models.CreateVSwitchRequest(
                vpc_id=p["vpc_id"], zone_id=p["zone"], cidr_block=p["cidr_block"], v_switch_name=p.get("name"),
                client_token=p.get("client_token")), "VSwitchId"
        if resource_type == "eip.eip":
            return "vpc", "allocate_eip_address", vpc_models.AllocateEipAddressRequest(
                region_id=region, bandwidth=str(p.get("bandwidth_mbps", 5)), name=p.get("name") or None,
                client_token=p.get("client_token")), "AllocationId"
        if resource_type == "ecs.security_group":
            return "ecs", "create_security_group", ecs_models.CreateSecurityGroupRequest(
                region_id=region, vpc_id=p["vpc_id"], security_group_name=p.get("name"),
                description=p.get("description") or None, client_token=p.get("client_token")), "SecurityGroupId"
        if resource_type in ("rds.instance", "redis.instance", "slb.instance") and p.get("vswitch_id") \
                and not p.get("vpc_id"):
            p["vpc_id"] = self._vswitch(region, p["vswitch_id"]).get("VpcId")  # the VPC of the vSwitch
        if resource_type == "rds.instance":
            zone, whitelist = p.get("zone"), p.get("security_ip_list")
            if not zone or not whitelist:
                vsw = self._vswitch(region, p["vswitch_id"])
                zone = zone or vsw.get("ZoneId")
                whitelist = whitelist or vsw.get("CidrBlock")  # the instance's own vSwitch may connect
            return "rds", "create_dbinstance", rds_models.CreateDBInstanceRequest(
                region_id=region, zone_id=zone, engine=p["engine"], engine_version=p["engine_version"],
                dbinstance_class=p["class"], dbinstance_storage=int(p["storage_gib"]), dbinstance_net_type="Intranet",
                instance_network_type="VPC", vpcid=p.get("vpc_id"), v_switch_id=p["vswitch_id"],
                security_iplist=whitelist, pay_type="Postpaid", dbinstance_description=p.get("name"),
                client_token=p.get("client_token"), tag=[rds_models.CreateDBInstanceRequestTag(
                    key=str(k), value=str(v)) for k, v in (p.get("tags") or {}).items()] or None), "DBInstanceId"
        if resource_type == "redis.instance":
            return "redis", "create_instance", redis_models.CreateInstanceRequest(
                region_id=region, instance_class=p["class"], vpc_id=p.get("vpc_id"), v_switch_id=p["vswitch_id"],
                zone_id=p.get("zone") or None, instance_name=p.get("name"),
                engine_version=p.get("engine_version", "5.0"), token=p.get("client_token")), "InstanceId"
        if resource_type == "slb.instance":
            return "slb", "create_load_balancer", slb_models.CreateLoadBalancerRequest(
                region_id=region, address_type=p.get("address_type", "intranet"), v_switch_id=p.get("vswitch_id"),
                vpc_id=p.get("vpc_id"), load_balancer_spec=p.get("spec", "slb.s1.small"),
                load_balancer_name=p.get("name"), client_token=p.get("client_token")), "LoadBalancerId"
        raise UnsupportedOperation(f"{self.display_name} cannot create {resource_type}.")

    def create(self, resource_type: str, region: str, params: dict[str, Any]) -> str:
        p = dict(params)
        if resource_type == "oss.bucket":
            name = p["name"]
            config = oss2.models.BucketCreateConfig(p.get("storage_class") or oss2.BUCKET_STORAGE_CLASS_STANDARD)
            self.call("PutBucket", lambda: self._oss(region, name).create_bucket(p.get("acl") or None, config))
            return name
        if resource_type == apsara_nat.TYPE:
            return apsara_nat.create(self, region, p)
        product, method, request, id_path = self._create_call(resource_type, region, p)
        value: Any = self._invoke(product, region, method, request)
        for part in id_path.split("."):
            value = value[int(part)] if part.isdigit() else value[part]
        if resource_type == "ecs.security_group" and p.get("rules"):
            for rule in p["rules"]:
                apsara_day2.security_group_rule(self, region, value, rule, add=True, exist_ok=True)
        return value

    def modify(self, resource_type: str, region: str, external_id: str, operation: str,
               args: dict[str, Any]) -> str:
        return apsara_day2.modify(self, resource_type, region, external_id, operation, args)

    def details(self, resource_type: str, region: str, external_id: str) -> dict[str, Any]:
        return apsara_day2.details(self, resource_type, region, external_id)


    def validate_create(self, resource_type: str, region: str, params: dict[str, Any]) -> bool:
        """Ask the cloud to check a create with ``DryRun`` (ECS instances, VPCs, RDS and Redis instances).
        True: the cloud accepted it; False: this type has no such check; a refusal raises ``CloudCallError``
        with the cloud's code and message. Nothing is created."""
        answer = DRY_RUN.get(resource_type)
        if answer is None:
            return False
        product, method, request, _id = self._create_call(resource_type, region, {**params, "client_token": None})
        request.dry_run = True
        try:
            body = self._invoke(product, region, method, request)
        except CloudCallError as exc:
            if answer == "DryRunOperation" and exc.code == "DryRunOperation":
                return True
            raise
        if answer == "DryRunResult" and body.get("DryRunResult") is True:
            return True
        raise CloudCallError(f"The cloud did not confirm the check of {method} (answer {sorted(body)}).",
                             code="DryRunNotConfirmed", action=method)

    def start(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type != "ecs.instance":
            super().start(resource_type, region, external_id)
        self._invoke("ecs", region, "start_instance", ecs_models.StartInstanceRequest(instance_id=external_id))

    def stop(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type != "ecs.instance":
            super().stop(resource_type, region, external_id)
        self._invoke("ecs", region, "stop_instance", ecs_models.StopInstanceRequest(instance_id=external_id))

    def reboot(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type == "ecs.instance":
            self._invoke("ecs", region, "reboot_instance", ecs_models.RebootInstanceRequest(instance_id=external_id))
        elif resource_type == "rds.instance":
            self._invoke("rds", region, "restart_dbinstance",
                         rds_models.RestartDBInstanceRequest(dbinstance_id=external_id))
        elif resource_type == "redis.instance":
            self._invoke("redis", region, "restart_instance",
                         redis_models.RestartInstanceRequest(instance_id=external_id))
        else:
            super().reboot(resource_type, region, external_id)

    def resize(self, resource_type: str, region: str, external_id: str, spec: str) -> None:
        if resource_type == "ecs.instance":
            self._invoke("ecs", region, "modify_instance_spec",
                         ecs_models.ModifyInstanceSpecRequest(instance_id=external_id, instance_type=spec))
        elif resource_type == "rds.instance":
            self._invoke("rds", region, "modify_dbinstance_spec",
                         rds_models.ModifyDBInstanceSpecRequest(dbinstance_id=external_id, dbinstance_class=spec))
        elif resource_type == "redis.instance":
            self._invoke("redis", region, "modify_instance_spec",
                         redis_models.ModifyInstanceSpecRequest(instance_id=external_id, instance_class=spec))
        elif resource_type == "slb.instance":
            self._invoke("slb", region, "modify_load_balancer_instance_spec",
                         slb_models.ModifyLoadBalancerInstanceSpecRequest(load_balancer_id=external_id,
                                                                          load_balancer_spec=spec))
        else:
            super().resize(resource_type, region, external_id, spec)

    def delete(self, resource_type: str, region: str, external_id: str) -> None:
        calls = {
            "ecs.instance": ("ecs", "delete_instance",
                             lambda: ecs_models.DeleteInstanceRequest(instance_id=external_id, force=True)),
            "ecs.disk": ("ecs", "delete_disk", lambda: ecs_models.DeleteDiskRequest(disk_id=external_id)),
            "ecs.security_group": ("ecs", "delete_security_group", lambda: ecs_models.DeleteSecurityGroupRequest(
                region_id=region, security_group_id=external_id)),
            "vpc.vpc": ("vpc", "delete_vpc", lambda: vpc_models.DeleteVpcRequest(vpc_id=external_id)),
            "vpc.vswitch": ("vpc", "delete_vswitch", lambda: vpc_models.DeleteVSwitchRequest(v_switch_id=external_id)),
            "eip.eip": ("vpc", "release_eip_address",
                        lambda: vpc_models.ReleaseEipAddressRequest(allocation_id=external_id)),
            "slb.instance": ("slb", "delete_load_balancer", lambda: slb_models.DeleteLoadBalancerRequest(
                region_id=region, load_balancer_id=external_id)),
            "rds.instance": ("rds", "delete_dbinstance",
                             lambda: rds_models.DeleteDBInstanceRequest(dbinstance_id=external_id)),
            "redis.instance": ("redis", "delete_instance",
                               lambda: redis_models.DeleteInstanceRequest(instance_id=external_id)),
        }
        if resource_type == "oss.bucket":
            self.call("DeleteBucket", lambda: self._oss(region, external_id).delete_bucket())
            return
        if resource_type == apsara_nat.TYPE:
            apsara_nat.delete(self, region, external_id)
            return
        if resource_type not in calls:
            super().delete(resource_type, region, external_id)
        product, method, build = calls[resource_type]
        self._invoke(product, region, method, build())

    def attach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        if resource_type == "ecs.disk":
            self._invoke("ecs", region, "attach_disk",
                         ecs_models.AttachDiskRequest(disk_id=external_id, instance_id=instance_id))
        elif resource_type == "eip.eip":
            self._invoke("vpc", region, "associate_eip_address", vpc_models.AssociateEipAddressRequest(
                region_id=region, allocation_id=external_id, instance_id=instance_id, instance_type="EcsInstance"))
        else:
            super().attach(resource_type, region, external_id, instance_id)

    def detach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        if resource_type == "ecs.disk":
            self._invoke("ecs", region, "detach_disk",
                         ecs_models.DetachDiskRequest(disk_id=external_id, instance_id=instance_id))
        elif resource_type == "eip.eip":
            self._invoke("vpc", region, "unassociate_eip_address", vpc_models.UnassociateEipAddressRequest(
                region_id=region, allocation_id=external_id, instance_id=instance_id or None,
                instance_type="EcsInstance"))
        else:
            super().detach(resource_type, region, external_id, instance_id)

    def images(self, region: str) -> list[ImageInfo]:
        """Every image of the region, page by page to the end."""
        out: list[ImageInfo] = []
        number = 1
        while True:
            body = self._invoke("ecs", region, "describe_images", ecs_models.DescribeImagesRequest(
                region_id=region, page_number=number, page_size=IMAGE_PAGE_SIZE))
            rows = (body.get("Images") or {}).get("Image") or []
            out += [ImageInfo(i["ImageId"], i.get("ImageName") or i["ImageId"], i.get("OSName") or "",
                              i.get("OSType") or "") for i in rows if i.get("ImageId")]
            if not rows or number * IMAGE_PAGE_SIZE >= _ints(body.get("TotalCount")):
                return out
            number += 1

    # -- metrics -------------------------------------------------------------------------------------

    def metrics(self, resource_type: str, region: str, external_id: str, metric: str, *, start: float,
                end: float, period: int = 60) -> list[MetricPoint]:
        namespace = CMS_NAMESPACES.get(resource_type)
        if namespace is None or metric not in self.capabilities.metrics.get(resource_type, ()):
            raise UnsupportedOperation(f"{self.display_name} has no metric {metric} for {resource_type}.")
        body = self._invoke("cms", region, "describe_metric_list", cms_models.DescribeMetricListRequest(
            namespace=namespace, metric_name=metric, period=str(period),
            dimensions=json.dumps([{"instanceId": external_id}]),
            start_time=str(int(start * 1000)), end_time=str(int(end * 1000))))
        raw = body.get("Datapoints") or "[]"
        points = json.loads(raw) if isinstance(raw, str) else raw
        return [MetricPoint(float(p.get("timestamp", 0)) / 1000.0, float(p.get("Average", p.get("Value", 0)) or 0))
                for p in points]


_IDS_FILTERS = {"ecs.instance": "instance_ids", "ecs.disk": "disk_ids", "ecs.security_group": "security_group_ids"}
_ID_FIELDS = {"ecs.instance": "InstanceId", "ecs.disk": "DiskId", "ecs.security_group": "SecurityGroupId",
              "vpc.vpc": "VpcId", "vpc.vswitch": "VSwitchId", "eip.eip": "AllocationId",
              "slb.instance": "LoadBalancerId", "rds.instance": "DBInstanceId", "redis.instance": "InstanceId"}
