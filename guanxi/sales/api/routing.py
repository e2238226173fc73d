"""The sales router and what every sales endpoint shares: resolving the unit a new record goes to,
the records a caller may act on, and invalid input as a 422 problem naming each field."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router

from guanxi.api.errors import ApiError, problem_response
from guanxi.sales.access import assignable_users, unit_for_new_record
from guanxi.sales.fetch import access_by_id

router = Router(tags=["sales"])


def unit_of(request, unit_id: int | None):
    unit = unit_for_new_record(request.user, unit_id)
    if unit is None:
        if unit_id is not None:
            raise ApiError(404, _("No such business unit, or you may not add sales records there."))
        raise ApiError(422, _("Name the business unit (`unit`): you belong to several."))
    return unit


def owner_of(unit, owner_id: int | None):
    """The user `owner_id` if a unit's record may be given to them; None for None."""
    if owner_id is None:
        return None
    owner = assignable_users(unit).filter(pk=owner_id).first()
    if owner is None:
        raise ApiError(422, _("The owner must be an active sales user of the unit."))
    return owner


def visible(model: type, request, pk: int | None, action: str = "view", related: tuple[str, ...] = ()) -> Any:
    """The row, or None for None; 404 when the caller may not act on it."""
    return None if pk is None else access_by_id(model, request.user, pk, action, related)


def invalid(request, error: ValidationError):
    """A 422 problem with one entry per field (`non_field` for the rest)."""
    fields = error.message_dict if hasattr(error, "error_dict") else {"non_field": error.messages}
    return problem_response(
        request,
        422,
        _("The request contains invalid values."),
        errors=[
            {"loc": ["body", field], "msg": " ".join(messages), "type": "invalid"}
            for field, messages in fields.items()
        ],
    )


def acting(request, action: Callable[[], Any]) -> Any:
    """Run `action`; a ValidationError becomes the 422 problem."""
    try:
        return action()
    except ValidationError as error:
        return invalid(request, error)
