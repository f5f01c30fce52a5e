"""``manage.py serve``: the console's server process (see ``unimanager.serve`` for what each mode runs)."""

import os

from django.core.management.base import BaseCommand

from unimanager.serve import serve


class Command(BaseCommand):
    help = "Serve HTTP and websockets (daphne). In the embedded mode, Celery runs in this process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("UNIMANAGER_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("UNIMANAGER_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not run the in-process worker")

    def handle(self, *args, host, port, no_worker, **options):
        serve(host=host, port=port, worker=not no_worker, out=self.stdout)
