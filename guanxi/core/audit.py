"""Writing the audit log. Field values that are personal data are never written.

The message is a phrase (`guanxi.core.display.Phrase`, declared in the app's phrases.py) called with
its parameters, stored as code and parameters and put into the reader's language when shown.
"""

from datetime import datetime
from typing import Any, TypedDict, Unpack

from django.db import connection, models, transaction

from guanxi.core.display import Coded
from guanxi.core.models import AuditEntry

# Field names whose values are personal data; changes to them are logged by name only.
PII_FIELDS = frozenset(
    {
        "name",
        "phone",
        "mobile",
        "email",
        "value",
        "address",
        "birthday",
        "first_name",
        "last_name",
        "wechat",
        "qq",
        "weibo",
        "notes",
        "password",
        "display_name",
        "receiver",
        "street",
    }
)
REDACTED = "[redacted]"


def redact_changes(changes: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {
        field: (
            {"from": REDACTED, "to": REDACTED}
            if field in PII_FIELDS
            else {"from": _plain(before), "to": _plain(after)}
        )
        for field, (before, after) in changes.items()
    }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return value.pk
    return str(value)


class EntryFields(TypedDict, total=False):
    actor: Any
    obj: models.Model | None
    unit: Any
    ip_address: str | None
    changes: dict[str, tuple[Any, Any]] | None
    message: Coded | None
    object_type: str
    object_id: str


def record(action: str, **fields: Unpack[EntryFields]) -> AuditEntry:
    """Append one entry; `fields` as for `entry_for`."""
    entry = entry_for(action, **fields)
    entry.save()
    return entry


def record_all(entries: list[AuditEntry]) -> None:
    """Append entries made by `entry_for` in a few statements, for actions on thousands of objects."""
    AuditEntry.objects.bulk_create(entries, batch_size=1000)


def purge_before(cutoff: datetime) -> int:
    """Delete the entries created before `cutoff`: the one delete the audit log allows (retention).

    The database refuses every other UPDATE or DELETE of audit rows (ADR 0041): PostgreSQL's trigger
    honours a horizon set here with set_config(..., true), SQLite's the one row of guanxi_audit_purge
    (core.0004), written and removed again inside this transaction, so neither outlives the purge.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('guanxi.audit_purge_before', %s, true)", [cutoff.isoformat()])
        elif connection.vendor == "sqlite":
            # Stored as the ORM stores created_at (naive UTC text), so the trigger compares like with like.
            horizon = connection.ops.adapt_datetimefield_value(cutoff)
            cursor.execute("INSERT OR REPLACE INTO guanxi_audit_purge (id, before) VALUES (1, %s)", [horizon])
        # Past the model's append-only guard on purpose: this is the purge it exists to channel.
        deleted, _counts = models.QuerySet.delete(AuditEntry.objects.filter(created_at__lt=cutoff))
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('guanxi.audit_purge_before', '', true)")
        elif connection.vendor == "sqlite":
            cursor.execute("DELETE FROM guanxi_audit_purge")
    return deleted


def entry_for(
    action: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    unit: Any = None,
    ip_address: str | None = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    message: Coded | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEntry:
    """The entry `record` would write, unsaved."""
    if obj is not None:
        object_type = f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = str(obj.pk)
    label = getattr(obj, "audit_label", "") if obj is not None else ""
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry(
        actor=actor_user,
        actor_name=actor_user.get_username() if actor_user else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=str(label)[:200],
        unit=unit,
        ip_address=ip_address,
        changes=redact_changes(changes or {}),
        message_code=message.code if message else "",
        message_params=message.params if message else {},
    )


def client_address(request: Any) -> str | None:
    """The peer address; X-Forwarded-For is trusted only behind a proxy the operator configured."""
    return request.META.get("REMOTE_ADDR") or None
