"""Writes of quotas: limits with the hierarchy rule, reservations (reserve, commit, release,
expire), freeing confirmed usage, reconciling with the inventory, and requests for more.

Rules enforced here:
- a reservation fits only if, for every limit on the path from the root organization down to the
  project that covers one of its dimensions (and its platform and region), committed + reserved +
  asked stays within the limit; otherwise nothing is held and the refusal names the first blocking
  limit from the root: organization, dimension, limit, usage, request and shortfall;
- limit rows are locked root to leaf, in one global order (depth, then id), with
  ``select_for_update`` (PostgreSQL); SQLite's immediate transactions take the write lock at BEGIN.
  Every writer of counters goes through ``_locked``, so two writers never wait on each other in
  opposite orders;
- the limits directly below a limit (the nearest limited descendants with the same dimension,
  platform and region) may together hold at most the limit, or limit x factor when the parent
  allows overcommit;
- a limit may not be set below the usage it covers unless ``force`` is given, which is audited.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg
from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.clouds.models import CloudPlatform
from apps.core.errors import Conflict, Forbidden, InvalidInput, Refused
from apps.core.events import emit
from apps.core.scoping import authorize, require, restrict
from apps.organizations.models import Organization, Project
from apps.provisioning.models import ProvisioningRequest
from apps.provisioning.requests import APPROVE, DEFAULT_LEVELS, policy_for
from apps.quotas import approvals, config
from apps.quotas.dimensions import dimensions, is_dimension, resource_units, unit_of
from apps.quotas.models import QuotaDecision, QuotaLimit, QuotaRequest, Reservation

WRITE = "quotas:limit:write"
MAX_LIMIT = 10**12
QUOTA_EXCEEDED = "quota_exceeded"


def _topic(org_id: Any) -> str:
    return f"quota:{org_id}"


def _ancestor_ids(organization: Organization) -> list[str]:
    return organization.ancestor_ids if hasattr(organization, "ancestor_ids") else \
        [p for p in organization.path.split("/") if p]


def scope_key(project: Any, platform: Any, region: str) -> str:
    return f"{getattr(project, 'pk', project) or '-'}|{getattr(platform, 'pk', platform) or '-'}|{region or ''}"


def _covering(*, organization: Organization, project: Project | None, dims: Iterable[str], platform_id: Any,
              region: str) -> QuerySet[QuotaLimit]:
    """Limits that count usage of ``project`` (or of ``organization`` itself) in these dimensions,
    on this platform and region: those of every ancestor organization, and the project's own."""
    node = Q(project__isnull=True)
    if project is not None:
        node |= Q(project_id=project.pk)
    return QuotaLimit.objects.filter(organization_id__in=_ancestor_ids(organization), dimension__in=list(dims)) \
        .filter(node).filter(Q(platform__isnull=True) | Q(platform_id=platform_id)) \
        .filter(Q(region="") | Q(region=region or ""))


def _locked(queryset: QuerySet[QuotaLimit]) -> list[QuotaLimit]:
    """The rows of ``queryset`` locked root to leaf: the one lock order of every counter writer."""
    return list(queryset.select_for_update(of=("self",)).select_related("organization", "project")
                .order_by("depth", "id"))


def _holder(limit: QuotaLimit) -> dict[str, Any]:
    return {"organization": {"id": str(limit.organization_id), "name": limit.organization.name},
            "project": {"id": str(limit.project_id), "name": limit.project.name} if limit.project_id else None}


def _where(limit: QuotaLimit) -> str:
    return f"project {limit.project.name}" if limit.project_id else f"organization {limit.organization.name}"


def _crossings(before: dict[Any, int], limits: list[QuotaLimit]) -> None:
    """Announce each limit whose usage just reached its warning threshold."""
    for lim in limits:
        if lim.limit and before[lim.pk] < lim.warning_at <= lim.used:
            emit(lim.organization_id, lim.topic, {
                "event": "threshold_crossed", "id": str(lim.pk), "name": lim.dimension, "dimension": lim.dimension,
                **_holder(lim), "limit": lim.limit, "usage": lim.used, "warning_percent": lim.warning_percent})


# -- reservations ----------------------------------------------------------------------------------------

def quota_reserve(*, organization: Organization, project: Project | None, resource_type: str,
                  amounts: dict[str, int], platform: Any = None, region: str = "",
                  ttl_seconds: float | None = None) -> Reservation:
    """Hold quota for ``amounts`` (totals over ``amounts["count"]`` units), or refuse with
    ``quota_exceeded`` naming the first limit from the root that it would overrun."""
    count, unit = unit_of(resource_type, amounts)
    if count < 1:
        raise InvalidInput("Nothing to reserve.", detail={"count": ["at least 1"]})
    platform_id = getattr(platform, "pk", platform)
    ttl = config.value("RESERVATION_SECONDS") if ttl_seconds is None else ttl_seconds
    reservation = Reservation(organization=organization, project=project, platform_id=platform_id,
                              region=region or "", resource_type=resource_type, unit=unit, count=count,
                              reserved_units=count, expires_at=timezone.now() + timedelta(seconds=ttl))
    conn = connections[Reservation.objects.db]
    if unit and conn.vendor == "postgresql":
        rows, granted = _reserve_in_one_statement(conn, reservation, organization=organization, project=project,
                                                  unit=unit, count=count, platform_id=platform_id,
                                                  region=region or "")
        if not granted:
            raise _first_refusal([_limit_from_row(row) for row in rows], unit, count)
        if any(_crosses(row, unit[row[3]] * count) for row in rows):  # model objects only when announcing
            _after_reserve([_limit_from_row(row) for row in rows], unit, count)
        return reservation
    with transaction.atomic():
        # The new row first: it contends with no one, so the limit rows stay locked only for the
        # check and one UPDATE (a refusal rolls the row back with everything else).
        reservation.save(force_insert=True)
        if not unit:
            return reservation
        limits = _lock_for_reserve(organization=organization, project=project, dims=list(unit),
                                   platform_id=platform_id, region=region or "")
        refusal = _first_refusal(limits, unit, count)
        if refusal is not None:
            raise refusal
        if limits:
            _add_reserved([lim.db_id for lim in limits], {dim: per * count for dim, per in unit.items()})  # type: ignore[attr-defined]
            _after_reserve(limits, unit, count)
    return reservation


def _first_refusal(limits: list[QuotaLimit], unit: dict[str, int], count: int) -> Refused | None:
    """The refusal naming the first limit (root to leaf) that ``count`` x ``unit`` would overrun."""
    for lim in limits:
        asked = unit[lim.dimension] * count
        if lim.used + asked > lim.limit:
            return _refusal(lim, asked)
    return None


def _after_reserve(limits: list[QuotaLimit], unit: dict[str, int], count: int) -> None:
    """Bring the (pre-reservation) counters of ``limits`` up to date and announce crossings."""
    before = {lim.pk: lim.used for lim in limits}
    for lim in limits:
        lim.reserved += unit[lim.dimension] * count
    _crossings(before, limits)


# On PostgreSQL a reservation is one statement, and outside a transaction one round trip: it locks
# the covering limits root to leaf (``ORDER BY depth, id FOR UPDATE``, the order of ``_locked``),
# and only when every one of them still has room adds to their ``reserved`` counters and inserts the
# reservation row. A refusal writes nothing, so no savepoint is needed inside a caller's
# transaction, and the limit rows stay locked only while the server runs that one statement (never
# across a round trip to a client that may be waiting for a CPU). The rows come back as they were
# before the reservation, with ``granted`` telling whether it was taken.
_RESERVE_SQL: dict[tuple[int, int, bool, bool], str] = {}


def _reserve_statement(conn: Any, n_orgs: int, n_dims: int, with_project: bool, with_platform: bool) -> str:
    key = (n_orgs, n_dims, with_project, with_platform)
    sql = _RESERVE_SQL.get(key)
    if sql is not None:
        return sql
    qn = conn.ops.quote_name
    limits, reservations = qn(QuotaLimit._meta.db_table), qn(Reservation._meta.db_table)
    node = f"{qn('project_id')} IS NULL" + (f" OR {qn('project_id')} = %s" if with_project else "")
    where_platform = f"{qn('platform_id')} IS NULL" + (f" OR {qn('platform_id')} = %s" if with_platform else "")
    columns = ", ".join(qn(c) for c in _LIMIT_COLUMNS)
    cases = " ".join(["WHEN %s THEN %s::bigint"] * n_dims)
    inserted = ", ".join(qn(f.column) for f in _reservation_fields())
    sql = (
        f"WITH lim AS MATERIALIZED (SELECT {columns}, {qn('depth')}, "
        f"CASE {qn('dimension')} {cases} ELSE 0 END AS asked "
        f"FROM {limits} WHERE {qn('organization_id')} IN ({', '.join(['%s'] * n_orgs)}) "
        f"AND {qn('dimension')} IN ({', '.join(['%s'] * n_dims)}) AND ({node}) AND ({where_platform}) "
        f"AND ({qn('region')} = '' OR {qn('region')} = %s) ORDER BY {qn('depth')}, {qn('id')} FOR UPDATE), "
        f"fits AS (SELECT NOT EXISTS (SELECT 1 FROM lim WHERE lim.{qn('committed')} + lim.{qn('reserved')} + lim.asked"
        f" > lim.{qn('limit')}) AS ok), "
        f"upd AS (UPDATE {limits} AS q SET {qn('reserved')} = q.{qn('reserved')} + lim.asked FROM lim, fits "
        f"WHERE q.{qn('id')} = lim.{qn('id')} AND fits.ok RETURNING q.{qn('id')}), "
        f"ins AS (INSERT INTO {reservations} ({inserted}) "
        f"SELECT {', '.join(f'%s::{f.db_type(conn)}' for f in _reservation_fields())} "
        f"FROM fits WHERE fits.ok RETURNING 1) "
        f"SELECT (SELECT ok FROM fits), {', '.join(f'lim.{qn(c)}' for c in _LIMIT_COLUMNS)} FROM lim "
        f"ORDER BY lim.{qn('depth')}, lim.{qn('id')}")
    _RESERVE_SQL[key] = sql
    return sql


def _reservation_fields() -> list[Any]:
    return [f for f in Reservation._meta.concrete_fields]


def _crosses(row: tuple[Any, ...], asked: int) -> bool:
    """Whether adding ``asked`` to the limit of ``row`` (a row of ``_LIMIT_COLUMNS``) reaches its
    warning threshold from below (``QuotaLimit.warning_at``)."""
    limit, used = row[4], row[5] + row[6]
    warning_at = -(-limit * row[7] // 100)
    return bool(limit) and used < warning_at <= used + asked


def _reserve_in_one_statement(conn: Any, reservation: Reservation, *, organization: Organization,
                              project: Project | None, unit: dict[str, int], count: int, platform_id: Any,
                              region: str) -> tuple[list[tuple[Any, ...]], bool]:
    """Run the reservation statement; (the covering limits' rows as they were, granted)."""
    orgs = [_uuid(pk) for pk in _ancestor_ids(organization)]
    dims = list(unit)
    params: list[Any] = [v for dim in dims for v in (dim, unit[dim] * count)]
    params += orgs
    params += dims
    if project is not None:
        params.append(project.pk)
    if platform_id:
        params.append(platform_id)
    params.append(region)
    now = timezone.now()
    reservation.created_at = reservation.updated_at = now
    row = {"organization_id": organization.pk, "id": reservation.id, "project_id": project.pk if project else None,
           "platform_id": platform_id or None, "region": region, "resource_type": reservation.resource_type,
           "unit": json.dumps(unit), "count": count, "reserved_units": count, "committed_units": 0,
           "released_units": 0, "status": Reservation.Status.ACTIVE.value, "expires_at": reservation.expires_at,
           "created_at": now, "updated_at": now}
    params += [row[f.attname] for f in _reservation_fields()]
    sql = _reserve_statement(conn, len(orgs), len(dims), project is not None, bool(platform_id))
    rows = _run_prepared(conn, sql, params)
    # Without covering limits the statement returns no row, and the reservation was inserted.
    granted = rows[0][0] if rows else True
    if granted:
        reservation._state.adding = False
        reservation._state.db = conn.alias
    return [r[1:] for r in rows], granted


def _run_prepared(conn: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` as a prepared statement of this connection (planned once, not on every call),
    through Django's connection so its transaction state, error classes and query log hold."""
    conn.ensure_connection()
    conn.validate_no_broken_transaction()
    with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cursor:
        if conn.queries_logged:
            conn.queries_log.append({"sql": sql % tuple(repr(p) for p in params), "time": "0.000"})
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def _limit_from_row(row: Any) -> QuotaLimit:
    lim = QuotaLimit(id=_uuid(row[0]), organization_id=_uuid(row[1]),
                     project_id=_uuid(row[2]) if row[2] is not None else None, dimension=row[3], limit=row[4],
                     committed=row[5], reserved=row[6], warning_percent=row[7],
                     platform_id=row[8], region=row[9])
    lim.db_id = row[0]  # type: ignore[attr-defined]
    return lim


# The reservation path is the hot one (every provisioning request, every resize): its two statements
# are written once here instead of being compiled by the ORM on every call, which cost five times
# the database's own work. They are the statements ``_covering(...).select_for_update()`` and an
# ``update(reserved=F(...) + Case(...))`` would produce, for SQLite and PostgreSQL alike.
_LIMIT_COLUMNS = ("id", "organization_id", "project_id", "dimension", "limit", "committed", "reserved",
                  "warning_percent", "platform_id", "region")


def _lock_for_reserve(*, organization: Organization, project: Project | None, dims: list[str], platform_id: Any,
                      region: str) -> list[QuotaLimit]:
    """The covering limits locked root to leaf (the order of ``_locked``), as unsaved model objects."""
    conn = connections[QuotaLimit.objects.db]
    qn = conn.ops.quote_name
    meta = QuotaLimit._meta
    orgs = [meta.get_field("organization").get_db_prep_value(pk, conn) for pk in _ancestor_ids(organization)]
    params: list[Any] = [*orgs, *dims]
    node = f"{qn('project_id')} IS NULL"
    if project is not None:
        node += f" OR {qn('project_id')} = %s"
        params.append(meta.get_field("project").get_db_prep_value(project.pk, conn))
    where_platform = f"{qn('platform_id')} IS NULL"
    if platform_id:
        where_platform += f" OR {qn('platform_id')} = %s"
        params.append(meta.get_field("platform").get_db_prep_value(platform_id, conn))
    params.append(region)
    sql = (f"SELECT {', '.join(qn(c) for c in _LIMIT_COLUMNS)} FROM {qn(meta.db_table)} "
           f"WHERE {qn('organization_id')} IN ({', '.join(['%s'] * len(orgs))}) "
           f"AND {qn('dimension')} IN ({', '.join(['%s'] * len(dims))}) AND ({node}) AND ({where_platform}) "
           f"AND ({qn('region')} = '' OR {qn('region')} = %s) ORDER BY {qn('depth')}, {qn('id')}"
           + (" FOR UPDATE" if conn.features.has_select_for_update else ""))
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_limit_from_row(row) for row in rows]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _add_reserved(db_ids: list[Any], amounts: dict[str, int]) -> None:
    conn = connections[QuotaLimit.objects.db]
    qn = conn.ops.quote_name
    cases = " ".join("WHEN %s THEN %s" for _ in amounts)
    params: list[Any] = [v for pair in amounts.items() for v in pair] + list(db_ids)
    with conn.cursor() as cursor:
        cursor.execute(f"UPDATE {qn(QuotaLimit._meta.db_table)} SET {qn('reserved')} = {qn('reserved')} + "
                       f"CASE {qn('dimension')} {cases} ELSE 0 END "
                       f"WHERE {qn('id')} IN ({', '.join(['%s'] * len(db_ids))})", params)


def _refusal(lim: QuotaLimit, asked: int) -> Refused:
    names = dimensions()
    shortfall = lim.used + asked - lim.limit
    detail = {**_holder(lim), "dimension": lim.dimension, "dimension_name": names.get(lim.dimension, lim.dimension),
              "platform": str(lim.platform_id) if lim.platform_id else None, "region": lim.region,
              "limit": lim.limit, "usage": lim.used, "requested": asked, "shortfall": shortfall}
    return Refused(f"Quota exceeded: {_where(lim)} may use {lim.limit} {names.get(lim.dimension, lim.dimension)}; "
                   f"{lim.used} in use or reserved, {asked} asked, {shortfall} short.", code=QUOTA_EXCEEDED,
                   detail=detail)


def quota_refused(*, organization: Organization, project: Project | None, resource_type: str,
                  error: Refused) -> None:
    """Announce a refusal (after the refused transaction rolled back) to the blocking limit's organization."""
    detail = error.detail if isinstance(error.detail, dict) else {}
    holder = (detail.get("organization") or {}).get("id") or organization.pk
    emit(holder, _topic(holder), {"event": "refused", "name": detail.get("dimension", resource_type),
                                  "resource_type": resource_type, "requested_by_organization": str(organization.pk),
                                  "requested_by_project": str(project.pk) if project else None, **detail})


def _settle(reservation_id: str, units: int | None, *, commit: bool, expire: bool = False) -> Reservation | None:
    if not reservation_id:
        return None
    with transaction.atomic():
        reservation = Reservation.objects.filter(pk=reservation_id).first()
        if reservation is None:
            return None
        organization = Organization.objects.get(pk=reservation.organization_id)
        project = Project.objects.filter(pk=reservation.project_id).first() if reservation.project_id else None
        limits = _locked(_covering(organization=organization, project=project, dims=reservation.unit,
                                   platform_id=reservation.platform_id, region=reservation.region))
        # Every writer takes the limits (root to leaf) before any reservation row it changes.
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if expire and reservation.status == Reservation.Status.ACTIVE and _held_by_open_request(reservation.id):
            # Still waiting for approval or being provisioned: the quota stays held (what the cloud
            # will make must fit when it is made), so the reservation lives on instead.
            reservation.expires_at = timezone.now() + timedelta(seconds=config.value("RESERVATION_SECONDS"))
            reservation.save(update_fields=["expires_at", "updated_at"])
            return reservation
        wanted = reservation.count if units is None else max(int(units), 0)
        held = min(wanted, reservation.reserved_units)
        # A commit for units the sweeper already released: the cloud made them, so they count again.
        extra = min(wanted - held, reservation.released_units) \
            if commit and reservation.status == Reservation.Status.EXPIRED else 0
        for lim in limits:
            per = int(reservation.unit.get(lim.dimension, 0))
            lim.reserved -= per * held
            if commit:
                lim.committed += per * (held + extra)
            QuotaLimit.objects.filter(pk=lim.pk).update(reserved=max(lim.reserved, 0), committed=lim.committed)
        reservation.reserved_units -= held
        if commit:
            reservation.committed_units += held + extra
            reservation.released_units -= extra
        else:
            reservation.released_units += held
        if expire and held:
            reservation.status = Reservation.Status.EXPIRED
        elif reservation.reserved_units == 0 and reservation.status == Reservation.Status.ACTIVE:
            reservation.status = Reservation.Status.SETTLED
        reservation.save(update_fields=["reserved_units", "committed_units", "released_units", "status",
                                        "updated_at"])
    return reservation


def _held_by_open_request(reservation_id: str) -> bool:
    """Whether a provisioning request that is not finished (waiting for approval, approved, or
    provisioning) holds this reservation."""
    status = ProvisioningRequest.Status
    return ProvisioningRequest.objects.filter(
        quota_reservation=reservation_id, status__in=[status.PENDING, status.APPROVED, status.PROVISIONING]).exists()


def reservation_commit(*, reservation_id: str, units: int | None = None) -> Reservation | None:
    """The cloud confirmed ``units`` (all when ``None``): their quota moves from reserved to committed."""
    return _settle(reservation_id, units, commit=True)


def reservation_release(*, reservation_id: str, units: int | None = None) -> Reservation | None:
    """``units`` (all when ``None``) failed or were cancelled: their reserved quota is free again."""
    return _settle(reservation_id, units, commit=False)


def reservations_expire(*, now: Any = None, batch: int = 500) -> int:
    """Release what live reservations past their expiry still hold; returns how many expired. A
    reservation of a provisioning request that is not finished is renewed instead."""
    now = now or timezone.now()
    expired = 0
    ids = list(Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
               .order_by("expires_at").values_list("pk", flat=True)[:batch])
    for pk in ids:
        reservation = _settle(pk, None, commit=False, expire=True)
        if reservation is not None and reservation.status == Reservation.Status.EXPIRED:
            expired += 1
    return expired


def usage_free(*, organization: Organization, project: Project | None, resource_type: str,
               amounts: dict[str, int], platform: Any = None, region: str = "") -> None:
    """Confirmed usage went away (a resource deleted, or resized down by a delta): committed
    usage drops by ``amounts``, never below zero."""
    count, unit = unit_of(resource_type, amounts)
    if count < 1 or not unit:
        return
    with transaction.atomic():
        for lim in _locked(_covering(organization=organization, project=project, dims=unit,
                                     platform_id=getattr(platform, "pk", platform), region=region)):
            lim.committed = max(lim.committed - unit[lim.dimension] * count, 0)
            QuotaLimit.objects.filter(pk=lim.pk).update(committed=lim.committed)


# -- usage from the inventory ------------------------------------------------------------------------------

def _inventory(limit: QuotaLimit) -> int:
    """What the inventory says ``limit`` covers: resources (also those found by collection) of its
    organization's subtree or its project, on its platform and region."""
    from apps.resources.models import Resource

    rows = Resource.objects.filter(deleted=False)
    rows = rows.filter(project_id=limit.project_id) if limit.project_id else \
        rows.filter(organization__path__startswith=limit.path)
    if limit.platform_id:
        rows = rows.filter(platform_id=limit.platform_id)
    if limit.region:
        rows = rows.filter(region=limit.region)
    if limit.dimension.startswith("ecs.") and limit.dimension not in ("ecs.instance", "ecs.disk"):
        total = 0
        for vcpu, mib, gib in rows.filter(type="ecs.instance").values_list("vcpu", "memory_mib", "storage_gib") \
                .iterator(chunk_size=2000):
            total += resource_units("ecs.instance", vcpu, mib, gib).get(limit.dimension, 0)
        return total
    return rows.filter(type=limit.dimension).aggregate(n=Count("pk"))["n"] or 0


def _live_reserved(limit: QuotaLimit) -> int:
    rows = Reservation.objects.filter(status=Reservation.Status.ACTIVE, reserved_units__gt=0)
    rows = rows.filter(project_id=limit.project_id) if limit.project_id else \
        rows.filter(organization__path__startswith=limit.path)
    if limit.platform_id:
        rows = rows.filter(platform_id=limit.platform_id)
    if limit.region:
        rows = rows.filter(region=limit.region)
    return sum(int(unit.get(limit.dimension, 0)) * n for unit, n in rows.values_list("unit", "reserved_units"))


def usage_reconcile(*, apply: bool = True) -> list[dict[str, Any]]:
    """Recompute each limit's committed usage from the inventory; returns the drift of every limit
    whose counter disagreed (recorded - inventory), per organization, project and dimension, and
    with ``apply`` sets the counters to what the inventory says."""
    drift: list[dict[str, Any]] = []
    ids = list(QuotaLimit.objects.order_by("depth", "id").values_list("pk", flat=True))
    for start in range(0, len(ids), 200):
        with transaction.atomic():
            for lim in _locked(QuotaLimit.objects.filter(pk__in=ids[start:start + 200])):
                found = _inventory(lim)
                if found == lim.committed:
                    continue
                drift.append({"limit": str(lim.pk), **_holder(lim), "dimension": lim.dimension,
                              "platform": str(lim.platform_id) if lim.platform_id else None, "region": lim.region,
                              "recorded": lim.committed, "inventory": found, "drift": lim.committed - found})
                if apply:
                    QuotaLimit.objects.filter(pk=lim.pk).update(committed=found)
                    emit(lim.organization_id, lim.topic, {"event": "drift", "name": lim.dimension, **drift[-1]})
    return drift


# -- limits ------------------------------------------------------------------------------------------------

def _is_above(upper: QuotaLimit, lower: QuotaLimit) -> bool:
    """Whether ``upper`` (an organization's limit) covers ``lower``'s node."""
    if upper.project_id is not None or upper.pk == lower.pk:
        return False
    return lower.path.startswith(upper.path) and (lower.project_id is not None or lower.path != upper.path)


def _parent_of(node: QuotaLimit, peers: list[QuotaLimit]) -> QuotaLimit | None:
    above = [p for p in peers if _is_above(p, node)]
    return max(above, key=lambda p: len(p.path)) if above else None


def _children_of(node: QuotaLimit, peers: list[QuotaLimit]) -> list[QuotaLimit]:
    return [p for p in peers if _is_above(node, p) and _parent_of(p, peers) is node]


def _capacity(limit: QuotaLimit) -> Decimal:
    return Decimal(limit.limit) * (limit.overcommit_factor if limit.overcommit else Decimal(1))


def _clean(*, organization: Any, project: Any, dimension: Any, limit: Any, platform: Any, region: Any,
           warning_percent: Any, overcommit: Any, overcommit_factor: Any) -> Decimal:
    errors: dict[str, list[str]] = {}
    if not is_dimension(dimension):
        errors["dimension"] = [f"one of {', '.join(dimensions())}"]
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        errors["limit"] = [f"an integer from 0 to {MAX_LIMIT}"]
    if isinstance(warning_percent, bool) or not isinstance(warning_percent, int) or not 1 <= warning_percent <= 100:
        errors["warning_percent"] = ["an integer from 1 to 100"]
    if not isinstance(overcommit, bool):
        errors["overcommit"] = ["true or false"]
    try:
        factor = Decimal(str(overcommit_factor)).quantize(Decimal("0.01"))
        if isinstance(overcommit_factor, bool) or not Decimal(1) <= factor <= Decimal(100):
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["overcommit_factor"] = ["a number from 1 to 100"]
        factor = Decimal(1)
    if not isinstance(region, str) or len(region) > 64:
        errors["region"] = ["a region id of at most 64 characters"]
    elif region and platform is None:
        errors["region"] = ["a region narrows a platform: choose the platform too"]
    if project is not None and project.organization_id != organization.pk:
        errors["project"] = ["must belong to the organization"]
    if errors:
        raise InvalidInput("The limit is not valid; see detail.", detail=errors)
    return factor


def _write_target(organization: Organization) -> QuotaLimit:
    """Who may set a limit on an organization or its projects: whoever may write limits on its
    parent (an organization does not raise its own limit), or on it when it is a root."""
    return QuotaLimit(organization_id=organization.parent_id or organization.pk)


def limit_set(*, actor: Any, organization: Organization, dimension: str, limit: int, project: Project | None = None,
              platform: Any = None, region: str = "", warning_percent: int = 80, overcommit: bool = False,
              overcommit_factor: Any = 1, force: bool = False, reason: str = "", authorized: bool = False
              ) -> QuotaLimit:
    """Create or change the limit of a node (an organization's subtree or a project) in one
    dimension, platform and region, under the hierarchy rule; below current usage only with ``force``."""
    if not authorized:
        require(actor, WRITE, _write_target(organization))
    factor = _clean(organization=organization, project=project, dimension=dimension, limit=limit, platform=platform,
                    region=region, warning_percent=warning_percent, overcommit=overcommit,
                    overcommit_factor=overcommit_factor)
    if not isinstance(force, bool):
        raise InvalidInput("force is true or false.", detail={"force": ["true or false"]})
    platform_id = getattr(platform, "pk", platform)
    with transaction.atomic():
        peers_qs = QuotaLimit.objects.filter(dimension=dimension, platform_id=platform_id, region=region or "")
        # Lock the peers on the path to the root and below the node: root to leaf, as reservations do.
        top = _ancestor_ids(organization)[0]
        root_path = f"/{top}/"
        peers = _locked(peers_qs.filter(path__startswith=root_path))
        key = scope_key(project, platform_id, region)
        node = next((p for p in peers if p.organization_id == organization.pk and p.scope_key == key), None)
        created = node is None
        before = None if created else {"limit": node.limit, "warning_percent": node.warning_percent,
                                       "overcommit": node.overcommit, "overcommit_factor": str(node.overcommit_factor)}
        if created:
            node = QuotaLimit(organization=organization, project=project, dimension=dimension, platform_id=platform_id,
                              region=region or "", scope_key=key, path=organization.path,
                              depth=organization.depth + (1 if project is not None else 0), limit=limit)
            peers.append(node)
        node.limit, node.warning_percent = limit, warning_percent
        node.overcommit, node.overcommit_factor = overcommit, factor
        parent = _parent_of(node, peers)
        if parent is not None:
            siblings = _children_of(parent, peers)
            total = sum(s.limit for s in siblings)
            if total > _capacity(parent):
                shortfall = total - int(_capacity(parent))
                raise Refused(
                    f"The limits below {_where(parent)} would add up to {total} {dimension}, more than the "
                    f"{int(_capacity(parent))} it holds" + (" with overcommit" if parent.overcommit else "")
                    + f" ({shortfall} short).", code="quota_hierarchy",
                    detail={**_holder(parent), "dimension": dimension, "limit": parent.limit,
                            "capacity": int(_capacity(parent)), "usage": total, "requested": limit,
                            "shortfall": shortfall})
        below = sum(c.limit for c in _children_of(node, peers))
        if below > _capacity(node):
            raise Refused(f"The limits below already hold {below} {dimension}; this limit must hold at least that"
                          + (" (with its overcommit factor)." if overcommit else "."), code="quota_hierarchy",
                          detail={**_holder(node), "dimension": dimension, "limit": limit, "usage": below,
                                  "requested": limit, "shortfall": below - int(_capacity(node))})
        if created:
            node.committed, node.reserved = _inventory(node), _live_reserved(node)
        if node.used > limit and not force:
            raise Refused(f"{node.used} {dimension} are in use or reserved; a limit of {limit} needs force.",
                          code="quota_below_usage",
                          detail={**_holder(node), "dimension": dimension, "limit": limit, "usage": node.used,
                                  "requested": limit, "shortfall": node.used - limit, "force": ["required"]})
        node.save()
        after = {"limit": node.limit, "warning_percent": node.warning_percent, "overcommit": node.overcommit,
                 "overcommit_factor": str(node.overcommit_factor)}
        forced = node.used > limit
        emit(organization.pk, node.topic, {
            "event": "limit_forced" if forced else ("limit_created" if created else "limit_changed"),
            "id": str(node.pk), "name": dimension, **_holder(node), "dimension": dimension,
            "platform": str(platform_id) if platform_id else None, "region": node.region, "usage": node.used,
            "before": before, "after": after, "reason": reason[:500] if isinstance(reason, str) else "",
            "actor": getattr(actor, "username", None)})
    return node


def limit_delete(*, actor: Any, quota_limit: QuotaLimit) -> None:
    require(actor, WRITE, _write_target(quota_limit.organization))
    with transaction.atomic():
        lim = QuotaLimit.objects.select_for_update().filter(pk=quota_limit.pk).first()
        if lim is None:
            return
        org_id, pk, dim = lim.organization_id, lim.pk, lim.dimension
        before = {"limit": lim.limit, "usage": lim.used}
        lim.delete()
        emit(org_id, _topic(org_id), {"event": "limit_deleted", "id": str(pk), "name": dim, "dimension": dim,
                                      "before": before, "after": None})


# -- quota requests -----------------------------------------------------------------------------------------

def may_ask(actor: Any, organization: Organization, project: Project | None) -> bool:
    """Who may ask for more on a node: holders of ``quotas:request:create`` there, and whoever may
    create resources in a project the limit covers (the tenant a limit just refused)."""
    if authorize(actor, "quotas:request:create", QuotaRequest(organization=organization, project=project)):
        return True
    covered = Project.objects.filter(pk=project.pk) if project is not None else \
        Project.objects.filter(organization__path__startswith=organization.path)
    return restrict(covered, actor, "ecs:instance:create").exists()


def quota_request_create(*, actor: Any, organization: Organization, project: Project | None, dimension: Any,
                         requested_limit: Any, reason: Any, platform: Any = None, region: str = "") -> QuotaRequest:
    if project is not None and project.organization_id != organization.pk:
        raise InvalidInput("The project is not in the organization.", detail={"project": ["not found"]})
    if not may_ask(actor, organization, project):
        raise Forbidden("You may not ask for quota here.", detail={"permission": "quotas:request:create"})
    errors: dict[str, list[str]] = {}
    if not is_dimension(dimension):
        errors["dimension"] = [f"one of {', '.join(dimensions())}"]
    if isinstance(requested_limit, bool) or not isinstance(requested_limit, int) or \
            not 0 <= requested_limit <= MAX_LIMIT:
        errors["requested_limit"] = [f"an integer from 0 to {MAX_LIMIT}"]
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        errors["reason"] = ["say why, in at most 500 characters"]
    if not isinstance(region, str) or (region and platform is None):
        errors["region"] = ["a region narrows a platform: choose the platform too"]
    platform_id = getattr(platform, "pk", platform)
    if platform_id is not None and not CloudPlatform.objects.filter(pk=platform_id).exists():
        errors["platform"] = ["Not found."]  # a request for a platform that is not there is refused
    if errors:
        raise InvalidInput("The quota request is not valid; see detail.", detail=errors)
    current = QuotaLimit.objects.filter(organization=organization, dimension=dimension,
                                        scope_key=scope_key(project, platform_id, region)).first()
    if current is not None and requested_limit <= current.limit:
        raise InvalidInput(f"The limit is already {current.limit}; ask for more than that.",
                           detail={"requested_limit": [f"more than {current.limit}"]})
    decider = approvals.decider(organization)
    policy = policy_for(organization=decider, project=None, service=approvals.SERVICE)
    if policy is not None and not policy.levels and policy.service != approvals.SERVICE:
        # An organization-wide policy that lets provisioning requests through (quotas are then their
        # guard) does not raise quotas unasked: only a policy for the quotas service may.
        policy = None
    levels = list(policy.levels) if policy is not None else [dict(level) for level in DEFAULT_LEVELS]
    with transaction.atomic():
        row = QuotaRequest.objects.create(
            organization=organization, project=project, dimension=dimension, platform_id=platform_id,
            region=region or "", current_limit=current.limit if current else None, requested_limit=requested_limit,
            reason=reason.strip(), requester=actor if getattr(actor, "is_authenticated", False) else None,
            policy=policy, levels=levels)
        emit(organization.pk, row.topic, {"event": "request_created", "id": row.id, "name": dimension,
                                          "dimension": dimension, "requested_limit": requested_limit,
                                          "current_limit": row.current_limit, "reason": row.reason,
                                          "policy": policy.name if policy else None, "levels": len(levels)})
        if not levels:  # the policy approves every request: granted at once, under the hierarchy rule
            _grant(row, actor=None, comment=f"granted by policy {policy.name}" if policy else "")
    return row


def _grant(row: QuotaRequest, *, actor: Any, comment: str) -> None:
    key = scope_key(row.project_id, row.platform_id, row.region)
    current = QuotaLimit.objects.filter(organization_id=row.organization_id, dimension=row.dimension,
                                        scope_key=key).first()
    limit_set(actor=actor, organization=row.organization, project=row.project, dimension=row.dimension,
              limit=row.requested_limit, platform=row.platform_id, region=row.region,
              warning_percent=current.warning_percent if current else 80,
              overcommit=current.overcommit if current else False,
              overcommit_factor=current.overcommit_factor if current else 1,
              reason=f"quota request {row.id}: {row.reason}", authorized=True)
    row.status = QuotaRequest.Status.GRANTED
    row.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    row.decided_at, row.comment = timezone.now(), comment
    row.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    emit(row.organization_id, row.topic, {"event": "request_granted", "id": row.id, "name": row.dimension,
                                          "dimension": row.dimension, "requested_limit": row.requested_limit,
                                          "comment": row.comment})


def quota_request_decide(*, actor: Any, quota_request: QuotaRequest, verdict: Any, comment: Any = "") -> QuotaRequest:
    """Decide the waiting level: grant (the last level raises the limit to what was asked, under the
    hierarchy rule) or deny (a comment says why; the request ends)."""
    if verdict not in QuotaDecision.Verdict.values:
        raise InvalidInput("verdict is grant or deny.", detail={"verdict": ["grant or deny"]})
    if not isinstance(comment, str) or len(comment) > 500:
        raise InvalidInput("comment is at most 500 characters.", detail={"comment": ["too long"]})
    if verdict == "deny" and not comment.strip():
        raise InvalidInput("Say why the request is denied.", detail={"comment": ["required when denying"]})
    comment = comment.strip()
    with transaction.atomic():
        row = QuotaRequest.objects.select_for_update(of=("self",)) \
            .select_related("organization", "project", "platform").get(pk=quota_request.pk)
        require(actor, APPROVE, approvals.decider_probe(row))
        if row.status != QuotaRequest.Status.PENDING:
            raise Conflict(f"The request is already {row.get_status_display().lower()}.", code="request_decided")
        if row.requester_id is not None and row.requester_id == getattr(actor, "pk", None):
            raise Forbidden("You cannot decide your own request.", code="own_request")
        if approvals.decided_before(actor, row):
            raise Conflict("You have already decided a level of this request; another approver decides this one.",
                           code="already_decided")
        if not approvals.eligible(actor, row):
            raise Forbidden("You are not an approver of this level.", code="not_an_approver",
                            detail={"waiting_for": approvals.waiting_for(row)})
        QuotaDecision.objects.create(request=row, level=row.level, approver=actor, verdict=verdict, comment=comment)
        if verdict == "deny":
            row.status, row.decided_by, row.decided_at, row.comment = \
                QuotaRequest.Status.DENIED, actor, timezone.now(), comment
            row.save(update_fields=["status", "decided_by", "decided_at", "comment"])
            emit(row.organization_id, row.topic, {"event": "request_denied", "id": row.id, "name": row.dimension,
                                                  "dimension": row.dimension, "requested_limit": row.requested_limit,
                                                  "comment": row.comment})
        elif not approvals.level_complete(row):
            pass  # a level needing all of its approvers waits for the others
        elif row.level + 1 < len(row.levels or DEFAULT_LEVELS):
            row.level += 1
            row.save(update_fields=["level"])
            emit(row.organization_id, row.topic, {"event": "request_waiting", "id": row.id, "name": row.dimension,
                                                  "dimension": row.dimension, "level": row.level + 1,
                                                  "waiting_for": approvals.waiting_for(row)})
        else:
            _grant(row, actor=actor, comment=comment)
    return row
