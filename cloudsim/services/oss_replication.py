"""OSS cross-region replication (XML REST, as ``oss2`` speaks it): PutBucketReplication
(``POST /<bucket>?replication&comp=add``), GetBucketReplication (``GET ?replication``),
GetBucketReplicationProgress (``GET ?replicationProgress&rule-id=``) and DeleteBucketReplication
(``POST ?replication&comp=delete``).

A rule copies the source bucket's objects to an existing destination bucket in another region. The
rule is ``starting`` for one step and then ``doing``; the objects the bucket held when the rule was
made ("historical", when enabled) are copied over that step (``Progress/HistoricalObject`` 0..1), and a
newer object is copied once the rule's point (``Progress/NewObject``) passes its write time: the
point trails the clock by the replication lag of the control API (``POST /_cloudsim/replication``
``{"lag_seconds"}``, the same knob as disk replication). A deleted rule is ``closing`` for one step.
"""

from __future__ import annotations

import calendar
import time
import uuid
from typing import Any
from xml.etree import ElementTree

from ..store import Store, register_kind
from .oss import OssError, _bucket, _doc, _el, request_region

register_kind("oss_replication")
ACTIONS = ("PutBucketReplication", "GetBucketReplication", "GetBucketReplicationProgress",
           "DeleteBucketReplication")
MAX_RULES = 100


def action_name(method: str, bucket: str, key: str, query: dict[str, str]) -> str | None:
    """The replication action of a request, or ``None`` for one of ``oss.py``'s."""
    if not bucket or key:
        return None
    if "replicationProgress" in query and method == "GET":
        return "GetBucketReplicationProgress"
    if "replication" in query:
        if method == "GET":
            return "GetBucketReplication"
        if method == "POST" and query.get("comp") == "add":
            return "PutBucketReplication"
        if method == "POST" and query.get("comp") == "delete":
            return "DeleteBucketReplication"
    return None


def _written(obj: dict[str, Any], default: float) -> float:
    """When an object was written (its ``modified`` time, whole seconds)."""
    try:
        return float(calendar.timegm(time.strptime(obj.get("modified") or "", "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return default


def _gmt(epoch: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def _rules(store: Store, bucket: str) -> list[dict[str, Any]]:
    return [r for r in store.rows("oss_replication") if r["Bucket"] == bucket]


def _lag(store: Store) -> float:
    return float(store.replication.get("lag_seconds", 0.0))


def sync(store: Store, rule: dict[str, Any], now: float) -> None:
    """Copy to the destination what the rule has replicated by ``now``."""
    source = store.tables["bucket"].get(rule["Bucket"])
    dest = store.tables["bucket"].get(rule["_dest"])
    if source is None or dest is None or rule["Status"] == "closing":
        return
    historical_done = now >= rule["_created"] + store.provision_seconds
    point = now - _lag(store)
    rule["_point"] = max(rule.get("_point") or 0.0, min(point, now))
    for key, obj in source["_objects"].items():
        written = _written(obj, rule["_created"])
        wanted = (historical_done and rule["_historical"] and written <= rule["_created"]) or \
            (rule["_created"] < written <= rule["_point"])
        if wanted and dest["_objects"].get(key, {}).get("etag") != obj.get("etag"):
            dest["_objects"][key] = {k: v for k, v in obj.items()}
            rule["_bytes_moved"] += int(obj.get("size", 0))
    store.dirty = True


def _rule_xml(rule: dict[str, Any], *, progress: bool, now: float) -> str:
    inner = _el("ID", rule["RuleId"])
    if rule["_prefixes"]:
        inner += "<PrefixSet>" + "".join(_el("Prefix", p) for p in rule["_prefixes"]) + "</PrefixSet>"
    inner += _el("Action", rule["Action"])
    inner += ("<Destination>" + _el("Bucket", rule["_dest"]) + _el("Location", rule["_dest_location"])
              + _el("TransferType", "internal") + "</Destination>")
    inner += _el("Status", rule["Status"])
    inner += _el("HistoricalObjectReplication", "enabled" if rule["_historical"] else "disabled")
    if progress:
        done = min(1.0, (now - rule["_created"]) / max(store_step(rule), 1e-6))
        inner += "<Progress>"
        if rule["_historical"]:
            inner += _el("HistoricalObject", f"{done:.2f}")
        if rule.get("_point"):
            inner += _el("NewObject", _gmt(rule["_point"]))
        inner += "</Progress>"
    return f"<Rule>{inner}</Rule>"


def store_step(rule: dict[str, Any]) -> float:
    return float(rule["_step"])


def handle(store: Store, action: str, method: str, bucket: str, key: str, query: dict[str, str],
           headers: dict[str, list[str]], body: bytes) -> tuple[int, bytes, dict[str, str]]:
    region_id, explicit = request_region(store, headers)
    record = _bucket(store, bucket, region_id, explicit)
    now = time.time()
    if action == "PutBucketReplication":
        try:
            root = ElementTree.fromstring(body or b"")
        except ElementTree.ParseError:
            raise OssError("MalformedXML", "The XML you provided was not well-formed.", 400) from None
        node = root.find("Rule")
        if node is None or node.find("Destination") is None:
            raise OssError("MalformedXML", "The replication rule has no Destination.", 400)
        dest_name = (node.findtext("Destination/Bucket") or "").strip()
        location = (node.findtext("Destination/Location") or "").strip()
        dest = store.tables["bucket"].get(dest_name)
        if dest is None:
            raise OssError("InvalidTargetBucketForReplication", "The target bucket does not exist.", 400,
                           BucketName=dest_name)
        if dest_name == bucket:
            raise OssError("InvalidArgument", "The target bucket must differ from the source bucket.", 400)
        if location != dest["Location"]:
            raise OssError("InvalidTargetLocationForReplication", f"The target bucket is in {dest['Location']}, "
                           f"not {location}.", 400)
        if dest["Location"] == record["Location"]:
            raise OssError("InvalidTargetLocationForReplication", "Cross-region replication needs a target bucket "
                           "in another region.", 400)
        rules = _rules(store, bucket)
        if any(r["_dest"] == dest_name for r in rules):
            raise OssError("InvalidArgument", "A replication rule to this target bucket exists already.", 400)
        if len(rules) >= MAX_RULES:
            raise OssError("TooManyReplicationRules", "The bucket has too many replication rules.", 400)
        rule_id = (node.findtext("ID") or "").strip() or str(uuid.uuid4())
        action_list = (node.findtext("Action") or "ALL").strip() or "ALL"
        rule = store.add("oss_replication", {
            "RuleId": rule_id, "Bucket": bucket, "RegionId": record["RegionId"], "Action": action_list,
            "Status": "starting", "_dest": dest_name, "_dest_location": dest["Location"],
            "_historical": (node.findtext("HistoricalObjectReplication") or "enabled") != "disabled",
            "_prefixes": [p.text or "" for p in node.findall("PrefixSet/Prefix")], "_created": now,
            "_step": store.provision_seconds, "_point": None, "_bytes_moved": 0,
        }, "RuleId")
        store.schedule(rule, "starting", "doing")
        return 200, b"", {"x-oss-replication-rule-id": rule_id}
    rules = _rules(store, bucket)
    if action == "GetBucketReplication":
        if not rules:
            raise OssError("NoSuchReplicationConfiguration", "The bucket has no replication rule.", 404,
                           BucketName=bucket)
        for rule in rules:
            sync(store, rule, now)
        return 200, _doc("ReplicationConfiguration", "".join(_rule_xml(r, progress=False, now=now) for r in rules)), {}
    if action == "GetBucketReplicationProgress":
        wanted = query.get("rule-id") or ""
        found = [r for r in rules if r["RuleId"] == wanted]
        if not found:
            raise OssError("NoSuchReplicationRule", "The specified replication rule does not exist.", 404,
                           BucketName=bucket)
        sync(store, found[0], now)
        return 200, _doc("ReplicationProgress", _rule_xml(found[0], progress=True, now=now)), {}
    if action == "DeleteBucketReplication":
        try:
            rule_id = (ElementTree.fromstring(body or b"").findtext("ID") or "").strip()
        except ElementTree.ParseError:
            raise OssError("MalformedXML", "The XML you provided was not well-formed.", 400) from None
        found = [r for r in rules if r["RuleId"] == rule_id]
        if not found:
            raise OssError("NoSuchReplicationRule", "The specified replication rule does not exist.", 404,
                           BucketName=bucket)
        sync(store, found[0], now)
        store.schedule(found[0], "closing", "Deleted")
        return 200, b"", {}
    raise OssError("NotImplemented", "cloudsim does not implement this OSS operation.", 501, Method=method)
