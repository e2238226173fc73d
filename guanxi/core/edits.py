"""Changing a few fields of one row from a settings page or endpoint: the row is locked, only the
values that differ are validated and written, and the change is audited with them."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import models, transaction

from guanxi.core import audit
from guanxi.core.models import AuditEntry

M = TypeVar("M", bound=models.Model)


@transaction.atomic
def save_changes(
    obj: M, fields: Mapping[str, Any], *, editable: Iterable[str], actor: Any, unit: Any = None
) -> M:
    """`obj` with `fields` applied (a ValueError names fields outside `editable`; full_clean() judges
    the values); unchanged values write nothing and leave no audit entry."""
    unknown = sorted(set(fields) - set(editable))
    if unknown:
        raise ValueError(f"Not editable fields of {obj._meta.model_name}: {unknown}")
    locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    changes = {
        name: (getattr(locked, name), value)
        for name, value in fields.items()
        if getattr(locked, name) != value
    }
    if not changes:
        return locked
    for name, (_before, after) in changes.items():
        setattr(locked, name, after)
    locked.full_clean()
    locked.save(update_fields=list(changes))
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=locked, unit=unit, changes=changes)
    return locked
