"""The database itself keeps finalized bills as they were finalized: on PostgreSQL and on SQLite,
triggers refuse to change or remove a finalized bill, to add, change or remove its lines and
charges, and to change or remove any adjustment."""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION billing_bill_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'finalized' THEN
        RAISE EXCEPTION 'a finalized bill cannot be changed (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_bill_frozen BEFORE UPDATE OR DELETE ON billing_bill
    FOR EACH ROW EXECUTE FUNCTION billing_bill_frozen();

CREATE OR REPLACE FUNCTION billing_bill_part_frozen() RETURNS trigger AS $$
DECLARE
    target text;
BEGIN
    IF TG_OP = 'INSERT' THEN target := NEW.bill_id; ELSE target := OLD.bill_id; END IF;
    IF EXISTS (SELECT 1 FROM billing_bill WHERE id = target AND status = 'finalized')
       OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM billing_bill WHERE id = NEW.bill_id AND status = 'finalized')) THEN
        RAISE EXCEPTION 'a finalized bill cannot be changed (% on %s refused)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_billline_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_billline
    FOR EACH ROW EXECUTE FUNCTION billing_bill_part_frozen();
CREATE TRIGGER billing_charge_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_charge
    FOR EACH ROW EXECUTE FUNCTION billing_bill_part_frozen();

CREATE OR REPLACE FUNCTION billing_adjustment_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'bill adjustments are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_adjustment_append_only BEFORE UPDATE OR DELETE ON billing_billadjustment
    FOR EACH ROW EXECUTE FUNCTION billing_adjustment_append_only();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS billing_bill_frozen ON billing_bill;
DROP TRIGGER IF EXISTS billing_billline_frozen ON billing_billline;
DROP TRIGGER IF EXISTS billing_charge_frozen ON billing_charge;
DROP TRIGGER IF EXISTS billing_adjustment_append_only ON billing_billadjustment;
DROP FUNCTION IF EXISTS billing_bill_frozen();
DROP FUNCTION IF EXISTS billing_bill_part_frozen();
DROP FUNCTION IF EXISTS billing_adjustment_append_only();
"""

FROZEN = "SELECT RAISE(ABORT, 'a finalized bill cannot be changed')"
SQLITE = [
    f"CREATE TRIGGER billing_bill_frozen_update BEFORE UPDATE ON billing_bill WHEN OLD.status = 'finalized' "
    f"BEGIN {FROZEN}; END",
    f"CREATE TRIGGER billing_bill_frozen_delete BEFORE DELETE ON billing_bill WHEN OLD.status = 'finalized' "
    f"BEGIN {FROZEN}; END",
] + [
    statement
    for table in ("billing_billline", "billing_charge")
    for statement in (
        f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} WHEN EXISTS (SELECT 1 FROM billing_bill "
        f"WHERE id = NEW.bill_id AND status = 'finalized') BEGIN {FROZEN}; END",
        f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} WHEN EXISTS (SELECT 1 FROM billing_bill "
        f"WHERE id IN (OLD.bill_id, NEW.bill_id) AND status = 'finalized') BEGIN {FROZEN}; END",
        f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} WHEN EXISTS (SELECT 1 FROM billing_bill "
        f"WHERE id = OLD.bill_id AND status = 'finalized') BEGIN {FROZEN}; END",
    )
] + [
    "CREATE TRIGGER billing_adjustment_no_update BEFORE UPDATE ON billing_billadjustment "
    "BEGIN SELECT RAISE(ABORT, 'bill adjustments are append-only'); END",
    "CREATE TRIGGER billing_adjustment_no_delete BEFORE DELETE ON billing_billadjustment "
    "BEGIN SELECT RAISE(ABORT, 'bill adjustments are append-only'); END",
]
SQLITE_NAMES = ["billing_bill_frozen_update", "billing_bill_frozen_delete", "billing_adjustment_no_update",
                "billing_adjustment_no_delete"] + [
    f"{table}_frozen_{op}" for table in ("billing_billline", "billing_charge") for op in ("insert", "update", "delete")]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for name in SQLITE_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
