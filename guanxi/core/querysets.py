"""The permission-aware read API every view, endpoint and export goes through.

`Model.objects.restrict(user, action)` returns only the rows the user may act on:
nothing without the app permission for `action`, only the user's business units unless
the role sees all of them, and, for roles limited by ownership, only the rows their
`OwnerScope` covers (a sales rep's own records; a sales manager's team's and the unassigned pool).
Models declare how they reach a business unit with `scope_by_units`, optionally who owns a row
with `OWNER_FIELD` (a field path such as "owner" or "account__owner"), and, where a row belongs to
another app's records, whose permission guards it with `PERMISSION_APP`.
"""

from dataclasses import dataclass
from typing import Protocol, cast

from django.db import models


@dataclass(frozen=True)
class OwnerScope:
    """The owned rows a user limited by ownership sees: those owned by `owner_ids` and, with
    `unowned`, rows nobody owns (a unit's pool of unassigned records, which a team lead hands out)."""

    owner_ids: tuple[int, ...]
    unowned: bool = False

    def filter_for(self, owner_field: str) -> models.Q:
        owned = models.Q(**{f"{owner_field}__in": self.owner_ids})
        return owned | models.Q(**{f"{owner_field}__isnull": True}) if self.unowned else owned

    def covers(self, owner_id: int | None) -> bool:
        return owner_id in self.owner_ids or (owner_id is None and self.unowned)


class ScopedUser(Protocol):
    @property  # read-only, so a typed User (whose is_authenticated is Literal[True]) fits
    def is_authenticated(self) -> bool: ...

    def has_permission(self, permission: str) -> bool: ...

    def visible_unit_ids(self) -> list[int] | None: ...

    def owner_scope(self) -> OwnerScope | None:
        """None: rows of every owner; otherwise whose rows the user sees."""
        ...


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user: ScopedUser, action: str = "view") -> "ScopedQuerySet":
        app = getattr(self.model, "PERMISSION_APP", None) or self.model._meta.app_label
        permission = f"{app}.{action}"
        if not user.is_authenticated or not user.has_permission(permission):
            return self.none()
        restricted = self
        unit_ids = user.visible_unit_ids()
        if unit_ids is not None:
            # ScopedQuerySet is only ever the manager of a ScopedModel subclass.
            model = cast(type[ScopedModel], self.model)
            restricted = restricted.filter(model.scope_by_units(unit_ids))
        owner_field = getattr(self.model, "OWNER_FIELD", None)
        scope = user.owner_scope() if owner_field else None
        if owner_field and scope is not None:
            restricted = restricted.filter(scope.filter_for(owner_field))
        return restricted


class ScopedModel(models.Model):
    """A row that belongs to business units. Subclasses set UNIT_FIELD or override scope_by_units."""

    UNIT_FIELD = "unit"
    OWNER_FIELD: str | None = None
    PERMISSION_APP: str | None = None  # None: the model's own app

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(**{f"{cls.UNIT_FIELD}__in": unit_ids})
