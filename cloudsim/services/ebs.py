"""EBS API (version 2021-07-30): asynchronous disk replication pairs and their drills.

A pair replicates a source disk to a destination disk of the same size in another zone or region.
cloudsim replicates continuously: once the first sync of a start is done, the pair's recovery point
(``LastRecoverPoint``, whole epoch seconds) trails the clock by the replication lag, a knob of the
control API (``POST /_cloudsim/replication``: for every pair or one pair, optionally ``stalled``, which
freezes the point as a stuck exporter would). Writes to disks are simulated by the control API
(``POST /_cloudsim/disks/write``): they mark 1 MiB blocks of the disk as changed at the time of the
write, and a pair moves a changed block once its recovery point has passed the write. Bytes moved
are counted per pair: the first start copies the whole disk, a start after a stop or a reprotect
moves only the changed blocks (after a failover: those written at the new source, and those written
at the old source after its last recovery point, which the old secondary's data replaces).

States (the API's names): creating -> created; StartDiskReplicaPair: initial_syncing -> normal;
Stop: stopping -> stopped; FailoverDiskReplicaPair (in the secondary's region): failovering ->
failovered (the secondary disk holds the data of the last recovery point and becomes writable);
ReprotectDiskReplicaPair (in the secondary's region): reprotecting -> stopped, source and destination
swapped; DeleteDiskReplicaPair: deleting -> gone. An action the state does not allow answers
``OperationDenied.PairStatus`` (403). StartPairDrill (in the secondary's region, the pair replicating)
makes a drill disk at the secondary from the last recovery point; ClearPairDrill deletes it.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..errors import CloudError, invalid
from ..store import CONTROL_ROUTES, Store, new_id, register_kind
from . import action, product
from .ecs import new_disk, paged

V = "2021-07-30"
BLOCK = 1024 * 1024
GIB = 1024 ** 3
REPLICATING = ("initial_syncing", "syncing", "normal")
SUPPORTED_RPO = (900,)
product(V, "ebs")
register_kind("replica_pair", "pair-")
register_kind("pair_drill", "drill-")


# -- errors and lookups ---------------------------------------------------------------------------------

def _status_error(pair: dict[str, Any], what: str) -> CloudError:
    return CloudError("OperationDenied.PairStatus",
                      f"The replication pair is {pair['Status']}; it cannot {what} in this state.", 403)


def get_pair(store: Store, pair_id: str | None, region_id: str | None = None) -> dict[str, Any]:
    """The pair, seen from either of its regions, its replication brought up to now."""
    pair = store.tables["replica_pair"].get(pair_id or "")
    if pair is None or not store.settle("replica_pair", pair, time.time()) or (
            region_id is not None and region_id not in (pair["SourceRegion"], pair["DestinationRegion"])):
        raise CloudError("InvalidReplicaPairId.NotFound", "The specified replication pair does not exist.", 404)
    advance(store, pair, time.time())
    return pair


def _in_secondary(pair: dict[str, Any], region_id: str | None) -> None:
    if region_id != pair["DestinationRegion"]:
        raise CloudError("OperationDenied.RegionNotMatch", "This operation must be called in the region of the "
                         f"secondary disk ({pair['DestinationRegion']}).", 403)


def lag_of(store: Store, pair: dict[str, Any]) -> float:
    own = pair.get("_lag")
    return float(store.replication.get("lag_seconds", 0.0) if own is None else own)


# -- replication ----------------------------------------------------------------------------------------

def advance(store: Store, pair: dict[str, Any], now: float) -> None:
    """Bring the pair's recovery point and moved bytes up to ``now`` (worked out lazily, like states)."""
    if not pair["_active"] or pair["_sync_at"] is None or now < pair["_sync_at"]:
        return
    if pair["_sync_pending"]:
        start = pair["_start_point"]
        if pair["_needs_full"]:
            pair["_bytes_moved"] += int(pair["_size_gib"]) * GIB
            pair["_needs_full"] = False
            pair["_pending"] = {b: t for b, t in pair["_pending"].items() if t > start}
        else:
            _move(pair, start)
        pair["_rp"] = max(pair["_rp"] or 0, math.floor(start))
        pair["_sync_pending"] = False
        if pair["_one_shot"]:
            pair["_active"] = False
            pair["Status"], pair["_tl"] = "stopped", None
            store.dirty = True
            return
    if not pair["_stalled"]:
        point = math.floor(now - lag_of(store, pair))
        if point > (pair["_rp"] or 0):
            pair["_rp"] = min(point, math.floor(now))
    _move(pair, pair["_rp"])
    store.dirty = True


def _move(pair: dict[str, Any], point: float) -> None:
    """Move the changed blocks written at or before ``point``."""
    moved = [b for b, t in pair["_pending"].items() if t <= point]
    for block in moved:
        del pair["_pending"][block]
    pair["_bytes_moved"] += len(moved) * BLOCK


def _freeze(store: Store, pair: dict[str, Any]) -> None:
    """Stop replicating at the current point."""
    advance(store, pair, time.time())
    pair["_active"] = False
    pair["_sync_at"] = None


def render(pair: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in pair.items() if not k.startswith("_")}
    out["LastRecoverPoint"] = int(pair["_rp"]) if pair["_rp"] is not None else None
    out["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in pair["_tags"].items()]
    if out["LastRecoverPoint"] is None:
        del out["LastRecoverPoint"]
    return out


def truth(store: Store, pair: dict[str, Any], now: float) -> dict[str, Any]:
    """What the control API tells tests about a pair: its real recovery point, RPO and bytes."""
    advance(store, pair, now)
    rp = pair["_rp"]
    return {"pair_id": pair["ReplicaPairId"], "status": pair["Status"], "last_recovery_point": rp,
            "rpo_seconds": (now - rp) if rp is not None else None, "lag_seconds": lag_of(store, pair),
            "own_lag_seconds": pair.get("_lag"), "stalled": pair["_stalled"], "bytes_moved": pair["_bytes_moved"],
            "pending_bytes": len(pair["_pending"]) * BLOCK, "source_disk_id": pair["SourceDiskId"],
            "dest_disk_id": pair["DestinationDiskId"], "source_region": pair["SourceRegion"],
            "dest_region": pair["DestinationRegion"],
            "direction": "forward" if pair["SourceDiskId"] == pair["_primary_disk"] else "reverse",
            "drills": [d["DrillId"] for d in store.rows("pair_drill") if d["PairId"] == pair["ReplicaPairId"]]}


# -- actions --------------------------------------------------------------------------------------------

def _disk(store: Store, disk_id: str | None, region_id: str, zone_id: str | None, name: str) -> dict[str, Any]:
    disk = store.tables["disk"].get(disk_id or "")
    if disk is None or not store.settle("disk", disk, time.time()) or disk["RegionId"] != region_id:
        raise CloudError("InvalidDiskId.NotFound", f"The specified {name} does not exist in {region_id}.", 404)
    if zone_id and disk["ZoneId"] != zone_id:
        raise invalid("SourceZoneId" if name == "source disk" else "DestinationZoneId",
                      f"The {name} is in {disk['ZoneId']}.")
    return disk


@action(V, "CreateDiskReplicaPair")
def create_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    source_zone = p.str("SourceZoneId", required=True)
    source = _disk(store, p.str("DiskId", required=True), region_id, source_zone, "source disk")
    dest_region = p.str("DestinationRegionId", required=True)
    store.check_region(dest_region)
    dest_zone = p.str("DestinationZoneId", required=True)
    store.check_zone(dest_region, dest_zone)
    dest = _disk(store, p.str("DestinationDiskId", required=True), dest_region, dest_zone, "destination disk")
    if source["DiskId"] == dest["DiskId"]:
        raise invalid("DestinationDiskId", "The destination disk must differ from the source disk.")
    if int(dest["Size"]) != int(source["Size"]):
        raise CloudError("InvalidParameter.DiskSize", "The destination disk must have the size of the source disk.")
    if dest["Status"] != "Available":
        raise CloudError("IncorrectDiskStatus", "The destination disk must be unattached (Available).", 403)
    for other in store.rows("replica_pair"):
        if {source["DiskId"], dest["DiskId"]} & {other["SourceDiskId"], other["DestinationDiskId"]}:
            raise CloudError("OperationDenied.DiskInPair", "A disk of the request is already in a replication "
                             f"pair ({other['ReplicaPairId']}).", 403)
    rpo = p.int("RPO", 900)
    if rpo not in SUPPORTED_RPO:
        raise invalid("RPO", "Only 900 is supported.")
    charge = p.str("ChargeType", "POSTPAY", choices={"POSTPAY", "PREPAY"})
    name = p.str("PairName", "")
    now = time.time()
    pair = store.add("replica_pair", {
        "ReplicaPairId": new_id("replica_pair"), "PairName": name, "Description": p.str("Description", ""),
        "Status": "creating", "StatusMessage": "", "SourceDiskId": source["DiskId"], "SourceRegion": region_id,
        "SourceZoneId": source_zone, "DestinationDiskId": dest["DiskId"], "DestinationRegion": dest_region,
        "DestinationZoneId": dest_zone, "PrimaryRegion": region_id, "PrimaryZone": source_zone,
        "StandbyRegion": dest_region, "StandbyZone": dest_zone, "RPO": rpo,
        "Bandwidth": 0 if charge == "POSTPAY" else p.int("Bandwidth", 10240), "ChargeType": charge,
        "CreateTime": int(now), "ExpiredTime": 4102358400, "ResourceGroupId": p.str("ResourceGroupId", ""),
        "Site": "production", "EnableRtc": p.bool("EnableRtc", False), "ReplicaGroupId": "", "ReplicaGroupName": "",
        "_tags": p.tags(), "_lag": None, "_stalled": False, "_active": False, "_sync_at": None,
        "_sync_pending": False, "_start_point": None, "_needs_full": True, "_one_shot": False, "_rp": None,
        "_pending": {}, "_bytes_moved": 0, "_since_failover": [], "_diverged": [], "_size_gib": int(source["Size"]),
        "_primary_disk": source["DiskId"],
    }, "ReplicaPairId")
    store.schedule(pair, "creating", "created")
    store.touch(source["DiskId"], dest["DiskId"])
    return {"ReplicaPairId": pair["ReplicaPairId"], "OrderId": ""}


@action(V, "DescribeDiskReplicaPairs")
def describe_pairs(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    site = p.str("Site", "production", choices={"production", "backup"})
    ids = set(filter(None, (p.str("PairIds") or "").split(",")))
    if len(ids) > 100:
        raise invalid("PairIds", "At most 100 ids are allowed.")
    name = p.str("Name")
    group = p.str("ReplicaGroupId")
    tags = p.tags()
    now = time.time()
    rows = []
    for pair in store.rows("replica_pair"):
        here = pair["SourceRegion"] if site == "production" else pair["DestinationRegion"]
        if here != region_id or (ids and pair["ReplicaPairId"] not in ids):
            continue
        if name is not None and name not in pair["PairName"]:
            continue
        if group is not None and pair["ReplicaGroupId"] != ("" if group == "-" else group):
            continue
        if tags and not all(pair["_tags"].get(k) == v or (v == "" and k in pair["_tags"]) for k, v in tags.items()):
            continue
        advance(store, pair, now)
        rows.append(pair)
    chunk, meta = paged(rows, p, max_size=500 if "MaxResults" in p or "NextToken" in p else 100, token=True)
    return {"ReplicaPairs": [render(r) for r in chunk], **meta}


@action(V, "DescribeDiskReplicaPairProgress")
def describe_progress(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    now = time.time()
    if pair["Status"] == "initial_syncing" and pair["_sync_at"]:
        span = max(store.provision_seconds, 1e-6)
        progress = max(0, min(99, int(100 * (1 - (pair["_sync_at"] - now) / span))))
    else:
        progress = 100 if pair["_rp"] is not None else 0
    body: dict[str, Any] = {"Progress": progress}
    if pair["_rp"] is not None:
        body["RecoverPoint"] = int(pair["_rp"])
    return body


@action(V, "StartDiskReplicaPair")
def start_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    if pair["Status"] not in ("created", "stopped", "stop_failed"):
        raise _status_error(pair, "start")
    now = time.time()
    pair.update({"_active": True, "_sync_at": now + store.provision_seconds, "_sync_pending": True,
                 "_start_point": now, "_one_shot": p.bool("OneShot", False)})
    store.schedule(pair, "manual_syncing" if pair["_one_shot"] else "initial_syncing",
                   "stopped" if pair["_one_shot"] else "normal")
    return {}


@action(V, "StopDiskReplicaPair")
def stop_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    if pair["Status"] not in REPLICATING:
        raise _status_error(pair, "stop")
    _freeze(store, pair)
    store.schedule(pair, "stopping", "stopped")
    return {}


@action(V, "FailoverDiskReplicaPair")
def failover_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    _in_secondary(pair, region_id)
    if pair["Status"] not in ("normal", "syncing", "stopped", "stop_failed", "failover_failed") or pair["_rp"] is None:
        raise _status_error(pair, "fail over" if pair["_rp"] is not None else "fail over before its first sync")
    _freeze(store, pair)
    # What the source wrote after the last recovery point is not at the secondary: it diverges.
    pair["_diverged"] = sorted(int(b) for b in pair["_pending"])
    pair["_pending"] = {}
    pair["_since_failover"] = []
    store.schedule(pair, "failovering", "failovered")
    store.touch(pair["DestinationDiskId"])
    return {}


@action(V, "ReprotectDiskReplicaPair")
def reprotect_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    _in_secondary(pair, region_id)
    if pair["Status"] not in ("failovered", "reprotect_failed"):
        raise _status_error(pair, "be reprotected")
    if not p.bool("ReverseReplicate", True):
        raise invalid("ReverseReplicate", "cloudsim reprotects with reverse replication only.")
    now = time.time()
    changed = set(pair["_since_failover"]) | set(pair["_diverged"])
    pair.update({
        "SourceDiskId": pair["DestinationDiskId"], "DestinationDiskId": pair["SourceDiskId"],
        "SourceRegion": pair["DestinationRegion"], "DestinationRegion": pair["SourceRegion"],
        "SourceZoneId": pair["DestinationZoneId"], "DestinationZoneId": pair["SourceZoneId"],
        "_pending": {str(b): now for b in changed}, "_since_failover": [], "_diverged": [], "_rp": None,
    })
    store.schedule(pair, "reprotecting", "stopped")
    store.touch(pair["SourceDiskId"], pair["DestinationDiskId"])
    return {}


@action(V, "DeleteDiskReplicaPair")
def delete_pair(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("ReplicaPairId", required=True), region_id)
    if pair["Status"] not in ("created", "stopped", "failovered", "create_failed", "stop_failed", "failover_failed",
                              "reprotect_failed", "delete_failed", "invalid"):
        raise _status_error(pair, "be deleted")
    if any(d["PairId"] == pair["ReplicaPairId"] for d in store.rows("pair_drill")):
        raise CloudError("OperationDenied.DrillExists", "Clear the pair's drills before deleting it.", 403)
    _freeze(store, pair)
    store.schedule(pair, "deleting", "Deleted")
    return {}


# -- drills ---------------------------------------------------------------------------------------------

def _drill_state(store: Store, drill: dict[str, Any]) -> dict[str, Any]:
    disk = store.tables["disk"].get(drill["DrillDiskId"])
    if disk is not None:
        store.settle("disk", disk, time.time())
    drill["DrillDiskStatus"] = ("deleting" if drill["Status"] == "clearing" else
                                "deleted" if disk is None or disk["_id"] not in store.tables["disk"] else
                                "creating" if disk["Status"] == "Creating" else "created")
    return drill


@action(V, "StartPairDrill")
def start_drill(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("PairId", required=True), region_id)
    _in_secondary(pair, region_id)
    if pair["Status"] not in ("normal", "syncing") or pair["_rp"] is None:
        raise _status_error(pair, "start a drill")
    if any(d["PairId"] == pair["ReplicaPairId"] for d in store.rows("pair_drill")):
        raise CloudError("OperationDenied.DrillExists", "The replication pair has a drill already; clear it first.",
                         403)
    now = time.time()
    drill_id = new_id("pair_drill")
    disk = new_disk(store, region_id=pair["DestinationRegion"], zone_id=pair["DestinationZoneId"],
                    size=int(pair["_size_gib"]), category="cloud_essd", disk_type="data", name=f"drill-{drill_id}",
                    tags={"acs:ebs:drill": pair["ReplicaPairId"]})
    store.schedule(disk, "Creating", "Available")
    drill = store.add("pair_drill", {
        "DrillId": drill_id, "PairId": pair["ReplicaPairId"], "RegionId": pair["DestinationRegion"],
        "DrillDiskId": disk["DiskId"], "DrillDiskStatus": "creating", "RecoverPoint": int(pair["_rp"]),
        "StartAt": int(now), "StatusMessage": "", "Status": "executing",
    }, "DrillId")
    store.schedule(drill, "executing", "executed")
    store.touch(disk["DiskId"])
    return {"DrillId": drill_id}


@action(V, "DescribePairDrills")
def describe_drills(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("PairId", required=True), region_id)
    drill_id = p.str("DrillId")
    rows = [_drill_state(store, d) for d in store.rows("pair_drill")
            if d["PairId"] == pair["ReplicaPairId"] and (drill_id is None or d["DrillId"] == drill_id)]
    chunk, meta = paged(rows, p, token=True)
    return {"Drills": [{k: v for k, v in d.items() if not k.startswith("_") and k not in ("PairId", "RegionId")}
                       for d in chunk], **meta}


@action(V, "ClearPairDrill")
def clear_drill(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    pair = get_pair(store, p.str("PairId", required=True), region_id)
    drill = store.tables["pair_drill"].get(p.str("DrillId", required=True) or "")
    if drill is None or not store.settle("pair_drill", drill, time.time()) or drill["PairId"] != pair["ReplicaPairId"]:
        raise CloudError("InvalidDrillId.NotFound", "The specified drill does not exist.", 404)
    if drill["Status"] not in ("executed", "execute_failed", "clear_failed"):
        raise CloudError("OperationDenied.DrillStatus", f"The drill is {drill['Status']}; it cannot be cleared now.",
                         403)
    disk = store.tables["disk"].get(drill["DrillDiskId"])
    if disk is not None and store.settle("disk", disk, time.time()):
        if disk["InstanceId"]:
            raise CloudError("IncorrectDiskStatus", "The drill disk is attached to an instance; detach it first.",
                             403)
        store.remove("disk", disk)
    store.schedule(drill, "clearing", "Deleted")
    store.touch(drill["DrillDiskId"])
    return {}


# -- control API: simulated writes and the replication knobs ------------------------------------------------

def disk_write(store: Store, data: dict[str, Any]) -> dict[str, Any]:
    """``{"disk_id", "bytes", "offset"?}``: mark the written 1 MiB blocks changed now (by default after the
    previous write, so writes do not overlap). The secondary disk of a replicating or stopped pair is
    read-only (409)."""
    disk_id = str(data.get("disk_id") or "")
    size = int(data.get("bytes", 0))
    if size <= 0:
        raise ValueError("bytes must be positive")
    disk = store.tables["disk"].get(disk_id)
    if disk is None or not store.settle("disk", disk, time.time()):
        raise CloudError("InvalidDiskId.NotFound", "The specified disk does not exist.", 404)
    now = time.time()
    pairs = [pr for pr in store.rows("replica_pair") if disk_id in (pr["SourceDiskId"], pr["DestinationDiskId"])]
    for pair in pairs:
        if pair["DestinationDiskId"] == disk_id and pair["Status"] != "failovered":
            raise CloudError("read_only", f"The disk is the secondary of the replication pair {pair['ReplicaPairId']} "
                             f"({pair['Status']}); it cannot be written.", 409)
    io = store.disk_io.setdefault(disk_id, {"cursor": 0, "bytes_written": 0, "writes": 0})
    offset = int(data["offset"]) if data.get("offset") is not None else io["cursor"]
    capacity = int(disk["Size"]) * GIB
    if offset < 0 or offset + size > capacity:
        raise ValueError(f"the write must fit the disk ({capacity} bytes)")
    blocks = list(range(offset // BLOCK, (offset + size - 1) // BLOCK + 1))
    io["cursor"] = max(io["cursor"], (blocks[-1] + 1) * BLOCK)
    io["bytes_written"] += size
    io["writes"] += 1
    for pair in pairs:
        advance(store, pair, now)
        if pair["Status"] in ("failovering", "failovered", "reprotect_failed"):
            # After a failover: the secondary is the new primary; a write to the old source diverges too.
            side = "_since_failover" if pair["DestinationDiskId"] == disk_id else "_diverged"
            pair[side] = sorted(set(pair[side]) | set(blocks))
        else:
            for block in blocks:
                pair["_pending"][str(block)] = now
    store.dirty = True
    return {"disk_id": disk_id, "offset": offset, "bytes": size, "blocks": len(blocks),
            "changed_bytes": len(blocks) * BLOCK, "pairs": [pr["ReplicaPairId"] for pr in pairs]}


def replication_state(store: Store, query: dict[str, str]) -> tuple[int, Any]:
    now = time.time()
    wanted = query.get("pair_id")
    pairs = [truth(store, pr, now) for pr in store.rows("replica_pair") if wanted in (None, pr["ReplicaPairId"])]
    if wanted and not pairs:
        return 404, {"code": "not_found", "message": f"no replication pair {wanted}"}
    return 200, {"lag_seconds": store.replication.get("lag_seconds", 0.0), "time": now, "pairs": pairs,
                 "disk_io": store.disk_io}


def replication_config(store: Store, data: dict[str, Any]) -> tuple[int, Any]:
    """``{"lag_seconds", "pair_id"?, "stalled"?, "settle"?}``: the lag of every pair (or of one pair;
    ``"lag_seconds": null`` with a pair returns it to the global lag); ``stalled`` freezes a pair's recovery
    point; ``settle`` puts the recovery point at now - lag at once, as if the lag had always held."""
    now = time.time()
    pair_id = data.get("pair_id")
    targets = store.rows("replica_pair")
    if pair_id is not None:
        targets = [pr for pr in targets if pr["ReplicaPairId"] == pair_id]
        if not targets:
            return 404, {"code": "not_found", "message": f"no replication pair {pair_id}"}
    for pair in targets:  # the old lag holds up to now
        advance(store, pair, now)
    if "lag_seconds" in data:
        lag = data["lag_seconds"]
        if lag is not None and float(lag) < 0:
            raise ValueError("lag_seconds must not be negative")
        if pair_id is None:
            if lag is None:
                raise ValueError("the global lag_seconds must be a number")
            store.replication["lag_seconds"] = float(lag)
        else:
            targets[0]["_lag"] = None if lag is None else float(lag)
    for pair in targets:
        if "stalled" in data and (pair_id is not None or data.get("stalled") is not None):
            pair["_stalled"] = bool(data["stalled"])
        if data.get("settle") and pair["_active"] and pair["_rp"] is not None:
            pair["_rp"] = math.floor(now - lag_of(store, pair))
    store.dirty = True
    return 200, {"lag_seconds": store.replication["lag_seconds"],
                 "pairs": [truth(store, pr, now) for pr in targets]}


def bulk_pairs(store: Store, data: dict[str, Any]) -> dict[str, Any]:
    """``{"count", "region_id", "zone_id"?, "dest_region_id", "dest_zone_id"?, "size_gib"?, "name_prefix"?,
    "tags"?, "started"?}``: ``count`` source disks, each with a secondary disk and a pair between them,
    replicating (``normal``, the first copy done) unless ``started`` is false (``created``)."""
    count = int(data.get("count", 1))
    if not 1 <= count <= 10_000:
        raise ValueError("count must be between 1 and 10,000")
    region_id = store.check_region(data.get("region_id") or store.regions[0])
    dest_region = store.check_region(data.get("dest_region_id") or region_id)
    zone_id = store.check_zone(region_id, data.get("zone_id") or f"{region_id}-a")
    dest_zone = store.check_zone(dest_region, data.get("dest_zone_id") or f"{dest_region}-b")
    if (region_id, zone_id) == (dest_region, dest_zone):
        raise ValueError("the secondary must be in another zone or region")
    size = int(data.get("size_gib", 20))
    prefix = str(data.get("name_prefix") or "bulk")
    tags = {str(k): str(v) for k, v in (data.get("tags") or {}).items()}
    started = data.get("started", True) is not False
    now = time.time()
    out = []
    for n in range(count):
        source = new_disk(store, region_id=region_id, zone_id=zone_id, size=size, category="cloud_essd",
                          disk_type="data", name=f"{prefix}-{n}", tags=tags)
        dest = new_disk(store, region_id=dest_region, zone_id=dest_zone, size=size, category="cloud_essd",
                        disk_type="data", name=f"{prefix}-{n}-secondary", tags=tags)
        pair = store.add("replica_pair", {
            "ReplicaPairId": new_id("replica_pair"), "PairName": f"{prefix}-{n}", "Description": "",
            "Status": "normal" if started else "created", "StatusMessage": "", "SourceDiskId": source["DiskId"],
            "SourceRegion": region_id, "SourceZoneId": zone_id, "DestinationDiskId": dest["DiskId"],
            "DestinationRegion": dest_region, "DestinationZoneId": dest_zone, "PrimaryRegion": region_id,
            "PrimaryZone": zone_id, "StandbyRegion": dest_region, "StandbyZone": dest_zone, "RPO": 900,
            "Bandwidth": 0, "ChargeType": "POSTPAY", "CreateTime": int(now), "ExpiredTime": 4102358400,
            "ResourceGroupId": "", "Site": "production", "EnableRtc": False, "ReplicaGroupId": "",
            "ReplicaGroupName": "", "_tags": dict(tags), "_lag": None, "_stalled": False, "_active": started,
            "_sync_at": now if started else None, "_sync_pending": False, "_start_point": now if started else None,
            "_needs_full": not started, "_one_shot": False, "_rp": math.floor(now) if started else None,
            "_pending": {}, "_bytes_moved": size * GIB if started else 0, "_since_failover": [], "_diverged": [],
            "_size_gib": size, "_primary_disk": source["DiskId"],
        }, "ReplicaPairId")
        out.append({"pair_id": pair["ReplicaPairId"], "source_disk_id": source["DiskId"],
                    "dest_disk_id": dest["DiskId"]})
    store.dirty = True
    return {"created": len(out), "pairs": out}


def _route_bulk(store: Store, method: str, query: dict[str, str], data: dict[str, Any]) -> tuple[int, Any]:
    if method != "POST":
        return 405, {"code": "method_not_allowed", "message": "POST"}
    return 201, bulk_pairs(store, data)


def _route_replication(store: Store, method: str, query: dict[str, str], data: dict[str, Any]) -> tuple[int, Any]:
    if method == "GET":
        return replication_state(store, query)
    if method == "POST":
        return replication_config(store, data)
    return 405, {"code": "method_not_allowed", "message": "GET or POST"}


def _route_write(store: Store, method: str, query: dict[str, str], data: dict[str, Any]) -> tuple[int, Any]:
    if method != "POST":
        return 405, {"code": "method_not_allowed", "message": "POST"}
    return 201, disk_write(store, data)


CONTROL_ROUTES["/replication"] = _route_replication
CONTROL_ROUTES["/disks/write"] = _route_write
CONTROL_ROUTES["/replication/bulk"] = _route_bulk
