"""Live dashboards: when data behind a widget changes, tell the pages and wall screens showing it.

Every committed event (``apps.core.events``) reaches ``data_changed`` in the process that emitted
it. Its topic kind (``resource``, ``sync``, ``operation`` ...) names the queries it may change
(``apps.core.widgets.queries_changed_by``). The dashboards of the event's organization and of every
organization above it that use one of those queries get a ``data`` message on their topic
(``dashboard:<uid>``) naming the widgets to read again; each viewer reads them through the API
with its own permissions (a wall screen through its display token), so no value ever crosses from
one viewer's scope to another's.

Notices are coalesced per organization: the first change is announced at once, later ones within
``WINDOW`` seconds are gathered and announced together when the window ends, so a burst of a
thousand resource changes costs a screen at most a few reloads per second.

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
from django.db import close_old_connections

from apps.core import realtime
from apps.core.events import send_to_group
from apps.core.widgets import organization_ancestors, queries_changed_by

logger = logging.getLogger(__name__)

WINDOW = 0.5
# Every event is also an audit entry, which the security queries count.
ALWAYS = ("audit",)
OWN_TOPIC = "dashboard"


class Coalescer:
    """Per organization: announce now if nothing was announced within ``window``, else once at its end."""

    def __init__(self, window: float, flush: Any):
        self.window, self.flush = window, flush
        self.lock = threading.Lock()
        self.last: dict[Any, float] = {}
        self.pending: dict[Any, set[str]] = {}
        self.timers: dict[Any, threading.Timer] = {}

    def note(self, org_id: Any, names: set[str]) -> None:
        now = time.monotonic()
        with self.lock:
            if org_id in self.timers:
                self.pending[org_id] |= names
                return
            wait = self.last.get(org_id, -1e9) + self.window - now
            if wait > 0:
                self.pending[org_id] = set(names)
                timer = threading.Timer(wait, self._later, args=(org_id,))
                timer.daemon = True
                self.timers[org_id] = timer
                timer.start()
                return
            self.last[org_id] = now
        self.flush(org_id, names)

    def _later(self, org_id: Any) -> None:
        with self.lock:
            names = self.pending.pop(org_id, set())
            self.timers.pop(org_id, None)
            self.last[org_id] = time.monotonic()
        try:
            self.flush(org_id, names)
        finally:
            close_old_connections()


def announce(org_id: Any, names: set[str]) -> int:
    """Send a ``data`` notice to every dashboard above ``org_id`` that uses one of ``names``;
    the number of dashboards told."""
    from apps.dashboards.models import Dashboard

    try:
        dashboards = Dashboard.objects.all()
        if org_id:
            dashboards = dashboards.filter(organization_id__in=organization_ancestors(org_id))
        told = 0
        for uid, owner, document in dashboards.values_list("uid", "organization_id", "document"):
            widgets = [w["id"] for w in document.get("widgets", []) if w.get("query", {}).get("name") in names]
            if widgets:
                _notify(owner, f"{OWN_TOPIC}:{uid}", {"event": "data", "widgets": widgets})
                told += 1
        return told
    except Exception:
        logger.exception("could not announce dashboard data changes")
        return 0


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
    if names:
        coalescer.note(org_id or None, names)
