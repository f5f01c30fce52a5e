"""The first try of a notification, made by the process that decided it, right after commit.

A delivery is created already holding its first try (``attempts`` 1, ``claimed_until`` a lease in
the future). When its transaction commits, ``hand_over`` gives it to one of a few sender threads of
this process if one is idle, so a webhook leaves within a millisecond instead of waiting for a
Celery worker to pick a task up (the embedded worker polls its in-memory queue every 10 ms). When
the dispatch opened a connection to a plain HTTP receiver while its transaction was written
(``channels.warm``: the receiver accepts it meanwhile), the committing thread writes the request on it
itself, without waiting (``notify.first_try_begun``), and the sender thread only reads the answer:
measured on the distributed mode (served, alternated A/B, 300 probes), the webhook came 0.5-0.75 ms
sooner. When every sender thread is busy (a dead receiver holds one for up to its timeout) the try goes to Celery
instead, so a dead receiver never delays the others. A failed try is retried through Celery with
its backoff; a try that never finished (the process died, the task was lost) is found by
``notify.deliveries_sweep`` once its lease has run out and is sent again, once.

A caller that has more to say right after its tries went out (the ingestion tells the alert lists and
badges) holds their outcomes with ``outcomes_held``: a sender thread then writes its try's outcome (an
update of the delivery, about half a millisecond of Python) only once the caller lets it go (the ingestion:
once its frames are handed over) or its block ended, so the two do not take turns at the interpreter while
the lists wait for their frames. Measured on the distributed mode (served, alternated A/B): the badge's
event 0.5-0.7 ms sooner, the webhook unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

logger = logging.getLogger(__name__)

THREADS = 4
# A sender thread keeps its database connection between tries (opening one costs more than a try);
# one idle for longer than this is checked before it is used again.
CHECK_IDLE_SECONDS = 30.0
# A held outcome is written after this long even if the holder's block has not ended.
HOLD_SECONDS = 2.0

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor, threading.Semaphore] | None = None


def enabled() -> bool:
    """``UNIMANAGER_ALERTS_SEND_INLINE=false`` sends every try through Celery (the process that decides
    notifications then never opens a connection to a receiver)."""
    return os.environ.get("UNIMANAGER_ALERTS_SEND_INLINE", "true").lower() not in ("0", "false", "no")


def _executor() -> tuple[ThreadPoolExecutor, threading.Semaphore]:
    global _pool
    with _lock:
        # A forked child (a prefork worker) inherits the variable but not the threads: make its own.
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(THREADS, thread_name_prefix="alert-sender"),
                     threading.Semaphore(THREADS))
        return _pool[1], _pool[2]


_held = threading.local()


@contextlib.contextmanager
def outcomes_held() -> Iterator[Callable[[], None]]:
    """Tries handed to sender threads by this thread inside the block write their outcome once it ends, or
    once the function it gives is called (at most ``HOLD_SECONDS`` after the try); the tries themselves
    leave at once."""
    release = Handed()
    outer = getattr(_held, "release", None)
    _held.release = release
    try:
        yield release.set
    finally:
        _held.release = outer
        release.set()


class Handed:
    """Set once a try reached its receiver (or failed), or once held outcomes are let go. ``wait`` as an
    event's; ``then(fn)`` calls ``fn`` on the thread that sets it (at once when it already is): what follows
    the try (the alert lists' frames) is started by the thread that wrote its request, as soon as it did."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._then: list[Callable[[], Any]] = []

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            then, self._then = self._then, []
        for fn in then:
            try:
                fn()
            except Exception:  # the try itself goes on
                logger.exception("what followed a sent try (%r) failed", fn)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def then(self, fn: Callable[[], Any]) -> None:
        with self._lock:
            if not self._event.is_set():
                self._then.append(fn)
                return
        fn()


def hand_over(delivery: Any, out: Handed | None = None) -> Handed | None:
    """Send ``delivery``'s claimed first try now on an idle sender thread, else through Celery.

    Returns a ``Handed`` (``out`` when given) set once the try reached its receiver (or failed), so the caller
    can let it go first before doing slower bookkeeping; None when it went to Celery (``out`` is then set)."""
    from apps.alerts.notify import first_try_begun
    from apps.alerts.tasks import delivery_send_task

    if enabled():
        idle = _executor()[1]
        if idle.acquire(blocking=False):
            out = out if out is not None else Handed()
            release = getattr(_held, "release", None)
            begun = first_try_begun(delivery)
            if begun is not None and begun.whole:
                out.set()
            if _start(delivery, idle, out, release, begun):
                return out
    delivery_send_task.delay(delivery.pk, delivery.attempts)
    if out is not None:
        out.set()
    return None


def _start(delivery: Any, idle: threading.Semaphore, out: Handed, release: Handed | None, begun: Any) -> bool:
    """Give the try to a sender thread (``idle`` acquired for it); False when the pool is shutting down with
    the process and the try was not begun (the caller queues it to Celery instead)."""
    pool, _idle = _executor()
    try:
        pool.submit(_send, delivery, idle, out, release, begun)
        return True
    except RuntimeError:
        if begun is None:
            idle.release()
            return False
        _send(delivery, idle, out, None, begun)  # its request is out: its answer is read here
        return True


def _send(delivery: Any, idle: threading.Semaphore, out: Handed, release: Handed | None,
          begun: Any = None) -> None:
    from apps.alerts.notify import attempt_claimed
    from apps.alerts.tasks import delivery_send_task

    try:
        held = (lambda: release.wait(HOLD_SECONDS)) if release is not None else None
        if held is not None and begun is not None and begun.whole:
            # Its request is out: its answer is read once the holder lets the outcomes go, so this thread
            # does not take turns at the interpreter with what the holder does first.
            held()
            held = None
        _usable_connection()
        delay = attempt_claimed(delivery, sent=out, begun=begun, held=held)
        if delay is not None:
            delivery_send_task.apply_async((delivery.pk,), countdown=delay)
    except Exception:  # noqa: BLE001 - the lease runs out and the sweeper sends it again
        logger.exception("sending delivery %s failed; the sweeper will retry it", delivery.pk)
        connection.close()
    finally:
        out.set()
        _local.used_at = time.monotonic()
        idle.release()


_local = threading.local()


def _usable_connection() -> None:
    """Drop this thread's database connection when it broke or, after a long idle, no longer answers."""
    if connection.connection is None:
        return
    if connection.errors_occurred or time.monotonic() - getattr(_local, "used_at", 0.0) > CHECK_IDLE_SECONDS:
        if connection.errors_occurred or not connection.is_usable():
            connection.close()
        connection.errors_occurred = False
