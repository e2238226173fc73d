"""On PostgreSQL the database itself refuses to change or delete audit entries (ADR 0041), so neither a
bug nor raw SQL through the application's role can rewrite history. Two writes stay possible:
nulling actor_id/unit_id, which Django does when a user or business unit is deleted (on_delete=SET_NULL),
and deleting entries older than the horizon that `guanxi.core.audit.purge_before` sets for its own
transaction (retention). SQLite gets its own triggers in core.0004."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION guanxi_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    horizon text := current_setting('guanxi.audit_purge_before', true);
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(horizon, '') <> '' AND OLD.created_at < horizon::timestamptz THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit entries cannot be deleted (id %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - 'actor_id' - 'unit_id') = (to_jsonb(OLD) - 'actor_id' - 'unit_id')
        AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
        AND (NEW.unit_id IS NULL OR NEW.unit_id = OLD.unit_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries cannot be changed (id %)', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry;
CREATE TRIGGER core_auditentry_append_only BEFORE UPDATE OR DELETE ON core_auditentry
    FOR EACH ROW EXECUTE FUNCTION guanxi_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry;
DROP FUNCTION IF EXISTS guanxi_audit_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: RAISE uses % itself


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_coded_messages"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
