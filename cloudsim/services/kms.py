"""Key Management Service API (``Kms``, version 2016-01-20): customer master keys.

KMS takes no region parameter (the region is the endpoint's): ``CreateKey`` makes the key in the
first region, ``ListKeys`` answers every region's keys, each ARN naming its region
(``acs:kms:<region>:<account>:key/<id>``). ``DescribeKey`` gives a key's metadata.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import numbered

V = "2016-01-20"
product(V, "Kms")
register_kind("kms_key")
ACCOUNT = "1234567890123456"
SPECS = {"Aliyun_AES_256", "Aliyun_SM4", "RSA_2048", "RSA_3072", "EC_P256", "EC_P256K", "EC_SM2"}
METADATA = ("Arn", "AutomaticRotation", "CreationDate", "Creator", "DeleteDate", "Description", "KeyId", "KeySpec",
            "KeyUsage", "LastRotationDate", "MaterialExpireTime", "NextRotationDate", "Origin", "PrimaryKeyVersion",
            "ProtectionLevel", "RotationInterval")


def _metadata(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: record[k] for k in METADATA if k in record}
    out["KeyState"] = record["Status"]
    return out


@action(V, "CreateKey")
def create_key(store: Store, p) -> dict[str, Any]:
    spec = p.str("KeySpec", "Aliyun_AES_256")
    if spec not in SPECS:
        raise CloudError("InvalidParameter", "The specified KeySpec is not valid.")
    usage = p.str("KeyUsage", "ENCRYPT/DECRYPT", choices={"ENCRYPT/DECRYPT", "SIGN/VERIFY"})
    origin = p.str("Origin", "Aliyun_KMS", choices={"Aliyun_KMS", "EXTERNAL"})
    rotate = (p.str("EnableAutomaticRotation") or "false").lower() == "true"
    region = store.regions[0]
    key_id = str(uuid.uuid4())
    now = iso_now()
    record = store.add("kms_key", {
        "KeyId": key_id, "Arn": f"acs:kms:{region}:{ACCOUNT}:key/{key_id}", "RegionId": region,
        "Description": p.str("Description", ""), "KeySpec": spec, "KeyUsage": usage, "Origin": origin,
        "ProtectionLevel": p.str("ProtectionLevel", "SOFTWARE"), "Creator": ACCOUNT, "CreationDate": now,
        "AutomaticRotation": "Enabled" if rotate else "Disabled", "RotationInterval": p.str("RotationInterval", ""),
        "PrimaryKeyVersion": str(uuid.uuid4()), "LastRotationDate": now, "DeleteDate": "",
        "MaterialExpireTime": "", "NextRotationDate": "",
        "Status": "Enabled" if origin == "Aliyun_KMS" else "PendingImport",
    }, "KeyId")
    return {"KeyMetadata": _metadata(record)}


@action(V, "ListKeys")
def list_keys(store: Store, p) -> dict[str, Any]:
    rows = store.rows("kms_key")
    chunk, number, size = numbered(rows, p, default=10, max_size=100)
    return {"Keys": {"Key": [{"KeyId": r["KeyId"], "KeyArn": r["Arn"]} for r in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DescribeKey")
def describe_key(store: Store, p) -> dict[str, Any]:
    key_id = p.str("KeyId", required=True) or ""
    record = store.tables["kms_key"].get(key_id) or next(
        (r for r in store.tables["kms_key"].values() if r["Arn"] == key_id), None)
    if record is None:
        raise CloudError("Forbidden.KeyNotFound", "The specified Key is not found.", 404)
    return {"KeyMetadata": _metadata(record)}


@action(V, "ScheduleKeyDeletion")
def schedule_key_deletion(store: Store, p) -> dict[str, Any]:
    key_id = p.str("KeyId", required=True) or ""
    days = p.int("PendingWindowInDays", required=True, lo=7, hi=366)
    record = store.tables["kms_key"].get(key_id)
    if record is None:
        raise CloudError("Forbidden.KeyNotFound", "The specified Key is not found.", 404)
    record["Status"] = "PendingDeletion"
    record["DeleteDate"] = iso_now(record["_created"] + days * 86400)
    store.dirty = True
    return {}
