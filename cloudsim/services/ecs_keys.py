"""ECS key pairs and custom images (API version 2014-05-26, beside ``ecs``).

- ``CreateKeyPair`` (a name unique per region; the answer carries the private key once),
  ``ImportKeyPair``, ``DescribeKeyPairs`` (PageNumber/PageSize at most 50, filters ``KeyPairName``
  and ``KeyPairFingerPrint``), ``DeleteKeyPairs`` (``KeyPairNames`` as a JSON array).
- ``CreateImage`` from an instance (its system disk): Creating -> Available, ``SourceInstanceId``
  kept; ``DeleteImage``. ``DescribeImages`` with ``ImageOwnerAlias=self`` answers these custom images;
  without it (or ``system``) the public ones as before (cloudsim's RunInstances boots only those).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from ..catalog import IMAGE_MAP
from ..errors import CloudError, invalid
from ..params import Params
from ..store import Store, iso_now, register_kind
from . import ACTIONS, action, tag_list
from .inventory_kit import numbered, region_param, rid

V = "2014-05-26"
register_kind("key_pair")
register_kind("image")
NAME_RE = re.compile(r"^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9_.:\-\u4e00-\u9fa5]{1,127}$")
_system_images = ACTIONS[(V, "DescribeImages")]


def _fingerprint(material: str) -> str:
    return hashlib.md5(material.encode(), usedforsecurity=False).hexdigest()


def _add_key(store: Store, region: str, name: str, public_key: str, group: str) -> dict[str, Any]:
    if not NAME_RE.match(name) or name.startswith(("http://", "https://")):
        raise invalid("KeyPairName")
    if any(k["KeyPairName"] == name for k in store.rows("key_pair", region)):
        raise CloudError("KeyPair.AlreadyExist", "The key pair already exists.")
    return store.add("key_pair", {
        "KeyPairId": rid("kp-", 10), "KeyPairName": name, "RegionId": region,
        "KeyPairFingerPrint": _fingerprint(public_key), "CreationTime": iso_now(), "ResourceGroupId": group,
        "_public": public_key, "_tags": {},
    }, "KeyPairId")


@action(V, "CreateKeyPair")
def create_key_pair(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    secret = secrets.token_hex(32)
    record = _add_key(store, region, p.str("KeyPairName", required=True) or "", f"ssh-rsa AAAA{secret}",
                      p.str("ResourceGroupId", "rg-default") or "rg-default")
    return {"KeyPairId": record["KeyPairId"], "KeyPairName": record["KeyPairName"],
            "KeyPairFingerPrint": record["KeyPairFingerPrint"],
            "PrivateKeyBody": f"-----BEGIN RSA PRIVATE KEY-----\n{secret}\n-----END RSA PRIVATE KEY-----"}


@action(V, "ImportKeyPair")
def import_key_pair(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    material = p.str("PublicKeyBody", required=True) or ""
    if not material.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
        raise CloudError("InvalidPublicKeyBody.Malformed", "The specified public key body is not valid.")
    record = _add_key(store, region, p.str("KeyPairName", required=True) or "", material,
                      p.str("ResourceGroupId", "rg-default") or "rg-default")
    return {"KeyPairName": record["KeyPairName"], "KeyPairFingerPrint": record["KeyPairFingerPrint"]}


@action(V, "DescribeKeyPairs")
def describe_key_pairs(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name, print_ = p.str("KeyPairName"), p.str("KeyPairFingerPrint")
    rows = [k for k in store.rows("key_pair", region) if (not name or k["KeyPairName"] == name)
            and (not print_ or k["KeyPairFingerPrint"] == print_)]
    chunk, number, size = numbered(rows, p, default=10, max_size=50)
    items = [{"KeyPairName": k["KeyPairName"], "KeyPairFingerPrint": k["KeyPairFingerPrint"],
              "CreationTime": k["CreationTime"], "ResourceGroupId": k["ResourceGroupId"],
              "Tags": tag_list(k["_tags"])} for k in chunk]
    return {"KeyPairs": {"KeyPair": items}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


@action(V, "DeleteKeyPairs")
def delete_key_pairs(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    names = p.json_list("KeyPairNames")
    if not names:
        raise CloudError("MissingParameter", 'The input parameter "KeyPairNames" that is mandatory for processing '
                         "this request is not supplied.")
    for record in [k for k in store.rows("key_pair", region) if k["KeyPairName"] in names]:
        store.remove("key_pair", record)
    return {}


# -- custom images ---------------------------------------------------------------------------------

@action(V, "CreateImage")
def create_image(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    instance_id = p.str("InstanceId")
    if not instance_id and not p.str("SnapshotId"):
        raise CloudError("MissingParameter", 'One of "InstanceId" and "SnapshotId" must be supplied.')
    instance = store.tables["ecs_instance"].get(instance_id or "")
    if instance_id and (instance is None or instance.get("RegionId") != region):
        raise CloudError("InvalidInstanceId.NotFound", "The specified InstanceId does not exist.", 404)
    name = p.str("ImageName") or ""
    if name and (not NAME_RE.match(name) or name.startswith(("aliyun", "acs:"))):
        raise invalid("ImageName")
    base = IMAGE_MAP.get(instance["ImageId"]) if instance else None
    os_name = base["os_name"] if base else "Linux"
    image_id = "m-" + secrets.token_hex(10)
    record = store.add("image", {
        "ImageId": image_id, "ImageName": name or image_id, "RegionId": region,
        "Description": p.str("Description", ""), "ImageOwnerAlias": "self", "IsPublic": False,
        "OSName": os_name, "OSNameEn": os_name, "OSType": base["os_type"] if base else "linux",
        "Platform": os_name.split(" ")[0],
        "Architecture": "x86_64", "Size": 40, "CreationTime": iso_now(), "Usage": "none",
        "ImageFamily": p.str("ImageFamily", ""), "ResourceGroupId": p.str("ResourceGroupId", "rg-default"),
        "SourceInstanceId": instance_id or "", "_tags": {},
    }, "ImageId")
    store.schedule(record, "Creating", "Available")
    return {"ImageId": image_id}


@action(V, "DeleteImage")
def delete_image(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    record = store.tables["image"].get(p.str("ImageId", required=True) or "")
    if record is None or record["RegionId"] != region:
        raise CloudError("InvalidImageId.NotFound", "The specified ImageId does not exist.", 404)
    store.remove("image", record)
    return {}


def _custom(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if not k.startswith("_") and k not in ("RegionId", "SourceInstanceId")}
    out["Tags"] = tag_list(record["_tags"])
    return out


@action(V, "DescribeImages")
def describe_images(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    alias = p.str("ImageOwnerAlias")
    if alias not in (None, "system", "self", "others", "marketplace"):
        raise invalid("ImageOwnerAlias")
    rows: list[dict[str, Any]] = []
    if alias in (None, "system"):  # the public images: what cloudsim can boot
        everything = Params({k: v for k, v in p.values.items() if k not in ("PageNumber", "PageSize")}
                            | {"PageSize": "100"})
        rows += _system_images(store, everything)["Images"]["Image"]
    if alias == "self":
        ids = set(filter(None, (p.str("ImageId") or "").split(",")))
        status = p.str("Status")
        rows += [_custom(i) for i in store.rows("image", region) if (not ids or i["ImageId"] in ids)
                 and (not status or i["Status"] in status.split(","))]
    chunk, number, size = numbered(rows, p, default=10, max_size=100)
    return {"Images": {"Image": chunk}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size,
            "RegionId": region}
