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


def test_a_limit_of_one_platform_and_region_holds_reservations_there_and_the_row_says_where(monkeypatch):
    from apps.clouds.tests.factories import platform as make_platform
    from apps.core.errors import Refused
    from apps.quotas.models import QuotaLimit, Reservation

    org = f.org("HQ")
    cloud = make_platform(org, type="aws", name="East")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=2, platform=cloud,
                       region="us-east-1")
    here = {"organization": org, "project": None, "resource_type": "ecs.instance", "platform": cloud,
            "region": "us-east-1"}
    first = services.quota_reserve(**here, amounts={"count": 2})
    assert QuotaLimit.objects.get(organization=org).reserved == 2
    with pytest.raises(Refused) as refused:
        services.quota_reserve(**here, amounts={"count": 1})
    assert refused.value.code == "quota_exceeded" and refused.value.detail["region"] == "us-east-1"
    stored = Reservation.objects.get(pk=first.pk)
    assert (stored.platform_id, stored.region, stored.count) == (cloud.pk, "us-east-1", 2)
    assert stored.created_at == first.created_at and stored.expires_at == first.expires_at
    assert Reservation.objects.count() == 1
    services.reservation_release(reservation_id=first.pk)
    assert QuotaLimit.objects.get(organization=org).reserved == 0
    services.quota_reserve(**here, amounts={"count": 2})
    # Elsewhere (another region of the platform) that limit does not count.
    services.quota_reserve(**{**here, "region": "us-west-2"}, amounts={"count": 5})
    assert QuotaLimit.objects.get(organization=org).reserved == 2


def test_a_granted_reservation_is_the_stored_row_and_on_postgresql_one_statement():
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.quotas.models import Reservation

    org = f.org("HQ")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=5)
    with CaptureQueriesContext(connection) as queries:
        held = _reserve(org, 2)
    if connection.vendor == "postgresql":
        (logged,) = queries.captured_queries  # logged as the server ran it, with its parameters and a time
        assert "FOR UPDATE" in logged["sql"] and "INSERT INTO" in logged["sql"] and "time" in logged
        assert repr(str(held.pk)) in logged["sql"] or repr(held.pk) in logged["sql"]
    held.expires_at += timedelta(minutes=5)
    held.save()  # the object handed back is the row: saving it changes that row
    assert Reservation.objects.get().expires_at == held.expires_at
