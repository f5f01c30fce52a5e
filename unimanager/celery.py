"""The Celery application shared by the web process, workers and beat."""

import gc
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unimanager.settings")

app = Celery("unimanager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def freeze_startup_objects(**kwargs) -> None:
    # Objects created at start-up live as long as the worker: keep them out of every later GC pass,
    # which otherwise walks them all and shows up as long pauses in task latency.
    gc.collect()
    gc.freeze()
