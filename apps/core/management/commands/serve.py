"""Serve the console with daphne; in the embedded mode also run the Celery worker and beat inside."""

import gc
import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve HTTP and websockets (daphne). In the embedded mode, Celery runs in this process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("UNIMANAGER_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("UNIMANAGER_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not run the in-process worker")

    def handle(self, *args, host, port, no_worker, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from apps.core.demo import demo_sign_ins
        from apps.core.runtime import EmbeddedCelery
        from unimanager.asgi import application

        embedded = None
        cloudsim = None
        if settings.MODE == "embedded":
            from apps.clouds.simulated import start_embedded_cloudsim

            cloudsim = start_embedded_cloudsim()
        if settings.MODE == "embedded" and not no_worker:
            embedded = EmbeddedCelery()
            embedded.start()
        self.stdout.write(f"\nUnimanager ({settings.MODE} mode) is serving on http://{host}:{port}/")
        sign_ins = demo_sign_ins()
        if sign_ins:
            self.stdout.write("Demo sign-ins:")
            width = max(len(role) for role, _, _ in sign_ins)
            for role, username, password in sign_ins:
                self.stdout.write(f"  {role:<{width}}  {username:<12} {password}")
        self.stdout.write("Press Ctrl-C to stop.\n")
        self.stdout.flush()
        # Start-up objects live for the whole process: keep them out of every later GC pass.
        gc.collect()
        gc.freeze()
        try:
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
                verbosity=0,
                websocket_timeout=86400,
                application_close_timeout=5,
            ).run()
        finally:
            if embedded is not None:
                embedded.stop()
            if cloudsim is not None:
                cloudsim.stop()
