"""``notify.tenant_rows``, the hand-written read of an organization's alerts by fingerprint (locked) and
groups by key on every received alert, selects what the ORM's filter selects: the organization's
rows only, every field converted as the ORM converts it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.alerts.models import Alert, AlertGroup
from apps.alerts.notify import tenant_rows
from apps.alerts.tests.factories import alert

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_an_organizations_alerts_by_fingerprint_as_the_orm_reads_them(world):
    a, b = world["a"]["org"], world["b"]["org"]
    mine = [alert(a, probe=f"p{n}", severity="critical") for n in range(3)]
    theirs = alert(b, probe="p0")
    wanted = [mine[0].fingerprint, mine[2].fingerprint, theirs.fingerprint, "missing"]
    with transaction.atomic():
        got = tenant_rows(Alert, org_id=a.pk, field="fingerprint", values=wanted, lock=True)
    expected = Alert.objects.filter(organization=a, fingerprint__in=wanted)
    assert sorted(map(_fields, got), key=lambda x: x["id"]) == sorted(map(_fields, expected), key=lambda x: x["id"])
    assert {x.fingerprint for x in got} == {mine[0].fingerprint, mine[2].fingerprint}
    assert got[0].labels["probe"] in {"p0", "p2"} and isinstance(got[0].labels, dict)


def test_an_organizations_groups_by_key_and_nothing_for_no_keys(world):
    a, b = world["a"]["org"], world["b"]["org"]
    AlertGroup.objects.create(organization=a, key="k1", labels={"probe": "x"}, first_seen_at=timezone.now())
    AlertGroup.objects.create(organization=b, key="k1", labels={"probe": "y"}, first_seen_at=timezone.now())
    got = tenant_rows(AlertGroup, org_id=a.pk, field="key", values=["k1", "k2"])
    assert [(g.organization_id, g.key, g.labels) for g in got] == [(a.pk, "k1", {"probe": "x"})]
    with CaptureQueriesContext(connection) as queries:
        assert tenant_rows(AlertGroup, org_id=a.pk, field="key", values=[]) == []
    assert not queries.captured_queries
