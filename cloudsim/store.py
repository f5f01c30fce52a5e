"""In-memory state of the simulated region: resources, asynchronous states, capacity, snapshots.

Every resource is a dict whose public keys use the cloud's field names (``InstanceId``, ``Status``...)
and whose private keys start with ``_``. A resource in transition carries ``_tl``, a timeline of
``[epoch seconds, status]`` steps; its status is worked out lazily from the clock whenever it is read,
so no background thread moves resources and a test can set the step length to a fraction of a second.
The special status ``Deleted`` removes the resource when it is reached.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from .errors import CloudError

# Record kinds of the core products; a further product module adds its own with ``register_kind``.
RESOURCE_TYPES = [
    "ecs_instance", "disk", "security_group", "vpc", "vswitch", "eip", "slb", "rds", "redis", "bucket",
]


def register_kind(kind: str, prefix: str | None = None) -> None:
    """Add a record kind (a table) to every store; call at import of the product module. ``prefix``
    is what ``new_id(kind)`` puts before the random part of a new id."""
    if kind not in RESOURCE_TYPES:
        RESOURCE_TYPES.append(kind)
    if prefix is not None:
        ID_PREFIX[kind] = prefix


DELETED = "Deleted"

# Control API routes of product modules: path -> function(store, method, query, data) -> (status, payload)
CONTROL_ROUTES: dict[str, Any] = {}

# kind -> function(store, record) releasing what the record held (capacity, addresses, links)
REMOVE_HOOKS: dict[str, Any] = {}

DEFAULT_CAPACITY = {
    # per zone
    "zone_vcpu": 20_000,
    "zone_memory_gib": 80_000,
    "zone_private_ips": 60_000,
    # per region
    "region_eips": 500,
}

ID_PREFIX = {
    "ecs_instance": "i-", "disk": "d-", "security_group": "sg-", "vpc": "vpc-", "vswitch": "vsw-",
    "eip": "eip-", "slb": "lb-", "rds": "rm-", "redis": "r-", "bucket": "",
}


def iso_now(now: float | None = None) -> str:
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(kind: str) -> str:
    return ID_PREFIX.get(kind, "") + secrets.token_hex(10)


class Table(dict):
    """One record kind's records by id, counting its changes: ``Store.rows`` keeps each region's list of
    records while the count stands, so a page of a listing does not walk the whole table."""

    __slots__ = ("version",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.version = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.version += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self.version += 1
        return super().pop(*args)

    def popitem(self) -> Any:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.version += 1
        return super().setdefault(key, default)


# Actions that only read: a call log entry of one of them is a "read", of any other action a "write".
READ_PREFIXES = ("Describe", "List", "Get", "Query", "Search", "Check", "Browse")
CALL_LOG_SIZE = 200_000


class Store:
    """The whole region state, guarded by one re-entrant lock."""

    def __init__(self, *, regions: list[str], provision_seconds: float = 2.0, seed: int = 1,
                 snapshot_path: str | None = None, capacity: dict[str, int] | None = None):
        self.lock = threading.RLock()
        self.regions = regions
        self.oss_clusters: dict[str, str] = {}  # region -> OSS cluster (bucket location), default oss-<region>
        self.provision_seconds = provision_seconds
        self.seed = seed
        self.snapshot_path = snapshot_path
        self.capacity = dict(DEFAULT_CAPACITY, **(capacity or {}))
        self.calls: Counter[str] = Counter()
        self.dirty = False
        self._saver: threading.Thread | None = None
        self._stop = threading.Event()
        self.reset()

    # -- structure -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.tables: dict[str, dict[str, dict[str, Any]]] = {t: Table() for t in RESOURCE_TYPES}
            # Records with a timeline, by identity: ``rows`` settles these and trusts the rest as they are.
            self.timed: dict[int, dict[str, Any]] = {}
            # (kind, region) -> (the table, its version, its records in the region in creation order)
            self.listed: dict[tuple[str, str | None], tuple[Any, int, list[dict[str, Any]]]] = {}
            self.seq = 0
            self.zone_usage: dict[str, dict[str, int]] = {}
            self.region_eips: Counter[str] = Counter()
            self.calls.clear()
            self.call_log: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)
            self.call_seq = 0
            self.touched: list[str] = []
            self.touched_read: list[str] = []
            # Replication knobs (``lag_seconds`` for every pair without its own) and simulated disk writes.
            self.replication: dict[str, Any] = {"lag_seconds": 0.0}
            self.disk_io: dict[str, dict[str, int]] = {}
            self.dirty = True

    def zones(self, region_id: str) -> list[str]:
        return [f"{region_id}-{suffix}" for suffix in ("a", "b", "c")]

    def check_region(self, region_id: str | None) -> str:
        if not region_id:
            raise CloudError("MissingParameter",
                             'The input parameter "RegionId" that is mandatory for processing this request '
                             "is not supplied.")
        if region_id not in self.regions:
            raise CloudError("InvalidRegionId.NotFound", "The specified RegionId does not exist.", 404)
        return region_id

    def check_zone(self, region_id: str, zone_id: str | None) -> str:
        if not zone_id:
            raise CloudError("MissingParameter",
                             'The input parameter "ZoneId" that is mandatory for processing this request '
                             "is not supplied.")
        if zone_id not in self.zones(region_id):
            raise CloudError("InvalidZoneId.NotFound", "The specified zone does not exist.", 404)
        return zone_id

    # -- call log --------------------------------------------------------------------------------

    def touch(self, *ids: str, read: bool = False) -> None:
        """Name resources the current action changed (or, with ``read``, only read) beyond those in its
        parameters: the call log adds them to the call's entry."""
        (self.touched_read if read else self.touched).extend(i for i in ids if i)

    def log_call(self, *, action: str, product: str, ids: list[str], kind: str, outcome: str,
                 read_ids: list[str] | None = None) -> dict[str, Any]:
        """Record one call: the action, the resource ids it named or touched, read / write / dry_run, how it
        ended (``ok``, ``lost`` when applied but unanswered, ``error:<code>``, ``held``) and, for a write,
        ``written``: the ids it changes (all it names but those it only reads, like a clone's source)."""
        named = sorted(set(ids) | set(read_ids or ()))
        written = sorted(set(ids) - set(read_ids or ())) if kind == "write" else []
        with self.lock:
            self.call_seq += 1
            entry = {"seq": self.call_seq, "time": time.time(), "action": action, "product": product,
                     "ids": named, "written": written, "kind": kind, "outcome": outcome}
            self.call_log.append(entry)
            return entry

    def calls_for(self, *, resource_id: str | None = None, kind: str | None = None, action: str | None = None,
                  since: int = 0, applied_only: bool = False,
                  resource_ids: set[str] | None = None, written_ids: set[str] | None = None) -> list[dict[str, Any]]:
        """Entries after ``since`` naming ``resource_id`` (or any of ``resource_ids``), changing any of
        ``written_ids``, of a kind and action."""
        with self.lock:
            return [dict(e) for e in self.call_log
                    if e["seq"] > since and (resource_id is None or resource_id in e["ids"])
                    and (resource_ids is None or not resource_ids.isdisjoint(e["ids"]))
                    and (written_ids is None or not written_ids.isdisjoint(e["written"]))
                    and (kind is None or e["kind"] == kind) and (action is None or e["action"] == action)
                    and (not applied_only or e["outcome"] in ("ok", "lost"))]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- records and lazy states -----------------------------------------------------------------

    def add(self, kind: str, record: dict[str, Any], id_field: str) -> dict[str, Any]:
        record["_id"] = record[id_field]
        record["_seq"] = self.next_seq()
        record.setdefault("_tl", None)
        record.setdefault("_created", time.time())
        if record["_tl"] is not None:
            self.timed[id(record)] = record
        self.tables[kind][record[id_field]] = record
        self.dirty = True
        return record

    def schedule(self, record: dict[str, Any], *steps: str, now: float | None = None) -> None:
        """Put the record in ``steps[0]`` now and move it to each following step after one step length."""
        now = time.time() if now is None else now
        record["Status"] = steps[0]
        record["_tl"] = [[now + i * self.provision_seconds, s] for i, s in enumerate(steps[1:], start=1)] or None
        if record["_tl"] is not None:
            self.timed[id(record)] = record
        self.dirty = True

    def settle(self, kind: str, record: dict[str, Any], now: float) -> bool:
        """Bring the record's status up to ``now``; False when it has reached ``Deleted`` and is gone."""
        timeline = record["_tl"]
        if timeline is None:
            return True
        while timeline and timeline[0][0] <= now:
            record["Status"] = timeline.pop(0)[1]
            self.dirty = True
        if not timeline:
            record["_tl"] = None
        if record["Status"] == DELETED:
            self.remove(kind, record)
            return False
        return True

    def remove(self, kind: str, record: dict[str, Any]) -> None:
        hook = REMOVE_HOOKS.get(kind)
        if hook is not None:
            hook(self, record)
        self.timed.pop(id(record), None)
        id_value = record.get("_id")
        table = self.tables[kind]
        if id_value in table:
            del table[id_value]
        self.dirty = True

    def get(self, kind: str, rid: str | None, code: str, what: str) -> dict[str, Any]:
        record = self.tables[kind].get(rid or "")
        if record is None or not self.settle(kind, record, time.time()):
            raise CloudError(code, f"The specified {what} does not exist.", 404)
        return record

    def rows(self, kind: str, region_id: str | None = None, *, copy: bool = True) -> list[dict[str, Any]]:
        """Live records of a type (in creation order), settled to now, optionally in one region.

        Only records with a timeline can change state by themselves: those are settled (one that reaches
        ``Deleted`` leaves its table), then the region's list is taken from the last walk of the table
        while the table has not changed since, so paging through a large table costs a page, not a walk.
        ``copy=False`` hands that kept list itself to a caller that only reads it: a fresh copy of 100,000
        records per page is walked again by each of the collector's young passes while it lives (half of
        the CPU of paging 100,000 instances)."""
        now = time.time()
        table = self.tables[kind]
        if self.timed:
            for key, record in list(self.timed.items()):
                if record["_tl"] is None:
                    del self.timed[key]
                elif table.get(record.get("_id")) is record:
                    self.settle(kind, record, now)
                    if record["_tl"] is None:
                        self.timed.pop(key, None)
        version = getattr(table, "version", None)
        cached = self.listed.get((kind, region_id))
        if version is not None and cached is not None and cached[0] is table and cached[1] == version:
            return list(cached[2]) if copy else cached[2]
        out = []
        for record in list(table.values()):
            if record["_tl"] is not None and not self.settle(kind, record, now):
                continue
            if region_id is None or record.get("RegionId") == region_id:
                out.append(record)
        if version is not None and table.version == version:
            self.listed[(kind, region_id)] = (table, version, out)
            return list(out) if copy else out
        return out

    # -- capacity --------------------------------------------------------------------------------

    def usage(self, zone_id: str) -> dict[str, int]:
        return self.zone_usage.setdefault(zone_id, {"vcpu": 0, "memory_gib": 0, "private_ips": 0})

    def reserve_compute(self, zone_id: str, vcpu: int, memory_gib: int, ips: int, *, enforce: bool = True) -> None:
        used = self.usage(zone_id)
        if enforce:
            if used["vcpu"] + vcpu > self.capacity["zone_vcpu"] or \
                    used["memory_gib"] + memory_gib > self.capacity["zone_memory_gib"]:
                raise CloudError(
                    "OperationDenied.NoStock",
                    "The requested resource is sold out in the specified zone; try other types of resources "
                    "or other regions and zones.", 403)
            if used["private_ips"] + ips > self.capacity["zone_private_ips"]:
                raise CloudError("QuotaExceed.PrivateIpAddress",
                                 "The number of private IP addresses in the zone exceeds the quota.", 403)
        used["vcpu"] += vcpu
        used["memory_gib"] += memory_gib
        used["private_ips"] += ips

    def release_compute(self, zone_id: str, vcpu: int, memory_gib: int, ips: int) -> None:
        used = self.usage(zone_id)
        used["vcpu"] = max(0, used["vcpu"] - vcpu)
        used["memory_gib"] = max(0, used["memory_gib"] - memory_gib)
        used["private_ips"] = max(0, used["private_ips"] - ips)

    # -- statistics ------------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        with self.lock:
            counts = {}
            for kind in RESOURCE_TYPES:
                by_status: Counter[str] = Counter(r.get("Status", "") for r in self.rows(kind))
                counts[kind] = {"total": sum(by_status.values()), "by_status": dict(by_status)}
            return {
                "resources": counts,
                "calls": dict(self.calls),
                "zone_usage": self.zone_usage,
                "region_eips": dict(self.region_eips),
                "capacity": self.capacity,
                "provision_seconds": self.provision_seconds,
                "regions": self.regions,
            }

    # -- snapshots -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "seq": self.seq,
                "tables": {k: list(v.values()) for k, v in self.tables.items()},
                "zone_usage": self.zone_usage,
                "region_eips": dict(self.region_eips),
                "capacity": self.capacity,
                "replication": self.replication,
                "disk_io": self.disk_io,
            }

    def load_json(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.reset()
            self.seq = int(data.get("seq", 0))
            for kind, rows in data.get("tables", {}).items():
                if kind in self.tables:
                    self.tables[kind] = Table((r["_id"], r) for r in rows)
                    self.timed.update((id(r), r) for r in rows if r.get("_tl") is not None)
            self.zone_usage = data.get("zone_usage", {})
            self.region_eips = Counter(data.get("region_eips", {}))
            self.capacity.update(data.get("capacity", {}))
            self.replication.update(data.get("replication", {}))
            self.disk_io = data.get("disk_io", {})
            self.dirty = False

    def save(self, path: str | None = None) -> str | None:
        path = path or self.snapshot_path
        if not path:
            return None
        with self.lock:
            text = json.dumps(self.to_json(), separators=(",", ":"))
            self.dirty = False
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return path

    def load(self, path: str | None = None) -> bool:
        path = path or self.snapshot_path
        if not path or not os.path.exists(path):
            return False
        with open(path, encoding="utf-8") as fh:
            self.load_json(json.load(fh))
        return True

    def start_autosave(self, interval: float = 2.0) -> None:
        """Write the snapshot every ``interval`` seconds while something changed."""
        if not self.snapshot_path or self._saver is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                if self.dirty:
                    self.save()

        self._saver = threading.Thread(target=loop, name="cloudsim-snapshot", daemon=True)
        self._saver.start()

    def stop_autosave(self) -> None:
        self._stop.set()
        if self.snapshot_path:
            self.save()
