"""The shared access snapshots, rule by rule, through ``profile_for`` and ``invalidate``: a snapshot is
served again while its versions stand (also when the cache held no version yet, and to two people in
turn), a change to one person leaves everyone else's snapshot standing, and a cache that fails is
logged and decided around from the database.

These tests commit for real (``transaction=True``): the cache is only read and fed outside a
transaction. The failing cache is the test cache with one method made to raise (an outage), so the
fallback paths run."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import Operation
from apps.core.scoping import authorize
from apps.rbac import engine
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


class Outage(RuntimeError):
    pass


def _fail(*_args, **_kwargs):
    raise Outage("the cache is down")


@pytest.fixture
def people():
    east, west = f.org("east"), f.org("west")
    dana, bob = f.user("dana", east), f.user("bob", west)
    cache.clear()  # no version token yet: the first load creates them
    yield {"east": east, "west": west, "dana": dana, "bob": bob}
    cache.clear()


def queries_of_profile(user) -> int:
    fresh = f.fresh(user)
    with CaptureQueriesContext(connection) as captured:
        engine.profile_for(fresh)
    return len(captured.captured_queries)


def test_a_snapshot_is_served_again_while_its_versions_stand_even_the_first_ones(people):
    assert queries_of_profile(people["dana"]) > 0
    assert queries_of_profile(people["dana"]) == 0
    # another person in between does not displace it
    assert queries_of_profile(people["bob"]) > 0
    assert queries_of_profile(people["dana"]) == 0
    assert queries_of_profile(people["bob"]) == 0


def test_a_change_to_one_person_leaves_everyone_elses_snapshot_standing(people):
    queries_of_profile(people["dana"])
    queries_of_profile(people["bob"])
    engine.invalidate([people["dana"].pk])
    assert queries_of_profile(people["bob"]) == 0
    assert queries_of_profile(people["dana"]) > 0
    engine.invalidate([])
    assert queries_of_profile(people["bob"]) == 0 and queries_of_profile(people["dana"]) == 0
    engine.invalidate()
    assert queries_of_profile(people["bob"]) > 0


def test_a_cache_that_cannot_be_read_is_logged_and_decisions_come_from_the_database(people, monkeypatch, caplog):
    monkeypatch.setattr(cache, "get_many", _fail)
    target = Operation.objects.create(organization=people["east"], kind="t")
    with caplog.at_level(logging.WARNING, logger="apps.rbac.engine"):
        assert authorize(f.fresh(people["dana"]), "core:operation:write", target)
        assert not authorize(f.fresh(people["bob"]), "core:operation:write", target)
    records = [r for r in caplog.records if r.name == "apps.rbac.engine"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "the access snapshot cache is unavailable; loading from the database")] * 2
    assert all(r.exc_info and r.exc_info[0] is Outage for r in records)


def test_a_snapshot_that_cannot_be_stored_is_logged_with_the_persons_id(people, monkeypatch, caplog):
    monkeypatch.setattr(cache, "set", _fail)
    target = Operation.objects.create(organization=people["east"], kind="t")
    with caplog.at_level(logging.WARNING, logger="apps.rbac.engine"):
        assert authorize(f.fresh(people["dana"]), "core:operation:write", target)
    records = [r for r in caplog.records if r.name == "apps.rbac.engine"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", f"could not cache the access snapshot of {people['dana'].pk}")]
    assert records[0].exc_info[0] is Outage


def test_a_change_that_cannot_be_published_is_logged_with_how_long_snapshots_live(people, monkeypatch, caplog):
    monkeypatch.setattr(cache, "set_many", _fail)
    with caplog.at_level(logging.ERROR, logger="apps.rbac.engine"):
        engine.invalidate([people["dana"].pk])
    records = [r for r in caplog.records if r.name == "apps.rbac.engine"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("ERROR", f"could not publish an access change; shared snapshots expire within {engine.SNAPSHOT_TIMEOUT} s")]
    assert records[0].exc_info[0] is Outage
