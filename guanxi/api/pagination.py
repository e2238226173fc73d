"""Cursor (keyset) pagination for list endpoints.

A page is ordered by (sort field, id), both in the same direction; the cursor holds the
last row's sort value and id, signed so clients cannot forge or edit it. The next page is
"rows strictly after that key", so rows inserted while a client walks the list never shift
or repeat rows (offset pagination would). The sort field must not be nullable.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import Field

from guanxi.api.errors import ApiError

CURSOR_SALT = "guanxi.api.cursor"


class CursorParams(Schema):
    """Query parameters of every cursor-paginated list; endpoints subclass it to add filters."""

    cursor: str | None = Field(None, description="`next_cursor` from the previous page; omit for the first.")
    limit: int = Field(50, ge=1, le=settings.API_MAX_PAGE_SIZE, description="Rows per page.")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _salt(queryset: QuerySet, sort_field: str, descending: bool) -> str:
    # A cursor is only valid for the list (model, order) it came from.
    meta = queryset.model._meta
    return f"{CURSOR_SALT}:{meta.label_lower}:{sort_field}:{'desc' if descending else 'asc'}"


def _field(queryset: QuerySet, sort_field: str) -> Any:
    meta = queryset.model._meta
    return meta.pk if sort_field == "pk" else meta.get_field(sort_field)


def encode_cursor(row: Model, *, queryset: QuerySet, sort_field: str, descending: bool) -> str:
    field = _field(queryset, sort_field)
    key = [field.value_to_string(row), row.pk]
    return signing.dumps(key, salt=_salt(queryset, sort_field, descending), compress=False)


def decode_cursor(cursor: str, *, queryset: QuerySet, sort_field: str, descending: bool) -> tuple[Any, int]:
    try:
        raw_value, pk = signing.loads(cursor, salt=_salt(queryset, sort_field, descending))
        value = _field(queryset, sort_field).to_python(raw_value)
        if not isinstance(pk, int) or value is None:
            raise ValueError(pk)
    except (signing.BadSignature, DjangoValidationError, ValueError, TypeError) as error:
        raise ApiError(400, _("The cursor is invalid; start again without one.")) from error
    return value, pk


def paginate(
    queryset: QuerySet,
    params: CursorParams,
    *,
    sort_field: str = "id",
    descending: bool = True,
) -> Page:
    """One page of `queryset` (already scoped and filtered) after `params.cursor`."""
    direction = "-" if descending else ""
    if sort_field in ("id", "pk"):
        sort_field = "pk"
        ordering = [f"{direction}pk"]
    else:
        ordering = [f"{direction}{sort_field}", f"{direction}pk"]
    if params.cursor:
        value, pk = decode_cursor(
            params.cursor, queryset=queryset, sort_field=sort_field, descending=descending
        )
        after = "lt" if descending else "gt"
        if sort_field == "pk":
            queryset = queryset.filter(**{f"pk__{after}": pk})
        else:
            queryset = queryset.filter(
                Q(**{f"{sort_field}__{after}": value}) | Q(**{sort_field: value, f"pk__{after}": pk})
            )
    rows = list(queryset.order_by(*ordering)[: params.limit + 1])
    items, more = rows[: params.limit], len(rows) > params.limit
    next_cursor = (
        encode_cursor(items[-1], queryset=queryset, sort_field=sort_field, descending=descending)
        if more
        else None
    )
    return Page(items=items, next_cursor=next_cursor)
