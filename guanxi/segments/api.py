"""Segment endpoints: count preview and sample of a rule, CRUD, members, refresh, static lists, bulk tags.

A rule that cannot be used answers 422 with `errors: [{"path": "root.all[2].value", "message": …}]`;
a count that runs too long answers 503 instead of holding the worker.
"""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError, problem_response
from guanxi.api.pagination import CursorParams, paginate
from guanxi.core import exports
from guanxi.core.access import require
from guanxi.core.privacy import mask_value
from guanxi.core.schemas import JobOut
from guanxi.customers.models import Customer, Tag
from guanxi.segments import actions, rules
from guanxi.segments.audience import QueryTimeoutError, count_preview, sample
from guanxi.segments.fetch import members_table
from guanxi.segments.jobs import start_tag_members
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.segments.sentence import describe, names_for

router = Router(tags=["segments"])


class RuleIn(Schema):
    rule: dict[str, Any] = Field(description="The rule tree: {version: 1, root: {...}} (see the user guide).")
    unit: int | None = Field(None, description="Count as this business unit's segment would.")


class PreviewOut(Schema):
    count: int
    sentence: str


class SampleCustomer(Schema):
    id: int
    name: str
    gender: str
    province: str
    city: str
    pii_masked: bool


class SegmentIn(Schema):
    name: str = Field(max_length=120)
    description: str = ""
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: dict[str, Any] | None = None
    unit: int | None = None


class SegmentPatch(Schema):
    name: str | None = Field(None, max_length=120)
    description: str | None = None
    rule: dict[str, Any] | None = None


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    rule: dict[str, Any]
    schema_version: int
    sentence: str
    unit_id: int | None
    owner_id: int | None
    member_count: int | None
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(Schema):
    items: list[SegmentOut]
    next_cursor: str | None


class MemberOut(Schema):
    customer_id: int
    name: str
    entered_at: datetime
    exited_at: datetime | None


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class MemberParams(CursorParams):
    history: bool = Field(False, description="Include past stays (with exited_at), not only current members.")


class RefreshOut(Schema):
    members: int
    entered: int
    exited: int


class MembersChange(Schema):
    add: list[int] = Field(default_factory=list, max_length=1000)
    remove: list[int] = Field(default_factory=list, max_length=1000)


class MembersChanged(Schema):
    added: int
    removed: int


class UnmatchedRow(Schema):
    row: int
    value: str = Field(description="Masked.")
    reason: str


class ListReportOut(Schema):
    rows: int
    matched: int
    added: int
    unmatched: list[UnmatchedRow]


class TagIn(Schema):
    tag: int | None = Field(None, description="Required.")
    remove: bool = False
    background: bool = Field(
        False, description="Run as a background job and answer 202 with it (for large segments)."
    )


class TagOut(Schema):
    changed: int


def _rule_problem(request, error: rules.RuleError):
    """422 with one entry per problem in the documented shape (loc, msg, type), keeping the rule's
    own `path` and `message` beside them for the clients that read those."""
    return problem_response(
        request,
        422,
        _("The rule cannot be used."),
        errors=[
            {"loc": ["body", "rule", p.path], "msg": p.message, "type": "rule", **p.as_dict()}
            for p in error.problems
        ],
    )


def _unit(request, unit_id: int | None):
    if unit_id is None:
        return None
    unit = BusinessUnit.objects.restrict(request.user, "view").filter(pk=unit_id).first()
    if unit is None:
        raise ApiError(404, _("No such business unit, or you may not see it."))
    return unit


def _segment_out(segment: Segment, user) -> dict:
    parsed = rules.parse_rule(segment.rule)
    return {
        **{name: getattr(segment, name) for name in SegmentOut.model_fields if name != "sentence"},
        "sentence": describe(parsed, names_for(parsed, user)),
    }


def _visible(request, segment_id: int, action: str = "view") -> Segment:
    return get_object_or_404(Segment.objects.restrict(request.user, action), pk=segment_id)


@router.post("/segments/preview", response=PreviewOut, summary="Count the customers a rule selects")
def preview_segment(request, payload: RuleIn):
    require(request, "segments.view")
    try:
        rule = rules.parse_rule(payload.rule)
        count = count_preview(request.user, rule, unit=_unit(request, payload.unit))
    except rules.RuleError as error:
        return _rule_problem(request, error)
    except QueryTimeoutError as error:
        return problem_response(request, 503, str(error))
    return {"count": count, "sentence": describe(rule, names_for(rule, request.user))}


@router.post("/segments/sample", response=list[SampleCustomer], summary="A few customers a rule selects")
def sample_segment(request, payload: RuleIn):
    require(request, "segments.view")
    try:
        rule = rules.parse_rule(payload.rule)
        customers = sample(request.user, rule, unit=_unit(request, payload.unit))
    except rules.RuleError as error:
        return _rule_problem(request, error)
    except QueryTimeoutError as error:
        return problem_response(request, 503, str(error))
    return [_sample_row(customer, request.user) for customer in customers]


def _sample_row(customer: Customer, user) -> dict:
    masked = not user.has_permission("pii.view")
    return {
        "id": customer.pk,
        "name": mask_value(customer.name, "name") if masked else customer.name,
        "gender": customer.gender,
        "province": customer.province,
        "city": customer.city,
        "pii_masked": masked,
    }


@router.get("/segments", response=SegmentPage, summary="Segments the caller may see")
def list_segments(request, params: Query[CursorParams]):
    page = paginate(Segment.objects.restrict(request.user, "view"), params, sort_field="id", descending=True)
    return {"items": [_segment_out(s, request.user) for s in page.items], "next_cursor": page.next_cursor}


@router.post("/segments", response={201: SegmentOut}, summary="Create a segment")
def create_segment(request, payload: SegmentIn):
    try:
        segment = actions.create_segment(
            actor=request.user,
            name=payload.name,
            description=payload.description,
            kind=payload.kind,
            rule=payload.rule if payload.rule is not None else rules.everyone().to_json(),
            unit=_unit(request, payload.unit),
        )
    except rules.RuleError as error:
        return _rule_problem(request, error)
    except ValidationError as error:
        raise ApiError(400, " ".join(error.messages)) from error
    return Status(201, _segment_out(segment, request.user))


@router.get("/segments/{segment_id}", response=SegmentOut, summary="One segment")
def get_segment(request, segment_id: int):
    return _segment_out(_visible(request, segment_id), request.user)


@router.patch(
    "/segments/{segment_id}", response=SegmentOut, summary="Change a segment's name, description or rule"
)
def update_segment(request, segment_id: int, payload: SegmentPatch):
    segment = _visible(request, segment_id, "change")
    changes = payload.model_dump(exclude_none=True)
    try:
        segment = actions.update_segment(segment, actor=request.user, **changes)
    except rules.RuleError as error:
        return _rule_problem(request, error)
    except ValidationError as error:
        raise ApiError(400, " ".join(error.messages)) from error
    return _segment_out(segment, request.user)


@router.delete("/segments/{segment_id}", response={204: None}, summary="Delete a segment")
def delete_segment(request, segment_id: int):
    segment = _visible(request, segment_id, "delete")
    try:
        actions.delete_segment(segment, actor=request.user)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    return Status(204, None)


@router.get("/segments/{segment_id}/members", response=MemberPage, summary="Members (or membership history)")
def list_members(request, segment_id: int, params: Query[MemberParams]):
    segment = _visible(request, segment_id)
    rows = SegmentMembership.objects.restrict(request.user, "view").filter(segment=segment)
    if not params.history:
        rows = rows.filter(exited_at__isnull=True)
    page = paginate(rows.select_related("customer"), params, sort_field="id", descending=True)
    masked = not request.user.has_permission("pii.view")
    return {
        "items": [
            {
                "customer_id": row.customer_id,
                "name": mask_value(row.customer.name, "name") if masked else row.customer.name,
                "entered_at": row.entered_at,
                "exited_at": row.exited_at,
            }
            for row in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@router.post("/segments/{segment_id}/refresh", response=RefreshOut, summary="Recompute the membership now")
def refresh_segment(request, segment_id: int):
    segment = _visible(request, segment_id, "change")
    result = actions.refresh_segment(segment, actor=request.user)
    return {"members": result.members, "entered": result.entered, "exited": result.exited}


@router.post(
    "/segments/{segment_id}/members", response=MembersChanged, summary="Add or remove customers (static)"
)
def change_members(request, segment_id: int, payload: MembersChange):
    segment = _visible(request, segment_id, "change")
    try:
        added = actions.add_to_static(segment, payload.add, actor=request.user) if payload.add else 0
        removed = (
            actions.remove_from_static(segment, payload.remove, actor=request.user) if payload.remove else 0
        )
    except ValidationError as error:
        raise ApiError(400, " ".join(error.messages)) from error
    return {"added": added, "removed": removed}


@router.post(
    "/segments/{segment_id}/list",
    response=ListReportOut,
    summary="Add customers from a CSV of phones, emails or ids",
)
def upload_list(request, segment_id: int, file: File[UploadedFile | None] = None):
    segment = _visible(request, segment_id, "change")
    if file is None:
        raise ApiError(422, _("Attach the CSV file as `file`."))
    try:
        report = actions.add_contacts_to_static(segment, file.read(), actor=request.user)
    except ValidationError as error:
        raise ApiError(400, " ".join(error.messages)) from error
    return report.__dict__


@router.post(
    "/segments/{segment_id}/tag",
    response={200: TagOut, 202: JobOut},
    summary="Add or remove a tag on every member, now or as a background job",
)
def tag_members(request, segment_id: int, payload: TagIn):
    segment = _visible(request, segment_id)
    if payload.tag is None:
        raise ApiError(422, _("Name the tag to add or remove."))
    tag = get_object_or_404(Tag.objects.restrict(request.user, "view"), pk=payload.tag)
    user = require(request, "customers.change")
    if payload.background:
        return Status(202, start_tag_members(segment, tag, actor=user, remove=payload.remove))
    return {"changed": actions.tag_members(segment, tag, actor=user, remove=payload.remove)}


@router.get(
    "/segments/{segment_id}/export", summary="Download the members as CSV or XLSX (needs data.export)"
)
def export_members(request, segment_id: int, format: Literal["csv", "xlsx"] = "csv"):
    segment = _visible(request, segment_id)
    return exports.export_table(request, members_table(request.user, segment), format, unit=segment.unit)
