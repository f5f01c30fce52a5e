"""The ingestion endpoints' own lane through the ASGI server.

Django's ASGI handler serves a request on a new thread made for it (``ThreadSensitiveContext``),
after a first round trip to a thread for the ``request_started`` signal and before a last one for
``request_finished``. A new thread means a new database connection for every request: a new
PostgreSQL backend (measured here: 100 signed ingestion requests opened 101 sessions), or a new
SQLite connection with its PRAGMAs. An alert sent by a Prometheus waits for all of that before its
notification can leave.

``IngestionLane`` wraps the HTTP application: a POST to an ingestion path is served by Django's
own request handler (every middleware, DRF, the AccessKey check, the same view, the same errors),
run synchronously in one hop on one of a few long-lived threads that keep their database
connection between requests. Such a connection is dropped after an error, and one idle for a while
is checked before it is used again (as the notification sender threads do). When every lane thread
is busy (a batch of 10,000 alerts holds one for seconds) the request takes Django's usual path, so
the lane never queues a request behind another. Everything else goes to the wrapped application.

Once the answer is sent, the response is closed on a lane thread as Django's handler closes it
(its resource closers, then ``request_finished`` and every receiver of that signal). The lane's
connections are marked to be kept (``close_at``), so ``request_finished`` closes only those that
broke or were left in a transaction, not the good ones the lane keeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.urls import set_script_prefix

logger = logging.getLogger(__name__)

THREADS = 4
PATHS = frozenset({"/api/v1/alerts/ingest/v2/alerts", "/api/v1/alerts/ingest/webhook"})
# A lane thread's connection idle for longer than this is checked before it serves again.
CHECK_IDLE_SECONDS = 30.0


class IngestionLane(ASGIHandler):
    def __init__(self, app: Any, paths: frozenset[str] = PATHS, threads: int = THREADS):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.app = app
        self.paths = paths
        self.threads = threads
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._idle = threading.Semaphore(threads)
        self._local = threading.local()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="alert-ingest")
            return self._executor

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if (scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths
                or not self._idle.acquire(blocking=False)):
            return await self.app(scope, receive, send)
        try:
            try:
                body_file = await self.read_body(receive)
            except RequestAborted:
                return None
            try:
                request, response = self.create_request(scope, body_file)
                if request is not None:
                    prefix = get_script_prefix(scope)
                    response = await asyncio.get_running_loop().run_in_executor(
                        self._pool(), self._respond, request, prefix)
                try:
                    await self.send_response(response, send)
                finally:
                    await asyncio.get_running_loop().run_in_executor(self._pool(), self._close, response)
            finally:
                body_file.close()
        finally:
            self._idle.release()
        return None

    def _respond(self, request: Any, prefix: str) -> Any:
        """Django's handler on this lane thread, with this thread's kept database connections."""
        self._usable_connections()
        set_script_prefix(prefix)
        try:
            response = self.get_response(request)
            self._keep_connections()
        except BaseException:
            connections.close_all()
            raise
        finally:
            self._local.used_at = time.monotonic()
        return response

    def _close(self, response: Any) -> None:
        """``response.close()`` as Django's handler calls it after sending: its closers and
        ``request_finished``, which drops this thread's connections that broke or were left in a
        transaction and keeps the good ones (``_keep_connections``)."""
        try:
            self._keep_connections()
            response.close()
            self._skip_health_checks()
        except Exception:  # noqa: BLE001 - the answer is out; a closer's failure must not lose the lane thread
            logger.exception("closing an ingestion response failed")
            connections.close_all()

    @staticmethod
    def _keep_connections() -> None:
        """Mark this thread's connections as kept past ``CONN_MAX_AGE`` (``request_finished`` closes the
        others: broken, or left outside autocommit), and close one left inside a transaction now."""
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            if conn.in_atomic_block:
                conn.close()
            else:
                conn.close_at = None

    @staticmethod
    def _skip_health_checks() -> None:
        """``request_finished`` asks for ``CONN_HEALTH_CHECKS``'s check before the next request: a
        ``SELECT 1`` round trip on PostgreSQL for every alert. A lane thread checks its connections
        itself (``_usable_connections``: one that had an error is closed, one idle for a while is
        checked), so the kept ones are marked as checked."""
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and conn.close_at is None:
                conn.health_check_done = True

    def _usable_connections(self) -> None:
        idle = time.monotonic() - getattr(self._local, "used_at", 0.0) > CHECK_IDLE_SECONDS
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            if conn.errors_occurred or (idle and not conn.is_usable()):
                conn.close()
            conn.errors_occurred = False
