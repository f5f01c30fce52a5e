"""Writes of the inventory: collection (sync) of a platform, targeted refreshes and assignment.

A full sync is a ``SyncRun`` with an ``Operation`` that browsers follow live. Celery runs it in short
steps (``sync_step``), each of which does a bounded amount of work and records it before the next is
queued:

1. discover regions, zones, services and flavors; plan the units ([type, region]) to collect;
2. fetch pages of each unit for up to ``STEP_SECONDS`` (at least one page); new and changed resources
   are staged in full, unchanged ones only by id (their content hash and owner match the inventory). A
   thread fetches the pages ahead, across units and across steps that run in the same process
   (``_PageFeed``), so the cloud answers while pages are hashed and staged;
3. apply: in one transaction, insert new rows, update changed ones, flag the vanished ``deleted``
   (keeping their rows), undelete the returned, and drop the staged pages.

A transient cloud error is retried by re-running the same step with a growing countdown; a
permanent one, or too many transient ones, fails the run with the cloud's code and message and
leaves the inventory as it was. Steps are idempotent: a step that has already been recorded (a
task delivered twice) does nothing.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.clouds.adapters import adapter_for
from apps.clouds.adapters.base import CloudCallError, CloudResource
from apps.clouds.models import CloudPlatform, Region
from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.core.events import emit
from apps.core.models import Operation
from apps.core.scoping import authorize
from apps.core.services import operation_advance, operation_create, operation_fail, operation_succeed
from apps.resources.models import AssignmentRule, Resource, ResourceRelation, SyncPage, SyncRun, resource_id

logger = logging.getLogger(__name__)

STEP_SECONDS = 2.0
MAX_STEP_ATTEMPTS = 5
STALE_AFTER = timedelta(minutes=15)
BATCH = 2000
UPDATE_FIELDS = ["organization", "project", "assigned_by", "region", "zone", "service", "name", "status", "spec",
                 "tags", "vcpu", "memory_mib", "storage_gib", "resource_group", "vpc_id", "content_hash",
                 "last_changed_at", "deleted", "deleted_at"]


# -- content and ownership -----------------------------------------------------------------------------

def item_of(cr: CloudResource) -> dict[str, Any]:
    """The resource as staged and hashed: its fields, relations as sorted [kind, type, external id] lists.
    (The values are the adapter's own, not copies: nothing changes them between here and the database.)"""
    return {
        "type": cr.type, "external_id": cr.external_id, "region": cr.region, "name": cr.name, "status": cr.status,
        "zone": cr.zone, "spec": cr.spec, "tags": cr.tags,
        "relations": sorted([r.kind, r.target_type, r.target_external_id] for r in cr.relations),
        "vcpu": cr.vcpu, "memory_mib": cr.memory_mib, "storage_gib": cr.storage_gib,
        "resource_group": cr.resource_group, "vpc_id": cr.vpc_id,
    }


_HASHED = ("type", "region", "zone", "name", "status", "spec", "tags", "relations", "vcpu", "memory_mib",
           "storage_gib", "resource_group", "vpc_id")
# ``json.dumps`` with these options builds an encoder per call (a tenth of the hash's cost); the text is the same.
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, check_circular=False)


def content_hash(item: dict[str, Any]) -> str:
    payload = _HASH_ENCODER.encode([item.get(k) for k in _HASHED])
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


class Assigner:
    """The platform's assignment rules, loaded once, applied to staged items."""

    def __init__(self, platform: CloudPlatform):
        self.rules = list(AssignmentRule.objects.filter(platform=platform).order_by("priority", "created_at", "id")
                          .values_list("match", "key", "value", "organization_id", "project_id"))

    def owner(self, item: dict[str, Any]) -> tuple[Any, Any]:
        for match, key, value, org_id, project_id in self.rules:
            if match == "tag" and (item.get("tags") or {}).get(key) == value:
                return org_id, project_id
            if match == "resource_group" and item.get("resource_group") == value:
                return org_id, project_id
            if match == "vpc" and item.get("vpc_id") == value:
                return org_id, project_id
        return None, None


# -- starting ------------------------------------------------------------------------------------------

def _lock_platform(platform_id: str) -> CloudPlatform:
    return CloudPlatform.objects.select_for_update().get(pk=platform_id)


def _abandon_stale(platform: CloudPlatform) -> None:
    cutoff = timezone.now() - STALE_AFTER
    for run in SyncRun.objects.filter(platform=platform, status=SyncRun.Status.RUNNING).select_related("operation"):
        if run.operation.is_final or run.operation.updated_at < cutoff:
            _finish_failed(run, "Abandoned: no progress for 15 minutes or the operation ended.")


def sync_start(*, actor: Any, platform: CloudPlatform, check: bool = True) -> SyncRun:
    """Start a full collection of ``platform``. At most one runs per platform (409 otherwise)."""
    if check and not authorize(actor, "clouds:platform:operate", platform):
        raise Forbidden()
    if not platform.is_active:
        raise Conflict("The platform is disabled.", code="platform_disabled")
    with transaction.atomic():
        locked = _lock_platform(platform.pk)
        _abandon_stale(locked)
        running = SyncRun.objects.filter(platform=locked, status=SyncRun.Status.RUNNING).first()
        if running is not None:
            raise Conflict("A sync of this platform is already running.", code="sync_running",
                           detail={"operation": running.operation_id, "sync": running.id})
        op = operation_create(organization=locked.organization, kind="resources.sync", actor=actor,
                              target_type="cloud_platform", target_id=locked.pk, target_name=locked.name,
                              params={"platform": locked.pk}, message="Queued")
        run = SyncRun.objects.create(platform=locked, organization=locked.organization, operation=op, kind="full",
                                     actor=actor if getattr(actor, "is_authenticated", False) else None)
        emit(locked.organization_id, locked.topic, {"event": "sync_started", "sync": run.id, "operation": op.id})
        from apps.resources.tasks import sync_step_task

        transaction.on_commit(lambda: sync_step_task.apply_async((run.id, 1)))
    return run


# -- periodic collection ---------------------------------------------------------------------------------

SCHEDULED_SYNC_TASK = "apps.resources.tasks.platform_sync_scheduled_task"


def _schedule_name(platform_id: Any) -> str:
    return f"Sync {platform_id}"


def sync_schedule_update(*, platform: CloudPlatform) -> None:
    """Keep the platform's periodic collection (a django-celery-beat entry) in step with its
    ``sync_interval_minutes`` and ``is_active``: none while the interval is 0 or the platform is off."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    minutes = platform.sync_interval_minutes if platform.is_active else 0
    if not minutes:
        sync_schedule_delete(platform_id=platform.pk)
        return
    interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.update_or_create(name=_schedule_name(platform.pk), defaults={
        "task": SCHEDULED_SYNC_TASK, "interval": interval, "args": json.dumps([platform.pk]), "enabled": True,
        "description": f"Inventory collection of {platform.name}",
    })


def sync_schedule_delete(*, platform_id: Any) -> None:
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name=_schedule_name(platform_id)).delete()


# -- steps -----------------------------------------------------------------------------------------------

def _progress(run: SyncRun) -> int:
    units = max(1, len(run.units))
    return min(90, 5 + int(85 * run.unit_index / units))


def _finish_failed(run: SyncRun, error: str) -> None:
    _feed_drop(run.pk)
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != SyncRun.Status.RUNNING:
            return
        SyncPage.objects.filter(run=locked).delete()
        locked.status = SyncRun.Status.FAILED
        locked.error = error
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "error", "finished_at"])
        operation_fail(operation_id=locked.operation_id, error=error, message="Sync failed")
        emit(locked.organization_id, f"sync:{locked.platform_id}", {"event": "sync_failed", "sync": locked.id,
                                                                    "error": error})


def sync_step(*, run_id: str, step: int) -> tuple[bool, float, int]:
    """Run step ``step`` of a sync. Returns (another step follows, countdown, its number)."""
    run = SyncRun.objects.select_related("platform", "operation").filter(pk=run_id).first()
    if run is None or run.status != SyncRun.Status.RUNNING or step != run.step + 1:
        return False, 0.0, step
    if run.operation.status == Operation.Status.CANCELLED:
        _finish_failed(run, "Cancelled.")
        return False, 0.0, step
    try:
        if not run.units and run.kind == "full" and run.step == 0:
            _step_plan(run, step)
        elif run.unit_index < len(run.units):
            _step_fetch(run, step)
        else:
            _step_apply(run, step)
            return False, 0.0, step
    except CloudCallError as exc:
        detail = f"{exc.code}: {exc.message}"
        if exc.transient:
            attempts = SyncRun.objects.filter(pk=run.pk).values_list("attempts", flat=True).first() + 1
            if attempts < MAX_STEP_ATTEMPTS:
                SyncRun.objects.filter(pk=run.pk).update(attempts=attempts)
                delay = min(30.0, 0.5 * (2 ** attempts))
                Operation.objects.filter(pk=run.operation_id).update(message=f"Retrying after {detail}"[:500])
                return True, delay, step
        _finish_failed(run, detail)
        return False, 0.0, step
    except ValueError as exc:  # unreadable credentials
        _finish_failed(run, str(exc))
        return False, 0.0, step
    return True, 0.0, step + 1


def _record(run: SyncRun, step: int, message: str, fields: list[str]) -> bool:
    """Save the run's progress for ``step`` unless another delivery of the step got there first."""
    current = SyncRun.objects.select_for_update().get(pk=run.pk)
    if current.status != SyncRun.Status.RUNNING or current.step != step - 1:
        transaction.set_rollback(True)
        return False
    run.step = step
    run.attempts = 0
    run.save(update_fields=[*fields, "step", "attempts"])
    operation_advance(operation_id=run.operation_id, step=step, progress=_progress(run), message=message)
    return True


def _step_plan(run: SyncRun, step: int) -> None:
    from apps.clouds.selectors import platform_collected_types
    from apps.clouds.services import platform_discover_catalog, platform_discover_regions

    platform = run.platform
    adapter = adapter_for(platform)
    platform_discover_regions(platform=platform, adapter=adapter)
    platform_discover_catalog(platform=platform, adapter=adapter)
    regions = list(Region.objects.filter(platform=platform, enabled=True).values_list("region_id", flat=True))
    types = platform_collected_types(platform)  # a switched-off service is not collected
    run.units = [[t, r] for r in regions for t in types]
    with transaction.atomic():
        _record(run, step, f"Found {len(regions)} regions; collecting {len(types)} resource types", ["units"])


def fails_alone(platform: CloudPlatform, resource_type: str) -> bool:
    """Whether a permanent failure listing ``resource_type`` leaves the rest of the collection running: so for
    the services an adapter's companion modules add (a product the platform may not have, or may not grant).
    A core service failing means the platform's connection is broken, and the run fails."""
    from apps.clouds.adapters.extensions import listing

    return listing(platform.type, resource_type) is not None


FEED_DEPTH = 8  # pages fetched ahead of the step that takes them
FEED_IDLE_SECONDS = 30.0  # a feed nobody takes from (the next step ran in another process) stops


class _PageFeed:
    """The pages of a run's units, fetched in order by a thread up to ``FEED_DEPTH`` pages ahead of the step
    that takes them, a unit's last page followed by the next unit's first: while a step hashes, compares and
    stages pages (and while the database takes them), the thread asks the cloud for the next ones.

    A feed outlives its step in this process (``_feed_park``): the run's next step, when it runs here, takes
    the pages fetched meanwhile; one that runs elsewhere starts its own, and this one stops after
    ``FEED_IDLE_SECONDS``. Each page is taken by its (unit index, page token), so a step that asks for another
    page than the next (a retried step, a unit left out) starts the thread again from there; a page whose
    fetch failed raises its error when taken, and the thread stops at it."""

    def __init__(self, run_id: str, adapter: Any, units: list[list[str]]):
        self.run_id = run_id
        self.adapter = adapter
        self.units = [tuple(u) for u in units]
        self.queue: queue.Queue = queue.Queue(maxsize=FEED_DEPTH)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.next_key: tuple[int, str | None] | None = None
        self.parked_at = 0.0

    def _start(self, key: tuple[int, str | None]) -> None:
        self.halt()
        self.queue, self.stopped, self.next_key = queue.Queue(maxsize=FEED_DEPTH), threading.Event(), key
        self.thread = threading.Thread(target=self._produce, args=(key, self.queue, self.stopped), daemon=True,
                                       name=f"sync-fetch-{self.run_id}")
        self.thread.start()

    def _produce(self, key: tuple[int, str | None], out: queue.Queue, stopped: threading.Event) -> None:
        index, token = key
        while index < len(self.units) and not stopped.is_set():
            try:
                page = self.adapter.list_resources(*self.units[index], token)
            except Exception as exc:  # the step that takes this page decides what it means
                self._put(out, stopped, ((index, token), None, exc))
                return
            if not self._put(out, stopped, ((index, token), page, None)):
                return
            index, token = (index, page.next_token) if page.next_token is not None else (index + 1, None)

    @staticmethod
    def _put(out: queue.Queue, stopped: threading.Event, entry: tuple) -> bool:
        idle_until = time.monotonic() + FEED_IDLE_SECONDS
        while not stopped.is_set():
            try:
                out.put(entry, timeout=0.2)
                return True
            except queue.Full:
                if time.monotonic() > idle_until:
                    stopped.set()
        return False

    def get(self, index: int, token: str | None) -> Any:
        """The page ``token`` of unit ``index`` (its error raised)."""
        key = (index, token)
        if self.thread is None or self.next_key != key:
            self._start(key)
        while True:
            try:
                got, page, error = self.queue.get(timeout=0.5)
            except queue.Empty:
                if self.thread is not None and not self.thread.is_alive() and self.queue.empty():
                    self._start(key)  # stopped while idle: start again from here
                continue
            if got == key:
                break
            self._start(key)  # cannot happen: pages come in order
        if error is not None:
            self.halt()
            raise error
        self.next_key = (index, page.next_token) if page.next_token is not None else (index + 1, None)
        return page

    def halt(self) -> None:
        """Stop the thread (after the call it is in, if any) and drop what it fetched."""
        self.stopped.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        self.thread, self.next_key = None, None


_feeds: dict[str, _PageFeed] = {}
_feeds_lock = threading.Lock()


def _feed_take(run: SyncRun) -> _PageFeed:
    """The run's feed parked here by its previous step, or a new one."""
    with _feeds_lock:
        feed = _feeds.pop(run.pk, None)
    if feed is None or feed.units != [tuple(u) for u in run.units]:
        if feed is not None:
            feed.halt()
        feed = _PageFeed(run.pk, adapter_for(run.platform), run.units)
    return feed


def _feed_park(feed: _PageFeed) -> None:
    """Keep ``feed`` fetching for the run's next step; drop feeds whose next step never came here."""
    now = time.monotonic()
    feed.parked_at = now
    with _feeds_lock:
        stale = [k for k, f in _feeds.items() if now - f.parked_at > FEED_IDLE_SECONDS]
        dropped = [_feeds.pop(k) for k in stale]
        _feeds[feed.run_id] = feed
    for f in dropped:
        f.halt()


def _feed_drop(run_id: str) -> None:
    with _feeds_lock:
        feed = _feeds.pop(run_id, None)
    if feed is not None:
        feed.halt()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off: a fetch step makes hundreds of thousands of short-lived,
    acyclic objects (pages, items, their dicts), and each full pass the collector starts meanwhile walks
    the whole process again (measured: this process's CPU for collecting 50,000 resources 6.2 s -> 3.6 s).
    Refcounting frees them as usual; the collector runs again after the step. (A step that overlaps
    another's pause in another thread may end it early: harmless.)"""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _step_fetch(run: SyncRun, step: int) -> None:
    feed = _feed_take(run)
    try:
        with _collector_paused():
            _fetch_pages(run, step, run.platform, feed)
    except BaseException:
        feed.halt()
        raise
    if run.unit_index < len(run.units):
        _feed_park(feed)
    else:
        feed.halt()


def _fetch_pages(run: SyncRun, step: int, platform: CloudPlatform, feed: _PageFeed) -> None:
    assigner = Assigner(platform)
    deadline = time.monotonic() + STEP_SECONDS
    pages: list[SyncPage] = []
    seq = run.pages
    held: dict[str, bool] = {}  # resource type -> whether the inventory has any of the platform's
    # At least one page per step, whatever the time: each step moves the run on.
    while run.unit_index < len(run.units) and (seq == run.pages or time.monotonic() < deadline):
        resource_type, region = run.units[run.unit_index]
        try:
            page = feed.get(run.unit_index, run.page_token or None)
        except CloudCallError as exc:
            if not fails_alone(platform, resource_type):
                raise
            if exc.transient and run.attempts + 1 < MAX_STEP_ATTEMPTS:
                raise  # tried again after a pause; the last try leaves this service out instead
            # This service failed on its own (a product the platform lacks or does not answer for, a
            # permission it refuses): the run goes on without it, and nothing of it is staged (so nothing
            # of it counts as gone).
            pages = [p for p in pages if (p.resource_type, p.region) != (resource_type, region)]
            SyncPage.objects.filter(run=run, resource_type=resource_type, region=region).delete()
            run.error = (run.error + "\n" if run.error else "") + \
                f"{resource_type} in {region} not collected: {exc.code}: {exc.message}"[:1000]
            run.unit_index += 1
            run.page_token = ""
            continue
        items = [item_of(cr) for cr in page.items]
        # Looked up by the external id index alone: a planner that prefers the platform or type
        # index would scan the whole platform once per page.
        if resource_type not in held:
            # A type the inventory holds nothing of (a first collection) has nothing to look up page by
            # page. (A row written meanwhile, by a refresh after an operation, is found by the apply.)
            held[resource_type] = Resource.objects.filter(platform=platform, type=resource_type).exists()
        known = _known(platform, resource_type, [i["external_id"] for i in items]) if held[resource_type] else {}
        staged = []
        for item in items:
            item["hash"] = content_hash(item)
            org, project = assigner.owner(item)
            item["owner"] = [str(org) if org else None, str(project) if project else None]
            old = known.get(item["external_id"])
            if old is None or old[0] != item["hash"] or old[3] or (
                    old[4] != "manual" and [old[1], old[2]] != item["owner"]):
                staged.append(item)
        seq += 1
        pages.append(SyncPage(run=run, seq=seq, resource_type=resource_type, region=region, items=staged,
                              seen=[i["external_id"] for i in items]))
        run.fetched += len(items)
        if page.next_token is None:
            run.unit_index += 1
            run.page_token = ""
        else:
            run.page_token = page.next_token
    run.pages = seq
    label = (f"Collected {run.fetched} resources ({run.unit_index}/{len(run.units)} type-regions)")
    with transaction.atomic():
        if _record(run, step, label, ["fetched", "unit_index", "page_token", "pages", "error"]):
            _stage(pages)


def _known(platform: CloudPlatform, resource_type: str, external_ids: list[str]) -> dict[str, tuple]:
    """What the inventory holds of these resources of the platform: external id -> (content hash,
    organization, project (as text), deleted, assigned by). One statement per page, looked up by the
    external id index alone (a planner that preferred the platform or type index would scan the whole
    platform once per page); written out, as the ORM's compiling of it cost three times its running."""
    if not external_ids:
        return {}
    table = Resource._meta.db_table
    marks = ", ".join(["%s"] * len(external_ids))
    platform_key = Resource._meta.get_field("platform").get_db_prep_value(platform.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id, content_hash, organization_id, project_id, deleted, assigned_by, "
                       f"platform_id, type FROM {connection.ops.quote_name(table)} WHERE external_id IN ({marks})",
                       external_ids)
        rows = cursor.fetchall()
    return {ext: (h, _key_text(org), _key_text(project), bool(deleted), by)
            for ext, h, org, project, deleted, by, pid, t in rows if pid == platform_key and t == resource_type}


def _key_text(value: Any) -> str | None:
    """A UUID key as read by a plain statement (a UUID, or 32 hex digits on SQLite) in its text form."""
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _stage(pages: list[SyncPage]) -> None:
    fields = [SyncPage._meta.get_field(name) for name in ("run", "seq", "resource_type", "region", "items", "seen")]
    insert_rows(SyncPage._meta.db_table, [f.column for f in fields],
                [tuple(f.get_db_prep_save(getattr(page, f.attname), connection) for f in fields) for page in pages])


def _step_apply(run: SyncRun, step: int) -> None:
    platform = run.platform
    now = timezone.now()
    with transaction.atomic():
        current = SyncRun.objects.select_for_update().get(pk=run.pk)
        if current.status != SyncRun.Status.RUNNING or current.step != step - 1:
            return
        counts = apply_pages(platform=platform, run=current, now=now)
        SyncPage.objects.filter(run=current).delete()
        current.status = SyncRun.Status.SUCCEEDED
        current.step = step
        current.finished_at = now
        for key, value in counts.items():
            setattr(current, key, value)
        current.save(update_fields=["status", "step", "finished_at", *counts])
        CloudPlatform.objects.filter(pk=platform.pk).update(last_synced_at=now)
        summary = (f"{current.fetched} resources: {counts['created']} new, {counts['updated']} changed, "
                   f"{counts['deleted']} gone, {counts['unchanged']} unchanged")
        if current.error:
            failed = current.error.count("\n") + 1
            summary += f"; {failed} type-region{'s' if failed != 1 else ''} not collected (see the run)"
        operation_advance(operation_id=current.operation_id, step=step, progress=99, message="Applied")
        operation_succeed(operation_id=current.operation_id, message=summary, result={"sync": current.id, **counts})
        emit(platform.organization_id, platform.topic, {"event": "sync_finished", "sync": current.id, **counts})


def apply_pages(*, platform: CloudPlatform, run: SyncRun, now) -> dict[str, int]:
    """Write the staged pages of ``run`` to the inventory (inside the caller's transaction).

    On PostgreSQL new rows, their relations and the vanished are written by set-based statements over
    the staged pages (``_apply_pages_in_database``). Elsewhere new rows and their relations are written
    as rows of values (one prepared INSERT for many rows) and changed rows by one prepared UPDATE for many
    rows: building a model object and compiling a statement for each of 100,000 rows cost more than
    storing them."""
    if connection.vendor == "postgresql":
        return _apply_pages_in_database(platform=platform, run=run, now=now)
    return _apply_pages_in_python(platform=platform, run=run, now=now)


def _apply_pages_in_python(*, platform: CloudPlatform, run: SyncRun, now) -> dict[str, int]:
    existing: dict[tuple[str, str], tuple[str, str, bool, str]] = {
        (t, e): (pk, by, deleted, region) for pk, t, e, by, deleted, region in Resource.objects.filter(
            platform=platform).values_list("id", "type", "external_id", "assigned_by", "deleted", "region")
        .iterator(chunk_size=5000)
    }
    writer = _RowWriter(platform, now)
    seen: set[tuple[str, str]] = set()
    creates: list[tuple] = []
    updates: list[tuple] = []
    edges: dict[tuple[str, str, str, str], None] = {}
    changed_ids: list[str] = []
    scanned_units: set[tuple[str, str]] = set()
    for page in SyncPage.objects.filter(run=run).order_by("seq").iterator(chunk_size=50):
        scanned_units.add((page.resource_type, page.region))
        seen.update((page.resource_type, e) for e in page.seen)
        for item in page.items:
            key = (item["type"], item["external_id"])
            old = existing.get(key)
            org, project = item["owner"]
            if old is None:
                rid = resource_id()
                creates.append(writer.create(rid, item, org, project))
                existing[key] = (rid, "", False, item["region"])
            else:
                rid = old[0]
                if old[1] == "manual":
                    # An administrator's choice stands until they change it.
                    org, project, by = _manual_owner(rid)
                else:
                    by = "rule" if org else ""
                updates.append(writer.update(rid, item, org, project, by))
                changed_ids.append(rid)
            for kind, target_type, target in item["relations"]:
                edges[(rid, kind, target_type, target)] = None
    writer.insert_resources(creates)
    writer.update_resources(updates)
    for i in range(0, len(changed_ids), BATCH):
        ResourceRelation.objects.filter(source_id__in=changed_ids[i:i + BATCH]).delete()
    # Every source here is new or has just lost its edges: no edge can exist already.
    writer.insert_relations(list(edges))
    # Only what this run listed can have vanished: a disabled region's resources stay as they were.
    # A unit that failed on its own staged no page: its resources are not judged gone.
    units = {(t, r) for t, r in run.units} & scanned_units
    vanished = [pk for (t, e), (pk, _by, deleted, region) in existing.items()
                if not deleted and (t, e) not in seen and (t, region) in units]
    for i in range(0, len(vanished), BATCH):
        Resource.objects.filter(pk__in=vanished[i:i + BATCH]).update(deleted=True, deleted_at=now, last_changed_at=now)
    unchanged = len(seen) - len(creates) - len(updates)
    return {"created": len(creates), "updated": len(updates), "deleted": len(vanished), "unchanged": max(0, unchanged)}


# The staged items of a run, the last staging of each (type, external id) (a resource listed twice, on
# pages that shifted while the cloud was paged, is applied as its last page saw it).
_STAGED_ITEMS = """
    SELECT DISTINCT ON (x.item->>'type', x.item->>'external_id') x.item, p.seq
    FROM resources_syncpage p CROSS JOIN LATERAL jsonb_array_elements(p.items) WITH ORDINALITY AS x(item, n)
    WHERE p.run_id = %(run)s
    ORDER BY x.item->>'type', x.item->>'external_id', p.seq DESC, x.n DESC"""
# The id of a new row: ``resource_id()``'s form (``res-``, 12 hex digits of milliseconds, 64 random bits
# from the 122 of a version 4 UUID, skipping its version and variant digits).
_NEW_ID = """'res-' || lpad(to_hex((extract(epoch FROM %(now)s::timestamptz) * 1000)::bigint), 12, '0')
    || substr(hex, 1, 12) || substr(hex, 14, 3) || substr(hex, 18, 1)"""


def _apply_pages_in_database(*, platform: CloudPlatform, run: SyncRun, now) -> dict[str, int]:
    """``apply_pages`` on PostgreSQL: the staged pages never come back to Python but for changed rows.

    The new resources and their relations are one INSERT ... SELECT over the staged items, the vanished
    one UPDATE with an anti-join on the listed ids; only the items of resources the inventory holds come
    back (few in a collection that is not the first), to be updated as elsewhere (an administrator's
    assignment stands). Reading 100,000 staged items back and sending them again as rows cost more
    than the whole fetch."""
    writer = _RowWriter(platform, now)
    params = {"run": run.pk, "platform": writer._platform, "now": writer._time}
    units = {(t, r) for t, r in run.units}
    updates: list[tuple] = []
    edges: dict[tuple[str, str, str, str], None] = {}
    with connection.cursor() as cursor:
        # Sorting 100,000 staged items (by their key, then by their new id) spilled to disk with the default
        # 4 MB.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        # Resources the inventory holds and that the pages staged (changed, returned or re-owned).
        cursor.execute(f"""
            SELECT r.id, r.assigned_by, s.item::text FROM ({_STAGED_ITEMS}) s
            JOIN resources_resource r ON r.platform_id = %(platform)s AND r.type = s.item->>'type'
                AND r.external_id = s.item->>'external_id'""", params)
        held = cursor.fetchall()
        for rid, assigned_by, text in held:
            item = json.loads(text)
            org, project = item["owner"]
            if assigned_by == "manual":
                org, project, by = _manual_owner(rid)
            else:
                by = "rule" if org else ""
            updates.append(writer.update(rid, item, org, project, by))
            for kind, target_type, target in item["relations"]:
                edges[(rid, kind, target_type, target)] = None
        # Only what this run listed can have vanished: a disabled region's resources stay as they were.
        # A unit that failed on its own staged no page: its resources are not judged gone.
        # The anti-join is a set difference, which PostgreSQL hashes or sorts: with no statistics on the
        # staged ids, a NOT EXISTS was planned as a nested loop (minutes for 30,000 rows).
        cursor.execute("""
            UPDATE resources_resource r SET deleted = true, deleted_at = %(now)s, last_changed_at = %(now)s
            FROM (SELECT r.type, r.external_id FROM resources_resource r
                  JOIN (SELECT DISTINCT resource_type, region FROM resources_syncpage WHERE run_id = %(run)s
                        AND (resource_type, region) IN (
                            SELECT * FROM unnest(%(unit_types)s::text[], %(unit_regions)s::text[]))) listed
                    ON listed.resource_type = r.type AND listed.region = r.region
                  WHERE r.platform_id = %(platform)s AND NOT r.deleted
                  EXCEPT
                  SELECT p.resource_type, e.id FROM resources_syncpage p
                  CROSS JOIN LATERAL jsonb_array_elements_text(p.seen) AS e(id) WHERE p.run_id = %(run)s) gone
            WHERE r.platform_id = %(platform)s AND r.type = gone.type AND r.external_id = gone.external_id""",
                       {**params, "unit_types": [t for t, _r in units], "unit_regions": [r for _t, r in units]})
        deleted = cursor.rowcount
        cursor.execute("""
            SELECT count(*) FROM (SELECT DISTINCT p.resource_type, e.id FROM resources_syncpage p
            CROSS JOIN LATERAL jsonb_array_elements_text(p.seen) AS e(id) WHERE p.run_id = %(run)s) s""", params)
        seen = cursor.fetchone()[0]
        writer.update_resources(updates)
        changed_ids = [row[-1] for row in updates]
        for i in range(0, len(changed_ids), BATCH):
            ResourceRelation.objects.filter(source_id__in=changed_ids[i:i + BATCH]).delete()
        writer.insert_relations(list(edges))
        # The new rows and their relations, in the order of their ids: most of the inventory's indexes end
        # with the id (descending), and rows that arrive in that order are appended to each index's last
        # page instead of landing on random ones (half the database's time for 50,000 rows: 1.1 s of CPU
        # against 2.3 s).
        cursor.execute(f"""
            WITH staged AS MATERIALIZED ({_STAGED_ITEMS}),
            new AS MATERIALIZED (
                SELECT u.item, {_NEW_ID} AS id FROM (
                    SELECT s.item, replace(gen_random_uuid()::text, '-', '') AS hex FROM staged s
                    WHERE NOT EXISTS (SELECT 1 FROM resources_resource r WHERE r.platform_id = %(platform)s
                                      AND r.type = s.item->>'type' AND r.external_id = s.item->>'external_id')) u),
            created AS (
                INSERT INTO resources_resource (id, platform_id, organization_id, project_id, assigned_by, region,
                    zone, service, type, external_id, name, status, spec, tags, vcpu, memory_mib, storage_gib,
                    resource_group, vpc_id, content_hash, first_seen_at, last_changed_at, deleted, deleted_at)
                SELECT id, %(platform)s, (i->'owner'->>0)::uuid, (i->'owner'->>1)::uuid,
                    CASE WHEN i->'owner'->>0 IS NULL THEN '' ELSE 'rule' END, i->>'region', i->>'zone',
                    split_part(i->>'type', '.', 1), i->>'type', i->>'external_id', left(i->>'name', 255),
                    left(i->>'status', 32), i->'spec', i->'tags', (i->>'vcpu')::bigint, (i->>'memory_mib')::bigint,
                    (i->>'storage_gib')::bigint, left(i->>'resource_group', 128), left(i->>'vpc_id', 128),
                    i->>'hash', %(now)s, %(now)s, false, NULL
                FROM new AS n(i, id) ORDER BY id DESC
                RETURNING id, type, external_id),
            edges AS (
                INSERT INTO resources_resourcerelation (source_id, platform_id, kind, target_type, target_external_id)
                SELECT DISTINCT c.id, %(platform)s, e.edge->>0, e.edge->>1, e.edge->>2 FROM created c
                JOIN new n ON n.item->>'type' = c.type AND n.item->>'external_id' = c.external_id
                CROSS JOIN LATERAL jsonb_array_elements(n.item->'relations') AS e(edge) ORDER BY c.id)
            SELECT count(*) FROM created""", params)
        created = cursor.fetchone()[0]
    unchanged = seen - created - len(updates)
    return {"created": created, "updated": len(updates), "deleted": deleted, "unchanged": max(0, unchanged)}


class _RowWriter:
    """Rows of ``resources_resource`` and ``resources_resourcerelation`` as database values, and their
    writing in bulk. Values are prepared the way the fields prepare them (JSON, keys, times), once per
    distinct owner and once per run for the time."""

    CREATE_FIELDS = [f for f in Resource._meta.concrete_fields]
    UPDATE_FIELDS = [Resource._meta.get_field(name) for name in UPDATE_FIELDS]
    RELATION_COLUMNS = ("source_id", "platform_id", "kind", "target_type", "target_external_id")

    def __init__(self, platform: CloudPlatform, now: Any):
        self.platform = platform
        self.now = now
        self.connection = connection
        field = Resource._meta.get_field
        self._spec, self._tags = field("spec"), field("tags")
        self._time = field("last_changed_at").get_db_prep_save(now, connection)
        self._platform = field("platform").get_db_prep_save(platform.pk, connection)
        self._keys: dict[tuple[str, Any], Any] = {}

    def _key(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        cached = self._keys.get((name, value))
        if cached is None:
            cached = self._keys[(name, value)] = Resource._meta.get_field(name).get_db_prep_save(
                value, self.connection)
        return cached

    def _values(self, item: dict[str, Any], org: Any, project: Any, by: str) -> dict[str, Any]:
        return {
            "organization": self._key("organization", org), "project": self._key("project", project),
            "assigned_by": by, "region": item["region"], "zone": item["zone"], "service": item["type"].split(".")[0],
            "name": item["name"][:255], "status": item["status"][:32],
            "spec": self._spec.get_db_prep_save(item["spec"], self.connection),
            "tags": self._tags.get_db_prep_save(item["tags"], self.connection),
            "vcpu": item["vcpu"], "memory_mib": item["memory_mib"], "storage_gib": item["storage_gib"],
            "resource_group": item["resource_group"][:128], "vpc_id": item["vpc_id"][:128],
            "content_hash": item["hash"], "last_changed_at": self._time, "deleted": False, "deleted_at": None,
        }

    def create(self, rid: str, item: dict[str, Any], org: Any, project: Any) -> tuple:
        values = self._values(item, org, project, "rule" if org else "")
        values.update({"id": rid, "platform": self._platform, "type": item["type"],
                       "external_id": item["external_id"], "first_seen_at": self._time})
        return tuple(values[f.name] for f in self.CREATE_FIELDS)

    def update(self, rid: str, item: dict[str, Any], org: Any, project: Any, by: str) -> tuple:
        values = self._values(item, org, project, by)
        return (*(values[f.name] for f in self.UPDATE_FIELDS), rid)

    def insert_resources(self, rows: list[tuple]) -> None:
        insert_rows(Resource._meta.db_table, [f.column for f in self.CREATE_FIELDS], rows)

    def update_resources(self, rows: list[tuple]) -> None:
        if not rows:
            return
        quote = self.connection.ops.quote_name
        sets = ", ".join(f"{quote(f.column)} = %s" for f in self.UPDATE_FIELDS)
        sql = f"UPDATE {quote(Resource._meta.db_table)} SET {sets} WHERE {quote('id')} = %s"
        with self.connection.cursor() as cursor:
            for i in range(0, len(rows), BATCH):
                cursor.executemany(sql, rows[i:i + BATCH])

    def insert_relations(self, edges: list[tuple[str, str, str, str]]) -> None:
        rows = [(rid, self._platform, kind, target_type, target) for rid, kind, target_type, target in edges]
        insert_rows(ResourceRelation._meta.db_table, list(self.RELATION_COLUMNS), rows)


def insert_rows(table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows of database values (prepared as the fields prepare them): ``COPY`` on PostgreSQL, else
    one prepared INSERT run for many rows. (Django's ``bulk_create`` on PostgreSQL sends arrays of
    values that the client quotes one by one, which for staged pages of JSON cost more than the fetch.)"""
    if not rows:
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        for i in range(0, len(rows), BATCH):
            cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows[i:i + BATCH])


def _manual_owner(resource_id: str) -> tuple[Any, Any, str]:
    org, project = Resource.objects.filter(pk=resource_id).values_list("organization_id", "project_id").first()
    return org, project, "manual"


def sync_drive(*, run_id: str, sleep: bool = True) -> SyncRun:
    """Run the remaining steps of a sync in this process (tests, benchmarks, management commands)."""
    step = SyncRun.objects.values_list("step", flat=True).get(pk=run_id) + 1
    while True:
        more, delay, step = sync_step(run_id=run_id, step=step)
        if not more:
            break
        if delay and sleep:
            time.sleep(delay)
    return SyncRun.objects.get(pk=run_id)


# -- one resource ---------------------------------------------------------------------------------------

ASK_THE_CLOUD: Any = object()

# (type, external id, what the cloud reported: a ``CloudResource`` or ``None`` for gone, claim)
Reported = tuple[str, str, CloudResource | None, tuple[Any, Any] | None]


def resource_refresh(*, platform: CloudPlatform, resource_type: str, region: str, external_id: str,
                     adapter: Any = None, found: Any = ASK_THE_CLOUD, claim: tuple[Any, Any] | None = None,
                     announce: bool = True) -> Resource | None:
    """Collect one resource now (after an operation on it): upsert it, or flag it deleted if gone.

    ``found`` is what the cloud has just reported for it (a ``CloudResource``, or ``None``: gone), when the
    caller has looked already; else the cloud is asked. ``claim`` is an (organization, project) that takes
    the resource when the rules would give it to another organization (the request that created it), as
    an administrator's assignment would. ``announce=False`` leaves the ``resource_changed`` event to the
    caller (who has more to say)."""
    if found is ASK_THE_CLOUD:
        found = (adapter or adapter_for(platform)).get_resource(resource_type, region, external_id)
    return resources_refresh(platform=platform, reported=[(resource_type, external_id, found, claim)],
                             announce=announce)[0]


def resources_refresh(*, platform: CloudPlatform, reported: list[Reported], announce: bool = True
                      ) -> list[Resource | None]:
    """``resource_refresh`` of resources the cloud has just reported (a poll round's finished operations), by
    the same rules, in one transaction: one locking read of their rows, one insert of the new ones, one of
    their relations; a changed row is saved on its own. Returns each one's row (``None``: gone and never
    known), in the order given."""
    if not reported:
        return []
    now = timezone.now()
    by_type: dict[str, list[str]] = {}
    for resource_type, external_id, _cr, _claim in reported:
        by_type.setdefault(resource_type, []).append(external_id)
    keys = Q()
    for resource_type, external_ids in by_type.items():
        keys |= Q(type=resource_type, external_id__in=external_ids)
    with transaction.atomic():
        rows = {(r.type, r.external_id): r for r in Resource.objects.select_for_update().filter(keys, platform=platform)
                .order_by("pk")}
        assigner: Assigner | None = None
        written: dict[tuple[str, str], tuple[Resource, CloudResource]] = {}
        created: set[tuple[str, str]] = set()
        out: list[Resource | None] = []
        for resource_type, external_id, cr, claim in reported:
            key = (resource_type, external_id)
            row = rows.get(key)
            if cr is None:
                if row is not None and not row.deleted:
                    row.deleted, row.deleted_at, row.last_changed_at = True, now, now
                    if key not in written:
                        row.save(update_fields=["deleted", "deleted_at", "last_changed_at"])
                out.append(row)
                continue
            item = item_of(cr)
            item["hash"] = content_hash(item)
            assigner = assigner or Assigner(platform)
            org, project = assigner.owner(item)
            by = "rule" if org else ""
            if row is not None and row.assigned_by == "manual":
                org, project, by = row.organization_id, row.project_id, "manual"
            if claim is not None and org != claim[0]:
                org, project, by = claim[0], claim[1], "manual"
            same_owner = row is not None and (row.organization_id, row.project_id) == (org, project)
            if row is not None and row.content_hash == item["hash"] and not row.deleted and same_owner:
                out.append(row)
                continue
            fields = {
                "region": cr.region, "zone": cr.zone, "service": cr.service, "name": cr.name[:255],
                "status": cr.status[:32],
                "spec": cr.spec, "tags": cr.tags, "vcpu": cr.vcpu, "memory_mib": cr.memory_mib,
                "storage_gib": cr.storage_gib, "resource_group": cr.resource_group[:128], "vpc_id": cr.vpc_id[:128],
                "content_hash": item["hash"], "last_changed_at": now, "deleted": False, "deleted_at": None,
                "organization_id": org, "project_id": project, "assigned_by": by,
            }
            if row is None:
                row = rows[key] = Resource(platform=platform, type=resource_type, external_id=external_id,
                                           first_seen_at=now, **fields)
                created.add(key)
            else:
                for k, v in fields.items():
                    setattr(row, k, v)
            written[key] = (row, cr)
            out.append(row)
        Resource.objects.bulk_create([written[key][0] for key in written if key in created])
        changed = [row for key, (row, _cr) in written.items() if key not in created]
        for row in changed:
            row.save()
        if changed:
            ResourceRelation.objects.filter(source__in=changed).delete()
        ResourceRelation.objects.bulk_create([
            ResourceRelation(source=row, platform=platform, kind=r.kind, target_type=r.target_type,
                             target_external_id=r.target_external_id)
            for row, cr in written.values() for r in cr.relations
        ], ignore_conflicts=True)
        if announce:
            for row, _cr in written.values():
                emit(row.organization_id, row.topic, {"event": "resource_changed", "id": row.id, "status": row.status})
    return out


# -- ownership -------------------------------------------------------------------------------------------

def _can_assign_to(actor: Any, org: Any) -> bool:
    return authorize(actor, "resources:resource:write", Resource(organization=org))


def resource_assign(*, actor: Any, resource: Resource, organization: Any, project: Any = None) -> Resource:
    """An administrator's assignment; it outlives syncs and rules (``assigned_by = manual``)."""
    if not authorize(actor, "resources:resource:write", resource):
        raise Forbidden()
    if organization is not None and not _can_assign_to(actor, organization):
        raise Forbidden("You may not assign resources to that organization.")
    if project is not None and (organization is None or project.organization_id != organization.pk):
        raise InvalidInput("The project must belong to the organization.", detail={"project": ["mismatch"]})
    resource.organization = organization
    resource.project = project
    resource.assigned_by = "manual" if organization is not None else ""
    resource.save(update_fields=["organization", "project", "assigned_by"])
    emit(resource.organization_id, resource.topic, {"event": "resource_assigned", "id": resource.id})
    return resource


@transaction.atomic
def assignment_rule_create(*, actor: Any, platform: CloudPlatform, match: str, value: str, organization: Any,
                           key: str = "", project: Any = None, priority: int = 100) -> AssignmentRule:
    if not authorize(actor, "resources:rule:write", AssignmentRule(organization=organization)):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    if match not in AssignmentRule.Match.values:
        errors["match"] = [f"one of {', '.join(AssignmentRule.Match.values)}"]
    if match == "tag" and not key:
        errors["key"] = ["a tag rule needs the tag key"]
    if not value or len(value) > 255:
        errors["value"] = ["1 to 255 characters"]
    if not isinstance(priority, int) or not 0 <= priority <= 100000:
        errors["priority"] = ["0 to 100000"]
    if project is not None and project.organization_id != organization.pk:
        errors["project"] = ["must belong to the organization"]
    if errors:
        raise InvalidInput("The rule is not valid; see detail.", detail=errors)
    rule = AssignmentRule.objects.create(platform=platform, match=match, key=key, value=value,
                                         organization=organization, project=project, priority=priority)
    emit(rule.organization_id, f"assignment_rule:{rule.pk}",
         {"event": "created", "before": None, "after": _rule_fields(rule), "name": f"{match} {key}={value}".strip()})
    return rule


def _rule_fields(rule: AssignmentRule) -> dict[str, Any]:
    return {"platform": str(rule.platform_id), "match": rule.match, "key": rule.key, "value": rule.value,
            "organization": str(rule.organization_id), "project": str(rule.project_id) if rule.project_id else None,
            "priority": rule.priority}


@transaction.atomic
def assignment_rule_delete(*, actor: Any, rule: AssignmentRule) -> None:
    if not authorize(actor, "resources:rule:write", rule):
        raise Forbidden()
    before = _rule_fields(rule)
    rule_id = rule.pk
    rule.delete()
    emit(before["organization"], f"assignment_rule:{rule_id}", {"event": "deleted", "before": before, "after": None})


@transaction.atomic
def resources_reassign(*, platform: CloudPlatform) -> int:
    """Apply the platform's current rules to its live resources (not to manual assignments)."""
    assigner = Assigner(platform)
    changed = []
    rows = Resource.objects.filter(platform=platform, deleted=False).exclude(assigned_by="manual").only(
        "id", "tags", "resource_group", "vpc_id", "organization_id", "project_id", "assigned_by")
    for row in rows.iterator(chunk_size=5000):
        org, project = assigner.owner({"tags": row.tags, "resource_group": row.resource_group, "vpc_id": row.vpc_id})
        if (str(row.organization_id) if row.organization_id else None, str(row.project_id) if row.project_id
                else None) != (str(org) if org else None, str(project) if project else None):
            row.organization_id, row.project_id, row.assigned_by = org, project, "rule" if org else ""
            changed.append(row)
    Resource.objects.bulk_update(changed, ["organization", "project", "assigned_by"], batch_size=BATCH)
    return len(changed)
