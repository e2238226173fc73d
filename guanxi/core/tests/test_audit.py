import pytest

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
