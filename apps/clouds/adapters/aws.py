"""Amazon Web Services through boto3: EC2 (instances, volumes, VPCs, subnets, security groups, Elastic
IPs), S3 buckets, RDS instances and CloudWatch metrics.

AWS resources are filed under the console's unified types (an EC2 instance is an ``ecs.instance``,
a subnet a ``vpc.vswitch``, an S3 bucket an ``oss.bucket``); the platform's service catalog keeps
AWS's own product names. ``endpoint`` (with ``protocol``) points every service at one URL, as a
private endpoint or a local test server needs; left empty, boto3 uses the public endpoints.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError

from apps.clouds.adapters import aws_containers, aws_dr, aws_inventory, aws_nat, extensions, register_adapter  # noqa: F401 (companions register)
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

TRANSIENT_CODES = {
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "RequestThrottled", "ServiceUnavailable",
    "Unavailable", "InternalError", "InternalFailure", "SlowDown", "RequestTimeout", "RequestTimeoutException",
    "PriorRequestNotComplete", "EC2ThrottledException",
}
PAGE = 500
INSTANCE_IDS_PER_CALL = 100  # DescribeInstances with InstanceIds: one page of the lifecycle's waiting instances
EC2_TYPES = ("ecs.instance", "ecs.disk", "ecs.security_group", "vpc.vpc", "vpc.vswitch", "eip.eip")


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or [] if "Key" in t}


def _iso(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value or "")


@register_adapter
class AwsAdapter(CloudAdapter):
    type_name = "aws"
    display_name = "Amazon Web Services"
    capabilities = extensions.merged("aws", Capabilities(
        services=("ecs", "vpc", "eip", "rds", "oss"),
        resource_types=(*EC2_TYPES, "rds.instance", "oss.bucket"),
        operations={
            "ecs.instance": ("create", "start", "stop", "reboot", "resize", "delete"),
            "ecs.disk": ("create", "attach", "detach", "delete"), "ecs.security_group": ("create", "delete"),
            "vpc.vpc": ("create", "delete"), "vpc.vswitch": ("create", "delete"),
            "eip.eip": ("create", "attach", "detach", "delete"),
            "rds.instance": ("create", "reboot", "resize", "delete"), "oss.bucket": ("create", "delete"),
        },
        metrics={"ecs.instance": ("CPUUtilization", "NetworkIn", "NetworkOut"),
                 "rds.instance": ("CPUUtilization", "FreeableMemory")},
        display_names={"ecs": "Amazon EC2", "vpc": "Amazon VPC", "eip": "Elastic IP addresses",
                       "rds": "Amazon RDS", "oss": "Amazon S3"},
    ))

    engines = {"rds.instance": {"mysql": ("8.0",), "postgres": ("15", "16")}}

    def security_group_rule(self, region: str, group_id: str, rule: dict[str, Any], *, add: bool,
                            exist_ok: bool = False) -> None:
        """Add or remove one ingress rule (protocol, port_range 'from/to', source_cidr) of a security group."""
        low, _sep, high = (rule.get("port_range") or "-1/-1").partition("/")
        permission = {"IpProtocol": "-1" if rule["protocol"] == "all" else rule["protocol"],
                      "FromPort": int(low), "ToPort": int(high or low),
                      "IpRanges": [{"CidrIp": rule.get("source_cidr") or "0.0.0.0/0"}]}
        method = "authorize_security_group_ingress" if add else "revoke_security_group_ingress"
        try:
            self._invoke("ec2", region, method, GroupId=group_id, IpPermissions=[permission])
        except CloudCallError as exc:
            if not (exist_ok and exc.code == "InvalidPermission.Duplicate"):
                raise

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._type_specs: dict[str, tuple[int, int]] = {}

    def _client(self, service: str, region: str | None = None) -> Any:
        region = region or self.region or "us-east-1"
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                endpoint_url = None
                if self.endpoint:
                    endpoint_url = self.endpoint if "://" in self.endpoint else f"{self.protocol}://{self.endpoint}"
                config = Config(connect_timeout=min(self.timeout, 5), read_timeout=self.timeout,
                                retries={"max_attempts": 1, "mode": "standard"},
                                s3={"addressing_style": "path"})
                self._clients[key] = boto3.session.Session().client(
                    service, region_name=region, endpoint_url=endpoint_url, config=config,
                    aws_access_key_id=self.credentials.get("access_key_id") or None,
                    aws_secret_access_key=self.credentials.get("access_key_secret") or None)
            return self._clients[key]

    def _invoke(self, service: str, region: str | None, method: str, **params: Any) -> dict[str, Any]:
        client = self._client(service, region)
        return self.call(method, lambda: getattr(client, method)(**params))

    def classify(self, exc: Exception, action: str) -> CloudCallError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(error.get("Code") or "Error")
            transient = code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500)
            return CloudCallError(str(error.get("Message") or code), code=code, transient=transient, status=status,
                                  request_id=exc.response.get("ResponseMetadata", {}).get("RequestId", ""),
                                  action=action)
        if isinstance(exc, NoCredentialsError | ParamValidationError):
            return CloudCallError(str(exc), code=type(exc).__name__, transient=False, action=action)
        if isinstance(exc, BotoCoreError):
            return CloudCallError(str(exc), code="ConnectionError", transient=True, action=action)
        return super().classify(exc, action)

    # -- discovery -----------------------------------------------------------------------------------

    def regions(self) -> list[RegionInfo]:
        body = self._invoke("ec2", None, "describe_regions")
        wanted = set(self.options.get("regions") or [])
        out = []
        for r in body.get("Regions", []):
            name = r["RegionName"]
            if wanted and name not in wanted:
                continue
            zones = self._invoke("ec2", name, "describe_availability_zones").get("AvailabilityZones", [])
            out.append(RegionInfo(name, name, tuple(ZoneInfo(z["ZoneName"], z["ZoneName"]) for z in zones)))
        return out

    def flavors(self, region: str) -> list[FlavorInfo]:
        out = []
        token = None
        while True:
            params: dict[str, Any] = {"MaxResults": 100}
            if token:
                params["NextToken"] = token
            body = self._invoke("ec2", region, "describe_instance_types", **params)
            for t in body.get("InstanceTypes", []):
                vcpu = t.get("VCpuInfo", {}).get("DefaultVCpus")
                memory = t.get("MemoryInfo", {}).get("SizeInMiB")
                out.append(FlavorInfo("instance_type", t["InstanceType"], t["InstanceType"], vcpu=vcpu,
                                      memory_mib=memory, attributes={"architectures": t.get("ProcessorInfo", {})
                                                                     .get("SupportedArchitectures", [])}))
            token = body.get("NextToken")
            if not token:
                break
        out += [FlavorInfo("disk_category", c, c) for c in ("gp3", "gp2", "io1", "io2", "st1", "sc1", "standard")]
        try:
            body = self._invoke("rds", region, "describe_orderable_db_instance_options", Engine="mysql", MaxRecords=100)
            classes = sorted({o["DBInstanceClass"] for o in body.get("OrderableDBInstanceOptions", [])})
            out += [FlavorInfo("rds_class", c, c) for c in classes]
        except CloudCallError as exc:
            if exc.transient:
                raise
        return out

    def _type_spec(self, region: str, instance_type: str) -> tuple[int, int]:
        if instance_type not in self._type_specs:
            try:
                body = self._invoke("ec2", region, "describe_instance_types", InstanceTypes=[instance_type])
                t = (body.get("InstanceTypes") or [{}])[0]
                self._type_specs[instance_type] = (int(t.get("VCpuInfo", {}).get("DefaultVCpus") or 0),
                                                   int(t.get("MemoryInfo", {}).get("SizeInMiB") or 0))
            except CloudCallError as exc:
                if exc.transient:
                    raise
                self._type_specs[instance_type] = (0, 0)
        return self._type_specs[instance_type]

    # -- converters ----------------------------------------------------------------------------------

    def _instance(self, region: str, i: dict[str, Any]) -> CloudResource:
        tags = _tags(i.get("Tags"))
        vcpu, memory = self._type_spec(region, i.get("InstanceType", ""))
        sgs = [g["GroupId"] for g in i.get("SecurityGroups", [])]
        rels = []
        if i.get("VpcId"):
            rels.append(Relation("in_vpc", "vpc.vpc", i["VpcId"]))
        if i.get("SubnetId"):
            rels.append(Relation("in_vswitch", "vpc.vswitch", i["SubnetId"]))
        rels += [Relation("in_security_group", "ecs.security_group", g) for g in sgs]
        state = i.get("State", {}).get("Name", "")
        return CloudResource(
            type="ecs.instance", external_id=i["InstanceId"], region=region,
            zone=i.get("Placement", {}).get("AvailabilityZone", ""), name=tags.get("Name") or i["InstanceId"],
            status=normal_status(state),
            spec={"cloud_status": state, "instance_type": i.get("InstanceType"), "image_id": i.get("ImageId"),
                  "private_ip": i.get("PrivateIpAddress", ""), "public_ip": i.get("PublicIpAddress", ""),
                  "security_groups": sgs, "created_at": _iso(i.get("LaunchTime")), "memory_mib": memory},
            tags=tags, relations=rels, vcpu=vcpu, memory_mib=memory, vpc_id=i.get("VpcId", ""),
            resource_group=tags.get("aws:cloudformation:stack-name", ""),
        )

    def _volume(self, region: str, v: dict[str, Any]) -> CloudResource:
        tags = _tags(v.get("Tags"))
        attached = [a["InstanceId"] for a in v.get("Attachments", []) if a.get("InstanceId")]
        return CloudResource(
            type="ecs.disk", external_id=v["VolumeId"], region=region, zone=v.get("AvailabilityZone", ""),
            name=tags.get("Name") or v["VolumeId"], status=normal_status(v.get("State")),
            spec={"cloud_status": v.get("State"), "category": v.get("VolumeType"), "size_gib": v.get("Size"),
                  "instance_id": attached[0] if attached else "", "encrypted": v.get("Encrypted"),
                  "created_at": _iso(v.get("CreateTime"))},
            tags=tags, relations=[Relation("attached_to", "ecs.instance", a) for a in attached],
            storage_gib=int(v.get("Size") or 0),
        )

    def _security_group(self, region: str, g: dict[str, Any]) -> CloudResource:
        tags = _tags(g.get("Tags"))
        return CloudResource(
            type="ecs.security_group", external_id=g["GroupId"], region=region, name=g.get("GroupName") or g["GroupId"],
            status="available", spec={"vpc_id": g.get("VpcId", ""), "description": g.get("Description", "")},
            tags=tags, relations=[Relation("in_vpc", "vpc.vpc", g["VpcId"])] if g.get("VpcId") else [],
            vpc_id=g.get("VpcId", ""),
        )

    def _vpc(self, region: str, v: dict[str, Any]) -> CloudResource:
        tags = _tags(v.get("Tags"))
        return CloudResource(
            type="vpc.vpc", external_id=v["VpcId"], region=region, name=tags.get("Name") or v["VpcId"],
            status=normal_status(v.get("State")),
            spec={"cloud_status": v.get("State"), "cidr_block": v.get("CidrBlock"), "is_default": v.get("IsDefault")},
            tags=tags, vpc_id=v["VpcId"],
        )

    def _subnet(self, region: str, s: dict[str, Any]) -> CloudResource:
        tags = _tags(s.get("Tags"))
        return CloudResource(
            type="vpc.vswitch", external_id=s["SubnetId"], region=region, zone=s.get("AvailabilityZone", ""),
            name=tags.get("Name") or s["SubnetId"], status=normal_status(s.get("State")),
            spec={"cloud_status": s.get("State"), "cidr_block": s.get("CidrBlock"), "vpc_id": s.get("VpcId", "")},
            tags=tags, relations=[Relation("in_vpc", "vpc.vpc", s["VpcId"])] if s.get("VpcId") else [],
            vpc_id=s.get("VpcId", ""),
        )

    def _address(self, region: str, a: dict[str, Any]) -> CloudResource:
        tags = _tags(a.get("Tags"))
        instance = a.get("InstanceId") or ""
        return CloudResource(
            type="eip.eip", external_id=a["AllocationId"], region=region,
            name=tags.get("Name") or a.get("PublicIp", ""),
            status="in_use" if a.get("AssociationId") else "available",
            spec={"ip_address": a.get("PublicIp"), "instance_id": instance, "domain": a.get("Domain")},
            tags=tags, relations=[Relation("associated_with", "ecs.instance", instance)] if instance else [],
        )

    def _db(self, region: str, d: dict[str, Any]) -> CloudResource:
        tags = _tags(d.get("TagList"))
        subnet_group = d.get("DBSubnetGroup") or {}
        vpc_id = subnet_group.get("VpcId", "")
        return CloudResource(
            type="rds.instance", external_id=d["DBInstanceIdentifier"], region=region,
            zone=d.get("AvailabilityZone", ""), name=d["DBInstanceIdentifier"],
            status=normal_status(d.get("DBInstanceStatus")),
            spec={"cloud_status": d.get("DBInstanceStatus"), "engine": d.get("Engine"),
                  "engine_version": d.get("EngineVersion"), "class": d.get("DBInstanceClass"),
                  "storage_gib": d.get("AllocatedStorage"), "storage_type": d.get("StorageType"),
                  "created_at": _iso(d.get("InstanceCreateTime"))},
            tags=tags, relations=[Relation("in_vpc", "vpc.vpc", vpc_id)] if vpc_id else [],
            storage_gib=int(d.get("AllocatedStorage") or 0), vpc_id=vpc_id,
        )

    # -- collection ----------------------------------------------------------------------------------

    def list_resources(self, resource_type: str, region: str, page_token: str | None = None) -> ResourcePage:
        self.check_type(resource_type)
        extra = extensions.listing("aws", resource_type)
        if extra is not None:
            return extra.list(self, region, page_token)
        if resource_type == "oss.bucket":
            return ResourcePage(self._buckets(region), None)
        if resource_type == "eip.eip":
            body = self._invoke("ec2", region, "describe_addresses")
            return ResourcePage([self._address(region, a) for a in body.get("Addresses", [])], None)
        if resource_type == "rds.instance":
            params: dict[str, Any] = {"MaxRecords": 100}
            if page_token:
                params["Marker"] = page_token
            body = self._invoke("rds", region, "describe_db_instances", **params)
            return ResourcePage([self._db(region, d) for d in body.get("DBInstances", [])], body.get("Marker") or None)
        params = {"MaxResults": PAGE}
        if page_token:
            params["NextToken"] = page_token
        if resource_type == "ecs.instance":
            body = self._invoke("ec2", region, "describe_instances", **params)
            items = [self._instance(region, i) for r in body.get("Reservations", []) for i in r.get("Instances", [])
                     if i.get("State", {}).get("Name") != "terminated"]
        elif resource_type == "ecs.disk":
            body = self._invoke("ec2", region, "describe_volumes", **params)
            items = [self._volume(region, v) for v in body.get("Volumes", [])]
        elif resource_type == "ecs.security_group":
            body = self._invoke("ec2", region, "describe_security_groups", **params)
            items = [self._security_group(region, g) for g in body.get("SecurityGroups", [])]
        elif resource_type == "vpc.vpc":
            body = self._invoke("ec2", region, "describe_vpcs", **params)
            items = [self._vpc(region, v) for v in body.get("Vpcs", [])]
        else:
            body = self._invoke("ec2", region, "describe_subnets", **params)
            items = [self._subnet(region, s) for s in body.get("Subnets", [])]
        return ResourcePage(items, body.get("NextToken") or None)

    def _buckets(self, region: str) -> list[CloudResource]:
        out = []
        for b in self._invoke("s3", region, "list_buckets").get("Buckets", []):
            location = self._invoke("s3", region, "get_bucket_location", Bucket=b["Name"]).get("LocationConstraint")
            if (location or "us-east-1") != region:
                continue
            try:
                tags = _tags(self._invoke("s3", region, "get_bucket_tagging", Bucket=b["Name"]).get("TagSet"))
            except CloudCallError as exc:
                if exc.transient:
                    raise
                tags = {}
            out.append(CloudResource(type="oss.bucket", external_id=b["Name"], region=region, name=b["Name"],
                                     status="available", spec={"created_at": _iso(b.get("CreationDate"))}, tags=tags))
        return out

    def get_resource(self, resource_type: str, region: str, external_id: str) -> CloudResource | None:
        self.check_type(resource_type)
        extra = extensions.listing("aws", resource_type)
        if extra is not None:
            return extensions.get(self, extra, region, external_id)
        try:
            if resource_type == "ecs.instance":
                body = self._invoke("ec2", region, "describe_instances", InstanceIds=[external_id])
                found = [self._instance(region, i) for r in body.get("Reservations", [])
                         for i in r.get("Instances", []) if i.get("State", {}).get("Name") != "terminated"]
            elif resource_type == "ecs.disk":
                found = [self._volume(region, v) for v in self._invoke(
                    "ec2", region, "describe_volumes", VolumeIds=[external_id]).get("Volumes", [])]
            elif resource_type == "ecs.security_group":
                found = [self._security_group(region, g) for g in self._invoke(
                    "ec2", region, "describe_security_groups", GroupIds=[external_id]).get("SecurityGroups", [])]
            elif resource_type == "vpc.vpc":
                found = [self._vpc(region, v) for v in self._invoke(
                    "ec2", region, "describe_vpcs", VpcIds=[external_id]).get("Vpcs", [])]
            elif resource_type == "vpc.vswitch":
                found = [self._subnet(region, s) for s in self._invoke(
                    "ec2", region, "describe_subnets", SubnetIds=[external_id]).get("Subnets", [])]
            elif resource_type == "eip.eip":
                found = [self._address(region, a) for a in self._invoke(
                    "ec2", region, "describe_addresses", AllocationIds=[external_id]).get("Addresses", [])]
            elif resource_type == "rds.instance":
                found = [self._db(region, d) for d in self._invoke(
                    "rds", region, "describe_db_instances", DBInstanceIdentifier=external_id).get("DBInstances", [])]
            else:
                found = [b for b in self._buckets(region) if b.external_id == external_id]
        except CloudCallError as exc:
            if not exc.transient and ("NotFound" in exc.code or exc.code.startswith("Invalid")):
                return None
            raise
        return found[0] if found else None

    def get_resources(self, resource_type: str, region: str,
                      external_ids: list[str]) -> dict[str, CloudResource | None]:
        """Instances are described up to 100 ids per call. EC2 refuses the whole call when one id is unknown
        (``InvalidInstanceID.NotFound``): that page is then asked one id at a time."""
        if resource_type != "ecs.instance" or extensions.listing("aws", resource_type) is not None:
            return super().get_resources(resource_type, region, external_ids)
        self.check_type(resource_type)
        out: dict[str, CloudResource | None] = dict.fromkeys(external_ids)
        for start in range(0, len(external_ids), INSTANCE_IDS_PER_CALL):
            page = external_ids[start:start + INSTANCE_IDS_PER_CALL]
            try:
                body = self._invoke("ec2", region, "describe_instances", InstanceIds=page)
            except CloudCallError as exc:
                if exc.transient or not ("NotFound" in exc.code or exc.code.startswith("Invalid")):
                    raise
                out.update({external_id: self.get_resource(resource_type, region, external_id)
                            for external_id in page})
                continue
            for reservation in body.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    if instance.get("State", {}).get("Name") != "terminated" and instance.get("InstanceId") in out:
                        out[instance["InstanceId"]] = self._instance(region, instance)
        return out

    # -- lifecycle -----------------------------------------------------------------------------------

    def create(self, resource_type: str, region: str, params: dict[str, Any]) -> str:
        p = params
        tag_spec = [{"ResourceType": {"ecs.instance": "instance", "ecs.disk": "volume", "vpc.vpc": "vpc",
                                      "vpc.vswitch": "subnet"}.get(resource_type, "instance"),
                     "Tags": [{"Key": "Name", "Value": p["name"]}]}] if p.get("name") else []
        if resource_type == "ecs.instance":
            extra: dict[str, Any] = {"SubnetId": p["vswitch_id"]} if p.get("vswitch_id") else {}
            if p.get("client_token"):
                extra["ClientToken"] = p["client_token"]
            if p.get("system_disk_category") or p.get("system_disk_gib"):
                ebs: dict[str, Any] = {}
                if p.get("system_disk_category"):
                    ebs["VolumeType"] = p["system_disk_category"]
                if p.get("system_disk_gib"):
                    ebs["VolumeSize"] = int(p["system_disk_gib"])
                extra["BlockDeviceMappings"] = [{"DeviceName": p.get("root_device") or "/dev/xvda", "Ebs": ebs}]
            if p.get("tags"):
                tags = [{"Key": str(k), "Value": str(v)} for k, v in p["tags"].items() if k != "Name"]
                if tag_spec:
                    tag_spec = [{**tag_spec[0], "Tags": tag_spec[0]["Tags"] + tags}]
                else:
                    tag_spec = [{"ResourceType": "instance", "Tags": tags}]
            body = self._invoke("ec2", region, "run_instances", ImageId=p["image_id"], InstanceType=p["instance_type"],
                                MinCount=1, MaxCount=1, TagSpecifications=tag_spec, **extra)
            return body["Instances"][0]["InstanceId"]
        if resource_type == "ecs.disk":
            return self._invoke("ec2", region, "create_volume", AvailabilityZone=p["zone"], Size=int(p["size_gib"]),
                                VolumeType=p.get("category") or "gp3", TagSpecifications=tag_spec)["VolumeId"]
        if resource_type == "vpc.vpc":
            return self._invoke("ec2", region, "create_vpc", CidrBlock=p["cidr_block"],
                                TagSpecifications=tag_spec)["Vpc"]["VpcId"]
        if resource_type == "vpc.vswitch":
            return self._invoke("ec2", region, "create_subnet", VpcId=p["vpc_id"], CidrBlock=p["cidr_block"],
                                AvailabilityZone=p["zone"], TagSpecifications=tag_spec)["Subnet"]["SubnetId"]
        if resource_type == "ecs.security_group":
            group = self._invoke("ec2", region, "create_security_group", GroupName=p["name"], VpcId=p["vpc_id"],
                                 Description=p.get("description") or p["name"])["GroupId"]
            for rule in p.get("rules") or []:
                self.security_group_rule(region, group, rule, add=True)
            return group
        if resource_type == "eip.eip":
            return self._invoke("ec2", region, "allocate_address", Domain="vpc")["AllocationId"]
        if resource_type == aws_nat.TYPE:
            return aws_nat.create(self, region, p)
        if resource_type == "rds.instance":
            self._invoke("rds", region, "create_db_instance", DBInstanceIdentifier=p["name"],
                         DBInstanceClass=p["class"], Engine=p["engine"], AllocatedStorage=int(p["storage_gib"]),
                         MasterUsername=p.get("master_username", "admin"),
                         MasterUserPassword=p.get("master_password", "change-me-now-1"))
            return p["name"]
        if resource_type == "oss.bucket":
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            self._invoke("s3", region, "create_bucket", Bucket=p["name"], **extra)
            return p["name"]
        return super().create(resource_type, region, params)

    def start(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type != "ecs.instance":
            super().start(resource_type, region, external_id)
        self._invoke("ec2", region, "start_instances", InstanceIds=[external_id])

    def stop(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type != "ecs.instance":
            super().stop(resource_type, region, external_id)
        self._invoke("ec2", region, "stop_instances", InstanceIds=[external_id])

    def reboot(self, resource_type: str, region: str, external_id: str) -> None:
        if resource_type == "ecs.instance":
            self._invoke("ec2", region, "reboot_instances", InstanceIds=[external_id])
        elif resource_type == "rds.instance":
            self._invoke("rds", region, "reboot_db_instance", DBInstanceIdentifier=external_id)
        else:
            super().reboot(resource_type, region, external_id)

    def resize(self, resource_type: str, region: str, external_id: str, spec: str) -> None:
        if resource_type == "ecs.instance":
            self._invoke("ec2", region, "modify_instance_attribute", InstanceId=external_id,
                         InstanceType={"Value": spec})
        elif resource_type == "rds.instance":
            self._invoke("rds", region, "modify_db_instance", DBInstanceIdentifier=external_id,
                         DBInstanceClass=spec, ApplyImmediately=True)
        else:
            super().resize(resource_type, region, external_id, spec)

    def delete(self, resource_type: str, region: str, external_id: str) -> None:
        calls = {
            "ecs.instance": ("ec2", "terminate_instances", {"InstanceIds": [external_id]}),
            "ecs.disk": ("ec2", "delete_volume", {"VolumeId": external_id}),
            "ecs.security_group": ("ec2", "delete_security_group", {"GroupId": external_id}),
            "vpc.vpc": ("ec2", "delete_vpc", {"VpcId": external_id}),
            "vpc.vswitch": ("ec2", "delete_subnet", {"SubnetId": external_id}),
            "eip.eip": ("ec2", "release_address", {"AllocationId": external_id}),
            "rds.instance": ("rds", "delete_db_instance", {"DBInstanceIdentifier": external_id,
                                                           "SkipFinalSnapshot": True}),
            "oss.bucket": ("s3", "delete_bucket", {"Bucket": external_id}),
        }
        if resource_type == aws_nat.TYPE:
            aws_nat.delete(self, region, external_id)
            return
        if resource_type not in calls:
            super().delete(resource_type, region, external_id)
        service, method, params = calls[resource_type]
        self._invoke(service, region, method, **params)

    def attach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        if resource_type == "ecs.disk":
            used = {m.get("DeviceName") for r in self._invoke("ec2", region, "describe_instances",
                                                               InstanceIds=[instance_id]).get("Reservations", [])
                    for i in r.get("Instances", []) for m in i.get("BlockDeviceMappings", [])}
            device = next(f"/dev/sd{c}" for c in "fghijklmnop" if f"/dev/sd{c}" not in used)
            self._invoke("ec2", region, "attach_volume", VolumeId=external_id, InstanceId=instance_id, Device=device)
        elif resource_type == "eip.eip":
            self._invoke("ec2", region, "associate_address", AllocationId=external_id, InstanceId=instance_id)
        else:
            super().attach(resource_type, region, external_id, instance_id)

    def detach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        if resource_type == "ecs.disk":
            extra = {"InstanceId": instance_id} if instance_id else {}
            self._invoke("ec2", region, "detach_volume", VolumeId=external_id, **extra)
        elif resource_type == "eip.eip":
            found = self._invoke("ec2", region, "describe_addresses", AllocationIds=[external_id]).get("Addresses", [])
            association = found[0].get("AssociationId") if found else None
            if association:
                self._invoke("ec2", region, "disassociate_address", AssociationId=association)
        else:
            super().detach(resource_type, region, external_id, instance_id)

    def images(self, region: str) -> list[ImageInfo]:
        body = self._invoke("ec2", region, "describe_images", Owners=["self", "amazon"], MaxResults=100)
        return [ImageInfo(i["ImageId"], i.get("Name") or i["ImageId"], i.get("Description") or i.get("Name") or "",
                          i.get("PlatformDetails") or "") for i in body.get("Images", []) if i.get("ImageId")]

    # -- metrics -------------------------------------------------------------------------------------

    def metrics(self, resource_type: str, region: str, external_id: str, metric: str, *, start: float,
                end: float, period: int = 60) -> list[MetricPoint]:
        if metric not in self.capabilities.metrics.get(resource_type, ()):
            raise UnsupportedOperation(f"{self.display_name} has no metric {metric} for {resource_type}.")
        namespace, dimension = {"ecs.instance": ("AWS/EC2", "InstanceId"),
                                "rds.instance": ("AWS/RDS", "DBInstanceIdentifier")}[resource_type]
        body = self._invoke("cloudwatch", region, "get_metric_statistics", Namespace=namespace, MetricName=metric,
                            Dimensions=[{"Name": dimension, "Value": external_id}],
                            StartTime=datetime.fromtimestamp(start, UTC), EndTime=datetime.fromtimestamp(end, UTC),
                            Period=max(60, int(period)), Statistics=["Average"])
        points = sorted(body.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return [MetricPoint(p["Timestamp"].timestamp(), float(p.get("Average", 0))) for p in points]
