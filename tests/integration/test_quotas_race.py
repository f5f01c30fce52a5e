"""Quotas under real concurrency: separate processes (not threads) reserve at the same moment.

- PostgreSQL: 200 reservations from 20 processes against a limit of 50 -> exactly 50 granted, 150
  refused, usage exactly 50; again with three nested organizations reserving against a shared
  ancestor (every process locks root to leaf), with no deadlock.
- SQLite (the embedded mode's database file, immediate transactions): the same exact answer.
- Expiry: a worker that reserved and was SIGKILLed before committing leaks nothing; the sweeper
  releases its reservation and the quota is usable again.

Run as a script (``python tests/integration/test_quotas_race.py reserve ...``) this file is the
worker each test starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 20
EACH = 10  # 20 x 10 = 200 reservations


# -- the worker ------------------------------------------------------------------------------------------

def _worker(argv: list[str]) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unimanager.settings")
    django.setup()
    from apps.core.errors import Refused
    from apps.organizations.models import Organization
    from apps.quotas import services

    command, arg, count, *org_ids = argv
    orgs = [Organization.objects.get(pk=pk) for pk in org_ids]
    if command == "hold":  # reserve one and never settle it: the test kills this process
        r = services.quota_reserve(organization=orgs[0], project=None, resource_type="ecs.instance",
                                   amounts={"count": int(count)}, ttl_seconds=float(arg))
        print(json.dumps({"reservation": r.id}), flush=True)
        time.sleep(600)
        return
    barrier = Path(arg)  # every process starts reserving at the same moment: when the test says go
    Organization.objects.exists()  # connected
    (barrier / f"ready-{os.getpid()}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.002)
    granted = refused = 0
    for n in range(int(count)):
        try:
            services.quota_reserve(organization=orgs[n % len(orgs)], project=None, resource_type="ecs.instance",
                                   amounts={"count": 1})
            granted += 1
        except Refused:
            refused += 1
    print(json.dumps({"granted": granted, "refused": refused}), flush=True)


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "unimanager.settings", **extra}
    return env


def _race(env: dict[str, str], org_ids: list[str], barrier: Path) -> tuple[int, int]:
    """Start the processes, let them all begin at one moment; (granted, refused) over all of them."""
    procs = [subprocess.Popen([sys.executable, __file__, "reserve", str(barrier), str(EACH), *org_ids],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    try:
        deadline = time.monotonic() + 180
        while len(list(barrier.glob("ready-*"))) < PROCESSES:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a worker did not get ready"
            time.sleep(0.05)
        (barrier / "go").touch()
        granted = refused = 0
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            result = json.loads(out.strip().splitlines()[-1])
            granted += result["granted"]
            refused += result["refused"]
        return granted, refused
    finally:
        for p in procs:  # a failed race leaves no process behind waiting for its start
            if p.poll() is None:
                p.kill()
                p.wait()


def _pg_env() -> dict[str, str]:
    from django.db import connection

    from tests.integration.conftest import database_url_for

    return _env(DATABASE_URL=database_url_for(connection.settings_dict["NAME"]))


# -- PostgreSQL ------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_200_simultaneous_reservations_against_50_grant_exactly_50_on_postgresql(services_env, tmp_path):
    from apps.quotas import services
    from apps.quotas.models import QuotaLimit, Reservation
    from tests import factories as f

    org = f.org("race")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=50)
    granted, refused = _race(_pg_env(), [str(org.pk)], tmp_path)
    assert (granted, refused) == (50, 150)
    lim = QuotaLimit.objects.get(organization=org)
    assert (lim.reserved, lim.committed) == (50, 0)
    assert Reservation.objects.filter(organization=org).count() == 50


@pytest.mark.django_db(transaction=True)
def test_three_nested_organizations_share_their_ancestors_limit_exactly_on_postgresql(services_env, tmp_path):
    from apps.quotas import services
    from apps.quotas.models import QuotaLimit, Reservation
    from tests import factories as f

    root = f.org("race-root")
    mid = f.org("race-mid", parent=root)
    leaf = f.org("race-leaf", parent=mid)
    # The root lets its children hold more than it has (overcommit x4); its own 50 is the shared bound,
    # and every reservation at the leaf locks three rows, root to leaf.
    services.limit_set(actor=None, organization=root, dimension="ecs.instance", limit=50, overcommit=True,
                       overcommit_factor=4)
    services.limit_set(actor=None, organization=mid, dimension="ecs.instance", limit=200)
    services.limit_set(actor=None, organization=leaf, dimension="ecs.instance", limit=200)
    granted, refused = _race(_pg_env(), [str(root.pk), str(mid.pk), str(leaf.pk)], tmp_path)
    assert (granted, refused) == (50, 150)
    used = {lim.organization_id: lim.used for lim in QuotaLimit.objects.filter(organization__in=[root, mid, leaf])}
    held = {o.pk: Reservation.objects.filter(organization__path__startswith=o.path).count() for o in (root, mid, leaf)}
    assert used[root.pk] == 50 and used == held


# -- SQLite (embedded) ------------------------------------------------------------------------------------

def test_200_simultaneous_reservations_against_50_grant_exactly_50_on_sqlite(tmp_path):
    env = {k: v for k, v in _env(UNIMANAGER_DATA_DIR=str(tmp_path)).items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    setup = ("from apps.quotas import services; from tests import factories as f; o = f.org('race'); "
             "services.limit_set(actor=None, organization=o, dimension='ecs.instance', limit=50); print(o.pk)")
    org_id = subprocess.run([sys.executable, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    granted, refused = _race(env, [org_id], barrier)
    assert (granted, refused) == (50, 150)
    check = ("from apps.quotas.models import QuotaLimit as L, Reservation as R; l = L.objects.get(); "
             "print(l.reserved, l.committed, R.objects.count())")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", check], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    assert out == "50 0 50"


# -- expiry after a killed worker ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_reservation_of_a_sigkilled_worker_is_released_by_the_sweeper(services_env):
    from apps.core.errors import Refused
    from apps.quotas import services
    from apps.quotas.models import QuotaLimit, Reservation
    from apps.quotas.tasks import reservations_expire_task
    from tests import factories as f

    org = f.org("killed")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=3)
    worker = subprocess.Popen([sys.executable, __file__, "hold", "3", "3", str(org.pk)], cwd=ROOT, env=_pg_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = worker.stdout.readline()
    assert line, worker.stderr.read()[-3000:]
    rid = json.loads(line)["reservation"]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert QuotaLimit.objects.get(organization=org).used == 3
    with pytest.raises(Refused):
        services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts={"count": 1})
    deadline = time.monotonic() + 30
    while Reservation.objects.get(pk=rid).expires_at.timestamp() > time.time() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reservations_expire_task.apply().get() == 1
    assert Reservation.objects.get(pk=rid).status == "expired"
    assert QuotaLimit.objects.get(organization=org).used == 0
    services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts={"count": 3})


if __name__ == "__main__":
    _worker(sys.argv[1:])
