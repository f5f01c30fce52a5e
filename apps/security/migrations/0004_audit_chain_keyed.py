"""The audit chain becomes keyed (HMAC-SHA256 under the audit key, see ``apps.security.audit``).

Entries written before are re-hashed under the key, as far as their unkeyed chain is intact: an
entry already changed behind the application's back keeps its old hash, so ``audit_verify`` still
reports it. On PostgreSQL the trigger no longer has a session setting that lets deletes through:
only entries at or before the chain's anchor, which a retention purge moves (and signs) first, can
be deleted."""

import hashlib

from django.db import migrations, models

GENESIS = "0" * 64
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.id <= (SELECT anchor_id FROM security_auditchainhead WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER security_auditentry_append_only
    BEFORE UPDATE OR DELETE ON security_auditentry
    FOR EACH ROW EXECUTE FUNCTION security_auditentry_append_only();
"""
SESSION_SWITCH = """
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('unimanager.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER security_auditentry_append_only
    BEFORE UPDATE OR DELETE ON security_auditentry
    FOR EACH ROW EXECUTE FUNCTION security_auditentry_append_only();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS security_auditentry_append_only ON security_auditentry;"


def rekey(apps, schema_editor):
    from apps.security import audit

    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(DROP_TRIGGER, params=None)
    entry_model = apps.get_model("security", "AuditEntry")
    head_model = apps.get_model("security", "AuditChainHead")
    head = head_model.objects.filter(pk=1).first()
    if head is not None:
        old_prev = new_prev = head.anchor_hash
        for entry in entry_model.objects.order_by("id").iterator(chunk_size=2000):
            canonical = audit._canonical(entry)
            if entry.prev_hash != old_prev or \
                    hashlib.sha256(f"{old_prev}\n{canonical}".encode()).hexdigest() != entry.hash:
                break
            old_prev = entry.hash
            entry.prev_hash, entry.hash = new_prev, audit.entry_hash(new_prev, entry)
            entry_model._base_manager.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, hash=entry.hash)
            new_prev = entry.hash
        else:
            head.last_hash = new_prev if head.last_id else head.last_hash
        if head.anchor_id:
            head.anchor_mac = audit.anchor_mac(head.anchor_id, head.anchor_hash)
        head.save()
    if postgres:
        schema_editor.execute(APPEND_ONLY, params=None)


def unkey(apps, schema_editor):
    # Hashes stay keyed (the unkeyed chain they replaced is not kept); only the trigger goes back.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)
        schema_editor.execute(SESSION_SWITCH, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('security', '0003_used_nonce'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditchainhead',
            name='anchor_mac',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(rekey, unkey),
    ]
