"""The event loops a process sends its events through.

In the embedded mode one process serves HTTP and websockets (daphne), runs a Celery worker on the
in-memory transport and runs beat (started by ``unimanager.serve``). The in-memory channel layer
belongs to the server's event loop, so events produced in the worker thread are handed to that loop
(see ``apps.core.events``); the loop is learnt from the first ASGI call.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

_server_loop: asyncio.AbstractEventLoop | None = None


def server_loop() -> asyncio.AbstractEventLoop | None:
    loop = _server_loop
    if loop is not None and (loop.is_closed() or not loop.is_running()):
        return None
    return loop


def set_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    global _server_loop
    _server_loop = loop


_background: tuple[int, asyncio.AbstractEventLoop] | None = None
_background_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """An event loop on a daemon thread of this process, for processes that serve no ASGI app
    (Celery workers, commands). A channel layer keeps its connections per loop, so sending every
    event through one long-lived loop reuses one connection instead of opening one per event."""
    global _background
    with _background_lock:
        # A forked child inherits the variable but not the thread: start its own.
        if _background is None or _background[0] != os.getpid() or _background[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="event-sender", daemon=True).start()
            _background = (os.getpid(), loop)
        return _background[1]


class ServerLoopMiddleware:
    """Outermost ASGI wrapper: remembers the loop the server runs its applications on."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if _server_loop is None or _server_loop.is_closed():
            set_server_loop(asyncio.get_running_loop())
        if scope["type"] == "lifespan":
            # daphne does not speak lifespan; other servers get a polite "supported".
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return None
        return await self.app(scope, receive, send)

