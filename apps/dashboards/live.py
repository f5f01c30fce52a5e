"""Live dashboards: when data behind a widget changes, tell the pages and wall screens showing it.

Every committed event (``apps.core.events``) reaches ``data_changed`` in the process that emitted
it. Its topic kind (``resource``, ``sync``, ``operation`` ...) names the queries it may change
(``apps.core.widgets.queries_changed_by``). The dashboards of the event's organization and of every
organization above it that use one of those queries get a ``data`` message on their topic
(``dashboard:<uid>``) naming the widgets to read again; each viewer reads them through the API
with its own permissions (a wall screen through its display token), so no value ever crosses from
one viewer's scope to another's.

Notices are coalesced per dashboard: the first change is announced at once, later ones within
``WINDOW`` seconds are gathered and announced together when the window ends, so a burst of a
thousand resource changes costs a screen at most a few reloads per second. The dashboards to tell
are looked up when the event arrives (in the emitting thread, after its commit); the window's timer
only sends, so no database work happens on a timer thread.

The notices skip ``emit`` on purpose: ``emit`` writes every event to the audit log, and these are
not changes anyone made.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from apps.core import realtime
from apps.core.events import send_to_group
from apps.core.widgets import organization_ancestors, queries_changed_by

logger = logging.getLogger(__name__)

WINDOW = 0.5
# Every event is also an audit entry, which the security queries count.
ALWAYS = ("audit",)
OWN_TOPIC = "dashboard"


class Coalescer:
    """Per key: announce now if nothing was announced within ``window``, else once at its end."""

    def __init__(self, window: float, flush: Any):
        self.window, self.flush = window, flush
        self.lock = threading.Lock()
        self.last: dict[Any, float] = {}
        self.pending: dict[Any, set[str]] = {}
        self.timers: dict[Any, threading.Timer] = {}

    def note(self, key: Any, names: set[str]) -> None:
        now = time.monotonic()
        with self.lock:
            if key in self.timers:
                self.pending[key] |= names
                return
            wait = self.last.get(key, -1e9) + self.window - now
            if wait > 0:
                self.pending[key] = set(names)
                timer = threading.Timer(wait, self._later, args=(key,))
                timer.daemon = True
                self.timers[key] = timer
                timer.start()
                return
            self.last[key] = now
        self.flush(key, names)

    def _later(self, key: Any) -> None:
        with self.lock:
            names = self.pending.pop(key, set())
            self.timers.pop(key, None)
            self.last[key] = time.monotonic()
        self.flush(key, names)


def targets(org_id: Any, names: set[str]) -> list[tuple[tuple[Any, str], set[str]]]:
    """((owner organization, uid), widget ids) of every dashboard above ``org_id`` (every dashboard
    for a platform-wide event) with widgets reading one of the queries ``names``."""
    from apps.dashboards.models import Dashboard

    dashboards = Dashboard.objects.all()
    if org_id:
        dashboards = dashboards.filter(organization_id__in=organization_ancestors(org_id))
    found = []
    for uid, owner, document in dashboards.values_list("uid", "organization_id", "document"):
        widgets = {w["id"] for w in document.get("widgets", []) if w.get("query", {}).get("name") in names}
        if widgets:
            found.append(((owner, uid), widgets))
    return found


def announce(key: tuple[Any, str], widgets: set[str]) -> None:
    """Tell the followers of one dashboard which of its widgets to read again."""
    owner, uid = key
    try:
        _notify(owner, f"{OWN_TOPIC}:{uid}", {"event": "data", "widgets": sorted(widgets)})
    except Exception:
        # Best effort, like every event: a broken cache or layer must not fail the work that changed the data.
        logger.exception("could not announce dashboard data changes")


def _notify(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    group = realtime.group_name(org_id, topic)
    seq = realtime.next_seq(group)
    text = json.dumps({"type": "event", "topic": topic, "seq": seq, "ts": time.time(), "data": payload},
                      cls=DjangoJSONEncoder)
    message = {"type": "realtime.event", "topic": topic, "seq": seq, "text": text}
    realtime.remember(group, message)
    send_to_group(group, message)


coalescer = Coalescer(WINDOW, announce)


def data_changed(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """The ``events`` subscriber: which queries this event may change, coalesced per organization."""
    kind = topic.partition(":")[0]
    if kind == OWN_TOPIC:
        return
    names = queries_changed_by(kind)
    for extra in ALWAYS:
        names |= queries_changed_by(extra)
    if not names:
        return
    try:
        found = targets(org_id or None, names)
    except Exception:
        logger.exception("could not find the dashboards an event changes")
        return
    for key, widgets in found:
        coalescer.note(key, widgets)
