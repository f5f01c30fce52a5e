"""The group members read for alerts received from outside (``notify._group_members``, written as SQL
over the labels' JSON, and ``notify._in_groups``, the same test in Python) are exactly the alerts the
ORM's JSON lookups select: same ``group_by`` values
(a missing label counts as empty, a number or a list is not its text), firing or lately resolved, of the
organization only, plus the firing alerts that inhibit others. Checked on SQLite here and on
PostgreSQL in the integration tier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from apps.alerts.models import Alert
from apps.alerts.notify import INHIBITING_EVENT, RESOLVED_KEEP, _group_members, _in_groups
from apps.alerts.tests.factories import alert


def _orm_members(org_id, now, groups):
    """The same selection through the ORM's JSON lookups: the specification."""
    q = None
    for group in groups:
        same = Q()
        for k, v in group:
            same &= Q(**{f"labels__{k}": v}) if v else (Q(**{f"labels__{k}__isnull": True}) | Q(**{f"labels__{k}": ""}))
        q = same if q is None else q | same
    q = q | Q(state="firing", labels__event=INHIBITING_EVENT)
    active = Q(state="firing") | Q(state__in=["resolved", "insufficient_data"], ends_at__gte=now - RESOLVED_KEEP)
    return set(Alert.objects.filter(active, q, organization_id=org_id).values_list("pk", flat=True))


def _estate(world):
    a, b = world["a"]["org"], world["b"]["org"]
    now = timezone.now()
    made = {
        "same": alert(a, alertname="load", group="g1", instance="i1"),
        "same2": alert(a, alertname="load", group="g1", instance="i2"),
        "other_group": alert(a, alertname="load", group="g2"),
        "no_group_label": alert(a, alertname="load"),
        "empty_group_label": alert(a, alertname="load", group=""),
        "resolved_lately": alert(a, state="resolved", alertname="load", group="g1"),
        "resolved_long_ago": alert(a, state="resolved", alertname="load", group="g1"),
        "pending": alert(a, state="pending", alertname="load", group="g1"),
        "inhibitor": alert(a, alertname="unreachable", event=INHIBITING_EVENT, platform="p1"),
        "quoted": alert(a, alertname='it\'s "quoted"', group="g'1"),
        "other_org": alert(b, alertname="load", group="g1"),
    }
    Alert.objects.filter(pk=made["resolved_lately"].pk).update(ends_at=now - timedelta(hours=1))
    Alert.objects.filter(pk=made["resolved_long_ago"].pk).update(ends_at=now - RESOLVED_KEEP - timedelta(hours=1))
    number = alert(a, alertname="load")
    Alert.objects.filter(pk=number.pk).update(labels={"alertname": "load", "group": 7})
    made["number"] = number
    # On PostgreSQL an array contains its elements (``@>``, which the labels' index answers): still not a member.
    listed = alert(a, alertname="load")
    Alert.objects.filter(pk=listed.pk).update(labels={"alertname": "load", "group": ["g1"]})
    made["listed"] = listed
    return a, now, made


GROUPS = {
    "one group": [(("alertname", "load"), ("group", "g1"))],
    "a missing label counts as empty": [(("alertname", "load"), ("group", ""))],
    "a number is not its text": [(("group", "7"),)],
    "quotes are values, not SQL": [(("alertname", 'it\'s "quoted"'), ("group", "g'1"))],
    "several groups": [(("group", "g1"),), (("group", "g2"),), (("alertname", "unreachable"),)],
}


def _check(world, name):
    org, now, made = _estate(world)
    groups = GROUPS[name]
    got = {x.pk for x in _group_members(org.pk, now, groups)}
    assert got == _orm_members(org.pk, now, groups)
    # The same test in Python, for the alerts a request has just written (read before they were).
    assert {x.pk for x in Alert.objects.filter(organization=org) if _in_groups(x, now, groups)} == got
    assert made["inhibitor"].pk in got and made["other_org"].pk not in got
    return got, made


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(GROUPS))
def test_group_members_are_what_the_orm_lookups_select(world, name):
    got, made = _check(world, name)
    if name == "one group":
        assert got == {made[k].pk for k in ("same", "same2", "resolved_lately", "inhibitor")}
    if name == "a missing label counts as empty":
        assert got == {made[k].pk for k in ("no_group_label", "empty_group_label", "inhibitor")}
    if name == "a number is not its text":
        assert made["number"].pk not in got


@pytest.mark.django_db
def test_many_groups_are_read_in_several_statements(world, monkeypatch):
    from apps.alerts import notify

    monkeypatch.setattr(notify, "GROUPS_PER_QUERY", 2)
    org, now, made = _estate(world)
    groups = [(("group", f"g{n}"),) for n in range(1, 6)]
    assert {x.pk for x in _group_members(org.pk, now, groups)} == _orm_members(org.pk, now, groups)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(GROUPS))
def test_group_members_are_what_the_orm_lookups_select_on_postgresql(world, name):
    if connection.vendor != "postgresql":
        pytest.fail("runs on PostgreSQL (python -m devtools.integration)", pytrace=False)
    _check(world, name)
