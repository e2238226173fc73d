from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.phrases import EXPORTED


def test_entries_cannot_be_changed_or_deleted(db):
    entry = audit.record(AuditEntry.Action.EXPORT, message=EXPORTED(format="csv", rows=3))
    entry.message = "tampered"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(message="tampered")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().details == "CSV file of 3 rows"


def test_personal_values_are_redacted_but_field_names_kept(db, admin_user):
    entry = audit.record(
        AuditEntry.Action.UPDATE,
        actor=admin_user,
        obj=admin_user,
        changes={"email": ("a@example.com", "b@example.com"), "role": ("analyst", "marketer")},
    )
    assert entry.changes == {
        "email": {"from": "[redacted]", "to": "[redacted]"},
        "role": {"from": "analyst", "to": "marketer"},
    }
    assert entry.object_type == "accounts.user"
    assert entry.object_id == str(admin_user.pk)
    assert entry.actor_name == "admin"


def test_unit_head_sees_only_own_unit_entries(db, unit_a, unit_b, unit_a_head, manager, make_user):
    in_a = audit.record(AuditEntry.Action.EXPORT, unit=unit_a)
    audit.record(AuditEntry.Action.EXPORT, unit=unit_b)
    exports = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT)
    assert list(exports.restrict(unit_a_head, "audit")) == [in_a]
    assert AuditEntry.objects.restrict(manager, "audit").count() == AuditEntry.objects.count()
    analyst = make_user("analyst_a", "analyst", [unit_a])
    assert AuditEntry.objects.restrict(analyst, "audit").count() == 0


def _entries_aged(*days_ago: int) -> None:
    entries = []
    for days in days_ago:
        entry = audit.entry_for(AuditEntry.Action.EXPORT, object_id=str(days))
        entry.created_at = timezone.now() - timedelta(days=days)
        entries.append(entry)
    audit.record_all(entries)


def test_purge_deletes_only_entries_older_than_the_horizon(db):
    _entries_aged(400, 366, 10, 0)
    assert audit.purge_before(timezone.now() - timedelta(days=365)) == 2
    assert sorted(AuditEntry.objects.values_list("object_id", flat=True)) == ["0", "10"]
    # The horizon lived for the purge's transaction only: the next delete is refused again.
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_deleting_a_user_keeps_their_entries_with_the_actor_cleared(db, make_user):
    user = make_user("leaver")
    audit.record(AuditEntry.Action.LOGIN, actor=user)
    user.delete()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert (entry.actor_id, entry.actor_name) == (None, "leaver")


RAW_WRITES = [
    "UPDATE core_auditentry SET message_code = 'tampered'",
    "UPDATE core_auditentry SET actor_name = 'someone else', actor_id = NULL",
    "DELETE FROM core_auditentry",
]


@pytest.mark.parametrize("statement", RAW_WRITES)
def test_the_database_refuses_raw_changes_to_audit_rows(db, statement):
    """PostgreSQL's trigger stops even SQL that goes around the ORM; SQLite, an embedded file whose
    owner can rewrite it at will, has the model guard only, so there the statement goes through."""
    _entries_aged(400, 0)
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError, match="audit entries cannot be"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
        assert AuditEntry.objects.filter(message_code="").count() == 2
        assert AuditEntry.objects.filter(actor_name="").count() == 2
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement)
        assert cursor.rowcount == 2
