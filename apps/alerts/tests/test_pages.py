"""The console's alert pages render for an operator, show only their organization's objects, and an
alert of another organization is the 404 page."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.alerts import services
from apps.alerts.tests.factories import alert

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_alert_pages_render_and_show_only_the_organizations_objects(world):
    a, b = world["a"], world["b"]
    mine = alert(a["org"], alertname="disk full on a")
    theirs = alert(b["org"], alertname="disk full on b")
    services.rule_create(actor=b["user"], organization=b["org"], data={
        "name": "B's secret rule", "metric": "CPUUtilization", "threshold": 1})
    client = _client(a["user"])
    for url in ("/console/alerts/", "/console/alerts/rules/", "/console/alerts/silences/",
                "/console/alerts/notifications/", "/console/alerts/inbox/", f"/console/alerts/{mine.pk}/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert b"B&#x27;s secret rule" not in page.content and b"B's secret rule" not in page.content
    assert b"disk full on a" in client.get(f"/console/alerts/{mine.pk}/").content
    assert client.get(f"/console/alerts/{theirs.pk}/").status_code == 404
