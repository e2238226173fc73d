from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, models, transaction
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
    # The horizon lived for the purge's transaction only: the next delete is refused again, by the
    # model and, past it, by the database.
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    with pytest.raises(DatabaseError, match="audit entries cannot be deleted"), transaction.atomic():
        models.QuerySet.delete(AuditEntry.objects.all())
    assert AuditEntry.objects.count() == 2


def test_a_purge_that_fails_leaves_the_log_closed(db, monkeypatch):
    _entries_aged(400, 0)

    def fail(queryset):
        raise RuntimeError("disk full")

    monkeypatch.setattr(models.QuerySet, "delete", fail)
    with pytest.raises(RuntimeError):
        audit.purge_before(timezone.now())
    monkeypatch.undo()
    with pytest.raises(DatabaseError, match="audit entries cannot be deleted"), transaction.atomic():
        models.QuerySet.delete(AuditEntry.objects.all())
    assert AuditEntry.objects.count() == 2


def test_deleting_a_user_keeps_their_entries_with_the_actor_cleared(db, make_user):
    user = make_user("leaver")
    audit.record(AuditEntry.Action.LOGIN, actor=user)
    user.delete()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert (entry.actor_id, entry.actor_name) == (None, "leaver")


def test_the_database_refuses_orm_writes_that_go_past_the_model_guard(db):
    """On both engines a trigger stops an UPDATE or DELETE even when the model's guard is skipped."""
    _entries_aged(400, 0)
    entry = AuditEntry.objects.earliest("created_at")
    entry.message = "tampered"
    writes = [
        lambda: models.QuerySet.update(AuditEntry.objects.all(), message="tampered"),
        lambda: models.Model.save(entry),
        lambda: models.QuerySet.delete(AuditEntry.objects.all()),
        lambda: models.QuerySet.delete(AuditEntry.objects.filter(pk=entry.pk)),
    ]
    for write in writes:
        with pytest.raises(DatabaseError, match="audit entries cannot be"), transaction.atomic():
            write()
    assert AuditEntry.objects.count() == 2
    assert not AuditEntry.objects.filter(message="tampered").exists()


# A value unlike the stored one, per kind of column; a new kind fails the test below until added.
DIFFERENT_VALUE = {
    "BigAutoField": lambda entry: entry.pk + 1000,
    "DateTimeField": lambda entry: entry.created_at - timedelta(days=1),
    "CharField": lambda entry: "tampered",
    "GenericIPAddressField": lambda entry: "192.0.2.1",
    "JSONField": lambda entry: {"tampered": True},
    "ForeignKey": lambda entry: None,
}


@pytest.mark.parametrize(
    "field", [field.name for field in AuditEntry._meta.concrete_fields if field.name not in ("actor", "unit")]
)
def test_every_column_is_guarded(db, field):
    """The SQLite trigger lists the columns it compares (core.0004): a column added later must be
    added to it, or changing it alone would go through."""
    entry = audit.record(AuditEntry.Action.EXPORT, object_id="1")
    value = DIFFERENT_VALUE[AuditEntry._meta.get_field(field).get_internal_type()](entry)
    with pytest.raises(DatabaseError, match="audit entries cannot be changed"), transaction.atomic():
        models.QuerySet.update(AuditEntry.objects.filter(pk=entry.pk), **{field: value})


def test_the_actor_and_unit_may_only_be_cleared(db, make_user, unit_a, unit_b):
    """What on_delete=SET_NULL needs and nothing more: nulling them goes through, pointing them
    elsewhere is refused."""
    user, other = make_user("someone"), make_user("someone_else")
    entry = audit.record(AuditEntry.Action.EXPORT, actor=user, unit=unit_a)
    one = AuditEntry.objects.filter(pk=entry.pk)
    for change in ({"actor": other}, {"unit": unit_b}):
        with pytest.raises(DatabaseError, match="audit entries cannot be changed"), transaction.atomic():
            models.QuerySet.update(one, **change)
    models.QuerySet.update(one, actor=None, unit=None)
    assert one.values_list("actor_id", "unit_id", "actor_name").get() == (None, None, "someone")


RAW_WRITES = [
    "UPDATE core_auditentry SET message_code = 'tampered'",
    "UPDATE core_auditentry SET actor_name = 'someone else', actor_id = NULL",
    "DELETE FROM core_auditentry",
]


@pytest.mark.parametrize("statement", RAW_WRITES)
def test_the_database_refuses_raw_changes_to_audit_rows(db, statement):
    """The triggers stop even SQL that goes around the ORM, on PostgreSQL (core.0003) and SQLite
    (core.0004) alike."""
    _entries_aged(400, 0)
    with (
        pytest.raises(DatabaseError, match="audit entries cannot be"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEntry.objects.filter(message_code="").count() == 2
    assert AuditEntry.objects.filter(actor_name="").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_may_leave_entries_behind():
    """Its teardown flushes every table: TRUNCATE on PostgreSQL, DELETE on SQLite, which the root
    conftest lets past the trigger for the flush's own transaction."""
    audit.record(AuditEntry.Action.EXPORT, object_id="left behind")
    assert AuditEntry.objects.count() == 1
