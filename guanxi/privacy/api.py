"""Privacy endpoints: record a request about a customer, follow it, approve and run an erasure,
download a copy of the data."""

from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.api.errors import ApiError
from guanxi.api.pagination import CursorParams, paginate
from guanxi.core.access import require
from guanxi.customers.models import Customer
from guanxi.privacy import actions
from guanxi.privacy.models import PrivacyRequest

router = Router(tags=["privacy"])


class PrivacyRequestIn(Schema):
    customer: int = Field(description="The customer the request is about.")
    kind: Literal["export", "erasure"] = Field(
        description="export: a copy of all their data (built at once, as a job); erasure: waits for approval."
    )
    note: str = Field("", max_length=300, description="How the person asked (a letter, a ticket number).")


class PrivacyRequestOut(Schema):
    id: int
    kind: str
    state: str = Field(description="received, approved, running, done, failed or rejected.")
    customer: int | None = Field(description="The customer's id (kept after erasure, without their data).")
    requested_at: datetime
    approved_at: datetime | None
    finished_at: datetime | None
    job: int | None = Field(description="The job building the export or erasing; GET /api/v1/jobs/{id}.")
    download_until: datetime | None = Field(description="A finished export can be downloaded until then.")
    counts: dict[str, int] = Field(description="Rows exported, or erased, per table.")


class PrivacyRequestPage(Schema):
    items: list[PrivacyRequestOut]
    next_cursor: str | None


def _out(item: PrivacyRequest) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "state": item.state,
        "customer": item.customer_id,
        "requested_at": item.requested_at,
        "approved_at": item.approved_at,
        "finished_at": item.finished_at,
        "job": item.job_id,
        "download_until": item.expires_at if item.file else None,
        "counts": item.counts,
    }


def _visible(request, request_id: int) -> PrivacyRequest:
    require(request, actions.REQUEST)
    return get_object_or_404(PrivacyRequest.objects.restrict(request.user, "request"), pk=request_id)


@router.get("/privacy/requests", response=PrivacyRequestPage, summary="Privacy requests the caller may see")
def list_requests(request, params: Query[CursorParams]):
    require(request, actions.REQUEST)
    rows = PrivacyRequest.objects.restrict(request.user, "request")
    page = paginate(rows, params, sort_field="id", descending=True)
    return {"items": [_out(item) for item in page.items], "next_cursor": page.next_cursor}


@router.post("/privacy/requests", response={201: PrivacyRequestOut}, summary="Record a privacy request")
def create_request(request, payload: PrivacyRequestIn):
    require(request, actions.REQUEST)
    customer = get_object_or_404(Customer.objects.restrict(request.user, "view"), pk=payload.customer)
    start = actions.request_export if payload.kind == "export" else actions.request_erasure
    item = start(customer, actor=request.user, note=payload.note)
    item.refresh_from_db()
    return Status(201, _out(item))


@router.get("/privacy/requests/{request_id}", response=PrivacyRequestOut, summary="One privacy request")
def get_request(request, request_id: int):
    return _out(_visible(request, request_id))


def _step(request, request_id: int, step) -> dict:
    require(request, actions.APPROVE)
    item = _visible(request, request_id)
    try:
        item = step(item, actor=request.user)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    item.refresh_from_db()
    return _out(item)


@router.post(
    "/privacy/requests/{request_id}/approve",
    response=PrivacyRequestOut,
    summary="Approve an erasure (by someone other than who recorded it)",
)
def approve_request(request, request_id: int):
    return _step(request, request_id, actions.approve)


@router.post(
    "/privacy/requests/{request_id}/run", response=PrivacyRequestOut, summary="Run an approved erasure"
)
def run_request(request, request_id: int):
    return _step(request, request_id, actions.run_erasure)


@router.get(
    "/privacy/requests/{request_id}/download",
    summary="Download the zip of a finished export (JSON and a CSV per table)",
    openapi_extra={"responses": {200: {"content": {"application/zip": {}}, "description": "The zip"}}},
)
def download_request(request, request_id: int):
    item = _visible(request, request_id)
    try:
        path = actions.export_file(item, actor=request.user, request=request)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"privacy-request-{item.pk}.zip")
