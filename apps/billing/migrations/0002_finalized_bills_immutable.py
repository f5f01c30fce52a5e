"""On PostgreSQL the database itself keeps finalized bills as they were finalized, as it keeps the
audit log: triggers refuse to change or remove a finalized bill, to add, change or remove its lines
and charges, and to change or remove any adjustment. (``TRUNCATE``, which only the test database's
flush runs, fires no row trigger.) On SQLite the services' checks are the guard: a flush there is a
``DELETE`` that row triggers would refuse (see 0003)."""

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

def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
