"""Reservations and their warning threshold: the announcement that a limit reached its warning
threshold is made by the reservation that reaches it, once, for thresholds of every size (on
PostgreSQL the reservation is one statement, which only builds the limits' model objects when a
threshold may have been reached)."""

from __future__ import annotations

import pytest

from apps.quotas import services
from tests import factories as f

pytestmark = pytest.mark.django_db


def _reserve(org, count):
    return services.quota_reserve(organization=org, project=None, resource_type="ecs.instance",
                                  amounts={"count": count})


@pytest.mark.parametrize(("limit", "percent", "warning_at"), [(202, 50, 101), (404, 25, 101), (10, 85, 9)])
def test_the_reservation_reaching_the_warning_threshold_announces_it_once(monkeypatch, limit, percent, warning_at):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append(payload))
    org = f.org("HQ")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=limit, warning_percent=percent)
    crossings = []
    for count in (warning_at - 1, 1, 1):
        announced.clear()
        _reserve(org, count)
        crossings.append([(p["usage"], p["limit"], p["warning_percent"]) for p in announced
                          if p["event"] == "threshold_crossed"])
    assert crossings == [[], [(warning_at, limit, percent)], []]
