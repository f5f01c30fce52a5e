"""Writes of the core app: the life of an ``Operation``.

Every state change is saved and announced on the operation's topic after commit. Progress only
moves forward and a finished operation never changes again, so a task that runs twice (acks late,
retried after a lost worker) cannot move an operation backwards.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.bulk import rows_update
from apps.core.errors import Conflict, InvalidInput
from apps.core.events import emit
from apps.core.models import Operation


def operation_payload(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "kind": op.kind,
        "status": op.status,
        "progress": op.progress,
        "step": op.step,
        "message": op.message,
        "error": op.error,
        "target_type": op.target_type,
        "target_id": op.target_id,
        "target_name": op.target_name,
        "created_at": op.created_at.isoformat() if op.created_at else None,
        "started_at": op.started_at.isoformat() if op.started_at else None,
        "finished_at": op.finished_at.isoformat() if op.finished_at else None,
    }


def operation_announce(op: Operation) -> None:
    """Announce the operation's state on its topic and on the activity streams, after commit."""
    # The activity streams of the organization and of the platform feed home pages and wall screens.
    emit(op.organization_id, op.topic, operation_payload(op),
         also=[(op.organization_id, f"activity:{op.organization_id}"), (None, "activity:platform")])


def operation_create(
    *, organization: Any, kind: str, actor: Any = None, target_type: str = "", target_id: str = "",
    target_name: str = "", params: dict[str, Any] | None = None, message: str = "Queued",
) -> Operation:
    op = Operation.objects.create(
        organization=organization, kind=kind, actor=actor if getattr(actor, "is_authenticated", False) else None,
        target_type=target_type, target_id=str(target_id), target_name=target_name,
        params=params or {}, message=message,
    )
    operation_announce(op)
    return op


def _locked(op_id: str) -> Operation:
    return Operation.objects.select_for_update().get(pk=op_id)


def operation_advance(*, operation_id: str, step: int, progress: int, message: str) -> Operation | None:
    """Record that ``step`` finished. Returns ``None`` when it was already recorded or the op ended."""
    advanced = operations_advance(steps=[(operation_id, step, progress, message)])
    return advanced[0] if advanced else None


# Inside a caller's transaction these take no savepoint (two statements each): an error in them fails the
# caller's whole transaction, which is what every caller wants (the step is recorded with its operation or not).
@transaction.atomic(savepoint=False)
def operations_advance(*, steps: list[tuple[str, int, int, str]]) -> list[Operation]:
    """Record finished steps of several operations, ``(operation id, step, progress, message)`` each: one
    locking read (in id order) and one write for all; an operation that ended, or has this step already,
    is left as it is. Each one advanced is announced. Returns those."""
    wanted = {operation_id: (step, progress, message) for operation_id, step, progress, message in steps}
    now = timezone.now()
    advanced = []
    for op in Operation.objects.select_for_update().filter(pk__in=wanted).order_by("pk"):
        step, progress, message = wanted[op.pk]
        if op.is_final or step <= op.step:
            continue
        op.status = Operation.Status.RUNNING
        op.started_at = op.started_at or now
        op.step = step
        op.progress = max(op.progress, min(100, max(0, progress)))
        op.message = message[:500]
        op.updated_at = now
        advanced.append(op)
    rows_update(Operation, advanced, ["status", "started_at", "step", "progress", "message", "updated_at"])
    for op in advanced:
        operation_announce(op)
    return advanced


def operation_succeed(*, operation_id: str, message: str = "Done", result: dict[str, Any] | None = None
                      ) -> Operation | None:
    succeeded = operations_succeed(ends=[(operation_id, message, result)])
    return succeeded[0] if succeeded else None


@transaction.atomic(savepoint=False)
def operations_succeed(*, ends: list[tuple[str, str, dict[str, Any] | None]]) -> list[Operation]:
    """End several operations successfully, ``(operation id, message, result)`` each: one locking read (in id
    order) and one write for all; one that ended already is left as it is. Each one ended is announced."""
    wanted = {operation_id: (message, result) for operation_id, message, result in ends}
    now = timezone.now()
    succeeded = []
    for op in Operation.objects.select_for_update().filter(pk__in=wanted).order_by("pk"):
        if op.is_final:
            continue
        message, result = wanted[op.pk]
        op.status = Operation.Status.SUCCEEDED
        op.progress = 100
        op.message = message[:500]
        op.result = result or op.result
        op.started_at = op.started_at or now
        op.finished_at = now
        op.updated_at = now
        succeeded.append(op)
    rows_update(Operation, succeeded, ["status", "progress", "message", "result", "started_at", "finished_at",
                                       "updated_at"])
    for op in succeeded:
        operation_announce(op)
    return succeeded


@transaction.atomic
def operation_fail(*, operation_id: str, error: str, message: str = "Failed") -> Operation | None:
    op = _locked(operation_id)
    if op.is_final:
        return None
    now = timezone.now()
    op.status = Operation.Status.FAILED
    op.message = message[:500]
    op.error = error
    op.started_at = op.started_at or now
    op.finished_at = now
    op.save()
    operation_announce(op)
    return op


@transaction.atomic
def operation_cancel(*, operation_id: str, actor: Any) -> Operation:
    op = _locked(operation_id)
    if op.is_final:
        raise Conflict(f"Operation is already {op.status}.", code="operation_finished")
    op.status = Operation.Status.CANCELLED
    op.message = f"Cancelled by {getattr(actor, 'username', 'system')}"
    op.finished_at = timezone.now()
    op.save()
    operation_announce(op)
    return op


DIAGNOSTIC_STEPS = (
    "Checking the database",
    "Checking the task queue",
    "Checking the event channel",
    "Checking the cache",
    "Writing a test record",
    "Reading it back",
    "Cleaning up",
    "Summarising",
)


def diagnostic_start(*, organization: Any, actor: Any, steps: int = 5, interval: float = 0.5) -> Operation:
    """Start the built-in diagnostic: ``steps`` timed steps run by a worker, each announced live."""
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 50:
        raise InvalidInput("steps must be an integer from 1 to 50.", detail={"steps": ["1..50"]})
    if not isinstance(interval, int | float) or isinstance(interval, bool) or not 0 <= interval <= 10:
        raise InvalidInput("interval must be from 0 to 10 seconds.", detail={"interval": ["0..10"]})
    op = operation_create(
        organization=organization, kind="diagnostic", actor=actor, target_type="platform",
        target_name="Unimanager", params={"steps": steps, "interval": float(interval)},
    )
    from apps.core.tasks import diagnostic_step_task

    transaction.on_commit(lambda: diagnostic_step_task.apply_async((op.id, 1), countdown=interval))
    return op


def diagnostic_step(*, operation_id: str, step: int) -> tuple[bool, float]:
    """Run one diagnostic step. Returns (more steps to come, seconds until the next)."""
    op = Operation.objects.get(pk=operation_id)
    if op.is_final:
        return False, 0.0
    total = int(op.params.get("steps", 5))
    interval = float(op.params.get("interval", 0.5))
    label = DIAGNOSTIC_STEPS[(step - 1) % len(DIAGNOSTIC_STEPS)]
    if step >= total:
        operation_advance(operation_id=operation_id, step=step, progress=100, message=f"Step {step}/{total}: {label}")
        operation_succeed(operation_id=operation_id, message=f"All {total} checks passed",
                          result={"steps": total})
        return False, 0.0
    operation_advance(operation_id=operation_id, step=step, progress=round(step * 100 / total),
                      message=f"Step {step}/{total}: {label}")
    return True, interval
