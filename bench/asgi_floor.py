"""An ASGI application that answers every HTTP request with a fixed small JSON body and does nothing
else: served by daphne beside a deployment, it is the floor of any request through daphne itself
(its HTTP parsing, the ASGI hand-off, the client), below which no Django code is involved."""

from __future__ import annotations

from typing import Any

BODY = b'{"status": "alive"}'


async def application(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
