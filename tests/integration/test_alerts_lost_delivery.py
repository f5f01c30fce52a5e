"""A notification whose worker was killed while sending it: the sweeper finds it once its lease ran out,
hands it to another worker, and the receiver gets it once (PostgreSQL, Redis, real Celery worker
processes, a real HTTP receiver)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.integration.conftest import ROOT, database_url_for

SECRET = "lost-delivery-secret"


def _worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "unimanager", "worker", "--pool=solo",
                             "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
                             "-n", f"{name}-{os.getpid()}@%h"], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _end(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _until(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_notification_whose_worker_was_killed_mid_send_is_swept_to_another_worker_and_received_once(
        services_env, tmp_path, monkeypatch):
    from django.db import connection

    from apps.alerts import services
    from apps.alerts.models import Delivery
    from apps.alerts.notify import SWEEP_AFTER, deliveries_sweep, notifications_dispatch
    from apps.alerts.tasks import delivery_send_task
    from apps.alerts.tests.factories import alert
    from apps.alerts.tests.receivers import HttpReceiver
    from tests import factories as f

    # Tries go to Celery (not this process's sender threads), and a lost one is free again after 3 s.
    monkeypatch.setenv("UNIMANAGER_ALERTS_SEND_INLINE", "false")
    monkeypatch.setenv("UNIMANAGER_ALERTS_LEASE_SECONDS", "3")
    env = dict(services_env)
    env["DATABASE_URL"] = database_url_for(connection.settings_dict["NAME"])
    env["UNIMANAGER_TASK_QUEUE"] = delivery_send_task.app.conf.task_default_queue
    env.pop("UNIMANAGER_EMBEDDED_WORKER", None)
    receiver = HttpReceiver(secret=SECRET, hold_first="/hook")
    doomed = _worker(env, tmp_path / "doomed.log", "alerts-doomed")
    second = None
    try:
        org = f.org("lost-delivery")
        hook = services.contact_point_create(actor=None, organization=org, name="hook", kind="webhook",
                                             config={"url": receiver.url + "/hook"}, secrets={"secret": SECRET})
        services.route_create(actor=None, organization=org, name="all", contact_points=[hook])
        alert(org, severity="critical", alertname="Disk full")
        (delivery,) = notifications_dispatch(now=timezone.now())  # committed: handed to Celery

        # The worker took the try and is sending it; it dies before the receiver answers.
        assert receiver.held.wait(timeout=90), (tmp_path / "doomed.log").read_text()[-3000:]
        _end(doomed, signal.SIGKILL)
        receiver.release()
        lost = Delivery.objects.get(pk=delivery.pk)
        assert (lost.status, lost.attempts) == ("pending", 1) and lost.claimed_until is not None
        assert receiver.received == []

        assert deliveries_sweep() == []  # neither late enough nor free yet
        _until(lambda: timezone.now() > lost.claimed_until, 10, "the lease did not run out")
        # A minute later by the sweeper's clock (its try is late): re-queued, twice in a row.
        later = timezone.now() + SWEEP_AFTER + timedelta(seconds=1)
        assert deliveries_sweep(now=later) == [delivery.pk]
        assert deliveries_sweep(now=later) == [delivery.pk]
        second = _worker(env, tmp_path / "second.log", "alerts-second")
        _until(lambda: Delivery.objects.get(pk=delivery.pk).status == "sent", 90,
               (tmp_path / "second.log").read_text()[-3000:] if (tmp_path / "second.log").exists() else "no log")
        # A marker queued behind both re-queued tasks: once the worker (one task at a time, in queue
        # order) has sent it, the second re-queued task has run too, and found the delivery sent.
        marker_cp = services.contact_point_create(actor=None, organization=org, name="marker", kind="webhook",
                                                  config={"url": receiver.url + "/marker"}, secrets={})
        marker = Delivery.objects.create(organization=org, contact_point=marker_cp, subject="marker", body="")
        delivery_send_task.delay(marker.pk)
        assert receiver.wait_for(lambda rs: any(x["path"] == "/marker" for x in rs), 60), "the marker was not sent"
        _until(lambda: Delivery.objects.get(pk=marker.pk).status == "sent", 30, "the marker was not recorded")
        sent = Delivery.objects.get(pk=delivery.pk)
        assert (sent.status, sent.attempts, sent.response_code) == ("sent", 2, 200)
        (got,) = [x for x in receiver.received if x["path"] == "/hook"]
        assert got["signature_ok"] and got["body"]["status"] == "firing"
        assert deliveries_sweep(now=later + timedelta(minutes=5)) == []
    finally:
        receiver.stop()
        _end(doomed, signal.SIGKILL)
        if second is not None:
            _end(second, signal.SIGTERM)
