"""On PostgreSQL: the database refuses any change to a finalized bill, its lines, its charges and
its adjustments, whoever sends the SQL; a draft bill stays changeable."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from apps.billing import metering, services
from apps.billing.models import Bill
from apps.billing.tests.conftest import people, platform  # noqa: F401 - fixtures
from apps.billing.tests.factories import at, instance, price_book, rule

pytestmark = pytest.mark.django_db


def test_an_update_or_delete_of_a_finalized_bill_is_refused_by_postgresql(people, platform):  # noqa: F811
    assert connection.vendor == "postgresql", "the integration tier runs on PostgreSQL"
    hq = people["hq"]
    rule(price_book(hq), "ecs.instance", "vcpu_hours", "1")
    vm = instance(platform, hq, since=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 00:00"))
    metering.meter_period(start=at("2026-04-01 00:00"), end=at("2026-05-01 00:00"), now=at("2026-04-01 10:00"))
    bill = services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-04-01 10:00"))
    assert bill.total == 20  # 10 hours x 2 vCPU x 1.00
    with connection.cursor() as cursor:  # a draft is still the rater's to change
        cursor.execute("UPDATE billing_bill SET rated_at = rated_at WHERE id = %s", [bill.pk])
    bill = services.bill_finalize(actor=None, bill=bill)
    services.bill_adjust(actor=None, bill=bill, amount="-2.00", reason="goodwill")
    refused = [
        ("UPDATE billing_bill SET total = 0 WHERE id = %s", [bill.pk]),
        ("UPDATE billing_bill SET status = 'draft' WHERE id = %s", [bill.pk]),
        ("DELETE FROM billing_bill WHERE id = %s", [bill.pk]),
        ("UPDATE billing_billline SET amount = 0 WHERE bill_id = %s", [bill.pk]),
        ("DELETE FROM billing_billline WHERE bill_id = %s", [bill.pk]),
        ("INSERT INTO billing_billline (id, bill_id, kind, service, resource_type, dimension, sku, description, "
         "quantity, unit, unit_price, fixed_amount, amount, tiers) VALUES ('bln-00000000000000000000', %s, "
         "'usage', '', '', '', '', 'extra', 1, 'h', 1, 0, 1, '[]')", [bill.pk]),
        ("UPDATE billing_charge SET amount = 0 WHERE bill_id = %s", [bill.pk]),
        ("DELETE FROM billing_charge WHERE bill_id = %s", [bill.pk]),
        ("UPDATE billing_billadjustment SET amount = 0 WHERE bill_id = %s", [bill.pk]),
        ("DELETE FROM billing_billadjustment WHERE bill_id = %s", [bill.pk]),
    ]
    for sql, params in refused:
        with pytest.raises(DatabaseError, match="finalized bill|append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    kept = Bill.objects.get(pk=bill.pk)
    assert (kept.status, kept.total, kept.lines.count()) == ("finalized", 20, 1)
    assert [a.amount for a in kept.adjustments.all()] == [-2]
