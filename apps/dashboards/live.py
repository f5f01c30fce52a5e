"""Live dashboards: when data behind a widget changes, tell the pages and push wall screens the values.

Every committed event (``apps.core.events``) reaches ``data_changed`` in the process that emitted
it. Its topic kind (``resource``, ``sync``, ``operation`` ...) names the queries it may change
(``apps.core.widgets.queries_changed_by``). The dashboards of the event's organization and of every
organization above it that use one of those queries are then told, in two ways:

- People follow ``dashboard:<uid>``. Each person sees a dashboard through their own permissions, so
  they get a ``data`` notice naming the widgets to read again, and read them through the API.
- Wall screens (a display token) follow ``screen:<uid>``; their socket joins the group of their
  token's organization. Every screen of one organization sees the same thing (that organization's
  subtree, ``selectors.screen_scope``), so the server computes each changed widget ONCE per
  (query, parameters, organization) and pushes the ``values`` themselves to that group: a thousand
  screens of one dashboard cost one computation per change and no read at all. Values are computed
  only for organizations that have an active display token naming the dashboard, and only with
  that organization's scope, so a group never receives another organization's values.

Notices are coalesced per dashboard: the first change is announced at once, later ones within
``WINDOW`` seconds are gathered and announced together when the window ends, so a burst of a
thousand resource changes costs a screen at most a few updates per second. Each notice carries
``changed_at``, the time (``time.time()``) of the first data change it reports, and ``held``: whether
it waited for a window to end (it then reports changes up to ``WINDOW`` seconds old on purpose).

The dashboards to tell, and which of them wall screens show, are looked up when the event arrives
(in the emitting thread, after its commit), and a notice sent at once is computed there too. Those
look-ups (and a screen organization's subtree) change only when a dashboard, a display token or an
organization does, so each process keeps them (``Lookups``) until a shared generation in the cache
moves: any process moves it when one of those changes (their events, and their rows' saves and
deletions) and each event reads it once. An event then costs one cache read instead of five
queries before the widgets' own.

A notice held for its window's end is sent by the timer, which does no database work itself: its
values are computed on one background thread of the process (``Worker``), which keeps its own
database connection.

The notices skip ``emit`` on purpose: ``emit`` writes every event to the audit log, and these are
not changes anyone made.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from apps.core import realtime
from apps.core.events import send_to_group
from apps.core.widgets import organization_ancestors, queries_changed_by

logger = logging.getLogger(__name__)

WINDOW = 0.5
# Every event is also an audit entry, which the security queries count.
ALWAYS = ("audit",)
OWN_TOPIC = "dashboard"
SCREEN_TOPIC = "screen"
# The worker keeps its database connection between flushes; one idle for longer is checked first.
CHECK_IDLE_SECONDS = 30.0
# Events of these topic kinds change what ``Lookups`` keeps.
LOOKUP_KINDS = frozenset({"dashboard", "display_token", "organization"})
LOOKUP_GENERATION_KEY = "dashboards:live:lookups"
# Kept look-ups are read again after this long even if no change was announced (rows changed by hand,
# by a bulk update or a migration).
LOOKUP_SECONDS = 30.0
# A look-up used outside an event (a held notice on the worker) reads the generation again if its
# last read is older than this.
LOOKUP_RECHECK_SECONDS = 1.0


class Lookups:
    """This process's copy of the look-ups an event needs, valid while the shared generation is the one
    read when they were made (and for ``LOOKUP_SECONDS`` at most).

    A change moves the generation twice: at once, and again after its transaction commits, so a look-up
    another process made in between (from the rows as they were before the commit) is dropped too."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: Any = None
        self.made_at = 0.0
        self.checked_at = 0.0
        self.kept: dict[Any, Any] = {}

    def fresh(self) -> None:
        """Read the shared generation; drop everything kept if it moved or is too old."""
        try:
            generation = cache.get(LOOKUP_GENERATION_KEY)
        except Exception:  # an unreachable cache: keep nothing rather than risk an old look-up
            logger.exception("live dashboards: could not read the look-ups' generation")
            generation = object()
        now = time.monotonic()
        with self.lock:
            if generation != self.generation or now - self.made_at > LOOKUP_SECONDS:
                self.kept.clear()
                self.generation = generation
                self.made_at = now
            self.checked_at = now

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if time.monotonic() - self.checked_at > LOOKUP_RECHECK_SECONDS:
            self.fresh()
        with self.lock:
            generation = self.generation
            if key in self.kept:
                return self.kept[key]
        value = make()
        with self.lock:
            if self.generation == generation:  # not dropped while it was made
                self.kept[key] = value
        return value

    def changed(self) -> None:
        """Something the look-ups read changed: move the generation now and again after the commit."""
        self._move()
        transaction.on_commit(self._move)

    def _move(self) -> None:
        with self.lock:
            self.kept.clear()
            self.generation = None
        try:
            cache.set(LOOKUP_GENERATION_KEY, os.urandom(8).hex(), timeout=None)
        except Exception:
            logger.exception("live dashboards: could not move the look-ups' generation")


lookups = Lookups()


def lookups_changed(sender: Any, **kwargs: Any) -> None:
    """``post_save`` / ``post_delete`` of dashboards, display tokens and organizations."""
    lookups.changed()


class Coalescer:
    """Per key: announce now if nothing was announced within ``window``, else once at its end.

    ``flush(key, names, since, held)`` gets the names gathered, ``since``, the time of the first change
    among them, and ``held``: whether they waited for a window to end."""

    def __init__(self, window: float, flush: Callable[[Any, set[str], float, bool], None]):
        self.window, self.flush = window, flush
        self.lock = threading.Lock()
        self.last: dict[Any, float] = {}
        self.pending: dict[Any, set[str]] = {}
        self.since: dict[Any, float] = {}
        self.timers: dict[Any, threading.Timer] = {}

    def note(self, key: Any, names: set[str], at: float | None = None) -> None:
        at = time.time() if at is None else at
        now = time.monotonic()
        with self.lock:
            if key in self.timers:
                self.pending[key] |= names
                self.since[key] = min(self.since[key], at)
                return
            wait = self.last.get(key, -1e9) + self.window - now
            if wait > 0:
                self.pending[key] = set(names)
                self.since[key] = at
                timer = threading.Timer(wait, self._later, args=(key,))
                timer.daemon = True
                self.timers[key] = timer
                timer.start()
                return
            self.last[key] = now
        self.flush(key, names, at, False)

    def _later(self, key: Any) -> None:
        with self.lock:
            names = self.pending.pop(key, set())
            since = self.since.pop(key, time.time())
            self.timers.pop(key, None)
            self.last[key] = time.monotonic()
        self.flush(key, names, since, True)


class Worker:
    """One daemon thread of this process that runs jobs in order, with its own database connection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.used_at = 0.0

    def submit(self, job: Callable[[], None]) -> None:
        with self.lock:
            # A forked child (a prefork worker) inherits this object but not its thread: start its own.
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.jobs = queue.SimpleQueue()
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="dashboards-live", daemon=True)
                self.thread.start()
            self.jobs.put(job)

    def _run(self) -> None:
        jobs = self.jobs
        while True:
            batch = [jobs.get()]
            while True:  # what queued up meanwhile is handled in the same turn
                try:
                    batch.append(jobs.get_nowait())
                except queue.Empty:
                    break
            self._usable_connection()
            for job in batch:
                try:
                    job()
                except Exception:  # noqa: BLE001 - best effort, like every event
                    logger.exception("live dashboards: a job failed")
                    connection.close()
            self.used_at = time.monotonic()

    def _usable_connection(self) -> None:
        if connection.connection is None:
            return
        if connection.errors_occurred or time.monotonic() - self.used_at > CHECK_IDLE_SECONDS:
            if connection.errors_occurred or not connection.is_usable():
                connection.close()
            connection.errors_occurred = False

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call has run (tests, commands); False on timeout."""
        done = threading.Event()
        self.submit(done.set)
        return done.wait(timeout)


def targets(org_id: Any, names: set[str]) -> list[tuple[tuple[Any, str], set[str], dict[str, Any], int]]:
    """((owner organization, uid), widget ids, document, version) of every dashboard above ``org_id``
    (every dashboard for a platform-wide event) with widgets reading one of the queries ``names``."""
    from apps.dashboards.models import Dashboard

    dashboards = Dashboard.objects.all()
    if org_id:
        dashboards = dashboards.filter(organization_id__in=organization_ancestors(org_id))
    found = []
    for uid, owner, document, version in dashboards.values_list("uid", "organization_id", "document", "version"):
        widgets = {w["id"] for w in document.get("widgets", []) if w.get("query", {}).get("name") in names}
        if widgets:
            found.append(((owner, uid), widgets, document, version))
    return found


def screen_scopes(keys: list[tuple[Any, str]]) -> dict[tuple[Any, str], list[Any]]:
    """Per dashboard (owner, uid): the organizations whose wall screens show it, those with an active
    display token naming it. A screen shows only its own organization's dashboards (the screen pages
    refuse others), so each is ``[owner]`` or nothing. One query."""
    from apps.security.models import DisplayToken

    owners = {owner for owner, _uid in keys}
    named = {(org, uid) for org, uids in DisplayToken.objects.filter(
        organization_id__in=owners, revoked_at__isnull=True).values_list("organization_id", "dashboards")
        if isinstance(uids, list) for uid in uids if isinstance(uid, str)}
    return {key: [key[0]] if key in named else [] for key in keys}


def screen_values(*, document: dict[str, Any], widget_ids: set[str], organization_id: Any) -> dict[str, Any]:
    """The data of the widgets ``widget_ids`` for the wall screens of ``organization_id``, each distinct
    (query, parameters) computed once; exactly what those screens read through ``screens/d/<uid>/data/``."""
    from apps.dashboards import selectors

    scope = lookups.get(("scope", organization_id), lambda: selectors.screen_scope(organization_id=organization_id))
    computed: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for widget in document.get("widgets", []):
        if widget.get("id") not in widget_ids:
            continue
        query = widget.get("query", {})
        key = json.dumps([query.get("name"), query.get("params") or {}], sort_keys=True, default=str)
        if key not in computed:
            try:
                computed[key] = selectors.one_widget_data(widget=widget, scope=scope)
            except Exception:  # noqa: BLE001 - a broken query must not cost the other widgets their values
                logger.exception("live dashboards: widget %s could not be computed", widget.get("id"))
                continue
        values[widget["id"]] = computed[key]
    return values


def _targets_and_scopes(org_id: Any, names: set[str]) -> tuple[list[Any], dict[tuple[Any, str], list[Any]]]:
    found = targets(org_id, names)
    return found, screen_scopes([key for key, *_rest in found]) if found else {}


# (owner, uid) -> the organizations whose screens show it and (document, version), as last looked up
# (``data_changed``): the values of a change are computed from the document it was found in.
_screens: dict[tuple[Any, str], list[Any]] = {}
_documents: dict[tuple[Any, str], tuple[dict[str, Any], int]] = {}


def announce(key: tuple[Any, str], widgets: set[str], since: float, held: bool = False) -> None:
    """Tell the people following one dashboard which widgets to read again, and push its wall
    screens the new values (computed here, or on the worker when the timer of a window calls)."""
    owner, uid = key
    scopes = _screens.get(key) or []
    if scopes and key in _documents:
        # Screens first: they draw what they get, people read again anyway.
        document, version = _documents[key]
        if held:
            worker.submit(lambda: push_values(key, widgets, since, held, scopes, document, version))
        else:
            push_values(key, widgets, since, held, scopes, document, version)
    try:
        _notify(owner, f"{OWN_TOPIC}:{uid}", {"event": "data", "widgets": sorted(widgets), "changed_at": since,
                                              "held": held})
    except Exception:
        # Best effort, like every event: a broken cache or layer must not fail the work that changed the data.
        logger.exception("could not announce dashboard data changes")


def push_values(key: tuple[Any, str], widgets: set[str], since: float, held: bool, scopes: list[Any],
                document: dict[str, Any], version: int) -> None:
    """Compute the changed widgets once per organization in ``scopes`` and push them to its screens."""
    uid = key[1]
    try:
        for organization_id in scopes:
            values = screen_values(document=document, widget_ids=widgets, organization_id=organization_id)
            if values:
                _notify(organization_id, f"{SCREEN_TOPIC}:{uid}",
                        {"event": "values", "version": version, "widgets": values, "changed_at": since,
                         "held": held})
    except Exception:
        logger.exception("could not push dashboard values to wall screens")


def _notify(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    group = realtime.group_name(org_id, topic)
    seq = realtime.next_seq(group)
    text = json.dumps({"type": "event", "topic": topic, "seq": seq, "ts": time.time(), "data": payload},
                      cls=DjangoJSONEncoder)
    message = {"type": "realtime.event", "topic": topic, "seq": seq, "text": text}
    realtime.remember(group, message)
    send_to_group(group, message)


worker = Worker()
coalescer = Coalescer(WINDOW, announce)


def display_token_changed(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """The ``events`` subscriber for display tokens: a revoked token's screens are closed at once, so
    no pushed value reaches a screen whose token no longer opens the dashboard."""
    if payload.get("event") != "revoked":
        return
    try:
        send_to_group(realtime.credential_group(topic.partition(":")[2]), {"type": realtime.SESSION_REVOKED})
    except Exception:
        logger.exception("could not close the screens of a revoked display token")


def data_changed(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """Which dashboards this event may change, coalesced per dashboard."""
    data_changed_many([(org_id, topic, payload)])


def data_changed_many(events: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """The ``events`` subscriber: which dashboards these events (those a transaction emitted, delivered
    together) may change, coalesced per dashboard: looked at once per organization and kind of topic, after
    one read of the look-ups' generation."""
    kinds = dict.fromkeys((org_id or None, topic.partition(":")[0]) for org_id, topic, _payload in events)
    if any(kind in LOOKUP_KINDS for _org, kind in kinds):
        lookups.changed()
    checked = False
    for org_id, kind in kinds:
        if kind in (OWN_TOPIC, SCREEN_TOPIC):
            continue
        names = queries_changed_by(kind)
        for extra in ALWAYS:
            names |= queries_changed_by(extra)
        if not names:
            continue
        at = time.time()
        try:
            if not checked:
                lookups.fresh()
                checked = True
            found, scopes = lookups.get(("targets", org_id, frozenset(names)),
                                        lambda org_id=org_id, names=names: _targets_and_scopes(org_id, names))
            _screens.update(scopes)
        except Exception:
            logger.exception("could not find the dashboards an event changes")
            continue
        # Dashboards on wall screens first: their values are pushed, the others' followers read again.
        for key, widgets, document, version in sorted(found, key=lambda target: not _screens.get(target[0])):
            _documents[key] = (document, version)
            coalescer.note(key, widgets, at)
