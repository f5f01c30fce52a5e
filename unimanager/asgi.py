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

from apps.core.consumers import RealtimeConsumer  # noqa: E402
from apps.core.runtime import ServerLoopMiddleware  # noqa: E402

application = ServerLoopMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter([path("ws/", RealtimeConsumer.as_asgi())]))
            ),
        }
    )
)

# Everything imported so far lives as long as the process: keep it out of every later GC pass
# (whichever server imports this module: daphne directly, or ``manage.py serve``).
gc.collect()
gc.freeze()
