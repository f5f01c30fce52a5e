"""Recovery plans: drill, switchover, failover, switchback, failback, run in ordered batches of steps.

``plan_build`` turns a group and a plan kind into ordered batches (sequence numbers) of steps; the dry
run lists them with every cloud call each would make, the real run saves them as ``PlanStep`` rows.
``plan_start`` refuses a plan the group's state does not allow, and any plan while one runs (409).

Each step is an ``Operation`` (its own progress, followed live). The steps of the running batch are
driven together by rounds (``batch_round``, one Celery task per round, re-queued with a countdown while
steps wait): a round reads every pair of the batch in one cloud call per 100, makes the steps' calls
concurrently on a bounded pool, and looks again soon while the batch is young. A step resumed alone
(``step_run``, queued by the reconciler) takes the same path. A step is never run twice:
- a task carries the step's next ``tick`` (a round the run's); a redelivered task with an old tick does
  nothing;
- a step looks at the cloud before it acts (a pair already failed over is not failed over again; a
  drill network or copy already made under the run's name is found, not made twice), and its result is
  saved with the step in one transaction;
- the reconciler re-queues steps whose worker died (no heartbeat for ``STALE_SECONDS``) at their next
  tick, so they resume where they were.
A batch starts when every step of the one before has ended. A critical step that fails stops the plan:
the steps not yet started are skipped, but cleanup batches (a drill's) always run. Optional steps that
fail are recorded and the plan goes on.

Resource actions (stopping the instances that write, starting them again) are lifecycle operations of
the provisioning app (``operation_start``): their own change record and steps, watched by the step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.clouds.adapters import adapter_for
from apps.clouds.adapters.base import CloudCallError
from apps.core.errors import Conflict, InvalidInput, Refused
from apps.core.events import emit
from apps.core.models import Operation
from apps.core.scoping import require
from apps.core.services import operation_advance, operation_create, operation_fail, operation_succeed
from apps.provisioning.statemachine import BUSY
from apps.resilience import cloud
from apps.resilience.models import PlanRun, PlanStep, ProtectedMember, ProtectionGroup
from apps.resilience.services import _epoch, rpo_of
from apps.resilience.statemachine import AFTER, KINDS, check_plan

logger = logging.getLogger(__name__)

PLAN_RUN = "resilience:plan:run"
PLAN_APPROVE = "resilience:plan:approve"
POLL_SECONDS = 0.5
STALE_SECONDS = 60.0
MAX_ATTEMPTS = 8
DEFAULT_TIMEOUT = 900
DRILL_TAG = "unimanager:drill"
DRILL_CIDR = "172.31.0.0/16"
DRILL_VSW_CIDR = "172.31.1.0/24"
FAILOVERED = {"failovered"}
FAILING_OVER = {"failovering", "failovered"}
REPLICATING = {"normal", "syncing", "initial_syncing"}
# The state an instance passes through on its way to running / stopped.
MOVING = {"running": "starting", "stopped": "stopping"}
OPPOSITE = {"running": "stopped", "stopped": "running"}
BUSY_PAIR = {"creating", "stopping", "failovering", "reprotecting", "deleting", "starting"}


class StepFailed(Exception):
    """A step that cannot succeed (the cloud refused, the resource is gone, the state is wrong)."""


@dataclass
class Spec:
    batch: int
    action: str
    title: str
    member: ProtectedMember | None = None
    params: dict[str, Any] = field(default_factory=dict)
    critical: bool = True
    cleanup: bool = False
    timeout: int = DEFAULT_TIMEOUT


@dataclass
class Ctx:
    run: PlanRun
    group: ProtectionGroup
    step: PlanStep
    # The batch's pairs read in one call at the start of a round (``batch_round``): pair id -> pair_get's
    # dict (None when gone). ``None`` when the step runs alone and reads its own pair.
    pairs: dict[str, dict[str, Any] | None] | None = None

    @property
    def member(self) -> ProtectedMember | None:
        return self.step.member

    def primary(self, fn: str, *args: Any, **kw: Any) -> Any:
        with _cloud_wait():
            return cloud.call(self.group.primary_platform, self.group.primary_region, fn, *args, **kw)

    def secondary(self, fn: str, *args: Any, **kw: Any) -> Any:
        with _cloud_wait():
            return cloud.call(self.group.secondary_platform, self.group.secondary_region, fn, *args, **kw)

    def copies(self, fn: str, *args: Any, **kw: Any) -> Any:
        """A call where the snapshot channel keeps its copies: the primary's account, the secondary's region."""
        with _cloud_wait():
            return cloud.call(self.group.primary_platform, self.group.secondary_region, fn, *args, **kw)


# -- actions ------------------------------------------------------------------------------------------------
# Each action: ``calls`` (what a dry run lists), ``act`` (one call, after looking), ``check`` (waiting:
# True when done). ``act`` returns fields merged into the step's result.

@dataclass(frozen=True)
class Action:
    kind: str
    calls: Callable[[ProtectionGroup, ProtectedMember | None, dict[str, Any]], list[dict[str, Any]]]
    act: Callable[[Ctx], dict[str, Any]]
    check: Callable[[Ctx], bool] | None = None


def _p(group: ProtectionGroup, fn: str, target: str = "") -> dict[str, Any]:
    return cloud.describe(group.primary_platform, group.primary_region, fn, target)


def _s(group: ProtectionGroup, fn: str, target: str = "") -> dict[str, Any]:
    return cloud.describe(group.secondary_platform, group.secondary_region, fn, target)


def drill_name(run_id: str, suffix: str = "") -> str:
    return f"drill-{run_id}{'-' + suffix if suffix else ''}"[:120]


def drill_tags(run: PlanRun) -> dict[str, str]:
    return {DRILL_TAG: run.id, "unimanager:protection-group": run.group_id}


def _find(ctx: Ctx, resource_type: str, name: str, *, primary: bool = False) -> str:
    """The id of a resource this run made earlier (found by the name it gave it), or ""."""
    platform = ctx.group.primary_platform if primary else ctx.group.secondary_platform
    region = ctx.group.primary_region if primary else ctx.group.secondary_region
    adapter = adapter_for(platform, region=region)
    token = None
    for _page in range(50):
        page = adapter.list_resources(resource_type, region, token)
        for item in page.items:
            # RDS on AWS lowers the names it is given into identifiers.
            if item.name.lower() == name.lower() and item.status not in {"deleted", "deleting"}:
                return item.external_id
        token = page.next_token
        if not token:
            break
    return ""


def _token(ctx: Ctx, what: str = "") -> str:
    """The client token of this step's call ``what``: the same on every delivery of the step, so a call
    repeated after a lost answer gets the first answer instead of acting twice."""
    return f"um-{ctx.run.id}-{ctx.step.seq}{'-' + what if what else ''}"[:64]


def _pair(ctx: Ctx, *, fresh: bool = False) -> dict[str, Any]:
    member = ctx.member
    if member is None or not member.replica_id:
        raise StepFailed("The member has no replication pair.")
    if not fresh and ctx.pairs is not None and member.replica_id in ctx.pairs:
        return ctx.pairs[member.replica_id]
    pair = ctx.primary("pair_get", member.replica_id)
    if ctx.pairs is not None:
        ctx.pairs[member.replica_id] = pair
    return pair


def _hints(ctx: Ctx) -> dict[str, str]:
    """The pair's regions as the round read them, so the adapter acts without looking the pair up again."""
    pair = (ctx.pairs or {}).get(ctx.member.replica_id) if ctx.member else None
    if not pair or not pair.get("source_region") or not pair.get("dest_region"):
        return {}
    return {"source_region": pair["source_region"], "dest_region": pair["dest_region"]}


def _approval_act(ctx: Ctx) -> dict[str, Any]:
    return {"waiting": True}


def _network_act(ctx: Ctx) -> dict[str, Any]:
    result = dict(ctx.step.result)
    if not result.get("vpc_id"):
        name = drill_name(ctx.run.id, "vpc")
        # The client token makes a create repeated after a lost answer return the first VPC.
        result["vpc_id"] = _find(ctx, "vpc.vpc", name) or ctx.secondary(
            "vpc_create", name=name, cidr_block=DRILL_CIDR, client_token=f"um-{ctx.run.id}-vpc")
        _save_result(ctx.step, result)
    return result


def _network_check(ctx: Ctx) -> bool:
    result = dict(ctx.step.result)
    vpc = ctx.secondary("vpc_get", result["vpc_id"])
    if vpc is None or vpc["status"] not in {"available", "running"}:
        return False
    if not result.get("vswitch_id"):
        name = drill_name(ctx.run.id, "vsw")
        zone = ctx.group.secondary_zone or _zone(ctx.group)
        result["vswitch_id"] = _find(ctx, "vpc.vswitch", name) or ctx.secondary(
            "vswitch_create", vpc_id=result["vpc_id"], zone=zone, cidr_block=DRILL_VSW_CIDR, name=name,
            client_token=f"um-{ctx.run.id}-vsw")
        _save_result(ctx.step, result)
    vsw = ctx.secondary("vswitch_get", result["vswitch_id"])
    return vsw is not None and vsw["status"] in {"available", "running"}


def _zone(group: ProtectionGroup) -> str:
    from apps.resilience.services import _default_zone

    return _default_zone(group)


def _drill_copy_act(ctx: Ctx) -> dict[str, Any]:
    if ctx.step.result.get("drill_id"):
        return {}
    _pair(ctx)
    try:
        # The client token makes a start repeated after a lost answer return the first drill.
        drill_id = ctx.primary("pair_drill_start", ctx.member.replica_id, client_token=_token(ctx), **_hints(ctx))
    except CloudCallError as exc:
        if exc.code == "OperationDenied.DrillExists":
            raise StepFailed("The pair already has a drill (another drill, or a start whose answer was lost); "
                             "clear it and run the drill again.") from None
        raise
    return {"drill_id": drill_id, "vswitch_id": _network_of(ctx.run).get("vswitch_id", "")}


def _drill_copy_check(ctx: Ctx) -> bool:
    drill = ctx.primary("pair_drill_get", ctx.member.replica_id, ctx.step.result["drill_id"], **_hints(ctx))
    if drill is None:
        raise StepFailed("The drill is gone.")
    status = str(drill.get("status") or "").lower()
    if status.endswith("failed"):
        raise StepFailed(f"The drill is {status}: {drill.get('status_message') or ''}".strip())
    if status != "executed":
        return False
    point = _epoch(drill.get("recovery_point"))
    started = _epoch(drill.get("started_at")) or timezone.now()
    _save_result(ctx.step, {**ctx.step.result, "disk_id": drill.get("disk_id") or "",
                            "recovery_point": point.isoformat() if point else None,
                            "rpo_seconds": rpo_of(point, started)})
    return True


def _network_of(run: PlanRun) -> dict[str, Any]:
    step = run.steps.filter(action="network_create").first()
    return dict(step.result) if step else {}


def _latest_backup(ctx: Ctx) -> tuple[str, datetime | None]:
    backups = ctx.primary("rds_backups", ctx.member.external_id) or []
    done = [b for b in backups if str(b.get("status", "")).lower() in {"success", "succeeded", "completed",
                                                                       "available"} and b.get("ended_at")]
    if not done:
        raise StepFailed(f"{ctx.member.name or ctx.member.external_id} has no finished backup to restore from.")
    best = max(done, key=lambda b: b["ended_at"])
    return best["id"], _epoch(best["ended_at"])


def _rds_copy_act(ctx: Ctx, *, drill: bool) -> dict[str, Any]:
    """A clone of the database from its latest backup (or, in a failover, the chosen point in time),
    named for the run so a repeated step finds it instead of cloning twice."""
    if ctx.step.result.get("copy_id"):
        return {}
    member = ctx.member
    name = drill_name(ctx.run.id, member.external_id) if drill else f"dr-{ctx.run.id}-{member.external_id}"[:120]
    tags = drill_tags(ctx.run) if drill else {"unimanager:recovery": ctx.run.id}
    found = _find(ctx, "rds.instance", name, primary=True)
    point = ctx.run.recovery_point
    if found:
        return {"copy_id": found}
    if point is not None:
        copy = ctx.primary("rds_restore", member.external_id, restore_time=point.timestamp(), name=name, tags=tags,
                           client_token=_token(ctx))
    else:
        backup_id, point = _latest_backup(ctx)
        copy = ctx.primary("rds_restore", member.external_id, backup_id=backup_id, name=name, tags=tags,
                           client_token=_token(ctx))
    return {"copy_id": copy, "recovery_point": point.isoformat() if point else None, "rpo_seconds": rpo_of(point)}


def _rds_check(ctx: Ctx) -> bool:
    row = ctx.primary("rds_get", ctx.step.result["copy_id"])
    return row is not None and row["status"] in {"running", "available"}


def _is_db(member: ProtectedMember | None) -> bool:
    return member is not None and member.resource_type == "rds.instance"


def _restore_name(ctx: Ctx, *, drill: bool) -> str:
    member = ctx.member
    return drill_name(ctx.run.id, member.external_id) if drill else f"dr-{ctx.run.id}-{member.external_id}"[:120]


def _snapshot_restore_act(ctx: Ctx, *, drill: bool) -> dict[str, Any]:
    """A volume (or database) at the secondary from the member's last complete copy (snapshot channel),
    named for the run so a repeated step finds it instead of making a second one."""
    if ctx.step.result.get("copy_id"):
        return {}
    member = ctx.member
    if not member.replica_id:
        raise StepFailed(f"{member.name or member.external_id} has no complete copy at the secondary yet.")
    name = _restore_name(ctx, drill=drill)
    tags = drill_tags(ctx.run) if drill else {"unimanager:recovery": ctx.run.id}
    point = member.last_recovery_point
    found = _find(ctx, "rds.instance" if _is_db(member) else "ecs.disk", name)
    if found:
        copy = found
    elif _is_db(member):
        copy = ctx.copies("rds_restore", member.external_id, backup_id=member.replica_id, name=name, tags=tags,
                          client_token=_token(ctx))
    else:
        copy = ctx.copies("disk_from_snapshot", zone=ctx.group.secondary_zone or _zone(ctx.group),
                          snapshot_id=member.replica_id, name=name, tags=tags, client_token=_token(ctx))
    return {"copy_id": copy, "recovery_point": point.isoformat() if point else None, "rpo_seconds": rpo_of(point)}


def _snapshot_restore_check(ctx: Ctx) -> bool:
    row = ctx.copies("rds_get" if _is_db(ctx.member) else "disk_get", ctx.step.result["copy_id"])
    return row is not None and row["status"] in {"running", "available", "in_use"}


def _restore_delete_act(ctx: Ctx) -> dict[str, Any]:
    made = ctx.run.steps.filter(action="drill_restore", member=ctx.member).first()
    copy_id = (made.result or {}).get("copy_id") if made else ""
    if not copy_id:
        copy_id = _find(ctx, "rds.instance" if _is_db(ctx.member) else "ecs.disk",
                        _restore_name(ctx, drill=True))
    if copy_id:
        ctx.copies("rds_delete" if _is_db(ctx.member) else "disk_delete", copy_id)
    return {"deleted": copy_id or None}


def _restore_gone(ctx: Ctx) -> bool:
    copy_id = ctx.step.result.get("deleted")
    if not copy_id:
        return True
    row = ctx.copies("rds_get" if _is_db(ctx.member) else "disk_get", copy_id)
    return row is None or row["status"] in {"deleted"}


def _evidence_act(ctx: Ctx) -> dict[str, Any]:
    copies = list(ctx.run.steps.filter(action__in=["drill_copy", "drill_rds", "pair_failover", "rds_restore",
                                                   "drill_restore", "snapshot_restore"],
                                       status=PlanStep.Status.SUCCEEDED))
    rpos = [s.result.get("rpo_seconds") for s in copies if s.result.get("rpo_seconds") is not None]
    rto = (timezone.now() - ctx.run.started_at).total_seconds()
    rpo = max(rpos) if rpos else None
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().get(pk=ctx.run.pk)
        run.measured_rpo_seconds = rpo
        run.measured_rto_seconds = rto
        run.evidence = {**run.evidence, "copies": len(copies), "rpo_seconds": rpo, "rto_seconds": rto,
                        "target_rpo_seconds": ctx.group.target_rpo_seconds,
                        "target_rto_seconds": ctx.group.target_rto_seconds,
                        "rpo_met": rpo is not None and rpo <= ctx.group.target_rpo_seconds,
                        "rto_met": rto <= ctx.group.target_rto_seconds, "measured_at": timezone.now().isoformat()}
        run.save(update_fields=["measured_rpo_seconds", "measured_rto_seconds", "evidence"])
        emit(run.organization_id, run.topic, {"event": "evidence", "name": ctx.group.name, "plan": run.id,
                                              "kind": run.kind, **run.evidence})
    return {"rpo_seconds": rpo, "rto_seconds": rto}


def _drill_clear_act(ctx: Ctx) -> dict[str, Any]:
    copy = ctx.run.steps.filter(action="drill_copy", member=ctx.member).first()
    drill_id = (copy.result or {}).get("drill_id") if copy else ""
    if not drill_id:
        # The start's answer never came back (or the step failed after it): a drill the pair has that
        # started after this run did is this run's (a pair has one drill at a time).
        drill_id = next((d["id"] for d in _run_drills(ctx.group, ctx.run, ctx.member)), "")
    if not drill_id:
        return {"cleared": None}
    try:
        ctx.primary("pair_drill_clear", ctx.member.replica_id, drill_id)
    except CloudCallError as exc:
        if exc.transient or "notfound" not in exc.code.lower().replace(".", "").replace("_", ""):
            raise
    return {"cleared": drill_id}


def _run_drills(group: ProtectionGroup, run: PlanRun, member: ProtectedMember) -> list[dict[str, Any]]:
    started = run.started_at.timestamp() - 1 if run.started_at else 0
    try:
        drills = cloud.call(group.primary_platform, group.primary_region, "pair_drills", member.replica_id)
    except CloudCallError as exc:
        if exc.transient:
            raise
        return []
    return [d for d in drills if (_epoch(d.get("started_at")) or timezone.now()).timestamp() >= started
            and str(d.get("status", "")).lower() not in {"clearing", "deleted"}]


def _rds_delete_act(ctx: Ctx) -> dict[str, Any]:
    copy = ctx.run.steps.filter(action="drill_rds", member=ctx.member).first()
    copy_id = (copy.result or {}).get("copy_id") if copy else ""
    if not copy_id:
        copy_id = _find(ctx, "rds.instance", drill_name(ctx.run.id, ctx.member.external_id), primary=True)
    if copy_id:
        ctx.primary("rds_delete", copy_id)
    return {"deleted": copy_id or None}


def _rds_gone(ctx: Ctx) -> bool:
    copy_id = ctx.step.result.get("deleted")
    return not copy_id or ctx.primary("rds_get", copy_id) is None


def _network_delete_act(ctx: Ctx) -> dict[str, Any]:
    net = _network_of(ctx.run)
    vsw = net.get("vswitch_id") or _find(ctx, "vpc.vswitch", drill_name(ctx.run.id, "vsw"))
    vpc = net.get("vpc_id") or _find(ctx, "vpc.vpc", drill_name(ctx.run.id, "vpc"))
    if vsw:
        ctx.secondary("vswitch_delete", vsw)
    return {"vswitch_id": vsw, "vpc_id": vpc}


def _network_gone(ctx: Ctx) -> bool:
    vsw, vpc = ctx.step.result.get("vswitch_id"), ctx.step.result.get("vpc_id")
    if vsw and ctx.secondary("vswitch_get", vsw) is not None:
        return False
    if vpc:
        if ctx.secondary("vpc_get", vpc) is None:
            return True
        ctx.secondary("vpc_delete", vpc)
        return ctx.secondary("vpc_get", vpc) is None
    return True


def leftovers(group: ProtectionGroup, run_id: str) -> list[dict[str, str]]:
    """Resources at the secondary still named or tagged for drill ``run_id``, or made by its drills (the
    drill disks the cloud names itself): what a cleanup left behind."""
    adapter = adapter_for(group.secondary_platform, region=group.secondary_region)
    prefix = drill_name(run_id)
    made = set()
    for result in PlanStep.objects.filter(run_id=run_id, action__in=["drill_copy", "network_create"]) \
            .values_list("result", flat=True):
        made |= {v for k, v in (result or {}).items() if k in ("disk_id", "vpc_id", "vswitch_id") and v}
    found = []
    # Drills the cloud still has on the group's pairs (the cloud names their disks itself): whoever started
    # them, they are in the way of the next drill and cost money.
    if "replication_pairs" in cloud.offered(group.primary_platform):
        for member in group.members.filter(channel=ProtectedMember.Channel.DISK_PAIR).exclude(replica_id=""):
            try:
                drills = cloud.call(group.primary_platform, group.primary_region, "pair_drills", member.replica_id)
            except CloudCallError:
                continue
            for drill in drills:
                if str(drill.get("status", "")).lower() not in {"clearing", "deleted"}:
                    found.append({"type": "ebs.pair_drill", "id": drill["id"],
                                  "name": f"drill of {member.name or member.external_id} ({drill.get('disk_id')})"})
    for resource_type in ("vpc.vpc", "vpc.vswitch", "ecs.disk", "rds.instance"):
        token = None
        for _page in range(50):
            try:
                page = adapter.list_resources(resource_type, group.secondary_region, token)
            except CloudCallError:
                break
            for item in page.items:
                if (item.name.startswith(prefix) or (item.tags or {}).get(DRILL_TAG) == run_id
                        or item.external_id in made) and item.status not in {"deleted", "deleting"}:
                    found.append({"type": resource_type, "id": item.external_id, "name": item.name})
            token = page.next_token
            if not token:
                break
    return found


def _leftovers_act(ctx: Ctx) -> dict[str, Any]:
    left = leftovers(ctx.group, ctx.run.id)
    PlanRun.objects.filter(pk=ctx.run.pk).update(leftovers=left)
    if left:
        raise StepFailed(f"{len(left)} drill resources are left: " + ", ".join(x["id"] for x in left[:10]))
    return {"leftovers": 0}


def _instance_act(action: str) -> Callable[[Ctx], dict[str, Any]]:
    target = {"stop": "stopped", "start": "running"}[action]

    def act(ctx: Ctx) -> dict[str, Any]:
        from apps.resources.models import Resource

        resource = Resource.objects.filter(pk=ctx.member.resource_id).first() if ctx.member else None
        if resource is None or resource.deleted:
            raise StepFailed("The instance is no longer in the inventory.")
        status = (resource.status or "").lower()
        if status == target:
            return {"skipped": f"already {target}"}
        if status == MOVING[target]:  # someone else's start or stop is under way: wait for it to land
            return {"awaiting": target}
        if status == MOVING[OPPOSITE[target]]:
            # Someone else's change moves it the other way: let it land there, then make ours.
            return {"awaiting": OPPOSITE[target], "then": action}
        return _instance_operation(ctx, resource, action)
    return act


def _instance_operation(ctx: Ctx, resource: Any, action: str) -> dict[str, Any]:
    from apps.provisioning.lifecycle import operation_start

    try:
        change = operation_start(actor=ctx.run.actor, resource=resource, action=action, check=False,
                                 comment=f"{ctx.run.kind} {ctx.run.id}")
    except (Conflict, Refused) as exc:
        raise StepFailed(exc.message) from None
    return {"change": change.id, "change_operation": change.operation_id}


def _instance_check(ctx: Ctx) -> bool:
    result = ctx.step.result
    if result.get("awaiting"):
        if not _instance_arrived(ctx, result["awaiting"]):
            return False
        if not result.get("then"):
            return True
        from apps.resources.models import Resource

        resource = Resource.objects.get(pk=ctx.member.resource_id)
        started = _instance_operation(ctx, resource, result["then"])
        _save_result(ctx.step, {k: v for k, v in result.items() if k not in ("awaiting", "then")} | started)
        return False
    op_id = ctx.step.result.get("change_operation")
    if not op_id:
        return True
    status, error = Operation.objects.values_list("status", "error").get(pk=op_id)
    if status == Operation.Status.SUCCEEDED:
        return True
    if status in Operation.FINAL:
        raise StepFailed(error or f"The lifecycle operation {status}.")
    return False


def _instance_arrived(ctx: Ctx, target: str) -> bool:
    """Whether an instance another start or stop was moving has reached ``target``, asked of the cloud
    (and collected); one that settled elsewhere fails the step."""
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    resource = Resource.objects.select_related("platform").filter(pk=ctx.member.resource_id).first() \
        if ctx.member else None
    row = resource and resource_refresh(platform=resource.platform, resource_type=resource.type,
                                        region=resource.region, external_id=resource.external_id)
    status = (row.status or "").lower() if row is not None and not row.deleted else "gone"
    if status == target:
        return True
    if status in BUSY:
        return False
    raise StepFailed(f"The instance is {status}, not {target}: another change moved it.")


def _rpo_zero_act(ctx: Ctx) -> dict[str, Any]:
    return {"since": ctx.step.result.get("since") or timezone.now().isoformat()}


def _rpo_zero_check(ctx: Ctx) -> bool:
    pair = _pair(ctx)
    point = _epoch(pair.get("last_recovery_point"))
    since = _epoch(ctx.step.result["since"])
    return point is not None and since is not None and point >= since


def _status(pair: dict[str, Any] | None) -> str:
    return str((pair or {}).get("status", "")).lower()


def _failover_act(ctx: Ctx) -> dict[str, Any]:
    pair = _pair(ctx)
    status = _status(pair)
    point = _epoch(pair.get("last_recovery_point"))
    if status in FAILING_OVER:
        return {"skipped": f"already {status}", "recovery_point": point.isoformat() if point else None,
                "rpo_seconds": ctx.step.result.get("rpo_seconds", rpo_of(point))}
    if ctx.step.params.get("caught_up"):
        # Switching back: the side being left must have replicated everything written to it since writes
        # there stopped, or switching would lose those writes.
        wait = ctx.run.steps.filter(action="wait_rpo_zero", member=ctx.member).first()
        since = _epoch((wait.result or {}).get("since")) if wait else None
        if since is None or point is None or point < since:
            seen = point.isoformat() if point else "none"
            raise StepFailed(f"Refused: writes not yet replicated would be lost (recovery point {seen} is before "
                             f"{since.isoformat() if since else 'writes stopped'}).")
    _once(ctx, "pair_failover", lambda p: _status(p) in FAILING_OVER)
    return {"recovery_point": point.isoformat() if point else None, "rpo_seconds": rpo_of(point)}


def _once(ctx: Ctx, fn: str, applied: Callable[[dict[str, Any]], bool]) -> None:
    """Call ``fn`` on the member's pair; when the cloud refuses it, look again: a call whose answer was
    lost and that the adapter repeated finds the pair already moved on, which is success."""
    try:
        ctx.primary(fn, ctx.member.replica_id, client_token=_token(ctx, fn), **_hints(ctx))
    except CloudCallError as exc:
        if exc.transient:
            raise
        if not applied(_pair(ctx, fresh=True)):
            raise


def _failover_check(ctx: Ctx) -> bool:
    status = _status(_pair(ctx))
    if status.endswith("_failed"):
        raise StepFailed(f"The pair is {status}.")
    return status in FAILOVERED


def _reprotect_act(ctx: Ctx) -> dict[str, Any]:
    """Reverse the pair (the side now serving becomes the source); it then starts, moving only the data
    changed since the failover."""
    if ctx.step.result.get("reprotected"):
        return {}
    pair = _pair(ctx)
    status = _status(pair)
    before = pair.get("direction")
    if status == "reprotecting":
        return {"reprotected": True, "direction_before": None}
    if status not in FAILOVERED:
        return {"skipped": f"pair is {status}", "reprotected": True, "started": True}
    _once(ctx, "pair_reprotect", lambda p: _status(p) == "reprotecting" or p.get("direction") != before)
    return {"reprotected": True, "direction_before": before}


def _reprotect_check(ctx: Ctx) -> bool:
    pair = _pair(ctx)
    status = _status(pair)
    if status.endswith("_failed"):
        raise StepFailed(f"The pair is {status}.")
    if status == "stopped" and not ctx.step.result.get("started"):
        _once(ctx, "pair_start", lambda p: _status(p) in REPLICATING)
        _save_result(ctx.step, {**ctx.step.result, "started": True, "direction": pair.get("direction")})
        return False
    return status in REPLICATING


def _endpoint_act(ctx: Ctx) -> dict[str, Any]:
    endpoint = ctx.step.params
    module = cloud.dr_module(ctx.group.secondary_platform)
    fn = getattr(module, "change_record", None)
    if fn is None:
        raise StepFailed(f"{ctx.group.secondary_platform.name} offers no endpoint switch.")
    fn(adapter_for(ctx.group.secondary_platform), endpoint["zone_id"], endpoint["name"], endpoint["value"])
    return {"switched": f"{endpoint['name']} -> {endpoint['value']}"}


ACTIONS: dict[str, Action] = {
    "approval": Action(PlanStep.Kind.APPROVAL, lambda g, m, p: [], _approval_act),
    "network_create": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_s(g, "vpc_create", "drill VPC"),
                                                                   _s(g, "vswitch_create", "drill vSwitch")],
                             _network_act, _network_check),
    "drill_copy": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_p(g, "pair_get", m.replica_id),
                                                               _p(g, "pair_drill_start", m.replica_id),
                                                               _p(g, "pair_drill_get", m.replica_id)],
                         _drill_copy_act, _drill_copy_check),
    "drill_rds": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_p(g, "rds_backups", m.external_id),
                                                              _p(g, "rds_restore", m.external_id)],
                        lambda ctx: _rds_copy_act(ctx, drill=True), _rds_check),
    "evidence": Action(PlanStep.Kind.WAIT, lambda g, m, p: [], _evidence_act),
    "drill_clear": Action(PlanStep.Kind.CLEANUP, lambda g, m, p: [_p(g, "pair_drill_clear", m.replica_id)],
                          _drill_clear_act),
    "rds_delete": Action(PlanStep.Kind.CLEANUP, lambda g, m, p: [_p(g, "rds_delete", f"drill copy of {m.name}")],
                         _rds_delete_act, _rds_gone),
    "network_delete": Action(PlanStep.Kind.CLEANUP, lambda g, m, p: [_s(g, "vswitch_delete", "drill vSwitch"),
                                                                     _s(g, "vpc_delete", "drill VPC")],
                             _network_delete_act, _network_gone),
    "leftovers": Action(PlanStep.Kind.CLEANUP, lambda g, m, p: [], _leftovers_act),
    "instance_stop": Action(PlanStep.Kind.RESOURCE, lambda g, m, p: [_p(g, "instance_stop", m.external_id)],
                            _instance_act("stop"), _instance_check),
    "instance_start": Action(PlanStep.Kind.RESOURCE, lambda g, m, p: [_p(g, "instance_start", m.external_id)],
                             _instance_act("start"), _instance_check),
    "wait_rpo_zero": Action(PlanStep.Kind.WAIT, lambda g, m, p: [_p(g, "pair_get", m.replica_id)],
                            _rpo_zero_act, _rpo_zero_check),
    "pair_failover": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_p(g, "pair_get", m.replica_id),
                                                                  _p(g, "pair_failover", m.replica_id)],
                            _failover_act, _failover_check),
    "pair_reprotect": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_p(g, "pair_get", m.replica_id),
                                                                   _p(g, "pair_reprotect", m.replica_id),
                                                                   _p(g, "pair_start", m.replica_id)],
                             _reprotect_act, _reprotect_check),
    "rds_restore": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_p(g, "rds_backups", m.external_id),
                                                                _p(g, "rds_restore", m.external_id)],
                          lambda ctx: _rds_copy_act(ctx, drill=False), _rds_check),
    "drill_restore": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_s(g, "disk_from_snapshot" if not _is_db(m)
                                                                     else "rds_restore", f"from {m.replica_id}")],
                            lambda ctx: _snapshot_restore_act(ctx, drill=True), _snapshot_restore_check),
    "restore_delete": Action(PlanStep.Kind.CLEANUP, lambda g, m, p: [_s(g, "rds_delete" if _is_db(m) else "disk_delete",
                                                                        f"drill copy of {m.name}")],
                             _restore_delete_act, _restore_gone),
    "snapshot_restore": Action(PlanStep.Kind.CLOUD, lambda g, m, p: [_s(g, "disk_from_snapshot" if not _is_db(m)
                                                                        else "rds_restore", f"from {m.replica_id}")],
                               lambda ctx: _snapshot_restore_act(ctx, drill=False), _snapshot_restore_check),
    "endpoint_switch": Action(PlanStep.Kind.ENDPOINT, lambda g, m, p: [
        _s(g, "change_record", f"{p.get('name')} -> {p.get('value')}")], _endpoint_act),
}


# -- building -----------------------------------------------------------------------------------------------

def _options(kind: str, options: Any) -> dict[str, Any]:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise InvalidInput("options must be an object.", detail={"options": ["must be an object"]})
    unknown = set(options) - {"approval", "recovery_point", "endpoint", "timeout_seconds", "accept_loss"}
    if unknown:
        raise InvalidInput(f"Unknown options: {', '.join(sorted(unknown))}.",
                           detail={"options": [f"unknown: {', '.join(sorted(unknown))}"]})
    clean: dict[str, Any] = {"approval": bool(options.get("approval", False)),
                             "accept_loss": bool(options.get("accept_loss", False))}
    timeout = options.get("timeout_seconds", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 5 <= timeout <= 86400:
        raise InvalidInput("timeout_seconds must be from 5 to 86400.", detail={"timeout_seconds": ["5..86400"]})
    clean["timeout_seconds"] = timeout
    point = options.get("recovery_point")
    if point is not None:
        if kind != "failover":
            raise InvalidInput("A recovery point is chosen for a failover only.",
                               detail={"recovery_point": ["failover only"]})
        parsed = _epoch(point) if isinstance(point, str | int | float) and not isinstance(point, bool) else None
        if parsed is None or parsed > timezone.now():
            raise InvalidInput("recovery_point must be a past time (ISO 8601).",
                               detail={"recovery_point": ["a past ISO 8601 time"]})
        clean["recovery_point"] = parsed
    endpoint = options.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, dict) or not all(isinstance(endpoint.get(k), str) and endpoint.get(k)
                                                     for k in ("zone_id", "name", "value")):
            raise InvalidInput("endpoint needs zone_id, name and value.",
                               detail={"endpoint": ["zone_id, name and value are required"]})
        clean["endpoint"] = {k: endpoint[k] for k in ("zone_id", "name", "value")}
    return clean


def plan_build(group: ProtectionGroup, kind: str, options: dict[str, Any]) -> list[Spec]:
    """The ordered batches of steps of a ``kind`` plan of ``group`` (sequence numbers from 1)."""
    members = list(group.members.filter(state=ProtectedMember.State.JOINED))
    disks = [m for m in members if m.channel == ProtectedMember.Channel.DISK_PAIR and m.replica_id]
    dbs = [m for m in members if m.channel == ProtectedMember.Channel.RDS_BACKUP]
    instances = [m for m in members if m.resource_type == "ecs.instance"]
    snaps = [m for m in members if m.channel == ProtectedMember.Channel.SNAPSHOT_COPY and m.replica_id]
    timeout = options.get("timeout_seconds", DEFAULT_TIMEOUT)
    batches: list[list[Spec]] = []

    def batch(*specs: Spec) -> None:
        if specs:
            batches.append(list(specs))

    def each(action: str, title: str, items: list[ProtectedMember], **kw: Any) -> list[Spec]:
        return [Spec(0, action, f"{title} {m.name or m.external_id}", member=m, timeout=timeout, **kw)
                for m in items]

    def by_tier(*parts: tuple[str, str, list[ProtectedMember]], **kw: Any) -> None:
        """One batch per recovery tier, in tier order."""
        for tier in sorted({m.tier for _a, _t, items in parts for m in items}):
            batch(*[s for action, title, items in parts
                    for s in each(action, title, [m for m in items if m.tier == tier], **kw)])

    if options.get("approval"):
        batch(Spec(0, "approval", f"Approve the {kind} of {group.name}", timeout=timeout))
    if kind == "drill":
        batch(Spec(0, "network_create", f"Isolated drill network in {group.secondary_region}", timeout=timeout))
        batch(*each("drill_copy", "Drill copy of", disks), *each("drill_rds", "Drill clone of", dbs),
              *each("drill_restore", "Drill copy of", snaps))
        batch(Spec(0, "evidence", "Measure RPO and RTO (evidence)", timeout=timeout))
        batch(*each("drill_clear", "Clear drill copy of", disks, cleanup=True, critical=False),
              *each("rds_delete", "Delete drill clone of", dbs, cleanup=True, critical=False),
              *each("restore_delete", "Delete drill copy of", snaps, cleanup=True, critical=False))
        batch(Spec(0, "network_delete", "Delete the drill network", cleanup=True, critical=False, timeout=timeout))
        batch(Spec(0, "leftovers", "Check for drill leftovers", cleanup=True, critical=False, timeout=timeout))
    elif kind in ("switchover", "failover"):
        if kind == "switchover":
            batch(*each("instance_stop", "Stop writes: stop", instances))
            batch(*each("wait_rpo_zero", "Wait for RPO 0 of", disks))
        by_tier(("pair_failover", "Fail over", disks), ("rds_restore", "Restore at the secondary", dbs),
                ("snapshot_restore", "Restore the last copy of", snaps))
        if options.get("endpoint"):
            batch(Spec(0, "endpoint_switch", f"Switch {options['endpoint']['name']} to the secondary",
                       params=options["endpoint"], critical=False, timeout=timeout))
        batch(Spec(0, "evidence", "Measure RPO and RTO", timeout=timeout))
    else:  # switchback, failback: reverse replication (changed data only), back to the primary, re-protect
        if snaps:
            raise Refused("Members protected by snapshot copies cannot be switched back: protect the restored "
                          "copies from the secondary instead.", code="unsupported_operation",
                          detail={"members": [m.id for m in snaps]})
        batch(*each("pair_reprotect", "Reverse replication of", disks))
        batch(*each("wait_rpo_zero", "Wait for RPO 0 of", disks))
        by_tier(("pair_failover", "Switch back", disks), params={"caught_up": True})
        batch(*each("pair_reprotect", "Re-protect", disks))
        batch(*each("instance_start", "Start", instances))
        if options.get("endpoint"):
            batch(Spec(0, "endpoint_switch", f"Switch {options['endpoint']['name']} back to the primary",
                       params=options["endpoint"], critical=False, timeout=timeout))
        batch(Spec(0, "evidence", "Measure RPO and RTO", timeout=timeout))
    specs = []
    for number, specs_of_batch in enumerate(batches, start=1):
        for spec in specs_of_batch:
            spec.batch = number
            specs.append(spec)
    return specs


def plan_dry_run(*, actor: Any, group: ProtectionGroup, kind: str, options: Any = None) -> dict[str, Any]:
    """What a ``kind`` plan would do, step by step with every cloud call, changing nothing."""
    require(actor, PLAN_RUN, group)
    if kind not in KINDS:
        raise InvalidInput(f"Unknown plan kind {kind!r}.", detail={"kind": [f"one of {', '.join(KINDS)}"]})
    clean = _options(kind, options)
    running = PlanRun.objects.filter(group=group, status__in=PlanRun.ACTIVE).first()
    check_plan(group, kind, running=running)
    steps = []
    production = {m.external_id for m in group.members.all()} | {m.replica_id for m in group.members.all()
                                                                    if m.replica_id}
    writes_on_production = 0
    for seq, spec in enumerate(plan_build(group, kind, clean), start=1):
        calls = ACTIONS[spec.action].calls(group, spec.member, spec.params)
        if kind == "drill":
            writes_on_production += sum(1 for c in calls if c["write"] and c["target"] in production
                                        and c["function"] not in {"pair_drill_start", "pair_drill_clear"})
        steps.append({"seq": seq, "batch": spec.batch, "action": spec.action, "title": spec.title,
                      "critical": spec.critical, "cleanup": spec.cleanup, "timeout_seconds": spec.timeout,
                      "member": spec.member.id if spec.member else None, "calls": calls})
    return {"group": group.id, "kind": kind, "batches": max((s["batch"] for s in steps), default=0),
            "steps": steps, "calls": sum(len(s["calls"]) for s in steps),
            "writes_on_production": writes_on_production}


def plan_start(*, actor: Any, group: ProtectionGroup, kind: str, options: Any = None) -> PlanRun:
    """Start a ``kind`` plan of ``group``: needs ``resilience:plan:run`` on it; 409 when the group's state
    does not allow it or another plan runs."""
    require(actor, PLAN_RUN, group)
    if kind not in KINDS:
        raise InvalidInput(f"Unknown plan kind {kind!r}.", detail={"kind": [f"one of {', '.join(KINDS)}"]})
    clean = _options(kind, options)
    try:
        with transaction.atomic():
            locked = ProtectionGroup.objects.select_for_update().select_related(
                "primary_platform", "secondary_platform").get(pk=group.pk)
            running = PlanRun.objects.filter(group=locked, status__in=PlanRun.ACTIVE).first()
            check_plan(locked, kind, running=running)
            specs = plan_build(locked, kind, clean)
            if not specs:
                raise Refused("The group has nothing this plan could act on.", code="nothing_to_do")
            op = operation_create(organization=locked.organization, kind=f"resilience.{kind}", actor=actor,
                                  target_type="resilience.group", target_id=locked.id, target_name=locked.name,
                                  params={"kind": kind, "steps": len(specs)}, message="Queued")
            run = PlanRun.objects.create(
                organization=locked.organization, group=locked, kind=kind, operation=op,
                batches=max(s.batch for s in specs), recovery_point=clean.get("recovery_point"),
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                evidence={"options": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                      for k, v in clean.items()}})
            PlanStep.objects.bulk_create([
                PlanStep(organization=locked.organization, run=run, member=s.member, batch=s.batch, seq=seq,
                         kind=ACTIONS[s.action].kind if not s.cleanup else PlanStep.Kind.CLEANUP,
                         action=s.action, title=s.title[:255], params=s.params, critical=s.critical,
                         timeout_seconds=s.timeout)
                for seq, s in enumerate(specs, start=1)])
            emit(locked.organization_id, locked.topic, {"event": "plan_started", "name": locked.name,
                                                        "plan": run.id, "kind": kind})
            _open_batch(run, 1)
    except IntegrityError:
        # Another start won the race between our check and our insert: the constraint held.
        raise Conflict("Another plan started on this group.", code="plan_running") from None
    return run


# -- running ------------------------------------------------------------------------------------------------

def _queue(step_id: str, tick: int, countdown: float = 0.0) -> None:
    from apps.resilience.tasks import plan_step_task

    transaction.on_commit(lambda: plan_step_task.apply_async((step_id, tick), countdown=countdown))


def _queue_round(run_id: str, tick: int, countdown: float = 0.0) -> None:
    from apps.resilience.tasks import plan_round_task

    transaction.on_commit(lambda: plan_round_task.apply_async((run_id, tick), countdown=countdown))


def _open_batch(run: PlanRun, batch: int) -> None:
    """Start every pending step of ``batch`` (inside the caller's transaction, with the run locked) and
    queue the run's next round, which drives the whole batch."""
    now = timezone.now()
    PlanRun.objects.filter(pk=run.pk).update(batch=batch)
    run.batch = batch
    # Queued first: its send is the first thing done on commit, before the steps' operations are announced.
    tick = PlanRun.objects.values_list("tick", flat=True).get(pk=run.pk)
    _queue_round(run.id, tick + 1)
    # The batch's step operations are written together and announced once, on the group's topic (one
    # event and one audit entry for the batch instead of one per step: a tier of a large group has hundreds).
    pending = list(PlanStep.objects.filter(run=run, batch=batch, status=PlanStep.Status.PENDING))
    actor = run.actor if getattr(run.actor, "is_authenticated", False) else None
    ops = Operation.objects.bulk_create([
        Operation(organization_id=run.organization_id, kind=f"resilience.step.{step.action}", actor=actor,
                  target_type="resilience.plan", target_id=run.id, target_name=step.title[:255],
                  params={"step": step.seq, "batch": step.batch}, message="Queued") for step in pending])
    for step, op in zip(pending, ops, strict=True):
        step.operation_id = op.pk
    PlanStep.objects.bulk_update(pending, ["operation"], batch_size=500)
    for timeout in {step.timeout_seconds for step in pending}:
        PlanStep.objects.filter(pk__in=[s.pk for s in pending if s.timeout_seconds == timeout]).update(
            status=PlanStep.Status.RUNNING, started_at=now, heartbeat_at=now, deadline=now + timedelta(seconds=timeout))
    if pending:
        emit(run.organization_id, f"resilience:{run.group_id}", {
            "event": "batch_started", "plan": run.id, "name": run.group.name, "batch": batch,
            "steps": len(pending)})
    done = run.steps.filter(status__in=PlanStep.DONE).count()
    total = run.steps.count()
    operation_advance(operation_id=run.operation_id, step=batch, progress=round(95 * done / max(1, total)),
                      message=f"Batch {batch} of {run.batches}")


def _save_result(step: PlanStep, result: dict[str, Any]) -> None:
    PlanStep.objects.filter(pk=step.pk).update(result=result, heartbeat_at=timezone.now())
    step.result = result


def _record(step: PlanStep, tick: int, **fields: Any) -> bool:
    """Record progress of ``step`` at ``tick`` unless another delivery got there first."""
    with transaction.atomic():
        current = PlanStep.objects.select_for_update().get(pk=step.pk)
        if current.tick != tick - 1 or current.status in PlanStep.DONE:
            return False
        for key, value in fields.items():
            setattr(current, key, value)
            setattr(step, key, value)
        current.tick = step.tick = tick
        current.attempts = step.attempts = 0
        current.heartbeat_at = timezone.now()
        current.save()
    return True


_STEP_RELATED = ("run__group__primary_platform", "run__group__secondary_platform", "member")


def step_run(*, step_id: str, tick: int) -> tuple[bool, float, int]:
    """Run one tick of a step alone (a resumed step's task). Returns (another tick follows, its countdown,
    its number)."""
    step = PlanStep.objects.select_related(*_STEP_RELATED).filter(pk=step_id).first()
    if step is None or step.status != PlanStep.Status.RUNNING or tick != step.tick + 1:
        return False, 0.0, tick
    PlanStep.objects.filter(pk=step.pk).update(heartbeat_at=timezone.now())
    return _tick(step, tick)


def _tick(step: PlanStep, tick: int, *, pairs: dict[str, Any] | None = None, in_round: bool = False,
          ended: list[tuple[PlanStep, int, str, dict[str, Any] | None]] | None = None,
          waiting: list[tuple[PlanStep, int, dict[str, Any]]] | None = None) -> tuple[bool, float, int]:
    """One tick of ``step``: its call, or one look while it waits. In a round (``in_round``) the pairs
    were read for the whole batch (``pairs``) and a look that finds the step still waiting records
    nothing (the round keeps the heartbeat), so the next round looks again at the same tick."""
    run = step.run
    ctx = Ctx(run=run, group=run.group, step=step, pairs=pairs)
    action = ACTIONS[step.action]
    try:
        if step.deadline and timezone.now() > step.deadline:
            if step.phase == "wait" and action.check is not None and action.check(ctx):
                _finish_step(step, PlanStep.Status.SUCCEEDED, "Done")
            else:
                _finish_step(step, PlanStep.Status.FAILED, f"Timed out after {step.timeout_seconds} s.")
            return False, 0.0, tick
        if step.phase == "call":
            result = {**step.result, **action.act(ctx)}
            if result.get("waiting"):
                with transaction.atomic():
                    if _record(step, tick, phase="approval", result=result, status=PlanStep.Status.WAITING):
                        PlanRun.objects.filter(pk=run.pk).update(status=PlanRun.Status.WAITING)
                        operation_advance(operation_id=step.operation_id, step=tick, progress=50,
                                          message="Waiting for approval")
                        emit(run.organization_id, run.topic, {"event": "approval_needed", "plan": run.id,
                                                              "step": step.id, "name": step.title})
                return False, 0.0, tick
            if action.check is None:
                _finish_step(step, PlanStep.Status.SUCCEEDED, _summary(step.action, result), tick=tick, result=result)
                return False, 0.0, tick
            if in_round and pairs is not None and step.action in PAIR_CHECKS:
                step.result = result  # what the look reads (recorded below, with the round's others)
            if in_round and pairs is not None and step.action in PAIR_CHECKS and action.check(ctx):
                # Done at once (a pair found already failed over): one record instead of two.
                if ended is not None:
                    ended.append((step, tick, _summary(step.action, result), result))
                else:
                    _finish_step(step, PlanStep.Status.SUCCEEDED, _summary(step.action, result), tick=tick,
                                 result=result)
                return False, 0.0, tick
            if waiting is not None:
                # Recorded with the round's others, each only if no other delivery recorded this tick first.
                waiting.append((step, tick, result))
                return True, POLL_SECONDS, tick + 1
            with transaction.atomic():
                recorded = _record(step, tick, phase="wait", result=result)
                if recorded:
                    operation_advance(operation_id=step.operation_id, step=tick, progress=40, message="Waiting")
            return recorded, POLL_SECONDS, tick + 1
        if action.check(ctx):
            if ended is not None:
                ended.append((step, tick, _summary(step.action, step.result), None))
            else:
                _finish_step(step, PlanStep.Status.SUCCEEDED, _summary(step.action, step.result), tick=tick)
            return False, 0.0, tick
        if in_round:
            return True, POLL_SECONDS, tick
        recorded = _record(step, tick, phase="wait")
        return recorded, POLL_SECONDS, tick + 1
    except StepFailed as exc:
        _finish_step(step, PlanStep.Status.FAILED, str(exc))
        return False, 0.0, tick
    except CloudCallError as exc:
        detail = f"{exc.code}: {exc.message}"
        attempts = step.attempts + 1
        if exc.transient and attempts < MAX_ATTEMPTS:
            PlanStep.objects.filter(pk=step.pk).update(attempts=attempts, heartbeat_at=timezone.now())
            Operation.objects.filter(pk=step.operation_id).update(
                message=f"Retrying ({attempts}) after {detail}"[:500], updated_at=timezone.now())
            return True, min(5.0, 0.1 * (2 ** attempts)), tick
        _finish_step(step, PlanStep.Status.FAILED, detail)
        return False, 0.0, tick


# -- rounds: a batch driven by one task -------------------------------------------------------------------
# A round reads the pairs of the whole batch in one call per 100, runs the ticks of the batch's steps
# (their cloud calls concurrently, on a bounded pool), and queues the next round: soon while the batch
# is young (a failover of a pair takes about a second), less often as it ages. Every step keeps its own
# tick and client tokens, so a step driven by a round and by a resumed task at once still acts once.

ROUND_THREADS = 8
ROUND_FIRST_SECONDS = 0.1
# Actions whose look needs only the pair (read for the whole batch at the start of a round).
PAIR_CHECKS = frozenset({"pair_failover", "pair_reprotect", "wait_rpo_zero"})
_pool: Any = None


def _round_pool() -> Any:
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=ROUND_THREADS, thread_name_prefix="resilience-round")
    return _pool


def _round_delay(age: float, waiting_on_pairs_only: bool) -> float:
    """How long until the next round: the batch's pairs are read in one call, so looking often is cheap
    while the batch is young; steps that look on their own (drill copies, networks) are looked at less."""
    if not waiting_on_pairs_only:
        return POLL_SECONDS
    if age < 5:
        return ROUND_FIRST_SECONDS
    return min(2.0, ROUND_FIRST_SECONDS * 2 ** ((age - 5) / 5))


def _read_pairs(group: ProtectionGroup, steps: list[PlanStep]) -> dict[str, Any] | None:
    ids = [s.member.replica_id for s in steps if s.member is not None and s.member.replica_id
           and s.action in PAIR_CHECKS | {"drill_copy"}]
    if not ids:
        return None
    module = cloud.dr_module(group.primary_platform)
    if not hasattr(module, "pairs_get"):
        return None
    try:
        return dict(cloud.call(group.primary_platform, group.primary_region, "pairs_get", ids))
    except CloudCallError:
        return None  # each step reads its own pair this round (and retries as it does)


# On SQLite the steps of a round take turns with the database (one writer at a time is all it has) and
# wait on the cloud together: a step lets go of its turn while its cloud call is under way, outside a
# transaction.
_db_turn = threading.Lock()
_local = threading.local()


@contextmanager
def _cloud_wait() -> Iterator[None]:
    if getattr(_local, "turn", False) and not transaction.get_connection().in_atomic_block:
        _local.turn = False
        _db_turn.release()
        try:
            yield
        finally:
            _db_turn.acquire()
            _local.turn = True
    else:
        yield


def _in_thread(step: PlanStep, tick: int, pairs: dict[str, Any] | None, **collect: Any) -> tuple[bool, float, int]:
    from django.db import close_old_connections, connection

    if connection.vendor != "sqlite":  # PostgreSQL takes the steps' writes side by side
        close_old_connections()
        return _tick(step, tick, pairs=pairs, in_round=True, **collect)
    with _db_turn:
        _local.turn = True
        try:
            close_old_connections()
            return _tick(step, tick, pairs=pairs, in_round=True, **collect)
        finally:
            _local.turn = False


def _round_news(run: PlanRun, ended: list[tuple[PlanStep, int, str, dict[str, Any] | None]],
                entered_wait: list[tuple[PlanStep, int, dict[str, Any]]]) -> None:
    """Write what a round's steps did, together: the steps that ended (each only if no other delivery
    recorded its tick first) and their operations, the operations now waiting; one announcement on the
    group's topic for all of them (the plan's page re-reads its steps on it)."""
    if not ended and not entered_wait:
        return
    now = timezone.now()
    finished: dict[str, tuple[str, dict[str, Any]]] = {}
    with transaction.atomic():
        ended_at = _still_at(ended)
        done = [(step, tick, result) for step, tick, _m, result in ended if step.pk in ended_at]
        for step, tick, result in done:
            step.status, step.phase, step.finished_at, step.tick = PlanStep.Status.SUCCEEDED, "done", now, tick
            step.attempts, step.heartbeat_at = 0, now
            if result is not None:
                step.result = result
        PlanStep.objects.bulk_update([step for step, _t, _r in done], [
            "status", "phase", "finished_at", "tick", "attempts", "heartbeat_at", "result"], batch_size=500)
        for step, _tick, message, result in ended:
            if step.pk in ended_at and step.operation_id:
                finished[step.operation_id] = (message, result if result is not None else step.result)
        ops = list(Operation.objects.filter(pk__in=list(finished)).exclude(status__in=Operation.FINAL))
        for op in ops:
            op.message, op.result = finished[op.pk][0][:500], finished[op.pk][1]
            op.status, op.progress, op.finished_at = Operation.Status.SUCCEEDED, 100, now
            op.started_at = op.started_at or now
            op.updated_at = now
        Operation.objects.bulk_update(ops, ["status", "progress", "message", "result", "started_at", "finished_at",
                                            "updated_at"], batch_size=500)
        waiting_at = _still_at([(step, tick) for step, tick, _r in entered_wait])
        moved = []
        for step, tick, result in entered_wait:
            if step.pk in waiting_at:
                step.phase, step.result, step.tick, step.attempts, step.heartbeat_at = "wait", result, tick, 0, now
                moved.append(step)
        PlanStep.objects.bulk_update(moved, ["phase", "result", "tick", "attempts", "heartbeat_at"], batch_size=500)
        waiting_ops = [step.operation_id for step in moved]
        if waiting_ops:
            Operation.objects.filter(pk__in=waiting_ops, status__in=[Operation.Status.PENDING,
                                                                     Operation.Status.RUNNING]).update(
                status=Operation.Status.RUNNING, progress=40, message="Waiting", started_at=now, updated_at=now)
        emit(run.organization_id, f"resilience:{run.group_id}", {
            "event": "steps_progress", "plan": run.id, "name": run.group.name, "batch": run.batch,
            "ended": len(finished), "waiting": len(entered_wait)})


def _still_at(items: list[tuple[Any, ...]]) -> set[str]:
    """The steps among ``(step, tick, ...)`` that no other delivery has recorded ``tick`` of (still at
    ``tick - 1`` and not ended), locked until the caller's transaction ends: one query per tick."""
    by_tick: dict[int, list[str]] = {}
    for item in items:
        by_tick.setdefault(item[1], []).append(item[0].pk)
    found: set[str] = set()
    for tick, pks in by_tick.items():
        found |= set(PlanStep.objects.select_for_update().filter(pk__in=pks, tick=tick - 1)
                     .exclude(status__in=PlanStep.DONE).values_list("pk", flat=True))
    return found


def batch_round(*, run_id: str, tick: int) -> tuple[bool, float, int]:
    """One round of the run's current batch. Returns (another round follows, its countdown, its tick).
    A round whose tick is not the run's next (a redelivered or duplicate task) does nothing."""
    if not PlanRun.objects.filter(pk=run_id, tick=tick - 1, status__in=PlanRun.ACTIVE).update(tick=tick):
        return False, 0.0, tick
    try:
        return _round(run_id, tick)
    except Exception:  # noqa: BLE001 - the chain of rounds must not end on a surprise; the next round looks again
        logger.exception("resilience round %s of %s failed", tick, run_id)
        return True, POLL_SECONDS, tick + 1


def _round(run_id: str, tick: int) -> tuple[bool, float, int]:
    run = PlanRun.objects.select_related("group__primary_platform", "group__secondary_platform").get(pk=run_id)
    steps = list(PlanStep.objects.select_related("member").filter(run=run, batch=run.batch,
                                                                  status=PlanStep.Status.RUNNING))
    if not steps:
        _after_step(run.id)
        return False, 0.0, tick
    now = timezone.now()
    PlanStep.objects.filter(pk__in=[s.pk for s in steps]).update(heartbeat_at=now)
    for step in steps:
        step.run = run
    pairs = _read_pairs(run.group, steps)
    results: list[tuple[bool, float, int]] = []
    ended: list[tuple[PlanStep, int, str, dict[str, Any] | None]] = []
    entered_wait: list[tuple[PlanStep, int, dict[str, Any]]] = []
    collect = {"ended": ended, "waiting": entered_wait}
    if len(steps) == 1:
        results.append(_tick(steps[0], steps[0].tick + 1, pairs=pairs, in_round=True, **collect))
    else:
        # Each job gets its own copy of the pairs read (a fresh look replaces an entry).
        futures = [_round_pool().submit(_in_thread, step, step.tick + 1, dict(pairs) if pairs else pairs, **collect)
                   for step in steps]
        for future in futures:
            try:
                results.append(future.result())
            except Exception:  # noqa: BLE001 - the step is looked at again next round (or resumed)
                logger.exception("resilience round: a step raised")
                results.append((True, POLL_SECONDS, 0))
    _round_news(run, ended, entered_wait)
    waiting = [(s, r) for s, r in zip(steps, results, strict=True) if r[0]]
    if not waiting:
        _after_step(run.id)
        return False, 0.0, tick
    age = min((now - (s.started_at or now)).total_seconds() for s, _r in waiting)
    pairs_only = all(s.action in PAIR_CHECKS and s.phase == "wait" for s, _r in waiting)
    # A step retrying a transient error asks for its own (shorter) countdown.
    delay = min(_round_delay(age, pairs_only and pairs is not None), *(r[1] for _s, r in waiting))
    return True, delay, tick + 1


def _summary(action: str, result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return f"Nothing to do: {result['skipped']}"
    if result.get("awaiting"):
        return f"Already on its way: {result['awaiting']}"
    return {"network_create": "Drill network ready", "drill_copy": "Drill copy ready",
            "drill_rds": "Drill clone ready", "evidence": "Evidence recorded", "drill_clear": "Drill copy cleared",
            "rds_delete": "Drill clone deleted", "network_delete": "Drill network deleted",
            "leftovers": "No leftovers", "instance_stop": "Stopped", "instance_start": "Started",
            "wait_rpo_zero": "RPO is 0", "pair_failover": "Failed over", "pair_reprotect": "Replicating",
            "rds_restore": "Restored", "endpoint_switch": "Endpoint switched"}.get(action, "Done")


def _finish_step(step: PlanStep, status: str, message: str, *, tick: int | None = None,
                 result: dict[str, Any] | None = None) -> None:
    """End ``step`` (once). With ``tick``, only if no other delivery recorded that tick first: the record
    of the tick and the end are one transaction."""
    with transaction.atomic():
        current = PlanStep.objects.select_for_update().get(pk=step.pk)
        if current.status in PlanStep.DONE or (tick is not None and current.tick != tick - 1):
            return
        if tick is not None:
            current.tick = step.tick = tick
            current.attempts = step.attempts = 0
            current.heartbeat_at = timezone.now()
        if result is not None:
            current.result = step.result = result
        current.status = status
        current.phase = "done"
        current.finished_at = timezone.now()
        if status == PlanStep.Status.FAILED:
            current.error = message[:1000]
        current.save()
        if current.operation_id:
            if status == PlanStep.Status.SUCCEEDED:
                operation_succeed(operation_id=current.operation_id, message=message[:500], result=current.result)
            else:
                operation_fail(operation_id=current.operation_id, error=message[:2000],
                               message=f"{current.title} failed"[:500])
        # The step's own operation announces its end (and is audited); the plan announces only its start,
        # approvals, evidence and end on the group's topic.
    _after_step(step.run_id)


def _after_step(run_id: str) -> None:
    """Open the next batch once the current one has ended; end the plan after the last."""
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().select_related("group").get(pk=run_id)
        if run.status in PlanRun.FINAL:
            return
        if run.steps.filter(batch=run.batch).exclude(status__in=PlanStep.DONE).exists():
            return  # the batch goes on: one indexed look, not every step of the run
        steps = list(run.steps.all())
        if any(s.batch == run.batch and s.status not in PlanStep.DONE for s in steps):
            return
        failed = [s for s in steps if s.status == PlanStep.Status.FAILED and s.critical]
        if failed:
            skipped = [s.pk for s in steps if s.status == PlanStep.Status.PENDING and s.kind != PlanStep.Kind.CLEANUP]
            PlanStep.objects.filter(pk__in=skipped).update(status=PlanStep.Status.SKIPPED)
        pending = sorted({s.batch for s in steps if s.status == PlanStep.Status.PENDING and s.pk not in
                          (skipped if failed else [])})
        if pending:
            if failed and run.status != PlanRun.Status.CLEANING:
                run.status = PlanRun.Status.CLEANING
                run.save(update_fields=["status"])
            elif not failed and run.status == PlanRun.Status.WAITING:
                run.status = PlanRun.Status.RUNNING
                run.save(update_fields=["status"])
            _open_batch(run, pending[0])
            return
        _finish_run(run, steps)


def _finish_run(run: PlanRun, steps: list[PlanStep]) -> None:
    group = ProtectionGroup.objects.select_for_update().get(pk=run.group_id)
    failed = [s for s in PlanStep.objects.filter(run=run, status=PlanStep.Status.FAILED)]
    critical = [s for s in failed if s.critical]
    cleanup_failed = [s for s in failed if s.kind == PlanStep.Kind.CLEANUP]
    now = timezone.now()
    run.finished_at = now
    if run.measured_rto_seconds is None:
        run.measured_rto_seconds = (now - run.started_at).total_seconds()
    ok = not critical and not cleanup_failed
    run.status = PlanRun.Status.SUCCEEDED if ok else PlanRun.Status.FAILED
    run.error = "; ".join(f"#{s.seq} {s.title}: {s.error}" for s in (critical + cleanup_failed))[:4000]
    run.evidence = {**run.evidence, "steps": len(steps), "failed_steps": len(failed),
                    "optional_failed": len([s for s in failed if not s.critical]),
                    "leftovers": len(run.leftovers or [])}
    run.save()
    if ok and AFTER.get(run.kind):
        group.state = AFTER[run.kind]
        group.save(update_fields=["state", "updated_at"])
    if ok:
        operation_succeed(operation_id=run.operation_id, message=f"{run.get_kind_display()} finished",
                          result={"plan": run.id, "rto_seconds": run.measured_rto_seconds,
                                  "rpo_seconds": run.measured_rpo_seconds})
    else:
        operation_fail(operation_id=run.operation_id, error=run.error or "A step failed.",
                       message=f"{run.get_kind_display()} failed")
    emit(run.organization_id, group.topic, {"event": "plan_finished", "name": group.name, "plan": run.id,
                                            "kind": run.kind, "status": run.status, "state": group.state,
                                            "rto_seconds": run.measured_rto_seconds,
                                            "rpo_seconds": run.measured_rpo_seconds,
                                            "leftovers": len(run.leftovers or [])})


def step_approve(*, actor: Any, step: PlanStep) -> PlanStep:
    """A person approves a waiting approval step: needs ``resilience:plan:approve`` on the group."""
    require(actor, PLAN_APPROVE, step.run.group)
    with transaction.atomic():
        current = PlanStep.objects.select_for_update().get(pk=step.pk)
        if current.status != PlanStep.Status.WAITING:
            raise Conflict(f"The step is {current.status}; only a waiting approval can be approved.",
                           code="invalid_transition", detail={"status": current.status})
        current.result = {**current.result, "approved_by": getattr(actor, "username", "system"),
                          "approved_at": timezone.now().isoformat()}
        current.save(update_fields=["result"])
    _finish_step(current, PlanStep.Status.SUCCEEDED, f"Approved by {getattr(actor, 'username', 'system')}")
    return PlanStep.objects.get(pk=step.pk)


def plan_cancel(*, actor: Any, run: PlanRun) -> PlanRun:
    """Stop a plan: steps not started are skipped, running ones end as they are; a drill still cleans up."""
    require(actor, PLAN_RUN, run.group)
    with transaction.atomic():
        locked = PlanRun.objects.select_for_update().get(pk=run.pk)
        if locked.status in PlanRun.FINAL:
            raise Conflict(f"The plan is already {locked.status}.", code="plan_finished")
        for step in locked.steps.filter(status=PlanStep.Status.WAITING):
            PlanStep.objects.filter(pk=step.pk).update(status=PlanStep.Status.FAILED, error="Cancelled",
                                                       finished_at=timezone.now())
            if step.operation_id:
                operation_fail(operation_id=step.operation_id, error="Cancelled", message="Cancelled")
        locked.steps.filter(status=PlanStep.Status.PENDING).exclude(kind=PlanStep.Kind.CLEANUP).update(
            status=PlanStep.Status.SKIPPED)
        locked.evidence = {**locked.evidence, "cancelled_by": getattr(actor, "username", "system")}
        locked.save(update_fields=["evidence"])
    _after_step(run.pk)
    return PlanRun.objects.get(pk=run.pk)


def reconcile(*, stale_after: float | None = None) -> dict[str, int]:
    """Resume steps whose task was lost (a worker died holding it) at their next tick; each looks at the
    cloud before acting, so a resumed step finishes what it started instead of doing it again."""
    cutoff = timezone.now() - timedelta(seconds=STALE_SECONDS if stale_after is None else stale_after)
    resumed = 0
    runs = set()
    for step in PlanStep.objects.filter(status=PlanStep.Status.RUNNING, heartbeat_at__lt=cutoff)[:1000]:
        with transaction.atomic():
            if PlanStep.objects.filter(pk=step.pk, tick=step.tick, status=PlanStep.Status.RUNNING,
                                       heartbeat_at__lt=cutoff).update(heartbeat_at=timezone.now()):
                _queue(step.id, step.tick + 1)
                runs.add(step.run_id)
                resumed += 1
    # The rounds of those runs stopped too (their steps' heartbeats are the rounds'): start them again. A
    # round still alive and this one share the next tick; one of them goes on.
    for run_id, tick in PlanRun.objects.filter(pk__in=runs, status__in=PlanRun.ACTIVE).values_list("id", "tick"):
        with transaction.atomic():
            _queue_round(run_id, tick + 1)
    # A run whose last step ended while its worker died: advance it.
    for run_id in PlanRun.objects.filter(status__in=PlanRun.ACTIVE).values_list("id", flat=True)[:200]:
        _after_step(run_id)
    if resumed:
        logger.info("resilience reconciler resumed %s steps", resumed)
    return {"resumed": resumed}
