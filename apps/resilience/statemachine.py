"""Which plan a protection group may run in which state, and the state each plan leaves it in.

A group is ``protected`` (the primary serves, the secondary receives), ``switched_over`` (a planned
switchover made the secondary serve; the primary is intact and stopped) or ``failed_over`` (an
unplanned failover made the secondary serve from its last recovery point). A drill changes nothing.
Only one plan runs per group at a time (409 ``plan_running`` otherwise, also held by a constraint).
"""

from __future__ import annotations

from typing import Any

from apps.core.errors import Conflict

KINDS = ("drill", "switchover", "failover", "switchback", "failback")
ALLOWED: dict[str, frozenset[str]] = {
    "protected": frozenset({"drill", "switchover", "failover"}),
    "switched_over": frozenset({"switchback", "failover"}),
    "failed_over": frozenset({"failback"}),
}
# The state a plan leaves the group in when it succeeds (``None``: unchanged).
AFTER: dict[str, str | None] = {"drill": None, "switchover": "switched_over", "failover": "failed_over",
                                "switchback": "protected", "failback": "protected"}


def allowed(state: str) -> frozenset[str]:
    return ALLOWED.get(state, frozenset())


def check_plan(group: Any, kind: str, *, running: Any = None) -> None:
    """Refuse (409) a plan the group's state does not allow, or any plan while another one runs."""
    if running is not None:
        raise Conflict(f"A {running.kind} is already running on {group.name}; one plan runs per group at a time.",
                       code="plan_running", detail={"plan": running.id, "kind": running.kind})
    permitted = allowed(group.state)
    if kind not in permitted:
        needed = sorted(s for s, kinds in ALLOWED.items() if kind in kinds)
        raise Conflict(f"Cannot run a {kind} while the group is {group.state}; it must be {' or '.join(needed)}.",
                       code="invalid_transition",
                       detail={"state": group.state, "kind": kind, "allowed": sorted(permitted)})
