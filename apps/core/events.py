"""``emit``: the only way anything is announced to browsers, screens and other apps.

Events are sent after the surrounding transaction commits, so nothing rolled back is announced.
Subscribers in other apps (audit, metering, alerts) register with ``subscribe`` and are called in
the same on-commit hook, in the emitting process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from apps.core import realtime, runtime

logger = logging.getLogger(__name__)

Subscriber = Callable[[Any, str, dict[str, Any]], None]
BatchSubscriber = Callable[[list[tuple[Any, str, dict[str, Any]]]], None]


@dataclass(frozen=True)
class After:
    """What an event's frames wait for: every one of ``signals`` (objects with ``then(fn)``, which calls ``fn``
    once the signal is set, at once when it already is), for at most ``seconds``. The thread that sets the
    last of them hands the frames to the server's loop itself, so the emitting thread, which waits meanwhile,
    need not be woken first (0.1-0.2 ms on a busy server)."""

    signals: Sequence[Any]
    seconds: float


# (organization id, topic, payload, further streams, fields added on named streams' frames only, what the frames
# wait for, called once the frames were handed over)
Event = tuple[Any, str, dict[str, Any], list[tuple[Any, str]], Mapping[str, dict[str, Any]], After | None,
              Callable[[], Any] | None]
_subscribers: list[tuple[str, Subscriber]] = []
_batch_subscribers: list[tuple[str, BatchSubscriber]] = []


def subscribe(topic_prefix: str, handler: Subscriber) -> None:
    """Call ``handler(org_id, topic, payload)`` for every committed event whose topic starts so."""
    _subscribers.append((topic_prefix, handler))


def subscribe_batch(topic_prefix: str, handler: BatchSubscriber) -> None:
    """Call ``handler([(org_id, topic, payload), ...])`` with the committed events whose topic starts so, those
    a transaction emitted one after another together, in the order emitted (for a subscriber that writes
    each event: one write for them all)."""
    _batch_subscribers.append((topic_prefix, handler))


class _Emitted:
    """Events emitted one after another in a transaction, at one savepoint level: delivered together on
    commit (their stream numbers, replay copies and sends go out together). An event emitted after
    something else was registered on commit, or inside another savepoint, starts another delivery, so
    what runs on commit keeps its order and a rolled-back savepoint takes its events with it."""

    def __init__(self, event: Event) -> None:
        self.events = [event]
        self.delivered = False

    def __call__(self) -> None:
        self.delivered = True
        _deliver_all(self.events)


def emit(org: Any, topic: str, payload: dict[str, Any], *, also: Iterable[tuple[Any, str]] = (),
         streamed: Mapping[str, dict[str, Any]] | None = None, after: After | None = None,
         sent: Callable[[], Any] | None = None) -> None:
    """Announce ``payload`` on ``topic`` of organization ``org`` (a model, an id or None) on commit.

    ``also`` names further (organization, topic) streams that carry the same announcement, such as
    an organization's activity stream; subscribers in other apps hear it once, on ``topic``.
    ``streamed`` maps a stream's topic to fields added to the payload on that stream's frames only:
    what one stream's followers may see and another's may not (subscribers in other apps do not
    hear them).
    ``after``: what the event's frames wait for (``After``); the events delivered together wait for all of theirs.
    ``sent`` is called once the event's frames were handed to the channel layer (or could not be), before
    the subscribers in other apps hear it: for what waits on the frames but not on the subscribers' writes.
    """
    event = (getattr(org, "pk", org), topic, payload, [(getattr(o, "pk", o), t) for o, t in also], streamed or {},
             after, sent)
    connection = transaction.get_connection()
    if connection.in_atomic_block and connection.run_on_commit:
        sids, callback, _robust = connection.run_on_commit[-1]
        if isinstance(callback, _Emitted) and not callback.delivered and sids == set(connection.savepoint_ids):
            callback.events.append(event)
            return
    transaction.on_commit(_Emitted(event))


def _send(events: list[tuple[list[tuple[Any, str]], dict[str, Any], Mapping[str, dict[str, Any]]]],
          after: After | None = None) -> None:
    """Number each event within each of its (organization, topic) streams, keep it for replay and hand it to
    the channel layer: the numbers of all the events' streams, their replay copies and their sends each go
    out together. The frames wait for ``after``."""
    try:
        groups = [(realtime.group_name(org_id, topic), topic, n) for n, (streams, _p, _s) in enumerate(events)
                  for org_id, topic in streams]
        # The payloads are encoded while the numbers are on their way from Redis.
        asked = realtime.next_seqs_asked([group for group, _topic, _n in groups])
        try:
            # The client's frame is encoded once per stream here, not once per subscriber, around the payload
            # encoded once (again for a stream with fields of its own); the layer message carries only strings
            # and numbers, which the layer copies cheaply for each receiver.
            data = [json.dumps(payload, cls=DjangoJSONEncoder) for _streams, payload, _s in events]
        finally:
            seqs = asked()

        def encoded(n: int, topic: str) -> str:
            own = events[n][2].get(topic)
            return json.dumps({**events[n][1], **own}, cls=DjangoJSONEncoder) if own else data[n]

        at = time.time()
        messages = [(group, {"type": "realtime.event", "topic": topic, "seq": seq,
                             "text": f'{{"type": "event", "topic": {json.dumps(topic)}, "seq": {seq}, '
                                     f'"ts": {at!r}, "data": {encoded(n, topic)}}}'})
                    for (group, topic, n), seq in zip(groups, seqs, strict=True)]
        # The replay copies are written once the layer sent (this process's followers first had their frames:
        # written while the layer sends, they held the server's loop back by 0.5-0.8 ms). A client resuming
        # in that moment may find one missing, and is told to reload (a reset), as for any event it can no
        # longer get.
        send_to_groups(messages, after=after)
        realtime.remember_many(messages)
    except Exception:
        # Delivery is best effort: a broken cache or layer must not fail the committed work.
        logger.exception("could not deliver events %s", ", ".join(streams[0][1] for streams, _p, _s in events[:5]))


def _deliver_all(events: list[Event]) -> None:
    waits = [after for *_event, after, _sent in events if after is not None]
    _send([([(org_id, topic), *streams], payload, own) for org_id, topic, payload, streams, own, _a, _s in events],
          After([s for w in waits for s in w.signals], max(w.seconds for w in waits)) if waits else None)
    for *_event, sent in events:
        if sent is not None:
            try:
                sent()
            except Exception:
                logger.exception("the hand-over callback %r of an event failed", sent)
    for org_id, topic, payload, _streams, _own, _after, _sent in events:
        for prefix, handler in _subscribers:
            if topic.startswith(prefix):
                try:
                    handler(org_id, topic, payload)
                except Exception:
                    logger.exception("event subscriber %r failed on %s", handler, topic)
    for prefix, batch_handler in _batch_subscribers:
        heard = [(org_id, topic, payload) for org_id, topic, payload, _streams, _own, _after, _sent in events
                 if topic.startswith(prefix)]
        if heard:
            try:
                batch_handler(heard)
            except Exception:
                logger.exception("event subscriber %r failed on %s", batch_handler, heard[0][1])


SEND_TIMEOUT = 5.0


class _Gate:
    """Opens once each of ``signals`` was set, or when ``open`` is called, whichever is first: ``on_open`` runs
    once, on the thread that opened it (its result in ``result``, its error in ``error``)."""

    def __init__(self, signals: Sequence[Any], on_open: Callable[[], Any]) -> None:
        self._lock = threading.Lock()
        self._left = len(signals)
        self._opening = False
        self._on_open = on_open
        self.result: Any = None
        self.error: BaseException | None = None
        self.opened = threading.Event()
        for signal in signals:
            signal.then(self._arrive)
        if not signals:
            self.open()

    def _arrive(self) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self.open()

    def open(self) -> None:
        with self._lock:
            if self._opening:
                return
            self._opening = True
        try:
            self.result = self._on_open()
        except BaseException as exc:  # told to the waiting thread, not to whichever thread opened it
            self.error = exc
        finally:
            self.opened.set()


def send_to_group(group: str, message: dict[str, Any]) -> None:
    send_to_groups([(group, message)])


def send_to_groups(messages: list[tuple[str, dict[str, Any]]], *, after: After | None = None) -> None:
    """Hand each (group, message) to the channel layer, the groups at once and each group's messages in
    their order, and wait for them together. They wait for ``after`` first (not when called on an event loop,
    which cannot wait)."""
    layer = get_channel_layer()
    if layer is None:
        return

    from apps.core.consumers import fanout  # this process's followers are handed their events at once

    async def send_all() -> None:
        await fanout.send_all(layer, messages)

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    signals = after.signals if after is not None and running is None else ()
    loop = runtime.server_loop()
    if isinstance(layer, InMemoryChannelLayer) and loop is None:
        # No server in this process (tests, commands): the layer lives wherever it is awaited.
        gate = _Gate(signals, lambda: None)
        if not gate.opened.wait(after.seconds if signals else 0):
            gate.open()
        async_to_sync(send_all)()
        return
    if loop is None:
        loop = runtime.background_loop()
    # The layer lives on one long-lived loop of this process (the server's, else a background one):
    # send there. A private loop per send (async_to_sync) would lose in-memory events and open a new
    # Redis connection for every event.
    finished = threading.Event()

    def submit() -> concurrent.futures.Future:
        try:
            future = asyncio.run_coroutine_threadsafe(send_all(), loop)
        except BaseException:
            finished.set()
            raise
        future.add_done_callback(lambda _future: finished.set())
        return future

    gate = _Gate(signals, submit)
    if running is not None:
        return
    # This thread sleeps until the frames were handed (not merely until the gate opened: woken then, it took
    # the interpreter from the loop that was about to hand them).
    if not finished.wait(after.seconds if signals else SEND_TIMEOUT):
        gate.open()
    gate.opened.wait(SEND_TIMEOUT)  # the thread that opened it may not have noted what it submitted yet
    if gate.error is not None:
        raise gate.error
    if gate.result is None:
        raise TimeoutError("the frames were not handed to the loop")
    # Waiting keeps one thread's events in the order they were emitted.
    gate.result.result(timeout=SEND_TIMEOUT)
