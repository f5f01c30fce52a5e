"""Writes of disaster recovery: protection groups, their members and replication, and the RPO poll.

Rules:
- A group belongs to one organization; its members are resources of that organization at the primary
  site (platform and region, and zone when one is named). Nobody protects someone else's resources.
- A group chosen by tag or project is re-read by every poll: a resource that now matches and is not a
  member is drift; it joins (``auto_join``) or is flagged, and a member that stopped matching is marked
  ``left`` (kept, never dropped silently, so a plan never loses sight of what it protected).
- A member's RPO is ``now - last_recovery_point`` as the cloud reports it for its channel. The poll
  refreshes the recovery points; a breach of the group's target is announced once on the group's topic
  (``rpo_breached``), and so is the recovery (``rpo_recovered``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.clouds.adapters.apsara_dr import SECONDARY_NOT_READY
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.core.errors import Conflict, InvalidInput
from apps.core.events import emit
from apps.core.scoping import require
from apps.resilience import cloud
from apps.resilience.models import PlanRun, ProtectedMember, ProtectionGroup
from apps.resources.models import Resource

logger = logging.getLogger(__name__)

GROUP_WRITE = "resilience:group:write"
CHANNEL_FOR = {
    "ecs.disk": ProtectedMember.Channel.DISK_PAIR,
    "rds.instance": ProtectedMember.Channel.RDS_BACKUP,
    "oss.bucket": ProtectedMember.Channel.OSS_REPLICATION,
    "ecs.instance": ProtectedMember.Channel.NONE,
    "slb.instance": ProtectedMember.Channel.NONE,
}
PROTECTABLE = tuple(CHANNEL_FOR)
MAX_MEMBERS = 2000
# The replication pair's own RPO setting (the EBS API offers 900 s only); the group's target is what the
# console measures against.
PAIR_RPO_SECONDS = 900


def group_payload(group: ProtectionGroup, **extra: Any) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "state": group.state, "rpo_seconds": group.rpo_seconds,
            "target_rpo_seconds": group.target_rpo_seconds, "rpo_breached": group.rpo_breached,
            "drift": group.drift, **extra}


def _announce(group: ProtectionGroup, event: str, **extra: Any) -> None:
    emit(group.organization_id, group.topic, group_payload(group, event=event, **extra))


# -- groups ------------------------------------------------------------------------------------------------

def _site(platform: Any, region: Any, zone: Any, field: str, organization: Any) -> tuple[CloudPlatform, str, str]:
    if not isinstance(platform, CloudPlatform):
        raise InvalidInput(f"{field}_platform is required.", detail={f"{field}_platform": ["required"]})
    if not isinstance(region, str) or not region.strip():
        raise InvalidInput(f"{field}_region is required.", detail={f"{field}_region": ["required"]})
    zone = zone or ""
    if not isinstance(zone, str):
        raise InvalidInput(f"{field}_zone must be text.", detail={f"{field}_zone": ["must be text"]})
    return platform, region.strip(), zone.strip()


def candidates(group: ProtectionGroup) -> QuerySet:
    """Resources a tag or project selection picks: the group's organization's, at the primary site."""
    qs = Resource.objects.filter(organization_id=group.organization_id, platform_id=group.primary_platform_id,
                                 region=group.primary_region, deleted=False, type__in=PROTECTABLE)
    if group.primary_zone:
        qs = qs.filter(Q(zone=group.primary_zone) | Q(zone=""))
    if group.selection == ProtectionGroup.Selection.TAG:
        return qs.filter(**{f"tags__{group.tag_key}": group.tag_value}) if group.tag_key else qs.none()
    if group.selection == ProtectionGroup.Selection.PROJECT:
        return qs.filter(project_id=group.project_id) if group.project_id else qs.none()
    return qs.none()


def channel_for(group: ProtectionGroup, resource_type: str) -> str:
    """How a member of ``resource_type`` is replicated from the group's primary site: the native channel
    where the platform has it, else periodic cross-region snapshot copies (EBS volumes and RDS on AWS:
    no replication pairs, no cross-region backup replication)."""
    channel = CHANNEL_FOR.get(resource_type, ProtectedMember.Channel.NONE)
    if channel in (ProtectedMember.Channel.DISK_PAIR, ProtectedMember.Channel.RDS_BACKUP):
        try:
            offered = cloud.offered(group.primary_platform)
            module = cloud.dr_module(group.primary_platform)
        except Exception:  # noqa: BLE001 - a platform without DR calls keeps the native channel (and its error)
            return channel
        if channel == ProtectedMember.Channel.DISK_PAIR and "replication_pairs" not in offered \
                and "snapshots" in offered:
            return ProtectedMember.Channel.SNAPSHOT_COPY
        if channel == ProtectedMember.Channel.RDS_BACKUP and hasattr(module, "rds_snapshot_copy"):
            return ProtectedMember.Channel.SNAPSHOT_COPY
    return channel


def _member_for(group: ProtectionGroup, resource: Resource, state: str) -> ProtectedMember:
    return ProtectedMember(organization_id=group.organization_id, group=group, resource=resource,
                           resource_type=resource.type, external_id=resource.external_id,
                           name=resource.name, zone=resource.zone, state=state,
                           channel=channel_for(group, resource.type))


@transaction.atomic
def group_create(*, actor: Any, organization: Any, name: str, primary_platform: Any, primary_region: str,
                 secondary_platform: Any, secondary_region: str, primary_zone: str = "",
                 secondary_zone: str = "", selection: str = "explicit", tag_key: str = "", tag_value: str = "",
                 project: Any = None, resources: list[Resource] | None = None, auto_join: bool = True,
                 target_rpo_seconds: int = 60, target_rto_seconds: int = 600,
                 description: str = "") -> ProtectionGroup:
    """A protection group of ``organization``: needs ``resilience:group:write`` on it. Members are the
    chosen resources (explicit), or what the tag or project picks at the primary site."""
    require(actor, GROUP_WRITE, organization)
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidInput("name is required (at most 128 characters).", detail={"name": ["1..128 characters"]})
    if selection not in ProtectionGroup.Selection.values:
        raise InvalidInput("selection is explicit, tag or project.", detail={"selection": ["unknown"]})
    primary_platform, primary_region, primary_zone = _site(primary_platform, primary_region, primary_zone,
                                                           "primary", organization)
    secondary_platform, secondary_region, secondary_zone = _site(secondary_platform, secondary_region,
                                                                 secondary_zone, "secondary", organization)
    if (primary_platform.pk, primary_region, primary_zone) == (secondary_platform.pk, secondary_region,
                                                                secondary_zone):
        raise InvalidInput("The secondary site must differ from the primary (another zone, region or platform).",
                           detail={"secondary_region": ["same site as the primary"]})
    for field, value in (("target_rpo_seconds", target_rpo_seconds), ("target_rto_seconds", target_rto_seconds)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 7 * 86400:
            raise InvalidInput(f"{field} must be from 1 to 604800 seconds.", detail={field: ["1..604800"]})
    if selection == ProtectionGroup.Selection.TAG and not (tag_key and tag_value):
        raise InvalidInput("A group by tag needs tag_key and tag_value.",
                           detail={"tag_key": ["required"], "tag_value": ["required"]})
    if project is not None and project.organization_id != organization.pk:
        raise InvalidInput("project was not found in the organization.", detail={"project": ["Not found."]})
    if selection == ProtectionGroup.Selection.PROJECT and project is None:
        raise InvalidInput("A group by project needs project.", detail={"project": ["required"]})
    if ProtectionGroup.objects.filter(organization=organization, name=name.strip()).exists():
        raise Conflict(f"A protection group named {name.strip()!r} exists.", code="duplicate_name",
                       detail={"name": ["already used"]})
    group = ProtectionGroup.objects.create(
        organization=organization, name=name.strip(), description=(description or "")[:500], project=project,
        selection=selection, tag_key=tag_key or "", tag_value=tag_value or "", auto_join=bool(auto_join),
        primary_platform=primary_platform, primary_region=primary_region, primary_zone=primary_zone,
        secondary_platform=secondary_platform, secondary_region=secondary_region, secondary_zone=secondary_zone,
        target_rpo_seconds=target_rpo_seconds, target_rto_seconds=target_rto_seconds)
    if selection == ProtectionGroup.Selection.EXPLICIT:
        chosen = list(resources or [])
        if not chosen:
            raise InvalidInput("Choose at least one resource.", detail={"resources": ["required"]})
        for resource in chosen:
            _check_member(group, resource)
        members = [_member_for(group, r, ProtectedMember.State.JOINED) for r in chosen]
    else:
        members = [_member_for(group, r, ProtectedMember.State.JOINED) for r in candidates(group)[:MAX_MEMBERS]]
    ProtectedMember.objects.bulk_create(members, ignore_conflicts=True)
    _announce(group, "group_created")
    transaction.on_commit(lambda: _queue_setup(group.id))
    return group


def _check_member(group: ProtectionGroup, resource: Resource) -> None:
    where = resource.external_id or resource.pk
    if resource.organization_id != group.organization_id or resource.deleted:
        raise InvalidInput(f"Resource {where} was not found.", detail={"resources": ["Not found."]})
    if resource.type not in PROTECTABLE:
        raise InvalidInput(f"{resource.type} cannot be protected.", detail={"resources": [f"{resource.type}"]})
    if resource.platform_id != group.primary_platform_id or resource.region != group.primary_region:
        raise InvalidInput(f"Resource {where} is not at the primary site.",
                           detail={"resources": ["not at the primary site"]})


def _queue_setup(group_id: str) -> None:
    from apps.resilience.tasks import group_setup_task

    group_setup_task.delay(group_id)


@transaction.atomic
def group_update(*, actor: Any, group: ProtectionGroup, target_rpo_seconds: int | None = None,
                 target_rto_seconds: int | None = None, auto_join: bool | None = None,
                 description: str | None = None) -> ProtectionGroup:
    require(actor, GROUP_WRITE, group)
    locked = ProtectionGroup.objects.select_for_update().get(pk=group.pk)
    for field, value in (("target_rpo_seconds", target_rpo_seconds), ("target_rto_seconds", target_rto_seconds)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 7 * 86400:
            raise InvalidInput(f"{field} must be from 1 to 604800 seconds.", detail={field: ["1..604800"]})
        setattr(locked, field, value)
    if auto_join is not None:
        locked.auto_join = bool(auto_join)
    if description is not None:
        locked.description = str(description)[:500]
    locked.save()
    _announce(locked, "group_changed")
    return locked


@transaction.atomic
def group_delete(*, actor: Any, group: ProtectionGroup) -> None:
    """Delete a group (not its resources). Refused while a plan runs; its replication is left as it is
    in the cloud (stopping it is a deliberate act, not a side effect of tidying the console)."""
    require(actor, GROUP_WRITE, group)
    locked = ProtectionGroup.objects.select_for_update().get(pk=group.pk)
    if PlanRun.objects.filter(group=locked, status__in=PlanRun.ACTIVE).exists():
        raise Conflict("A plan is running on this group.", code="plan_running")
    _announce(locked, "group_deleted")
    locked.delete()


@transaction.atomic
def member_join(*, actor: Any, member: ProtectedMember) -> ProtectedMember:
    """Protect a flagged (drift) member."""
    require(actor, GROUP_WRITE, member.group)
    locked = ProtectedMember.objects.select_for_update().get(pk=member.pk)
    if locked.state == ProtectedMember.State.JOINED:
        raise Conflict("The resource is already protected.", code="already_joined")
    locked.state = ProtectedMember.State.JOINED
    locked.save(update_fields=["state"])
    group = locked.group
    group.drift = group.members.filter(state=ProtectedMember.State.FLAGGED).count()
    group.save(update_fields=["drift", "updated_at"])
    _announce(group, "member_joined", member=locked.id)
    transaction.on_commit(lambda: _queue_setup(group.id))
    return locked


@transaction.atomic
def member_set_tier(*, actor: Any, member: ProtectedMember, tier: Any) -> ProtectedMember:
    """Put a member in recovery tier ``tier`` (1..9): plans switch lower tiers first, one batch each."""
    require(actor, GROUP_WRITE, member.group)
    if not isinstance(tier, int) or isinstance(tier, bool) or not 1 <= tier <= 9:
        raise InvalidInput("tier must be from 1 to 9.", detail={"tier": ["1..9"]})
    locked = ProtectedMember.objects.select_for_update().get(pk=member.pk)
    locked.tier = tier
    locked.save(update_fields=["tier"])
    _announce(locked.group, "member_changed", member=locked.id, tier=tier)
    return locked


def group_refresh_members(*, group: ProtectionGroup) -> dict[str, int]:
    """Coverage drift of a group by tag or project: new matches join or are flagged; gone ones leave."""
    if group.selection == ProtectionGroup.Selection.EXPLICIT:
        return {"joined": 0, "flagged": 0, "left": 0}
    with transaction.atomic():
        locked = ProtectionGroup.objects.select_for_update().get(pk=group.pk)
        matches = {r.pk: r for r in candidates(locked)[:MAX_MEMBERS]}
        current = {m.resource_id: m for m in locked.members.all()}
        state = ProtectedMember.State.JOINED if locked.auto_join else ProtectedMember.State.FLAGGED
        new = [_member_for(locked, r, state) for pk, r in matches.items() if pk not in current]
        ProtectedMember.objects.bulk_create(new, ignore_conflicts=True)
        gone = [m.pk for rid, m in current.items() if rid not in matches and m.state != ProtectedMember.State.LEFT]
        ProtectedMember.objects.filter(pk__in=gone).update(state=ProtectedMember.State.LEFT)
        back = [m.pk for rid, m in current.items() if rid in matches and m.state == ProtectedMember.State.LEFT]
        ProtectedMember.objects.filter(pk__in=back).update(state=state)
        drift = locked.members.filter(state=ProtectedMember.State.FLAGGED).count()
        changed = bool(new or gone or back) or drift != locked.drift
        locked.drift = drift
        locked.save(update_fields=["drift", "updated_at"])
        if changed:
            _announce(locked, "coverage_changed", joined=len(new) if locked.auto_join else 0,
                      flagged=0 if locked.auto_join else len(new), left=len(gone))
    if new and locked.auto_join:
        _queue_setup(locked.id)
    return {"joined": len(new) if locked.auto_join else 0, "flagged": 0 if locked.auto_join else len(new),
            "left": len(gone)}


# -- replication -------------------------------------------------------------------------------------------

def _tags(group: ProtectionGroup, member: ProtectedMember) -> dict[str, str]:
    return {"unimanager:protection-group": group.id, "unimanager:member": member.id}


def member_setup(*, member: ProtectedMember) -> str:
    """Open the member's replication channel to the secondary site: ``opened``, ``pending`` (the cloud is
    still making it: call again later) or ``none``. The channel's id is kept on the member as soon as the
    cloud answers, so a second run (a redelivered task) finds it instead of opening another."""
    group = member.group
    if member.state != ProtectedMember.State.JOINED or member.channel == ProtectedMember.Channel.NONE:
        return "none"
    platform, region = group.primary_platform, group.primary_region
    try:
        if member.channel == ProtectedMember.Channel.DISK_PAIR:
            if not member.replica_id:
                # A task never waits for the cloud: while the secondary disk is being made, the member is
                # pending and the setup comes back (the same client token finds the same disk).
                try:
                    member.replica_id = cloud.call(
                        platform, region, "pair_create", source_disk_id=member.external_id,
                        dest_region=group.secondary_region, dest_zone=group.secondary_zone or _default_zone(group),
                        rpo_seconds=PAIR_RPO_SECONDS, name=f"um-{member.id}", tags=_tags(group, member),
                        client_token=f"um-{member.id}", wait=False)
                except CloudCallError as exc:
                    if exc.code != SECONDARY_NOT_READY:
                        raise
                    ProtectedMember.objects.filter(pk=member.pk).update(replica_status="preparing", error="")
                    return "pending"
                ProtectedMember.objects.filter(pk=member.pk).update(replica_id=member.replica_id, error="")
            pair = cloud.call(platform, region, "pair_get", member.replica_id) or {}
            status = str(pair.get("status", ""))
            ProtectedMember.objects.filter(pk=member.pk).update(replica_status=status[:32])
            if status == "creating":
                return "pending"
            if status == "created":
                cloud.call(platform, region, "pair_start", member.replica_id)
            return "opened"
        if member.channel == ProtectedMember.Channel.SNAPSHOT_COPY:
            snapshot_cycle(member=member)
            return "opened" if member.replica_id else "pending"
        if member.replica_id:
            return "opened"
        if member.channel == ProtectedMember.Channel.RDS_BACKUP:
            cloud.call(platform, region, "rds_cross_region_backup", member.external_id,
                       dest_region=group.secondary_region, enabled=True)
            member.replica_id = f"{member.external_id}@{group.secondary_region}"
        else:
            dest = f"{member.external_id}-dr"[:63]
            # The destination bucket is made first (replication needs it to exist), in this account.
            cloud.call(platform, group.secondary_region, "bucket_create", name=dest)
            member.replica_id = cloud.call(platform, region, "bucket_replication_create", member.external_id,
                                           dest_region=group.secondary_region, dest_bucket=dest)
            member.secondary_id = dest
    except CloudCallError as exc:
        ProtectedMember.objects.filter(pk=member.pk).update(error=f"{exc.code}: {exc.message}"[:500])
        raise
    ProtectedMember.objects.filter(pk=member.pk).update(replica_id=member.replica_id,
                                                        secondary_id=member.secondary_id, error="")
    return "opened"


def _default_zone(group: ProtectionGroup) -> str:
    from apps.clouds.models import Zone

    zone = Zone.objects.filter(region__platform=group.secondary_platform, region__region_id=group.secondary_region) \
        .order_by("zone_id").values_list("zone_id", flat=True).first()
    return zone or f"{group.secondary_region}-a"


# -- the snapshot channel: periodic cross-region copies ---------------------------------------------------
# A cycle: a snapshot at the primary, then its copy at the secondary; once the copy is complete it is the
# member's recovery point (``replica_id``; RPO = the age of the snapshot it copies) and the copy before
# it, with the primary's snapshot, is deleted (volume and DB snapshots alike). The cycle in flight is
# kept on the member (``secondary_id``: ``snap|<snapshot>|<epoch>`` then ``copy|<snapshot>|<epoch>|<copy>``),
# so every poll moves it on from where it is. A new cycle starts once the last point is half the target
# RPO old.

SNAPSHOT_MIN_INTERVAL = 5


def _is_db(member: ProtectedMember) -> bool:
    return member.resource_type == "rds.instance"


def snapshot_cycle(*, member: ProtectedMember) -> tuple[datetime | None, str, int]:
    """Move the member's copy cycle on by what the cloud has finished; (recovery point, status, bytes)."""
    group = member.group
    platform, region, dest = group.primary_platform, group.primary_region, group.secondary_region
    cycle = member.secondary_id.split("|") if member.secondary_id else []
    now = timezone.now()
    name = f"um-{member.id}-{int(now.timestamp())}"
    tags = _tags(group, member)
    fields: dict[str, Any] = {}
    if not cycle:
        interval = max(SNAPSHOT_MIN_INTERVAL, group.target_rpo_seconds / 2)
        point = member.last_recovery_point
        if member.replica_id and point is not None and (now - point).total_seconds() < interval:
            return point, member.replica_status or "copied", member.bytes_moved
        if _is_db(member):
            snap = cloud.call(platform, region, "rds_backup_create", member.external_id)
        else:
            snap = cloud.call(platform, region, "snapshot_create", member.external_id, name=name, tags=tags)
        fields = {"secondary_id": f"snap|{snap}|{now.timestamp():.3f}", "replica_status": "snapshotting"}
    elif cycle[0] == "snap":
        snap = cycle[1]
        done, failed = _snapshot_state(member, platform, region, snap)
        if failed:
            fields = {"secondary_id": "", "replica_status": "snapshot_failed"}
        elif done:
            if _is_db(member):
                copy = cloud.call(platform, region, "rds_snapshot_copy", snap, dest_region=dest, name=f"{name}-dr")
            else:
                copy = cloud.call(platform, region, "snapshot_copy", snap, dest_region=dest, name=f"{name}-dr",
                                  tags=tags)
            fields = {"secondary_id": f"copy|{snap}|{cycle[2]}|{copy}", "replica_status": "copying"}
    elif cycle[0] == "copy":
        snap, taken, copy = cycle[1], cycle[2], cycle[3]
        done, failed = _snapshot_state(member, platform, dest, copy)
        if failed:
            fields = {"secondary_id": "", "replica_status": "copy_failed"}
        elif done:
            # The copy before this one and the primary's snapshot are no longer anyone's recovery point.
            delete = "rds_snapshot_delete" if _is_db(member) else "snapshot_delete"
            previous = member.replica_id
            if previous and previous != copy:
                _quietly(platform, dest, delete, previous)
            _quietly(platform, region, delete, snap)
            point = datetime.fromtimestamp(float(taken), tz=UTC)
            fields = {"secondary_id": "", "replica_id": copy, "replica_status": "copied",
                      "last_recovery_point": point, "error": ""}
    if fields:
        ProtectedMember.objects.filter(pk=member.pk).update(**fields)
        for key, value in fields.items():
            setattr(member, key, value)
    return member.last_recovery_point, member.replica_status, member.bytes_moved


def _snapshot_state(member: ProtectedMember, platform: Any, region: str, snapshot_id: str) -> tuple[bool, bool]:
    """(complete, failed or gone) of a volume snapshot or a DB snapshot in ``region``."""
    if _is_db(member):
        job = cloud.call(platform, region, "rds_backup_job_get", member.external_id, snapshot_id) or {}
        return job.get("status") == "Finished", job.get("status") in ("Failed", None)
    row = cloud.call(platform, region, "snapshot_get", snapshot_id) or {}
    return row.get("status") in ("completed", "accomplished"), row.get("status") in ("error", "failed", None)


def _quietly(platform: Any, region: str, fn: str, *args: Any) -> None:
    try:
        cloud.call(platform, region, fn, *args)
    except CloudCallError as exc:
        logger.warning("could not %s %s: %s", fn, args, exc)


NEEDS_SETUP = Q(replica_id="") | Q(channel=ProtectedMember.Channel.DISK_PAIR, replica_status__in=["", "creating",
                                                                                                     "created"])


def group_setup(*, group_id: str) -> dict[str, int]:
    """Open the channel of every joined member that has none (or whose pair was never started); errors are
    kept on the member. ``pending`` counts channels the cloud is still making."""
    counts = {"opened": 0, "pending": 0, "failed": 0}
    members = ProtectedMember.objects.select_related("group__primary_platform", "group__secondary_platform").filter(
        NEEDS_SETUP, group_id=group_id, state=ProtectedMember.State.JOINED).exclude(
        channel=ProtectedMember.Channel.NONE)
    for member in members:
        try:
            outcome = member_setup(member=member)
        except CloudCallError:
            logger.warning("could not open replication of member %s", member.id)
            counts["failed"] += 1
            continue
        if outcome in counts:
            counts[outcome] += 1
    return counts


def _epoch(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def member_recovery_point(member: ProtectedMember) -> tuple[datetime | None, str, int]:
    """(last recovery point at the secondary, channel status, bytes moved) as the cloud says now."""
    group = member.group
    platform, region = group.primary_platform, group.primary_region
    if member.channel == ProtectedMember.Channel.DISK_PAIR:
        pair = cloud.call(platform, region, "pair_get", member.replica_id)
        return (_epoch(pair.get("last_recovery_point")), str(pair.get("status", "")),
                int(pair.get("bytes_moved") or 0))
    if member.channel == ProtectedMember.Channel.SNAPSHOT_COPY:
        return snapshot_cycle(member=member)
    if member.channel == ProtectedMember.Channel.RDS_BACKUP:
        backups = cloud.call(platform, region, "rds_backups", member.external_id) or []
        points = [_epoch(b.get("ended_at")) for b in backups if str(b.get("status", "")).lower() == "success"]
        points = [p for p in points if p]
        return (max(points) if points else None, "backup", 0)
    if member.channel == ProtectedMember.Channel.OSS_REPLICATION:
        progress = cloud.call(platform, region, "bucket_replication_progress", member.external_id,
                              member.replica_id)
        return (_epoch(progress.get("new_object_point")), str(progress.get("status", "")), 0)
    return (None, "", 0)


def rpo_of(point: datetime | None, now: datetime | None = None) -> float | None:
    if point is None:
        return None
    return max(0.0, ((now or timezone.now()) - point).total_seconds())


def group_poll(*, group: ProtectionGroup) -> ProtectionGroup:
    """Refresh every replicated member's last recovery point and the group's RPO (the worst member's; a
    member never replicated counts as unbounded). A breach of the target is announced once."""
    members = list(group.members.filter(state=ProtectedMember.State.JOINED)
                   .exclude(channel=ProtectedMember.Channel.NONE))
    now = timezone.now()
    worst: float | None = 0.0 if members else None
    for member in members:
        member.group = group
        if not member.replica_id and member.channel != ProtectedMember.Channel.SNAPSHOT_COPY:
            worst = None  # a member whose channel never opened has no recovery point at all
            continue
        try:
            point, status, moved = member_recovery_point(member)
        except CloudCallError as exc:
            ProtectedMember.objects.filter(pk=member.pk).update(error=f"{exc.code}: {exc.message}"[:500])
            point, status, moved = member.last_recovery_point, member.replica_status, member.bytes_moved
        rpo = rpo_of(point, now)
        ProtectedMember.objects.filter(pk=member.pk).update(
            last_recovery_point=point, rpo_seconds=rpo, replica_status=status[:32], bytes_moved=moved)
        if rpo is None:
            worst = None
        elif worst is not None:
            worst = max(worst, rpo)
    with transaction.atomic():
        locked = ProtectionGroup.objects.select_for_update().get(pk=group.pk)
        breached = bool(members) and (worst is None or worst > locked.target_rpo_seconds)
        was = locked.rpo_breached
        locked.rpo_seconds = worst
        locked.rpo_breached = breached
        locked.rpo_checked_at = now
        locked.save(update_fields=["rpo_seconds", "rpo_breached", "rpo_checked_at", "updated_at"])
        # Only a crossing is announced (each announcement is also an audit entry); pages re-read the RPO.
        if breached and not was:
            _announce(locked, "rpo_breached")
        elif was and not breached:
            _announce(locked, "rpo_recovered")
    return locked


def poll_all() -> dict[str, int]:
    """The periodic pass: coverage drift and RPO of every group."""
    polled = failed = 0
    for group in ProtectionGroup.objects.select_related("primary_platform", "secondary_platform"):
        try:
            group_refresh_members(group=group)
            if group.members.filter(NEEDS_SETUP, state=ProtectedMember.State.JOINED).exclude(
                    channel=ProtectedMember.Channel.NONE).exists():
                group_setup(group_id=group.id)
            group_poll(group=group)
            polled += 1
        except Exception:
            logger.exception("could not poll protection group %s", group.id)
            failed += 1
    return {"polled": polled, "failed": failed}
