"""Start-up wiring: what one ``manage.py serve`` process runs in each mode.

Embedded mode: daphne (HTTP and websockets), cloudsim beside it, a Celery worker and beat as
threads of the same process, and the SQLite file's checkpoints on a thread of their own
(``apps.core.sqlite``). Distributed mode: daphne only; workers and beat are processes of their
own (``docker-compose.yml``, ``devtools/distributed.py``). The project package is the one place
allowed to know every app, so this wiring lives here and the apps never reach up to it.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
from typing import Any, TextIO

from django.conf import settings

logger = logging.getLogger(__name__)


class EmbeddedCelery:
    """A Celery worker (solo pool) and beat running as threads of the server process."""

    def __init__(self) -> None:
        self.worker: Any = None
        self.beat: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        from celery.beat import EmbeddedService

        from unimanager.celery import app

        # The solo pool runs tasks on the consuming thread: with the in-memory transport it runs
        # hundreds of small tasks a second, where a thread pool starves.
        self.worker = app.WorkController(
            pool_cls="solo", concurrency=1, loglevel="WARNING", without_heartbeat=True,
            without_mingle=True, without_gossip=True, hostname="embedded@unimanager",
        )
        self.thread = threading.Thread(target=self._run_worker, name="celery-worker", daemon=True)
        self.thread.start()
        self.beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
        self.beat.start()
        logger.info("embedded Celery worker and beat started")

    def _run_worker(self) -> None:
        try:
            self.worker.start()
        except Exception:  # the thread must report, not vanish silently
            logger.exception("embedded Celery worker stopped with an error")

    def stop(self) -> None:
        if self.beat is not None:
            self.beat.stop()
        if self.worker is not None:
            self.worker.stop(in_sighandler=False)
        if self.thread is not None:
            self.thread.join(timeout=5)


def _reachable(endpoint: str, timeout: float) -> bool:
    host, _, port = endpoint.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                return True
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)


def collect_at_first_start(*, wait_seconds: float = 30.0) -> list[str]:
    """Begin a collection of every active platform that has never been collected, so the inventory,
    the portal's catalog and everything built on them are filled on a console's first start instead of
    at the first scheduled collection. A simulated platform (cloudsim) whose region is still empty gets
    its demo estate first. Returns the ids of the platforms whose collection was started."""
    from apps.clouds.containers_demo import seed_containers
    from apps.clouds.inventory_demo import seed_demo_estate
    from apps.clouds.models import CloudPlatform
    from apps.clouds.simulated import seed_resources, sim_adapter
    from apps.core.errors import ApplicationError
    from apps.resources.models import SyncRun
    from apps.resources.services import sync_start

    collected = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).values("platform_id")
    started = []
    for platform in CloudPlatform.objects.filter(is_active=True).exclude(pk__in=collected).order_by("created_at"):
        if platform.edition == "cloudsim":
            if not _reachable(platform.endpoint, wait_seconds):
                logger.warning("%s does not answer at %s: not collected at start", platform.name, platform.endpoint)
                continue
            try:
                if not sim_adapter(platform.endpoint, platform.default_region).list_resources(
                        "ecs.instance", platform.default_region, None).items:
                    seed_resources(platform.endpoint, region=platform.default_region)
                # the further services' few resources of each kind, beside that estate (once)
                seed_demo_estate(platform.endpoint, region=platform.default_region)
                seed_containers(platform.endpoint, region=platform.default_region)
            except Exception:  # noqa: BLE001 - an empty estate is still worth collecting
                logger.exception("could not build the demo estate of %s", platform.name)
        try:
            sync_start(actor=None, platform=platform, check=False)
        except ApplicationError as exc:  # already running, disabled meanwhile
            logger.info("%s not collected at start: %s", platform.name, exc)
            continue
        started.append(platform.pk)
    return started


def _collect_in_background() -> None:
    from django.db import connection

    try:
        collect_at_first_start()
    except Exception:  # noqa: BLE001 - the console serves even when the first collection cannot start
        logger.exception("first-start collection failed")
    finally:
        connection.close()


def serve(*, host: str, port: int, worker: bool, out: TextIO) -> None:
    """Serve until interrupted; in the embedded mode also run cloudsim and, when ``worker``, Celery."""
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from apps.clouds.simulated import start_embedded_cloudsim
    from apps.core.backends.sqlite3.base import keep_connections
    from apps.core.demo import demo_sign_ins
    from apps.core.sqlite import WalCheckpointer
    from unimanager.asgi import application

    embedded = settings.MODE == "embedded"
    # First, so every connection the server's threads open from here on leaves checkpoints to it, and is
    # kept for the next request once one is done with it.
    checkpointer = WalCheckpointer(settings.DATABASES["default"]["NAME"]).start() if embedded else None
    if embedded:
        keep_connections()
    cloudsim = start_embedded_cloudsim() if embedded else None
    celery = EmbeddedCelery() if embedded and worker else None
    if celery is not None:
        celery.start()
    if worker or not embedded:  # someone runs the collection's steps
        threading.Thread(target=_collect_in_background, name="first-collection", daemon=True).start()
    out.write(f"\nUnimanager ({settings.MODE} mode) is serving on http://{host}:{port}/\n")
    sign_ins = demo_sign_ins()
    if sign_ins:
        out.write("Demo sign-ins:\n")
        width = max(len(role) for role, _, _ in sign_ins)
        for role, username, password in sign_ins:
            out.write(f"  {role:<{width}}  {username:<12} {password}\n")
    out.write("Press Ctrl-C to stop.\n")
    out.flush()
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
        if celery is not None:
            celery.stop()
        if cloudsim is not None:
            cloudsim.stop()
        if checkpointer is not None:
            keep_connections(False)
            checkpointer.stop()
