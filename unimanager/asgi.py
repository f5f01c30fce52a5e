"""ASGI entry point: HTTP goes to Django, ``/ws/`` to the realtime consumer."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unimanager.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from apps.alerts.api.lane import IngestionLane  # noqa: E402
from apps.core.consumers import RealtimeConsumer  # noqa: E402
from apps.core.runtime import ServerLoopMiddleware  # noqa: E402

application = ServerLoopMiddleware(
    ProtocolTypeRouter(
        {
            # Alerts sent by a Prometheus take a lane of their own (one hop, kept connections).
            "http": IngestionLane(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter([path("ws/", RealtimeConsumer.as_asgi())]))
            ),
        }
    )
)


def _answer_over_long_lines() -> None:
    """daphne's HTTP parser (Twisted) drops the connection, without a word, when the request line
    or a header line is longer than its limit (16 KB), before any of our code runs. Answer 414 URI
    Too Long (a request line) or 431 (a header line) instead, so a client learns why."""
    import re

    from twisted.web.http import HTTPChannel

    request_line = re.compile(rb"[A-Za-z]+ ")

    def line_length_exceeded(channel: HTTPChannel, line: bytes) -> None:
        status = b"414 URI Too Long" if request_line.match(line) else b"431 Request Header Fields Too Large"
        channel.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        channel.loseConnection()

    HTTPChannel.lineLengthExceeded = line_length_exceeded


_answer_over_long_lines()

# Everything imported so far lives as long as the process: keep it out of every later GC pass
# (whichever server imports this module: daphne directly, or ``manage.py serve``).
gc.collect()
gc.freeze()
