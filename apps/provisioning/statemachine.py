"""Which lifecycle operation a resource may undergo in which state, per resource type.

Statuses are the inventory's normalised ones (``running``, ``stopped``...). A resource in a
transitional state is busy: every operation waits until the cloud settles it.
"""

from __future__ import annotations

from typing import Any

from apps.core.errors import Conflict

ACTIONS = ("start", "stop", "reboot", "resize", "attach", "detach", "release", "modify")
# The adapter's name for each console action.
CLOUD_CALL = {"create": "create", "start": "start", "stop": "stop", "reboot": "reboot", "resize": "resize",
              "attach": "attach", "detach": "detach", "release": "delete", "modify": "modify"}
BUSY = {"pending", "starting", "stopping", "creating", "changing", "deleting", "attaching", "detaching",
        "associating", "unassociating", "transferring", "restarting", "rebooting", "reiniting"}
# action -> states it may start from, per type; "*" is every other type.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "ecs.instance": {"start": {"stopped"}, "stop": {"running"}, "reboot": {"running"}, "resize": {"stopped"},
                     "release": {"running", "stopped"}},
    # A disk attaches to an instance in its zone, an EIP associates with one; both only while free.
    "ecs.disk": {"attach": {"available"}, "detach": {"in_use"}, "release": {"available"}},
    "eip.eip": {"attach": {"available"}, "detach": {"in_use"}, "release": {"available"}},
    "*": {"reboot": {"running"}, "resize": {"running", "available"}, "release": {"running", "stopped", "available",
                                                                               "in_use", "inactive", "active"}},
}
# The state each action leaves the resource in (``None``: gone).
TARGET = {"create": "running", "start": "running", "stop": "stopped", "reboot": "running", "resize": None,
          "attach": "in_use", "detach": "available", "release": None, "modify": None}
# What a resource of each type may be attached to.
ATTACHABLE = {"ecs.disk": "ecs.instance", "eip.eip": "ecs.instance"}


def check_transition(resource: Any, action: str) -> None:
    """Refuse (409) an action the resource's current state does not allow, saying what would."""
    status = (resource.status or "").lower()
    if resource.deleted:
        raise Conflict("The resource has been released.", code="resource_released", detail={"status": "deleted"})
    if status in BUSY:
        raise Conflict(f"The resource is {status}; wait until the cloud has finished.", code="resource_busy",
                       detail={"status": status})
    if action == "modify":  # each day-2 operation names its own states (apps/provisioning/day2.py)
        return
    allowed = ALLOWED.get(resource.type, ALLOWED["*"]).get(action)
    if allowed is None:
        return
    if status not in allowed:
        needed = " or ".join(sorted(allowed))
        if action == "resize" and "stopped" in allowed:
            message = f"{resource.name or resource.external_id} is {status}: the cloud resizes an instance only " \
                      f"when it is stopped. Stop it first."
            code = "resource_must_be_stopped"
        else:
            message = f"Cannot {action} a resource that is {status or 'in an unknown state'}; it must be {needed}."
            code = "invalid_transition"
        raise Conflict(message, code=code, detail={"status": status, "action": action, "allowed": sorted(allowed)})
