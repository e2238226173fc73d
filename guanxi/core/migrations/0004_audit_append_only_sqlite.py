"""The audit log is append-only on SQLite too (ADR 0041): the same two writes stay possible as under
PostgreSQL's trigger (core.0003) — nulling actor_id/unit_id (on_delete=SET_NULL) and deleting entries
older than the horizon `guanxi.core.audit.purge_before` opens for its own transaction.

SQLite has no session settings, so the horizon lives in a one-row table, `guanxi_audit_purge`:
purge_before inserts its cutoff, deletes, and removes the row again, all in one transaction. SQLite
lets one connection write at a time and nobody else sees the uncommitted row, so the opening is as
transaction-local as PostgreSQL's set_config(..., true); a crash rolls it back with the rest.

The UPDATE trigger names every column but actor_id and unit_id (SQLite cannot compare whole rows):
a migration that adds a column to AuditEntry must re-create this trigger with the new column list (the test
`test_every_column_is_guarded` in guanxi/core/tests/test_audit.py fails until it does)."""

from django.db import migrations

GATE = "guanxi_audit_purge"
TABLE = "core_auditentry"
REASSIGNABLE = ("actor_id", "unit_id")  # may only become NULL (on_delete=SET_NULL)


def create_sqlite_guard(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    quote = schema_editor.quote_name
    model = apps.get_model("core", "AuditEntry")
    columns = [field.column for field in model._meta.concrete_fields if field.column not in REASSIGNABLE]
    unchanged = " AND ".join(f"NEW.{quote(column)} IS OLD.{quote(column)}" for column in columns)
    for column in REASSIGNABLE:
        unchanged += f" AND (NEW.{quote(column)} IS NULL OR NEW.{quote(column)} IS OLD.{quote(column)})"
    drop_sqlite_triggers(schema_editor)
    schema_editor.execute(
        f"CREATE TABLE IF NOT EXISTS {GATE} (id INTEGER PRIMARY KEY CHECK (id = 1), before TEXT NOT NULL)"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {GATE} WHERE OLD.created_at < {GATE}.before) "
        "BEGIN SELECT RAISE(ABORT, 'audit entries cannot be deleted'); END"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} WHEN NOT ({unchanged}) "
        "BEGIN SELECT RAISE(ABORT, 'audit entries cannot be changed'); END"
    )


def drop_sqlite_triggers(schema_editor):
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")


def drop_sqlite_guard(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    drop_sqlite_triggers(schema_editor)
    schema_editor.execute(f"DROP TABLE IF EXISTS {GATE}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_audit_append_only_trigger"),
    ]

    operations = [
        migrations.RunPython(create_sqlite_guard, drop_sqlite_guard, elidable=False),
    ]
