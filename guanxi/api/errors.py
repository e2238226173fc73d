"""Every API error leaves as RFC 9457 `application/problem+json`.

The handlers replace django-ninja's defaults on the API instance; the URL wrapper in
`guanxi.api.urls` uses `problem_response` for the few responses produced outside an
operation (unknown path, method not allowed).
"""

import json
import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as InvalidValues
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from guanxi.core.access import deny

logger = logging.getLogger("guanxi.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"

# status → (type slug, title). Titles are stable per status and only vary by language.
PROBLEMS: dict[int, tuple[str, Any]] = {
    400: ("bad-request", _("Bad request")),
    401: ("unauthenticated", _("Authentication required")),
    403: ("forbidden", _("Forbidden")),
    404: ("not-found", _("Not found")),
    405: ("method-not-allowed", _("Method not allowed")),
    409: ("conflict", _("Conflict")),
    422: ("validation-error", _("Invalid input")),
    429: ("rate-limited", _("Too many requests")),
    500: ("server-error", _("Internal server error")),
}


class ApiError(HttpError):
    """An HttpError that also carries response headers (Retry-After, Allow…) and, for a 403, the
    permission refused (what the audit entry names)."""

    def __init__(
        self,
        status_code: int,
        message: Any,
        headers: dict[str, str] | None = None,
        *,
        permission: str = "",
    ) -> None:
        super().__init__(status_code, message)
        self.headers = headers or {}
        self.permission = permission


def problem_type(status: int) -> str:
    slug = PROBLEMS.get(status, ("error", ""))[0]
    return f"urn:guanxi:problem:{slug}"


def problem_response(
    request: HttpRequest,
    status: int,
    detail: Any = "",
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    title = PROBLEMS[status][1] if status in PROBLEMS else HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": problem_type(status),
        "title": str(title),
        "status": status,
        "detail": str(detail),
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def not_found_response(request: HttpRequest) -> HttpResponse:
    # Never echo Http404's text: it may name a model or an id the caller may not see.
    return problem_response(request, 404, _("No such resource, or you may not see it."))


def install_problem_handlers(api: NinjaAPI) -> None:
    """Register the problem+json handlers, replacing ninja's defaults."""

    def validation_error(request: HttpRequest, exc: Any) -> HttpResponse:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "msg": str(error.get("msg", "")),
                "type": error.get("type", ""),
            }
            for error in exc.errors
        ]
        return problem_response(request, 422, _("The request contains invalid values."), errors=errors)

    def invalid_values(request: HttpRequest, exc: Any) -> HttpResponse:
        """An action refused the values (a taken code, an unknown time zone): each field's reasons."""
        fields: dict[str, list[str]] = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        errors: list[dict[str, Any]] = [
            {
                "loc": ["body", name] if name and name != "__all__" else ["body"],
                "msg": message,
                "type": "invalid",
            }
            for name, messages in fields.items()
            for message in messages
        ]
        return problem_response(request, 422, " ".join(error["msg"] for error in errors), errors=errors)

    def authentication_error(request: HttpRequest, exc: Any) -> HttpResponse:
        detail: Any = exc.message
        if detail == "Unauthorized":  # ninja's default when no credentials were sent at all
            detail = _("Send an API token (Authorization: Bearer gx_…) or sign in.")
        return problem_response(request, 401, detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    def http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        if exc.status_code == 403:
            deny(request, getattr(exc, "permission", "") or "api.forbidden")
        return problem_response(request, exc.status_code, exc.message, headers=getattr(exc, "headers", None))

    def not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return not_found_response(request)

    def permission_denied(request: HttpRequest, exc: Any) -> HttpResponse:
        deny(request, exc)  # audits it unless the code that refused already did
        return problem_response(request, 403, _("You do not have permission to do this."))

    def out_of_range(request: HttpRequest, exc: Any) -> HttpResponse:
        """A number past what the database stores (an id of 2**70 in a filter): SQLite's driver raises
        OverflowError, PostgreSQL a DataError where Django does not catch it first. The client's
        mistake, not ours (found by the fuzzer)."""
        return problem_response(request, 422, _("A value in the request is out of range."))

    def unexpected(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("Unhandled error in API %s %s", request.method, request.path)
        return problem_response(request, 500, _("Something went wrong on our side."))

    api.add_exception_handler(ValidationError, validation_error)
    api.add_exception_handler(InvalidValues, invalid_values)
    api.add_exception_handler(AuthenticationError, authentication_error)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, permission_denied)
    api.add_exception_handler(OverflowError, out_of_range)
    api.add_exception_handler(DataError, out_of_range)
    api.add_exception_handler(Exception, unexpected)
