"""Events a transaction emits together (a request's finished resources, their operations) are looked at by
live dashboards once per organization and kind of topic: one read of the look-ups' generation for them all,
and each dashboard they change told once."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.core.events import emit
from apps.dashboards import live
from apps.dashboards.tests.factories import dashboard
from apps.dashboards.tests.test_live_lookups import by_type
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_delivered_together_read_the_generation_once_and_tell_each_dashboard_once(monkeypatch):
    a = f.org("A")
    dashboard(a, "wall-a", widgets=[by_type("types")])
    noted: list[str] = []
    monkeypatch.setattr(live.coalescer, "note", lambda key, widgets, at: noted.append(key))
    reads = []
    real_fresh = live.lookups.fresh
    monkeypatch.setattr(live.lookups, "fresh", lambda: reads.append(1) or real_fresh())
    with transaction.atomic():
        for n in range(5):
            emit(a, f"resource:res-{n}", {"event": "resource_changed", "id": f"res-{n}"})
    assert len(reads) == 1
    assert len(noted) == len(set(noted)) >= 1
