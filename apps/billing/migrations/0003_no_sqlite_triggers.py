"""Databases migrated while 0002 also made SQLite triggers lose them: a test database's flush on
SQLite is a ``DELETE`` of every row, which they refused once a test had finalized a bill."""

from django.db import migrations

NAMES = ["billing_bill_frozen_update", "billing_bill_frozen_delete", "billing_adjustment_no_update",
         "billing_adjustment_no_delete"] + [
    f"{table}_frozen_{op}" for table in ("billing_billline", "billing_charge") for op in ("insert", "update", "delete")]


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_finalized_bills_immutable")]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
