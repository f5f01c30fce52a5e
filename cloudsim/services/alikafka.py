"""Message Queue for Apache Kafka API (``alikafka``, version 2019-09-16): instances.

As on the real cloud an instance is bought first (``CreatePostPayOrder``: it appears in the list
with ``ServiceStatus`` 0, not deployed) and then deployed into a VPC (``StartInstance``, needing
``VpcId`` and ``VSwitchId``): ServiceStatus 1 (deploying) -> 5 (running). ``GetInstanceList`` has no
paging. Answers carry ``Success`` and ``Code`` 200.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import CloudError
from ..store import Store, register_kind
from . import action, product
from .inventory_kit import kv_tags, region_param, rid

V = "2019-09-16"
product(V, "alikafka")
register_kind("kafka")
SPECS = {"normal", "professional", "professionalForHighRead"}


def _instance(store: Store, p) -> dict[str, Any]:
    return store.get("kafka", p.str("InstanceId", required=True), "BIZ.INSTANCE.NOT.EXIST", "instance")


@action(V, "CreatePostPayOrder")
def create_post_pay_order(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    deploy = p.int("DeployType", required=True)
    if deploy not in (4, 5):
        raise CloudError("InvalidParameter", "The specified DeployType is not valid (4: internet and VPC, 5: VPC).")
    spec = p.str("SpecType", "normal")
    if spec not in SPECS:
        raise CloudError("InvalidParameter", "The specified SpecType is not valid.")
    disk = p.int("DiskSize", 500, lo=500, hi=96000)
    instance_id = rid(f"alikafka_post-{region}-", 5)
    now = int(time.time() * 1000)
    store.add("kafka", {
        "InstanceId": instance_id, "Name": instance_id, "RegionId": region, "DeployType": deploy, "SpecType": spec,
        "DiskSize": disk, "DiskType": p.int("DiskType", 0), "IoMax": p.int("IoMax", 20), "IoMaxSpec":
        p.str("IoMaxSpec", "alikafka.hw.2xlarge"), "EipMax": p.int("EipMax", 0), "TopicNumLimit": p.int(
            "TopicQuota", 50), "PaidType": 1, "CreateTime": now, "ExpiredTime": now + 10 * 365 * 86400 * 1000,
        "MsgRetain": 72, "DefaultPartitionNum": p.int("PartitionNum", 0), "UpgradeServiceDetailInfo":
        {"Current2OpenSourceVersion": "2.2.0"}, "VpcId": "", "VSwitchId": "", "ZoneId": "", "EndPoint": "",
        "ResourceGroupId": p.str("ResourceGroupId", "rg-default"), "Series": "standard", "_tags": {}, "Status": 0,
    }, "InstanceId")
    return {"OrderId": rid("", 7), "Success": True, "Code": 200, "Message": "operation success."}


@action(V, "StartInstance")
def start_instance(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    record = _instance(store, p)
    vpc_id, vsw_id = p.str("VpcId", required=True), p.str("VSwitchId", required=True)
    vsw = store.tables["vswitch"].get(vsw_id or "")
    if vsw is None or vsw.get("RegionId") != region:
        raise CloudError("InvalidVSwitchId.NotFound", "The specified VSwitchId does not exist.", 404)
    if vsw["VpcId"] != vpc_id:
        raise CloudError("InvalidParameter", "The vSwitch is not in the specified VPC.")
    if record["Status"] != 0:
        raise CloudError("BIZ.INSTANCE.STATUS.ERROR", "The instance is already deployed.", 400)
    zone = p.str("ZoneId") or vsw["ZoneId"]
    record.update({"VpcId": vpc_id, "VSwitchId": vsw_id, "ZoneId": zone, "Name": p.str("Name", record["Name"]),
                   "EndPoint": f"{record['InstanceId']}-1-vpc.alikafka.cloudsim.internal:9092"})
    store.schedule(record, 1, 5)
    return {"Success": True, "Code": 200, "Message": "operation success."}


@action(V, "GetInstanceList")
def get_instance_list(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    ids = set(p.repeated("InstanceId")) | ({p.str("InstanceId")} if p.str("InstanceId") else set())
    rows = [r for r in store.rows("kafka", region) if not ids or r["InstanceId"] in ids]
    items = []
    for r in rows:
        item = {k: v for k, v in r.items() if not k.startswith("_") and k != "Status"}
        item["ServiceStatus"] = r["Status"]
        item["Tags"] = {"TagVO": kv_tags(r["_tags"])}
        items.append(item)
    return {"InstanceList": {"InstanceVO": items}, "Success": True, "Code": 200, "Message": "operation success."}
