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

A request signed with an AccessKey (the way every Prometheus and script sends) goes further below
Django's handler: it skips URL resolution and the middleware that do nothing to such a request
(``SKIPPED_MIDDLEWARE``, each named with the reason), and the other middleware, in their order,
wrap the same DRF view's ``dispatch``: the same AccessKey check, parser, permission, exception
handler, renderer, audit entry, request id and security headers. A request without a signature (a
browser session's, say) takes the whole stack, since CSRF matters to it.
``apps/alerts/tests/test_lane_direct.py`` sends each kind of request both ways and compares the
answers (status, body, headers, audit entry).

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

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import connections
from django.urls import resolve, set_script_prefix
from django.utils.module_loading import import_string

from apps.security import signing

logger = logging.getLogger(__name__)

THREADS = 4
PATHS = frozenset({"/api/v1/alerts/ingest/v2/alerts", "/api/v1/alerts/ingest/webhook"})
# A lane thread's connection idle for longer than this is checked before it serves again.
CHECK_IDLE_SECONDS = 30.0

# Middleware that does nothing to a request signed with an AccessKey and POSTed to an ingestion path.
SKIPPED_MIDDLEWARE = frozenset({
    # It serves files under the static prefix only.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The views are CSRF-exempt, and the AccessKey check answers before DRF's session authenticator
    # (which enforces CSRF itself) is reached. (The session and user middleware stay: they cost
    # nothing until read, and the audit entry of a body refused before the check reads the user.)
    "django.middleware.csrf.CsrfViewMiddleware",
    # Nothing on this path adds a message.
    "django.contrib.messages.middleware.MessageMiddleware",
    # Its policy goes on HTML answers only; the ingestion answers JSON, errors included.
    "apps.security.middleware.ContentSecurityPolicyMiddleware",
    # It turns a page's ``NotFound`` into the 404 page; DRF's exception handler renders the API's.
    "apps.core.middleware.NotFoundPageMiddleware",
})


class IngestionLane(ASGIHandler):
    def __init__(self, app: Any, paths: frozenset[str] = PATHS, threads: int = THREADS, direct: bool = True):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._matches: dict[str, Any] = {}
        # Django's handler (its ``get_response``: URL configuration, closers, the log of refusals)
        # around the shorter chain; None when the whole stack is needed.
        chain = self._signed_middleware_chain() if direct else None
        self._signed_handler: BaseHandler | None = None
        if chain is not None:
            self._signed_handler = BaseHandler()
            self._signed_handler._middleware_chain = chain
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

    def _signed_middleware_chain(self) -> Any:
        """The project's middleware less ``SKIPPED_MIDDLEWARE``, in the same order, around the view,
        each wrapped as Django's handler wraps it (an exception becomes the same error answer)."""
        handler = convert_exception_to_response(self._view)
        for name in reversed(settings.MIDDLEWARE):
            if name in SKIPPED_MIDDLEWARE:
                continue
            middleware = import_string(name)
            if any(hasattr(middleware, hook) for hook in ("process_view", "process_exception",
                                                          "process_template_response")):
                # Hooks Django's URL dispatch would call: such a middleware needs the whole stack.
                return None
            handler = convert_exception_to_response(middleware(handler))
        return handler

    def _view(self, request: Any) -> Any:
        """What Django's ``_get_response`` does for these paths: the URL's match (resolved once per
        path: the URL configuration does not change while serving), its view called, and DRF's
        response rendered."""
        match = self._matches.get(request.path_info)
        if match is None:
            match = self._matches[request.path_info] = resolve(request.path_info)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        return response.render() if callable(getattr(response, "render", None)) else response

    def _signed(self, request: Any) -> bool:
        return (self._signed_handler is not None and request.path_info in self.paths
                and request.META.get("HTTP_AUTHORIZATION", "").startswith(signing.ALGORITHM))

    def _respond(self, request: Any, prefix: str) -> Any:
        """Django's handler on this lane thread, with this thread's kept database connections."""
        self._usable_connections()
        set_script_prefix(prefix)
        try:
            handler = self._signed_handler if self._signed(request) else self
            response = handler.get_response(request)
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
