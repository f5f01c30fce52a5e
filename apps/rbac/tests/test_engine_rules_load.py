"""Loading access, rule by rule: a change committed while a person's profile loads is seen by the next
decision of the same request; a shared snapshot whose change was never announced (rows written around
the services) is trusted for ``SNAPSHOT_TIMEOUT`` and then loaded again, while announced versions never
expire by themselves; and the access matrix loads every kind of grant (to a group, an organization's
members, a project's members, on a project) in the same number of queries however many there are.

The cache tests commit for real (``transaction=True``): the cache is only read and fed outside a
transaction. Time is moved on the test cache's clock only."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import Operation
from apps.core.scoping import authorize
from apps.organizations.models import Organization
from apps.rbac import engine
from apps.rbac.selectors import access_matrix
from tests import factories as f


class Clock:
    """``time.time`` as the cache reads it, moved on by ``offset`` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch):
    if not isinstance(caches["default"], locmem.LocMemCache):
        pytest.skip("the cache's clock is moved for the in-process cache only")
    moved = Clock()
    monkeypatch.setattr(locmem, "time", moved)
    monkeypatch.setattr(cache_base, "time", moved)
    return moved


@pytest.fixture
def people():
    east, west = f.org("east"), f.org("west")
    dana = f.user("dana", east)
    cache.clear()
    yield {"east": east, "west": west, "dana": dana}
    cache.clear()


def queries_of_profile(user) -> int:
    fresh = f.fresh(user)
    with CaptureQueriesContext(connection) as captured:
        engine.profile_for(fresh)
    return len(captured.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_a_profile_loads_is_seen_by_the_next_decision_of_the_same_request(
        people, monkeypatch):
    dana = f.fresh(people["dana"])
    target = Operation.objects.create(organization=people["west"], kind="t")
    load, changed = engine.build_snapshot, []

    def load_then_change(user, data=None):
        snapshot = load(user, data)
        if not changed:  # another request grants dana writing in west after her rows were read
            changed.append(f.grant(f.role("core:operation:write"), people["dana"], people["west"]))
        return snapshot

    monkeypatch.setattr(engine, "build_snapshot", load_then_change)
    assert not authorize(dana, "core:operation:write", target)
    assert changed
    assert authorize(dana, "core:operation:write", target)
    # and the profile then stands for the rest of the request
    with CaptureQueriesContext(connection) as captured:
        assert authorize(dana, "core:operation:write", target)
    assert captured.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_an_unannounced_change_is_seen_once_the_snapshot_is_ten_minutes_old_announced_versions_never_expire(
        people, clock):
    dana = people["dana"]
    target = Operation.objects.create(organization=people["east"], kind="t")
    engine.invalidate([dana.pk])  # an announced change: dana's own version is published
    assert authorize(f.fresh(dana), "core:operation:write", target)
    # east disabled by a bulk update, which announces nothing: the shared snapshot does not hear of it
    Organization.objects.filter(pk=people["east"].pk).update(is_active=False)
    clock.offset = engine.SNAPSHOT_TIMEOUT - 5
    assert queries_of_profile(dana) == 0  # both versions and the snapshot still stand
    clock.offset = engine.SNAPSHOT_TIMEOUT + 5
    assert queries_of_profile(dana) > 0
    assert not authorize(f.fresh(dana), "core:operation:write", target)
    # the reloaded snapshot is trusted again from now on
    clock.offset = 2 * engine.SNAPSHOT_TIMEOUT
    assert queries_of_profile(dana) == 0


@pytest.mark.django_db
def test_the_access_matrix_loads_every_kind_of_grant_in_the_same_number_of_queries():
    hq = f.org("HQ")
    root = f.user("matrix-root", hq, is_superuser=True)
    team = f.org("Team", hq)
    people = [f.user(f"member-{i}", team) for i in range(3)]
    codes = ["core:operation:write", "core:operation:read"]

    def add_grants(tag: str) -> None:
        group = f.group(team, *people, name=f"group-{tag}")
        project = f.project(team, *people, name=f"project-{tag}")
        f.grant(f.role("core:operation:read"), group, project)
        f.grant(f.role("core:operation:read"), team, project)
        f.grant(f.role("core:operation:read"), project, project)
        f.grant(f.role("core:operation:write"), group, team)

    def queries() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            _codes, rows = access_matrix(actor=root, organization=team, codes=codes)
        return len(captured.captured_queries), [row["cells"] for row in rows]

    add_grants("a")
    few, cells = queries()
    assert cells == [[True, True]] * 3
    for tag in "bcd":
        add_grants(tag)
    assert queries() == (few, cells)
