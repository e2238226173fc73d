"""Schemas and field types shared by every app's endpoints."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema


def _decimal_to_string(value: Any) -> Any:
    # Amounts leave the API as exact decimal strings, never as JSON numbers (floats).
    return format(value, "f") if isinstance(value, Decimal) else value


Amount = Annotated[
    str,
    BeforeValidator(_decimal_to_string),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["199.00"]}),
]


class ProblemFieldError(Schema):
    loc: list[str | int] = Field(description='Where the invalid value is, e.g. ["query", "limit"].')
    msg: str
    type: str = ""


class Problem(Schema):
    """An error response in the RFC 9457 `application/problem+json` format."""

    type: str = Field(description="A URN naming the kind of problem, e.g. urn:guanxi:problem:not-found.")
    title: str
    status: int
    detail: str = ""
    instance: str = Field("", description="The request path that produced the problem.")
    errors: list[ProblemFieldError] | None = Field(None, description="Present for validation errors.")


def _aware(value: datetime) -> datetime:
    # A time without an offset means the install's time zone (TIME_ZONE), like the web UI.
    return timezone.make_aware(value) if timezone.is_naive(value) else value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
