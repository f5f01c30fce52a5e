"""Lifecycle operations on cloud resources, run by Celery in short idempotent steps.

``operation_start`` checks the permission, the adapter's capability and the resource's state
(``statemachine``), then creates an ``Operation`` with its ``ChangeRecord`` and queues step 1
after commit. ``lifecycle_step`` does one step and says whether another follows:

- ``call``: ask the cloud to act. Before acting it looks at the cloud's state, so a step run twice
  (a task redelivered after a lost worker) does not act twice; a create carries the change's
  ``ClientToken``, so a repeated create returns the first answer. The external id is recorded in
  the same transaction as the step.
- ``wait``: look at the cloud until the resource reaches the target state, re-queued with a
  countdown (a task never sleeps on a cloud).

Transient cloud errors re-run the same step with a growing countdown, up to ``MAX_ATTEMPTS`` in a
row; a permanent error fails the operation with the cloud's code and message. Past the deadline
the cloud is looked at once more: the operation succeeds if the cloud got there, else fails.
``reconcile`` re-queues changes whose worker died (no step for ``STALE_SECONDS``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.clouds.adapters import adapter_class, adapter_for
from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation
from apps.clouds.models import Flavor
from apps.core.bulk import rows_update
from apps.core.errors import Conflict, Forbidden, InvalidInput, Refused
from apps.core.events import emit
from apps.core.models import Operation
from apps.core.scoping import authorize
from apps.core.services import (
    operation_advance,
    operation_announce,
    operation_create,
    operation_fail,
    operations_advance,
    operations_succeed,
)
from apps.provisioning import config, day2, hooks
from apps.provisioning.models import ChangeRecord, ProvisioningRequest, RequestEvent
from apps.provisioning.statemachine import ACTIONS, ATTACHABLE, BUSY, CLOUD_CALL, TARGET, check_transition
from apps.resources.models import Resource
from apps.resources.services import ASK_THE_CLOUD, resources_refresh

logger = logging.getLogger(__name__)

Phase = ChangeRecord.Phase
MAX_BATCH = 200


def permission_for(resource_type: str, action: str) -> str:
    service, kind = resource_type.split(".", 1)
    verb = {"create": "create", "release": "delete"}.get(action, "operate")
    return f"{service}:{kind}:{verb}"


def snapshot(row: Resource | CloudResource | None) -> dict[str, Any]:
    if row is None:
        return {"status": "deleted"}
    spec = row.spec or {}
    return {"status": row.status, "name": row.name, "instance_type": spec.get("instance_type") or spec.get("class")
            or spec.get("spec") or "", "vcpu": row.vcpu, "memory_mib": row.memory_mib, "zone": row.zone,
            "private_ip": spec.get("private_ip", "")}


# -- starting ------------------------------------------------------------------------------------------

def _deadline(action: str, params: dict[str, Any]) -> Any:
    seconds = params.get("timeout_seconds") or config.value("CREATE_TIMEOUT" if action == "create"
                                                            else "OPERATE_TIMEOUT")
    return timezone.now() + timedelta(seconds=float(seconds))


STEP_BATCH = 20  # steps per task message: a batch's cloud calls run one after the other


class _QueuedSteps:
    """The next steps of the changes one transaction queued (a request's creates), sent on its commit in
    messages of ``STEP_BATCH``: receiving, reserving and acking a message was a third of a worker's CPU when
    each create had its own. A change rolled back with a savepoint after it joined is not found by its
    step, which then does nothing."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, int]] = []
        self.sent = False

    def __call__(self) -> None:
        from apps.provisioning.tasks import lifecycle_step_task, lifecycle_steps_task

        self.sent = True
        for start in range(0, len(self.steps), STEP_BATCH):
            page = self.steps[start:start + STEP_BATCH]
            if len(page) == 1:
                lifecycle_step_task.apply_async(page[0])
            else:
                lifecycle_steps_task.apply_async((page,))


def _queue(change: ChangeRecord) -> None:
    step = (change.id, change.step + 1)
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _sids, callback, _robust in reversed(connection.run_on_commit):
            if isinstance(callback, _QueuedSteps) and not callback.sent:
                callback.steps.append(step)
                return
    queued = _QueuedSteps()
    queued.steps.append(step)
    transaction.on_commit(queued)


def change_create(*, organization: Any, project: Any, platform: Any, action: str, resource_type: str, region: str,
                  actor: Any = None, resource: Resource | None = None, name: str = "",
                  params: dict[str, Any] | None = None, comment: str = "", request: ProvisioningRequest | None = None,
                  schedule: Any = None) -> ChangeRecord:
    """The operation and its change record, queued after commit (callers have checked the rules)."""
    params = dict(params or {})
    target_name = name or (resource.name if resource else "") or (resource.external_id if resource else "")
    op = operation_create(
        organization=organization, kind=f"{resource_type}.{action}", actor=actor, target_type=resource_type,
        target_id=resource.id if resource else "", target_name=target_name,
        params={"action": action, **{k: v for k, v in params.items() if k != "client_token"}},
        message="Queued",
    )
    now = timezone.now()
    change = ChangeRecord.objects.create(
        organization=organization, project=project, platform=platform, operation=op, request=request,
        resource=resource, action=action, resource_type=resource_type, region=region,
        external_id=resource.external_id if resource else "", name=target_name,
        client_token=f"um-{uuid.uuid4().hex}", params=params, before=snapshot(resource) if resource else {},
        actor=actor if getattr(actor, "is_authenticated", False) else None, comment=comment[:500],
        schedule=schedule, deadline=_deadline(action, params), heartbeat_at=now,
    )
    _queue(change)
    return change


def _attach_target(actor: Any, resource: Resource, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The instance an attach/detach acts on: named by ``params["instance"]`` (inventory id) to attach, the
    one the resource is attached to for a detach. Same platform and region; a disk, the same zone."""
    kind = ATTACHABLE.get(resource.type)
    if kind is None:
        raise Refused(f"{resource.type} cannot be attached to anything.", code="unsupported_operation",
                      detail={"action": action, "type": resource.type})
    if action == "detach":
        attached = (resource.spec or {}).get("instance_id") or ""
        if not attached:
            raise Conflict("The resource is not attached to an instance.", code="not_attached")
        return {"instance_id": attached}
    instance_pk = params.get("instance")
    if not isinstance(instance_pk, str) or not instance_pk:
        raise InvalidInput("Choose the instance to attach to.", detail={"instance": ["required"]})
    instance = Resource.objects.filter(pk=instance_pk, type=kind, deleted=False).first()
    if instance is None or not authorize(actor, permission_for(kind, "attach"), instance):
        raise InvalidInput("Unknown instance.", detail={"instance": ["not found"]})
    if instance.platform_id != resource.platform_id or instance.region != resource.region:
        raise InvalidInput("The instance is on another platform or in another region.",
                           detail={"instance": ["another platform or region"]})
    if resource.type == "ecs.disk" and instance.zone != resource.zone:
        raise InvalidInput(f"The disk is in {resource.zone} and the instance in {instance.zone}: a disk attaches "
                           "only to an instance in its zone.", detail={"instance": ["another zone"]})
    if (instance.status or "").lower() not in {"running", "stopped"}:
        raise Conflict(f"The instance is {instance.status}; it must be running or stopped.",
                       code="invalid_transition", detail={"instance_status": instance.status})
    return {"instance": instance.pk, "instance_id": instance.external_id}


def _validate_params(resource: Resource, action: str, params: dict[str, Any], actor: Any = None) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise InvalidInput("params must be an object.", detail={"params": ["must be an object"]})
    clean: dict[str, Any] = {}
    timeout = params.get("timeout_seconds")
    if timeout is not None:
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 5 <= timeout <= 3600:
            raise InvalidInput("timeout_seconds must be from 5 to 3600.", detail={"timeout_seconds": ["5..3600"]})
        clean["timeout_seconds"] = float(timeout)
    if action == "resize":
        spec = params.get("instance_type") or params.get("spec")
        if not isinstance(spec, str) or not spec:
            raise InvalidInput("Choose the new instance type.", detail={"instance_type": ["required"]})
        kinds = {"ecs.instance": Flavor.Kind.INSTANCE_TYPE, "rds.instance": Flavor.Kind.RDS_CLASS,
                 "redis.instance": Flavor.Kind.REDIS_CLASS, "slb.instance": Flavor.Kind.SLB_SPEC}
        kind = kinds.get(resource.type)
        if kind and not Flavor.objects.filter(platform_id=resource.platform_id, region=resource.region, kind=kind,
                                              code=spec).exists():
            raise InvalidInput(f"{spec} is not offered in {resource.region}.",
                               detail={"instance_type": [f"unknown {kind.label.lower()}"]})
        if spec == _spec_code(resource):
            raise Conflict(f"The resource already is {spec}.", code="no_change", detail={"instance_type": spec})
        clean["spec"] = spec
    if action in ("attach", "detach"):
        clean.update(_attach_target(actor, resource, action, params))
    if action == "modify":
        clean.update(day2.clean_args(actor=actor, resource=resource, params=params))
        states = day2.OPERATIONS[resource.type][clean["operation"]][2]
        status = (resource.status or "").lower()
        if status not in states and not resource.deleted and status not in BUSY:
            raise Conflict(f"Cannot {clean['operation'].replace('_', ' ')} a resource that is {status or 'unknown'}; "
                           f"it must be {' or '.join(sorted(states))}.", code="invalid_transition",
                           detail={"status": status, "action": clean["operation"], "allowed": sorted(states)})
    return clean


def operation_start(*, actor: Any, resource: Resource, action: str, params: dict[str, Any] | None = None,
                    comment: str = "", schedule: Any = None, check: bool = True) -> ChangeRecord:
    """Start ``action`` on ``resource``: needs ``<service>:<kind>:operate`` (``delete`` to release) on it,
    an adapter that supports it, a state that allows it and no other unfinished operation on it.

    A resize refused by quota is told to the quota backend after its transaction rolled back, so what
    the backend announces (the refusal event, its audit entry) is not rolled back with it."""
    try:
        return _operation_start(actor=actor, resource=resource, action=action, params=params, comment=comment,
                                schedule=schedule, check=check)
    except Refused as exc:
        if exc.code == "quota_exceeded":
            hooks.quota_refused(organization=resource.organization or resource.platform.organization,
                                project=resource.project, resource_type=resource.type, error=exc)
        raise


@transaction.atomic
def _operation_start(*, actor: Any, resource: Resource, action: str, params: dict[str, Any] | None = None,
                     comment: str = "", schedule: Any = None, check: bool = True) -> ChangeRecord:
    if action not in ACTIONS:
        raise InvalidInput(f"Unknown action {action!r}.", detail={"action": [f"one of {', '.join(ACTIONS)}"]})
    if check and not authorize(actor, permission_for(resource.type, action), resource):
        raise Forbidden(f"You may not {action} this resource.")
    if not isinstance(comment, str) or len(comment) > 500:
        raise InvalidInput("comment is at most 500 characters.", detail={"comment": ["too long"]})
    locked = Resource.objects.select_for_update().select_related("platform").get(pk=resource.pk)
    caps = adapter_class(locked.platform.type).capabilities
    if not caps.supports(locked.type, CLOUD_CALL[action]):
        raise Refused(f"{locked.platform.name} cannot {action} {locked.type}.", code="unsupported_operation",
                      detail={"action": action, "type": locked.type})
    if not locked.platform.is_active:
        raise Conflict("The cloud platform is disabled.", code="platform_disabled")
    clean = _validate_params(locked, action, params or {}, actor)
    busy = ChangeRecord.objects.filter(resource=locked).exclude(phase=Phase.DONE).select_related("operation").first()
    if busy is not None and not busy.operation.is_final:
        raise Conflict(f"Another operation ({busy.action}) is still running on this resource.",
                       code="operation_in_progress", detail={"operation": busy.operation_id})
    check_transition(locked, action)
    organization = locked.organization or locked.platform.organization
    grow, shrink = _resize_delta(locked, clean) if action == "resize" else ({}, {})
    reservation = ""
    if grow:  # only the growth is reserved; what a smaller type frees is freed when the cloud confirms
        reservation = hooks.quota_backend().reserve(
            organization=organization, project=locked.project, resource_type=locked.type,
            amounts={"count": 1, "instances": 0, **grow}, platform=locked.platform, region=locked.region)
    # An unassigned resource is operated by the platform's administrators: the operation is theirs.
    change = change_create(organization=organization, project=locked.project, platform=locked.platform,
                           action=action, resource_type=locked.type, region=locked.region, actor=actor,
                           resource=locked, params=clean, comment=comment, schedule=schedule)
    if reservation or shrink:
        change.params = {**change.params, "quota": {"reservation": reservation, "free": shrink}}
        ChangeRecord.objects.filter(pk=change.pk).update(params=change.params)
    return change


def _resize_delta(resource: Resource, clean: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(growth, shrink) of an instance's vCPUs and memory when it becomes ``clean["spec"]``."""
    if resource.type != "ecs.instance":
        return {}, {}
    new = Flavor.objects.filter(platform_id=resource.platform_id, region=resource.region,
                                kind=Flavor.Kind.INSTANCE_TYPE, code=clean["spec"]).values("vcpu", "memory_mib").first()
    if not new:
        return {}, {}
    delta = {"vcpu": (new["vcpu"] or 0) - resource.vcpu, "memory_mib": (new["memory_mib"] or 0) - resource.memory_mib}
    return ({k: v for k, v in delta.items() if v > 0}, {k: -v for k, v in delta.items() if v < 0})


def operations_batch(*, actor: Any, resources: list[Resource], action: str, params: dict[str, Any] | None = None,
                     comment: str = "") -> dict[str, Any]:
    """The same action over a selection: each resource gets its own operation, or its own refusal."""
    if not resources or len(resources) > MAX_BATCH:
        raise InvalidInput(f"Select 1 to {MAX_BATCH} resources.", detail={"resources": [f"1..{MAX_BATCH}"]})
    started, refused = [], []
    for resource in resources:
        try:
            started.append(operation_start(actor=actor, resource=resource, action=action, params=params,
                                           comment=comment))
        except (Conflict, Refused, Forbidden, InvalidInput) as exc:
            refused.append({"resource": resource.id, "code": exc.code, "message": exc.message})
    return {"started": started, "refused": refused}


# -- steps -----------------------------------------------------------------------------------------------

def _announce(op_id: str) -> None:
    operation_announce(Operation.objects.get(pk=op_id))


def _advance(change: ChangeRecord, step: int, *, phase: str, progress: int, message: str, **fields: Any) -> bool:
    """Record ``step`` of ``change`` unless another delivery of it got there first: one conditional UPDATE
    (the step before this one, not done). The operation is told only when its message changes: a poll
    that finds the cloud where the last one did is recorded on the change alone, and announces nothing."""
    with transaction.atomic():
        now = timezone.now()
        recorded = ChangeRecord.objects.filter(pk=change.pk, step=step - 1).exclude(phase=Phase.DONE).update(
            phase=phase, step=step, attempts=0, heartbeat_at=now, **fields)
        if not recorded:
            return False
        for key, val in fields.items():
            setattr(change, key, val)
        change.phase, change.step, change.attempts, change.heartbeat_at = phase, step, 0, now
        if message[:500] != change.operation.message:
            operation_advance(operation_id=change.operation_id, step=step, progress=progress, message=message)
            change.operation.message = message[:500]
    return True


def _call(change: ChangeRecord, adapter: Any) -> tuple[str, dict[str, Any]]:
    """Ask the cloud to act, unless it already is where this action leads. Returns (message, fields)."""
    region, rtype = change.region, change.resource_type
    if change.action == "create":
        params = {**change.params, "name": change.name, "client_token": change.client_token}
        external_id = adapter.create(rtype, region, params)
        return f"The cloud accepted the request: {external_id}", {"external_id": external_id}
    current = adapter.get_resource(rtype, region, change.external_id)
    status = current.status if current else "deleted"
    if change.action == "release":
        if current is None or status == "deleted":
            return "Already released", {}
        adapter.delete(rtype, region, change.external_id)
        return "Release requested", {}
    if change.action == "resize":
        if _spec_code(current) == change.params["spec"]:
            return f"Already {change.params['spec']}", {}
        adapter.resize(rtype, region, change.external_id, change.params["spec"])
        return f"Resize to {change.params['spec']} requested", {}
    if change.action == "modify":
        if current is None or status == "deleted":
            raise CloudCallError("The resource is gone.", code="ResourceNotFound", action="modify")
        args = change.params["args"]
        if change.params["operation"] == "disk_resize" and int((current.spec or {}).get("size_gib") or 0) >= \
                int(args["size_gib"]):
            return f"Already {args['size_gib']} GiB", {}
        args = {**day2.cloud_args(args), "client_token": change.client_token}  # a repeated step acts once
        return adapter.modify(rtype, region, change.external_id, change.params["operation"], args), {}
    if change.action in ("attach", "detach"):
        instance_id = change.params["instance_id"]
        attached_to = (current.spec or {}).get("instance_id") if current else ""
        busy_with_it = status in {"in_use", "attaching", "associating"} and attached_to == instance_id
        if change.action == "attach" and busy_with_it:
            return f"Already attached to {instance_id}", {}
        if change.action == "detach" and (status in {"available", "detaching", "unassociating"} or not attached_to):
            return "Already detached", {}
        getattr(adapter, change.action)(rtype, region, change.external_id, instance_id)
        preposition = "to" if change.action == "attach" else "from"
        return f"{change.action.capitalize()} {preposition} {instance_id} requested", {}
    target = TARGET[change.action]
    if change.action != "reboot" and status in {target, {"running": "starting", "stopped": "stopping"}[target]}:
        return f"Already {status}", {}
    getattr(adapter, CLOUD_CALL[change.action])(rtype, region, change.external_id)
    return f"{change.action.capitalize()} requested", {}


def _spec_code(row: CloudResource | Resource | None) -> str:
    """An instance's type, a database's or cache's class, a load balancer's spec."""
    spec = (row.spec or {}) if row is not None else {}
    return spec.get("instance_type") or spec.get("class") or spec.get("spec") or ""


def _reached(change: ChangeRecord, current: CloudResource | None) -> bool:
    if change.action == "release":
        return current is None or current.status == "deleted"
    if current is None:
        return False
    if change.action == "create":  # compute and databases run; networks, disks, addresses and buckets are available
        return current.status in {"running", "available"}
    if change.action == "modify":
        if change.params["operation"] == "disk_resize":
            return int((current.spec or {}).get("size_gib") or 0) >= int(change.params["args"]["size_gib"])
        return current.status not in BUSY
    if change.action == "resize":
        return _spec_code(current) == change.params["spec"] and current.status not in {"changing", "pending"}
    return current.status == TARGET[change.action]


def lifecycle_step(*, change_id: str, step: int) -> tuple[bool, float, int]:
    """Run step ``step`` of a change. Returns (another step follows, its countdown, its number)."""
    more, delay, next_step, _change = _step(change_id=change_id, step=step)
    return more, delay, next_step


def _step(*, change_id: str, step: int) -> tuple[bool, float, int, ChangeRecord | None]:
    """``lifecycle_step``, with the change as the step left it (its phase and attempts: where it waits)."""
    change = ChangeRecord.objects.select_related("platform", "operation").filter(pk=change_id).first()
    if change is None:
        return False, 0.0, step, None
    return (*_step_of(change, step), change)


def _step_of(change: ChangeRecord, step: int) -> tuple[bool, float, int]:
    if change.phase == Phase.DONE or step != change.step + 1:
        return False, 0.0, step
    if change.operation.is_final:
        _close(change, succeeded=False)
        return False, 0.0, step
    if change.phase == Phase.CALL and timezone.now() <= change.deadline:
        _change, more, delay, next_step = _calls([(change, step)])[0]
        return more, delay, next_step
    if timezone.now() - change.heartbeat_at > timedelta(seconds=config.value("STALE_SECONDS") / 4):
        # Not heard of for a while (queued long, or retried after a pause): say it is alive before the
        # cloud call, so the reconciler does not resume it meanwhile. Each recorded step sets it too.
        ChangeRecord.objects.filter(pk=change.pk).update(heartbeat_at=timezone.now())
    poll = config.value("POLL_SECONDS")
    try:
        adapter = adapter_for(change.platform, region=change.region, timeout=config.value("CLOUD_TIMEOUT"))
        if timezone.now() > change.deadline:
            current = adapter.get_resource(change.resource_type, change.region, change.external_id) \
                if change.external_id else None
            _at_deadline(change, adapter, step, current)
            return False, 0.0, step
        current = adapter.get_resource(change.resource_type, change.region, change.external_id)
        if _reached(change, current):
            _finish(change, adapter, step, current)
            return False, 0.0, step
        if _not_reported(change, current):
            return False, 0.0, step
        recorded = _advance(change, step, phase=Phase.WAIT, progress=_progress(change),
                            message=_waiting(current), polls=change.polls + 1)
        return recorded, poll, step + 1
    except CloudCallError as exc:
        return _cloud_error(change, step, exc)
    except ValueError as exc:  # credentials that cannot be read
        _fail(change, str(exc))
        return False, 0.0, step


CALL_THREADS = 4  # a batch's cloud calls side by side: at 0.2 s per create, a batch of 20 asks for 1 s, not 4
# Side by side only once the quicker of the batch's first two calls took this long (seconds). A cloud that
# answers in milliseconds is asked one call after the other: threads would only add hand-offs of the
# interpreter lock (against cloudsim the call stage of a 40-create run took 0.69-0.91 s at p50 with 4 threads,
# 0.45-0.52 s without). Two, because a process's first call to a cloud also opens its connection (and the
# SDK's session: a TLS context), which a fresh worker's first batch took for a slow cloud.
CALL_SIDE_BY_SIDE_AFTER = 0.05
CALLS_TIMED = 2


def _ask(calls: list[tuple[ChangeRecord, int]]) -> list[tuple[str, dict[str, Any]] | Exception]:
    """The cloud call of each call step (``_call``), in order: its answer, or what it raised. The first two
    are asked here; if the cloud took ``CALL_SIDE_BY_SIDE_AFTER`` or longer to answer the quicker of them, the
    others are asked
    by up to ``CALL_THREADS`` threads side by side, each with adapters of its own (an SDK client is not
    shared between threads), else here one after the other. Nothing here touches the database. A create
    carries its change's client token, so a call repeated by another delivery of the step is answered with
    the first call's instance."""
    timeout = config.value("CLOUD_TIMEOUT")

    def ask(part: list[int]) -> list[tuple[int, Any]]:
        adapters: dict[tuple[Any, str], Any] = {}
        out: list[tuple[int, Any]] = []
        for n in part:
            change = calls[n][0]
            key = (change.platform_id, change.region)
            try:
                if key not in adapters:
                    adapters[key] = adapter_for(change.platform, region=change.region, timeout=timeout)
                out.append((n, _call(change, adapters[key])))
            except Exception as exc:  # told to the caller, which knows what each kind of error means
                out.append((n, exc))
        return out

    if not calls:
        return []
    answers: dict[int, Any] = {}
    took: list[float] = []
    for n in range(min(CALLS_TIMED, len(calls))):
        began = time.monotonic()
        answers.update(ask([n]))
        took.append(time.monotonic() - began)
    rest = list(range(len(answers), len(calls)))
    threads = min(CALL_THREADS, len(rest))
    if threads > 1 and min(took) >= CALL_SIDE_BY_SIDE_AFTER:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cloud-call") as pool:
            answers.update(answer for part in pool.map(ask, [rest[k::threads] for k in range(threads)])
                           for answer in part)
    else:
        answers.update(ask(rest))
    return [answers[n] for n in range(len(calls))]


def _still_at(read: list[tuple[str, int]]) -> set[str]:
    """Of the changes read at these (id, step), those still at that step and not done, their rows locked until
    the end of the transaction (in primary-key order): the ones whose next step this delivery may record.
    The rows are locked by id and their steps compared here: one ``(id = %s AND step = %s) OR ...`` per change
    cost more to build than the statement took (200 of them: 16.6 ms of CPU, ``id IN (...)`` 0.9 ms)."""
    steps = dict(read)
    return {pk for pk, step in ChangeRecord.objects.select_for_update().filter(pk__in=list(steps))
            .exclude(phase=Phase.DONE).order_by("pk").values_list("pk", "step") if steps[pk] == step}


def _calls(calls: list[tuple[ChangeRecord, int]]) -> list[tuple[ChangeRecord, bool, float, int]]:
    """The call steps of ``calls`` (changes in their call phase, at these steps): each asks the cloud, then
    those that got an answer are recorded together, each only at the step it was read at (a step another
    delivery recorded meanwhile is not recorded again), in the same transaction as its external id.
    Returns (change, another step follows, its countdown, its number) for each."""
    if not calls:
        return []
    poll = config.value("POLL_SECONDS")
    stale = timezone.now() - timedelta(seconds=config.value("STALE_SECONDS") / 4)
    quiet = [change.pk for change, _step in calls if change.heartbeat_at < stale]
    if quiet:
        # Not heard of for a while (queued long): say they are alive before the cloud calls, so the
        # reconciler does not resume them meanwhile. Each recorded step sets it too.
        ChangeRecord.objects.filter(pk__in=quiet).update(heartbeat_at=timezone.now())
    results: list[tuple[ChangeRecord, bool, float, int]] = []
    answered: list[tuple[ChangeRecord, int, str, dict[str, Any]]] = []
    for (change, step), answer in zip(calls, _ask(calls), strict=True):
        if isinstance(answer, CloudCallError):
            results.append((change, *_cloud_error(change, step, answer)))
        elif isinstance(answer, ValueError):  # credentials that cannot be read
            _fail(change, str(answer))
            results.append((change, False, 0.0, step))
        elif isinstance(answer, Exception):
            # A fault of this change's step, not the cloud's answer: the rest of the batch is recorded and
            # goes on; this one is left unrecorded, so the reconciler resumes it (its step looks first).
            logger.error("call step %s of change %s failed; the reconciler resumes it", step, change.pk,
                         exc_info=answer)
        else:
            message, fields = answer
            answered.append((change, step, message, fields))
    if not answered:
        return results
    with transaction.atomic():
        recorded = _still_at([(change.pk, step - 1) for change, step, _message, _fields in answered])
        rows, advances = [], []
        first_looks: dict[str, float] = {}
        now = timezone.now()
        for change, step, message, fields in answered:
            if change.pk not in recorded:
                results.append((change, False, 0.0, step))
                continue
            for name, value in fields.items():
                setattr(change, name, value)
            change.phase, change.step, change.attempts, change.heartbeat_at = Phase.WAIT, step, 0, now
            rows.append(change)
            if message[:500] != change.operation.message:
                advances.append((change.operation_id, step, 30, message))
                change.operation.message = message[:500]
            if _took_key(change) not in first_looks:
                first_looks[_took_key(change)] = _first_look(change, poll)
            results.append((change, True, first_looks[_took_key(change)], step + 1))
        rows_update(ChangeRecord, rows, ["phase", "step", "attempts", "heartbeat_at", "external_id"])
        operations_advance(steps=advances)
    return results


def _at_deadline(change: ChangeRecord, adapter: Any, step: int, current: CloudResource | None) -> None:
    """Past its deadline a change succeeds if the cloud got there, else fails."""
    if change.phase == Phase.WAIT and _reached(change, current):
        _finish(change, adapter, step, current)
    else:
        status = current.status if current else "not found"
        _fail(change, f"Timed out: the cloud reports {status} at the deadline.", adapter=adapter, found=current)


def _cloud_error(change: ChangeRecord, step: int, exc: CloudCallError) -> tuple[bool, float, int]:
    """A transient error runs the same step again after a growing countdown, up to ``MAX_ATTEMPTS`` in a row;
    a permanent one (or one too many) fails the operation with the cloud's code and message."""
    detail = f"{exc.code}: {exc.message}"
    attempts = change.attempts + 1
    if exc.transient and attempts < config.value("MAX_ATTEMPTS"):
        ChangeRecord.objects.filter(pk=change.pk).update(attempts=attempts, heartbeat_at=timezone.now())
        change.attempts = attempts
        Operation.objects.filter(pk=change.operation_id).update(
            message=f"Retrying ({attempts}) after {detail}"[:500], updated_at=timezone.now())
        _announce(change.operation_id)
        return True, min(30.0, 0.25 * (2 ** attempts)), step
    _fail(change, detail)
    return False, 0.0, step


def _waiting(current: CloudResource | None) -> str:
    return f"Waiting: {current.status if current else 'not visible yet'}"


def _progress(change: ChangeRecord) -> int:
    return min(90, 35 + 5 * change.polls)


def _not_reported(change: ChangeRecord, current: CloudResource | None) -> bool:
    """A created resource the cloud still does not report after 30 looks fails its operation."""
    if change.action == "create" and current is None and change.polls >= 30:
        _fail(change, "The cloud does not report the new resource.")
        return True
    return False


# -- how long the cloud takes ------------------------------------------------------------------------------
#
# The first look at the cloud after its call is put off to just before the time the same action on the same
# type of the same platform took lately (the fastest of the last few, from the call to the last look before
# the cloud's state was seen): a cloud that takes two seconds to run an instance is not asked four times
# first. Later looks follow ``_next_look``. What was learnt lives in the cache; nothing learnt, the poll
# interval.

TOOK_KEPT = 16


def _took_key(change: ChangeRecord) -> str:
    return f"lifecycle:took:{change.platform_id}:{change.resource_type}:{change.action}"


def _quickest(change: ChangeRecord) -> float | None:
    """The quickest of the last times the same action on the same type of the same platform took, if any."""
    took = cache.get(_took_key(change)) or []
    return min(took) if took else None


def _first_look(change: ChangeRecord, poll: float, quickest: Any = ASK_THE_CLOUD) -> float:
    quickest = _quickest(change) if quickest is ASK_THE_CLOUD else quickest
    if quickest is None:
        return poll
    return max(poll, min(0.9 * quickest, config.value("OPERATE_TIMEOUT") / 10))


def _next_look(change: ChangeRecord, last_look: Any, poll: float, quickest: float | None) -> Any:
    """When a change the rounds have looked at (last at ``last_look``) is looked at again: one poll interval
    later, or sooner when the cloud is expected to get there before that (its call + the quickest time the
    cloud took lately, ``quickest``): at that time, then every quarter interval while it is late by less than
    an interval (what is learnt is the last look before the cloud got there, which got there within the
    interval after it). A fresh deployment learns from the first changes the cloud got to; the later ones of
    the same batch of creates are then looked at when they are due instead of at the next regular round."""
    regular = last_look + timedelta(seconds=poll)
    started = change.operation.started_at
    if quickest is None or started is None:
        return regular
    expected = started + timedelta(seconds=quickest)
    if last_look < expected:
        return min(regular, expected)
    if last_look < expected + timedelta(seconds=poll):
        return min(regular, last_look + timedelta(seconds=poll / 4))
    return regular


def _learn(change: ChangeRecord, at: Any = None) -> None:
    """Keep how long ``change`` took at least, from its call to the last look that did not see the cloud there
    yet (the look before the one at ``at``, else now, that saw it). The look that saw it came up to a poll
    interval after the cloud got there: learning it made every later change inherit that lag, looked at first
    when the cloud had been there for as long. A change seen at its first look after its call has no look
    before it: the time to that look is kept."""
    started = change.operation.started_at
    if started is None:
        return
    seen = at or timezone.now()
    before = change.heartbeat_at if change.polls else None  # a round records its looks with its own time
    seconds = ((before if before is not None and started < before < seen else seen) - started).total_seconds()
    if seconds >= 0:
        cache.set(_took_key(change), [*(cache.get(_took_key(change)) or [])[-(TOOK_KEPT - 1):], round(seconds, 3)],
                  24 * 3600)


def _finish(change: ChangeRecord, adapter: Any, step: int, found: Any = ASK_THE_CLOUD, *, learn: bool = True) -> None:
    if learn:
        _learn(change)
    _finish_collected([(change, step, _collect(change, adapter, found))])


FINISHED = {"create": "Created", "release": "Released", "resize": "Resized", "stop": "Stopped", "start": "Started",
            "reboot": "Rebooted", "attach": "Attached", "detach": "Detached", "modify": "Changed"}


def _finish_collected(collected: list[tuple[ChangeRecord, int, Resource | None]]) -> None:
    """Close changes the cloud got to, whose resources the inventory has (``row``): one locking read of the
    changes and one write, each operation succeeds, and their request settles once."""
    if not collected:
        return
    with transaction.atomic(savepoint=False):  # inside the finish's own transaction when there is one
        locked = {c.pk: c for c in ChangeRecord.objects.select_for_update().filter(
            pk__in=[change.pk for change, _step, _row in collected]).order_by("pk")}
        now = timezone.now()
        closed: list[tuple[ChangeRecord, Resource | None]] = []
        for change, step, row in collected:
            current = locked.get(change.pk)
            if current is None or current.phase == Phase.DONE:
                continue
            current.after = snapshot(row) if row is not None and not row.deleted else {"status": "deleted"}
            current.resource = row or current.resource
            current.phase, current.step, current.heartbeat_at = Phase.DONE, step, now
            closed.append((current, row))  # done now: a second finish of it in the list is left out
        rows_update(ChangeRecord, [c for c, _r in closed], ["after", "resource", "phase", "step", "heartbeat_at"])
        operations_succeed(ends=[(current.operation_id, f"{FINISHED[current.action]} {current.external_id}",
                                  {"external_id": current.external_id, "resource": row.id if row else None,
                                   "after": current.after}) for current, row in closed])
        _settle_many([c for c, _r in closed], succeeded=True)
        for current, row in closed:
            if current.action == "create" and current.params.get("attach_to") and row is not None:
                _attach_after_create(current, row)


def _attach_after_create(change: ChangeRecord, row: Resource) -> None:
    """A disk requested with an instance is attached to it once created (the request checked the zone)."""
    instance = Resource.objects.filter(pk=change.params["attach_to"], type="ecs.instance", deleted=False).first()
    if instance is None or instance.zone != row.zone:
        logger.warning("disk %s: instance %s to attach to is gone", row.external_id, change.params["attach_to"])
        return
    change_create(organization=change.organization, project=change.project, platform=change.platform,
                  action="attach", resource_type=row.type, region=row.region, actor=change.actor, resource=row,
                  params={"instance": instance.pk, "instance_id": instance.external_id},
                  comment=change.comment or f"Attach after provisioning request {change.request_id}")


def _collect(change: ChangeRecord, adapter: Any, found: Any = ASK_THE_CLOUD) -> Resource | None:
    """Bring the inventory up to date with the resource (``found``: what the cloud reported for it a moment
    ago, else it is asked); a created one belongs to the request's project. One ``resource_changed``."""
    if found is ASK_THE_CLOUD and change.external_id:
        try:
            found = adapter.get_resource(change.resource_type, change.region, change.external_id)
        except CloudCallError:
            logger.warning("could not refresh %s after %s", change.external_id, change.action)
            return change.resource
    return _collect_many([(change, 0, found)])[0][2]


def _collect_many(reached: list[tuple[ChangeRecord, int, CloudResource | None]]
                  ) -> list[tuple[ChangeRecord, int, Resource | None]]:
    """``_collect`` of changes whose resources the cloud has just reported, (change, step, what it reported)
    each: their inventory rows written together (``resources_refresh``) and their ``resource_changed``
    events emitted in the same transaction, so they are delivered together. Returns (change, step, row)."""
    rows: dict[str, Resource | None] = {}
    by_platform: dict[Any, list[tuple[ChangeRecord, CloudResource | None]]] = {}
    for change, _step, found in reached:
        if change.external_id:
            by_platform.setdefault(change.platform_id, []).append((change, found))
    if not by_platform:
        return [(change, step, None) for change, step, _found in reached]
    with transaction.atomic(savepoint=False):
        for pairs in by_platform.values():
            refreshed = resources_refresh(platform=pairs[0][0].platform, announce=False, reported=[
                (change.resource_type, change.external_id, found,
                 (change.organization_id, change.project_id) if change.action == "create" else None)
                for change, found in pairs])
            for (change, _found), row in zip(pairs, refreshed, strict=True):
                rows[change.pk] = row
                if row is not None:
                    emit(row.organization_id, row.topic, {"event": "resource_changed", "id": row.id,
                                                          "status": row.status, "deleted": row.deleted})
    return [(change, step, rows.get(change.pk)) for change, step, _found in reached]


def _fail(change: ChangeRecord, error: str, *, adapter: Any = None, found: Any = ASK_THE_CLOUD) -> None:
    row = None
    if change.action == "create" and change.external_id and adapter is not None:
        # A create that timed out may still finish: the inventory knows it, so nothing is orphaned.
        row = _collect(change, adapter, found)
    with transaction.atomic():
        current = ChangeRecord.objects.select_for_update().get(pk=change.pk)
        if current.phase == Phase.DONE:
            return
        current.phase = Phase.DONE
        current.resource = row or current.resource
        current.heartbeat_at = timezone.now()
        current.save()
        operation_fail(operation_id=current.operation_id, error=error[:2000], message=f"{current.action} failed")
        _settle(current, succeeded=False)


def _close(change: ChangeRecord, *, succeeded: bool) -> None:
    """An operation ended elsewhere (cancelled): the change is done too."""
    with transaction.atomic():
        current = ChangeRecord.objects.select_for_update().get(pk=change.pk)
        if current.phase == Phase.DONE:
            return
        current.phase = Phase.DONE
        current.save(update_fields=["phase"])
        _settle(current, succeeded=succeeded)


def _settle_usage(change: ChangeRecord, *, succeeded: bool) -> None:
    """Quota of an operation that is not a request's create: a resize commits (or releases) the growth
    it reserved and frees what a smaller type gave back; a release frees the resource's usage."""
    quota = (change.params or {}).get("quota") or {}
    where = {"organization": change.organization, "project": change.project, "resource_type": change.resource_type,
             "platform": change.platform, "region": change.region}
    if change.action == "resize":
        if quota.get("reservation"):
            hooks.quota_settle(quota["reservation"], part={"count": 1}, succeeded=succeeded)
        if succeeded and quota.get("free"):
            hooks.quota_free(**where, amounts={"count": 1, "instances": 0, **quota["free"]})
    elif change.action == "release" and succeeded:
        before = change.before or {}
        hooks.quota_free(**where, amounts={"count": 1, "vcpu": before.get("vcpu") or 0,
                                           "memory_mib": before.get("memory_mib") or 0,
                                           "disk_gib": change.resource.storage_gib if change.resource else 0})


def _settle(change: ChangeRecord, *, succeeded: bool) -> None:
    _settle_many([change], succeeded=succeeded)


def _settle_many(changes: list[ChangeRecord], *, succeeded: bool) -> None:
    """What the end of ``changes`` (all succeeded, or all not) settles: their quota, and each request they
    belong to: its reservation by as many units, an event per change, its status once all changes are done,
    one ``request_changed``."""
    by_request: dict[str, list[ChangeRecord]] = {}
    for change in changes:
        if change.action in ("resize", "release"):
            _settle_usage(change, succeeded=succeeded)
        elif change.action == "create" and change.request_id is not None:
            by_request.setdefault(change.request_id, []).append(change)
    for request_id in sorted(by_request):
        _settle_request(request_id, by_request[request_id], succeeded=succeeded)


def _settle_request(request_id: str, ended: list[ChangeRecord], *, succeeded: bool) -> None:
    request = ProvisioningRequest.objects.select_for_update().get(pk=request_id)
    hooks.quota_settle(request.quota_reservation, part={"count": len(ended)}, succeeded=succeeded)
    errors = {} if succeeded else dict(Operation.objects.filter(pk__in=[c.operation_id for c in ended])
                                       .values_list("pk", "error"))
    events = []
    for change in ended:
        outcome = ("is running" if change.resource_type == "ecs.instance" else "is ready") if succeeded else "failed"
        error = "" if succeeded else f": {errors.get(change.operation_id, '')}"
        message = f"{change.name} ({change.external_id or 'not created'}) {outcome}{error}"
        events.append(RequestEvent(request=request, kind="instance_ready" if succeeded else "instance_failed",
                                   message=message[:500]))
    RequestEvent.objects.bulk_create(events)
    changes = list(ChangeRecord.objects.filter(request=request).values_list("phase", "operation__status"))
    if len(changes) >= request.count and all(p == Phase.DONE for p, _s in changes):
        ok = sum(1 for _p, s in changes if s == Operation.Status.SUCCEEDED)
        request.status = (ProvisioningRequest.Status.COMPLETED if ok == len(changes) else
                          ProvisioningRequest.Status.FAILED if ok == 0 else ProvisioningRequest.Status.PARTIAL)
        request.save(update_fields=["status", "updated_at"])
        noun = "instances" if request.resource_type == "ecs.instance" else "resources"
        RequestEvent.objects.create(request=request, kind=request.status,
                                    message=f"{ok} of {len(changes)} {noun} provisioned")
    emit(request.organization_id, request.topic, {"event": "request_changed", "id": request.id,
                                                  "status": request.status})


# -- waiting together ------------------------------------------------------------------------------------
#
# A change waiting on the cloud is not looked at by a task of its own: after its call step it joins the poll
# of its platform, region and type, where one round describes every waiting change that is due (its first
# look at the time the cloud learnt to take, then every POLL_SECONDS) with one call per page of ids. The
# round records each still-waiting change's step (the same optimistic step counter as a step task: a step
# another delivery recorded is not recorded again) and hands each change the cloud got to a finish task of
# its own, with what the cloud reported, so finishes run on every worker and the cloud is not asked again.
#
# At most one round per key is scheduled: a lease in the cache, taken by whoever starts the round and let go
# by the last round, which looks once more after letting go (a change joining meanwhile found the lease
# held). A lost round lets its lease expire; the reconciler then resumes its changes, whose step tasks join
# a new round. Two rounds for one key (a redelivered task, or the next round starting while this one still
# records its looks) cost calls, not correctness: each records only the steps it read, and end together.

POLL_BATCH = 100  # ids per describe call: the cloud's limit
POLL_ROUND_MAX = 1000  # changes looked at by one round, longest waiting first
POLL_LEASE_SECONDS = 10.0  # beyond the countdown to the next round: then a join starts another
FINISHING_SECONDS = 60.0  # a change handed to its finish task is left out of the rounds this long


Finish = tuple[str, int, dict[str, Any] | None]  # (change id, step, what the cloud reported)


@dataclass
class PollRound:
    """What one round leaves to do: the countdown to the next round (``None``: nothing waits any more)
    and the finish steps of the changes the cloud got to, unless ``hand_over`` took them as they were seen:
    those of one request together, which finish one after the other (each settles the request under its
    lock: side by side they would mostly wait for one another)."""

    delay: float | None
    hand_over: Callable[[list[Finish]], None] | None = None
    come_back: Callable[[float], None] | None = None
    scheduled: bool = False  # the next round was scheduled by ``come_back``
    finishes: list[Finish] = field(default_factory=list)
    looked: int = 0
    reached: list[ChangeRecord] = field(default_factory=list)
    _groups: dict[str, list[Finish]] = field(default_factory=dict)

    def finish(self, change: ChangeRecord, step: int, found: dict[str, Any] | None) -> None:
        self.reached.append(change)
        self.finishes.append((change.id, step, found))
        self._groups.setdefault(change.request_id or change.id, []).append((change.id, step, found))

    def hand_out(self) -> None:
        if self.hand_over is not None:
            for group in self._groups.values():
                self.hand_over(group)
            self.finishes, self.reached, self._groups = [], [], {}


def _poll_key(platform_id: Any, region: str, resource_type: str) -> str:
    return f"lifecycle:poll:{platform_id}:{region}:{resource_type}"


def _finishing_key(change_id: str) -> str:
    return f"lifecycle:finishing:{change_id}"


def lifecycle_run(*, change_id: str, step: int) -> tuple[float, int] | None:
    """Run a change's step as a worker does. Returns the countdown and number of its own next step, or
    ``None`` when it has none: it is done, or it waits on the cloud in the poll of its platform, region
    and type (joined here; retries after a transient error stay with the change's own steps)."""
    following = lifecycle_run_many(steps=[(change_id, step)])
    return (following[0][1], following[0][2]) if following else None


def lifecycle_run_many(*, steps: list[tuple[str, int]]) -> list[tuple[str, float, int]]:
    """Run the steps of changes queued together (a request's creates) as a worker does: the call steps ask
    the cloud one after the other and are then recorded together (one locking read, one write of the
    changes, one of their operations); any other step runs on its own. Each change then waiting on the
    cloud joins the poll of its platform, region and type. Returns the others' next steps: (change id,
    countdown, step number)."""
    changes = ChangeRecord.objects.select_related("platform", "operation").in_bulk([c for c, _s in steps])
    now = timezone.now()
    calls: list[tuple[ChangeRecord, int]] = []
    results: list[tuple[ChangeRecord | None, bool, float, int]] = []
    for change_id, step in steps:
        change = changes.get(change_id)
        if change is not None and change.phase == Phase.CALL and step == change.step + 1 \
                and not change.operation.is_final and now <= change.deadline:
            calls.append((change, step))
        elif change is None:
            results.append((None, False, 0.0, step))
        else:
            try:
                results.append((change, *_step_of(change, step)))
            except Exception:  # a fault of its own (see _calls)
                logger.exception("step %s of change %s failed; the reconciler resumes it", step, change.pk)
    results += _calls(calls)
    following: list[tuple[str, float, int]] = []
    joined: set[tuple[Any, str, str]] = set()
    for change, more, delay, next_step in results:
        if not more or change is None:
            continue
        if change.phase != Phase.WAIT or change.attempts:
            following.append((change.id, delay, next_step))
            continue
        key = (str(change.platform_id), change.region, change.resource_type)
        if key not in joined:
            joined.add(key)
            poll_join(*key, delay=delay)
    return following


def poll_join(platform_id: Any, region: str, resource_type: str, *, delay: float) -> bool:
    """Schedule a poll round of (platform, region, type) in ``delay`` seconds unless one is scheduled or
    running already (which looks at the change when it is due). True when this call scheduled it."""
    from apps.provisioning.tasks import lifecycle_poll_task

    if not cache.add(_poll_key(platform_id, region, resource_type), 1, timeout=delay + POLL_LEASE_SECONDS):
        return False
    lifecycle_poll_task.apply_async((platform_id, region, resource_type), countdown=delay)
    return True


def lifecycle_poll(*, platform_id: Any, region: str, resource_type: str,
                   hand_over: Callable[[list[Finish]], None] | None = None,
                   come_back: Callable[[float], None] | None = None) -> PollRound:
    """One poll round: look at every due change waiting on (platform, region, type), one describe call per
    page of ids; ``hand_over([(change id, step, found), ...])`` gets the finish steps of each request once
    the round has seen them all (else the result lists them). The next round is counted from this one's
    start; ``come_back(countdown)``, if given, schedules it as soon as it is known, before the round records
    the looks at the changes still waiting (``result.scheduled``): recording 200 looks and announcing the
    cloud's new states took longer than a poll interval on a loaded machine, and the next round waited for
    it. Keeps the lease while changes wait, lets it go when none does."""
    key = _poll_key(platform_id, region, resource_type)
    began = time.monotonic()

    def schedule(delay: float) -> None:
        delay = max(0.05, delay - (time.monotonic() - began))
        cache.set(key, 1, timeout=delay + POLL_LEASE_SECONDS)
        come_back(delay)  # type: ignore[misc]

    result = _poll_round(platform_id, region, resource_type,
                         PollRound(None, hand_over=hand_over, come_back=schedule if come_back else None))
    if result.scheduled:
        return result
    if result.delay is not None:
        result.delay = max(0.05, result.delay - (time.monotonic() - began))
        cache.set(key, 1, timeout=result.delay + POLL_LEASE_SECONDS)
        return result
    cache.delete(key)
    if _waiting_on(platform_id, region, resource_type).exists() and \
            cache.add(key, 1, timeout=config.value("POLL_SECONDS") + POLL_LEASE_SECONDS):
        result.delay = config.value("POLL_SECONDS")
    return result


def lifecycle_finish(*, change_id: str, step: int, found: dict[str, Any] | None) -> None:
    """The finish step of a change a poll round saw at its target state (``found``: what the cloud reported)."""
    lifecycle_finish_group(finishes=[(change_id, step, found)])


def lifecycle_finish_group(*, finishes: list[Finish]) -> None:
    """The finish steps a poll round handed out together (those of one request), in one transaction: their
    resources are brought into the inventory together, the changes closed, their operations ended and their
    request settled once for all of them (one lock of the request, one quota commit, one announcement).
    What the apps that hear the events do (audit, billing, dashboards) runs after the commit, so each
    operation's success is committed and announced before it, and nothing is half-written: the inventory
    rows and the operations' ends are committed together or not at all (a finish that fails is looked at
    again by the next rounds)."""
    changes = ChangeRecord.objects.select_related("platform", "operation").in_bulk([f[0] for f in finishes])
    adapters: dict[Any, Any] = {}
    reached: list[tuple[ChangeRecord, int, CloudResource | None]] = []
    for change_id, step, found in finishes:
        change = changes.get(change_id)
        if change is None or change.phase == Phase.DONE:
            continue
        if change.operation.is_final:  # cancelled meanwhile
            _close(change, succeeded=False)
            continue
        if change.platform_id not in adapters:
            try:
                adapters[change.platform_id] = adapter_for(change.platform, region=change.region,
                                                           timeout=config.value("CLOUD_TIMEOUT"))
            except ValueError as exc:  # credentials that cannot be read
                adapters[change.platform_id] = exc
        adapter = adapters[change.platform_id]
        if isinstance(adapter, ValueError):
            _fail(change, str(adapter))
            continue
        reached.append((change, step, _resource_from(found)))  # learnt in the round
    if reached:
        with transaction.atomic():
            _finish_collected(_collect_many(reached))


def _waiting_on(platform_id: Any, region: str, resource_type: str) -> Any:
    return ChangeRecord.objects.filter(platform_id=platform_id, region=region, resource_type=resource_type,
                                       phase=Phase.WAIT)


def _due_at(change: ChangeRecord, poll: float, learnt: dict[str, float | None]) -> Any:
    """A change looks first when the cloud usually gets there (counted from its call, recorded with the
    call step's heartbeat), then as ``_next_look`` says (a round records its looks with its own time as their
    heartbeat); a retry after a transient error at once. ``learnt``: the round's quickest times, by key."""
    if change.attempts:
        return change.heartbeat_at
    key = _took_key(change)
    if key not in learnt:
        learnt[key] = _quickest(change)
    if change.polls:
        return _next_look(change, change.heartbeat_at, poll, learnt[key])
    return change.heartbeat_at + timedelta(seconds=_first_look(change, poll, learnt[key]))


def _poll_round(platform_id: Any, region: str, resource_type: str, result: PollRound) -> PollRound:
    poll = config.value("POLL_SECONDS")
    waiting = list(_waiting_on(platform_id, region, resource_type).select_related("platform", "operation")
                   .order_by("heartbeat_at")[:POLL_ROUND_MAX])
    if not waiting:
        return result
    now = timezone.now()
    finishing = cache.get_many([_finishing_key(c.id) for c in waiting])
    due: list[ChangeRecord] = []
    later: list[Any] = []
    learnt: dict[str, float | None] = {}
    for change in waiting:
        if _finishing_key(change.id) in finishing:
            later.append(now + timedelta(seconds=poll))
            continue
        at = _due_at(change, poll, learnt)
        if at <= now + timedelta(seconds=min(0.1, poll / 4)):
            due.append(change)
        else:
            later.append(at)
    result.looked = len(due)
    delays = [max(0.05, (at - now).total_seconds()) for at in later]
    looks: list[tuple[ChangeRecord, str]] = []
    if due:
        more, looks = _look_at(due, result, poll, now)
        delays += more
    result.delay = min(delays) if delays else None
    if looks:
        if result.come_back is not None and result.delay is not None:
            result.come_back(result.delay)
            result.scheduled = True
        _record_looks(looks, now)
    return result


def _look_at(due: list[ChangeRecord], result: PollRound, poll: float, now: Any
             ) -> tuple[list[float], list[tuple[ChangeRecord, str]]]:
    """Describe ``due`` together at ``now`` (the round's time) and move each one on; returns when they want
    their next look (``_next_look``, by what the round learnt), or the countdowns of retries after a transient
    error, and the looks at the changes still waiting, for the caller to record (``_record_looks``)."""
    first = due[0]
    try:
        adapter = adapter_for(first.platform, region=first.region, timeout=config.value("CLOUD_TIMEOUT"))
    except ValueError as exc:  # credentials that cannot be read
        for change in due:
            _fail(change, str(exc))
        return [], []
    found: dict[str, CloudResource | None] = {}
    try:
        for start in range(0, len(due), POLL_BATCH):
            found.update(adapter.get_resources(first.resource_type, first.region,
                                               [c.external_id for c in due[start:start + POLL_BATCH]]))
    except CloudCallError as exc:
        if exc.transient:  # every change counts the failed look as one of its attempts
            return [delay for change in due for more, delay, _s in [_cloud_error(change, change.step + 1, exc)]
                    if more], []
        # A refusal of the whole page may be one change's: each is asked on its own.
        retries = []
        for change in due:
            try:
                current = adapter.get_resource(change.resource_type, change.region, change.external_id)
            except CloudCallError as one:
                more, delay, _s = _cloud_error(change, change.step + 1, one)
                retries += [delay] if more else []
                continue
            _move_on(change, adapter, current, result, looks=None)
        _handed(result, now)
        return [poll, *retries], []
    looks: list[tuple[ChangeRecord, str]] = []
    # Those the cloud got to go first: their finish steps start while the others' looks are recorded.
    due = sorted(due, key=lambda c: not _reached(c, found.get(c.external_id)))
    for change in due:
        _move_on(change, adapter, found.get(change.external_id), result, looks=looks)
    _handed(result, now)
    learnt: dict[str, float | None] = {}
    for change, _message in looks:
        if _took_key(change) not in learnt:
            learnt[_took_key(change)] = _quickest(change)
    return [(_next_look(change, now, poll, learnt[_took_key(change)]) - now).total_seconds()
            for change, _message in looks], looks


def _move_on(change: ChangeRecord, adapter: Any, current: CloudResource | None, result: PollRound,
             looks: list[tuple[ChangeRecord, str]] | None) -> None:
    """One change after the round's look: finished (handed to its finish step), failed, or still waiting:
    its look is then added to ``looks`` (recorded with the others) if given, else recorded now."""
    step = change.step + 1
    if change.operation.is_final:
        _close(change, succeeded=False)
        return
    if timezone.now() > change.deadline:
        _at_deadline(change, adapter, step, current)
        return
    if _reached(change, current):
        result.finish(change, step, _resource_payload(current))
        return
    if _not_reported(change, current):
        return
    if looks is not None:
        looks.append((change, _waiting(current)))
        return
    _advance(change, step, phase=Phase.WAIT, progress=_progress(change), message=_waiting(current),
             polls=change.polls + 1)


def _handed(result: PollRound, looked_at: Any = None) -> None:
    """The round's finish steps are handed out, left out of the next rounds meanwhile, and the time the
    quickest of them took (``_learn``: to its look before ``looked_at``, the round's look) is learnt: the first
    look of the next changes
    is put off by the quickest, and the changes still waiting are looked at again when it says they are due."""
    if not result.finishes:
        return
    cache.set_many({_finishing_key(change_id): 1 for change_id, _s, _f in result.finishes}, FINISHING_SECONDS)
    quickest: dict[str, ChangeRecord] = {}
    for change in result.reached:
        if change.operation.started_at is None:
            continue
        key = _took_key(change)
        if key not in quickest or change.operation.started_at > quickest[key].operation.started_at:
            quickest[key] = change
    for change in quickest.values():
        _learn(change, looked_at)
    result.hand_out()


def _record_looks(looks: list[tuple[ChangeRecord, str]], looked_at: Any = None) -> None:
    """Each look of a still-waiting change is a step of it, recorded for a page of them with one locking read
    and one UPDATE: each row only at the step the round read (a step another delivery recorded meanwhile is
    not recorded again). The operations whose message changes (the cloud moved on) are advanced together;
    the others have nothing new to say."""
    for start in range(0, len(looks), POLL_BATCH):
        page = looks[start:start + POLL_BATCH]
        with transaction.atomic():
            recorded = _still_at([(change.pk, change.step) for change, _message in page])
            ChangeRecord.objects.filter(pk__in=recorded).update(
                step=F("step") + 1, polls=F("polls") + 1, attempts=0, heartbeat_at=looked_at or timezone.now())
            operations_advance(steps=[(c.operation_id, c.step + 1, _progress(c), message) for c, message in page
                                      if c.pk in recorded and message[:500] != c.operation.message])


def _resource_payload(found: CloudResource | None) -> dict[str, Any] | None:
    return asdict(found) if found is not None else None


def _resource_from(payload: dict[str, Any] | None) -> CloudResource | None:
    if payload is None:
        return None
    return CloudResource(**{**payload, "relations": [Relation(**r) for r in payload.get("relations") or []]})


# -- reconciling -----------------------------------------------------------------------------------------

def reconcile(*, stale_after: float | None = None) -> dict[str, int]:
    """Resume changes whose step task was lost (a worker died holding it): each is re-queued at its next
    step, which looks at the cloud's real state first; past their deadline they succeed or fail by it."""
    cutoff = timezone.now() - timedelta(seconds=stale_after if stale_after is not None
                                        else config.value("STALE_SECONDS"))
    resumed = closed = 0
    stuck = ChangeRecord.objects.filter(phase__in=[Phase.CALL, Phase.WAIT], heartbeat_at__lt=cutoff) \
        .select_related("operation").order_by("heartbeat_at")[:1000]
    for change in stuck:
        if change.operation.is_final:
            _close(change, succeeded=change.operation.status == Operation.Status.SUCCEEDED)
            closed += 1
            continue
        with transaction.atomic():
            updated = ChangeRecord.objects.filter(pk=change.pk, step=change.step, heartbeat_at__lt=cutoff).update(
                heartbeat_at=timezone.now())
            if updated:
                _queue(change)
                resumed += 1
    if resumed or closed:
        logger.info("reconciler resumed %s and closed %s changes", resumed, closed)
    return {"resumed": resumed, "closed": closed}
