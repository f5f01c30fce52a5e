"""Data Transmission Service API (``Dts``, version 2020-01-01): migration and synchronization jobs.

``ConfigureDtsJob`` creates a job between a source and a destination endpoint (an RDS instance of this
cloud is checked to exist); NotStarted -> Prechecking -> Migrating (``MIGRATION``) or Synchronizing
(``SYNC``). ``DescribeDtsJobs`` pages by PageNumber (PageSize at most 100) and filters by ``JobType``.
"""

from __future__ import annotations

from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import numbered, optional_region, rid

V = "2020-01-01"
product(V, "Dts")
register_kind("dts_job")
RUNNING = {"MIGRATION": "Migrating", "SYNC": "Synchronizing", "SUBSCRIBE": "Normal"}
ENDPOINT_TYPES = {"RDS", "ECS", "EXPRESS", "CEN", "DG", "LocalInstance", "POLARDB", "MONGODB", "REDIS", "other"}


def _endpoint(store: Store, p, side: str, region: str) -> dict[str, Any]:
    kind = p.str(f"{side}EndpointInstanceType", required=True) or ""
    if kind not in ENDPOINT_TYPES:
        raise CloudError("InvalidParameter", f"The specified {side}EndpointInstanceType is not valid.")
    instance = p.str(f"{side}EndpointInstanceID", "") or ""
    if kind == "RDS":
        if not instance:
            raise CloudError("MissingParameter", f'The input parameter "{side}EndpointInstanceID" that is mandatory '
                             "for processing this request is not supplied.")
        if instance not in store.tables["rds"]:
            raise CloudError("InvalidParameter.InstanceNotFound", f"The RDS instance {instance} does not exist.", 404)
    return {"InstanceType": kind, "InstanceID": instance, "EngineName": p.str(f"{side}EndpointEngineName", "MySQL"),
            "Region": p.str(f"{side}EndpointRegion", region), "DatabaseName": p.str(f"{side}EndpointDataBaseName", ""),
            "Ip": p.str(f"{side}EndpointIP", ""), "Port": p.str(f"{side}EndpointPort", ""),
            "UserName": p.str(f"{side}EndpointUserName", ""), "OracleSID": "", "SslSolutionEnum": ""}


@action(V, "ConfigureDtsJob")
def configure_dts_job(store: Store, p) -> dict[str, Any]:
    region = optional_region(store, p) or store.regions[0]
    name = p.str("DtsJobName", required=True)
    job_type = p.str("JobType", required=True, choices=set(RUNNING))
    modes = {k: p.bool(k) for k in ("StructureInitialization", "DataInitialization", "DataSynchronization")}
    for k in modes:
        p.str(k, required=True)
    source = _endpoint(store, p, "Source", region)
    destination = _endpoint(store, p, "Destination", region)
    job_id = rid("dts", 6)
    instance_id = p.str("DtsInstanceId") or rid("dts", 6)
    record = store.add("dts_job", {
        "DtsJobId": job_id, "DtsInstanceID": instance_id, "DtsJobName": name, "JobType": job_type,
        "RegionId": region, "SourceEndpoint": source, "DestinationEndpoint": destination,
        "MigrationMode": modes, "DtsJobClass": "small", "DtsJobDirection": "Forward", "PayType": "PostPaid",
        "CreateTime": iso_now(), "Delay": 0, "ResourceGroupId": "rg-default", "DbObject": p.str("DbList", "{}"),
    }, "DtsJobId")
    store.schedule(record, "NotStarted", "Prechecking", RUNNING[job_type])
    return {"DtsJobId": job_id, "DtsInstanceId": instance_id, "Success": True, "HttpStatusCode": 200}


@action(V, "DescribeDtsJobs")
def describe_dts_jobs(store: Store, p) -> dict[str, Any]:
    region = optional_region(store, p)
    job_type = p.str("JobType")
    if job_type is not None and job_type not in RUNNING:
        raise CloudError("InvalidParameter", "The specified JobType is not valid.")
    wanted, status = p.str("DtsJobId"), p.str("Status")
    rows = [j for j in store.rows("dts_job", region) if (not job_type or j["JobType"] == job_type)
            and (not wanted or j["DtsJobId"] == wanted) and (not status or j["Status"] == status)]
    chunk, number, _size = numbered(rows, p, default=20, max_size=100)
    out = []
    for j in chunk:
        item = {k: v for k, v in j.items() if not k.startswith("_") and k != "RegionId"}
        out.append(item)
    return {"DtsJobList": out, "TotalRecordCount": len(rows), "PageNumber": number, "PageRecordCount": len(chunk),
            "Success": True, "HttpStatusCode": 200}


@action(V, "DeleteDtsJob")
def delete_dts_job(store: Store, p) -> dict[str, Any]:
    record = store.get("dts_job", p.str("DtsJobId", required=True), "InvalidJobId.NotFound", "DTS job")
    store.remove("dts_job", record)
    return {"Success": True, "HttpStatusCode": 200}
