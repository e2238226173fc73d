"""Messaging endpoints: the outbox, queueing messages (one, or many as a job), a customer's history,
channels and their test send, templates and their preview, opt-outs and delivery statistics."""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts.models import BusinessUnit, User
from guanxi.api.errors import ApiError, problem_response
from guanxi.api.pagination import CursorParams, paginate
from guanxi.core.access import require
from guanxi.core.schemas import JobOut
from guanxi.customers.models import Consent, Customer
from guanxi.messaging import actions, fetch, previews
from guanxi.messaging.models import ChannelAccount, Medium, Message, Purpose, Template
from guanxi.messaging.rendering import Problem as TemplateProblem

router = Router(tags=["messaging"])
MAX_BULK = 100_000


class MessageOut(Schema):
    id: int
    created_at: datetime
    started_at: datetime | None
    medium: str
    purpose: str
    purpose_label: str
    state: str
    state_label: str
    reason: str = Field(description="Why it was held, dropped or failed: a code (see the user guide).")
    reason_label: str
    template: str
    subject: str
    body: str = Field(description="Empty for callers without the personal-data permission.")
    address: str = Field(description="Masked for callers without the personal-data permission.")
    source: str


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class OutboxParams(CursorParams):
    state: Message.State | None = None
    medium: Medium | None = None
    purpose: Purpose | None = None
    reason: str | None = Field(None, max_length=40)
    customer: int | None = None


class EnqueueIn(Schema):
    unit: int = Field(description="The sending business unit (its channels and policy apply).")
    purpose: Purpose
    send_key: str = Field(
        min_length=1, max_length=200, description="Your idempotency key (campaign step, ticket reply…)."
    )
    customer: int | None = None
    user: int | None = Field(None, description="A member of staff instead of a customer.")
    address: str = ""
    channel: Literal["best", "sms", "email", "wechat", "wecom", "webhook"] = "best"
    template: str = ""
    subject: str = Field("", max_length=300)
    body: str = Field("", max_length=5000)
    context: dict[str, Any] = Field(default_factory=dict)
    language: Literal["", "zh-hans", "en"] = ""
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    source: str = Field("", max_length=100)


class BulkIn(Schema):
    unit: int
    purpose: Purpose
    send_key: str = Field(min_length=1, max_length=200)
    customers: list[int] = Field(max_length=MAX_BULK)
    template: str = Field(min_length=1)
    channel: Literal["best", "sms", "email", "wechat"] = "best"
    context: dict[str, Any] = Field(default_factory=dict)
    scheduled_at: datetime | None = None
    source: str = Field("", max_length=100)


class ChannelOut(Schema):
    id: int
    unit_id: int
    name: str
    kind: str
    medium: str
    is_active: bool
    settings: dict[str, Any] = Field(description="Everything but the credentials, which are never returned.")


class TestIn(Schema):
    address: str = Field("", max_length=300)


class TestOut(Schema):
    ok: bool
    detail: str


class TemplateIn(Schema):
    key: str = Field(max_length=64)
    name: str = Field(max_length=100)
    medium: Medium
    purpose: Purpose
    unit: int | None = None
    provider_template: str = ""
    contents: dict[str, dict[str, Any]] = Field(
        description='{"zh-hans": {"subject": "", "body": "", "fields": {}}, "en": {...}}'
    )


class TemplateOut(Schema):
    id: int
    key: str
    name: str
    medium: str
    purpose: str
    unit_id: int | None
    version: int | None
    provider_template: str
    contents: dict[str, Any]


class PreviewIn(Schema):
    customer: int | None = Field(None, description="Fill with this customer's data (else the examples).")
    language: Literal["zh-hans", "en"] = "zh-hans"


class PreviewOut(Schema):
    subject: str
    body: str
    fields: dict[str, str]
    characters: int
    segments: int | None
    encoding: str


class OptOutIn(Schema):
    medium: Literal["sms", "email", "wechat"]
    customer: int | None = None
    address: str = ""
    scope: Literal["marketing", "all"] = "marketing"
    evidence: str = Field("", max_length=500)


class OptOutOut(Schema):
    customers: list[int]
    dropped: int


class StatisticsOut(Schema):
    days: list[str]
    series: dict[str, dict[str, list[int]]]
    totals: dict[str, dict[str, int]]
    reasons: list[dict[str, Any]]


def _unit(request, unit_id: int) -> BusinessUnit:
    unit = BusinessUnit.objects.restrict(request.user, "view").filter(pk=unit_id).first()
    if unit is None:
        raise ApiError(404, _("No such business unit, or you may not see it."))
    return unit


def _customer(request, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    customer = Customer.objects.restrict(request.user, "view").filter(pk=customer_id).first()
    if customer is None:
        raise ApiError(404, _("No such customer, or you may not see them."))
    return customer


def _invalid(error: ValidationError) -> ApiError:
    return ApiError(422, " ".join(error.messages))


@router.get("/messaging/messages", response=MessagePage, summary="The outbox, newest first, with filters")
def list_messages(request, params: Query[OutboxParams]):
    filters = {
        name: str(getattr(params, name) or "")
        for name in ("state", "medium", "purpose", "reason", "customer")
    }
    page = paginate(fetch.outbox(request.user, filters), params, sort_field="id", descending=True)
    return {
        "items": [vars(fetch.view_of(row, request.user)) for row in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/messaging/messages/{message_id}", response=MessageOut, summary="One message")
def get_message(request, message_id: int):
    row = get_object_or_404(
        Message.objects.restrict(request.user, "view").select_related("template"), pk=message_id
    )
    return vars(fetch.view_of(row, request.user))


@router.post(
    "/messaging/messages",
    response={200: MessageOut, 201: MessageOut},
    summary="Queue one message (the same send key returns the message already queued, with 200)",
)
def enqueue_message(request, payload: EnqueueIn):
    user = require(request, "messaging.add")
    unit = _unit(request, payload.unit)
    staff = None
    if payload.user is not None:
        staff = User.objects.filter(pk=payload.user, is_active=True).first()
        if staff is None:
            raise ApiError(404, _("No such user."))
    try:
        result = actions.enqueue_message(
            unit=unit,
            purpose=payload.purpose,
            send_key=payload.send_key,
            customer=_customer(request, payload.customer),
            user=staff,
            address=payload.address,
            channel=payload.channel,
            template=payload.template,
            subject=payload.subject,
            body=payload.body,
            context=payload.context,
            language=payload.language,
            scheduled_at=payload.scheduled_at,
            expires_at=payload.expires_at,
            source=payload.source or "api",
            actor=user,
        )
    except ValidationError as error:
        raise _invalid(error) from error
    return Status(201 if result.created else 200, vars(fetch.view_of(result.message, request.user)))


@router.post(
    "/messaging/messages/{message_id}/cancel", response=MessageOut, summary="Cancel a message not sent yet"
)
def cancel_message(request, message_id: int):
    row = get_object_or_404(Message.objects.restrict(request.user, "change"), pk=message_id)
    if not actions.cancel_message(row, actor=request.user):
        return problem_response(request, 409, _("The message is already being sent or finished."))
    row.refresh_from_db()
    return vars(fetch.view_of(row, request.user))


@router.post("/messaging/bulk-sends", response={202: JobOut}, summary="Queue a template for many customers")
def bulk_send(request, payload: BulkIn):
    user = require(request, "messaging.add")
    unit = _unit(request, payload.unit)
    visible = set(
        Customer.objects.restrict(user, "view").filter(pk__in=payload.customers).values_list("pk", flat=True)
    )
    if len(visible) != len(set(payload.customers)):
        raise ApiError(404, _("Some customers do not exist or you may not see them."))
    job = actions.start_bulk_send(
        unit=unit,
        customer_ids=sorted(visible),
        purpose=payload.purpose,
        send_key=payload.send_key,
        template=payload.template,
        channel=payload.channel,
        context=payload.context,
        scheduled_at=payload.scheduled_at,
        source=payload.source or "api",
        actor=user,
    )
    return Status(202, job)


@router.get(
    "/messaging/customers/{customer_id}/messages",
    response=list[MessageOut],
    summary="A customer's newest messages",
)
def customer_messages(request, customer_id: int):
    customer = get_object_or_404(Customer.objects.restrict(request.user, "view"), pk=customer_id)
    return [vars(view) for view in fetch.customer_history(request.user, customer)]


def _channel_out(channel: ChannelAccount) -> dict:
    return {
        "id": channel.pk,
        "unit_id": channel.unit_id,
        "name": channel.name,
        "kind": channel.kind,
        "medium": channel.medium,
        "is_active": channel.is_active,
        "settings": {key: value for key, value in channel.settings.items() if key != "ca_pem"},
    }


@router.get("/messaging/channels", response=list[ChannelOut], summary="Channel accounts (no credentials)")
def list_channels(request):
    return [_channel_out(channel) for channel in ChannelAccount.objects.restrict(request.user, "view")]


@router.post(
    "/messaging/channels/{channel_id}/test", response=TestOut, summary="Send a test message through a channel"
)
def test_channel(request, channel_id: int, payload: TestIn):
    channel = get_object_or_404(ChannelAccount.objects.restrict(request.user, "view"), pk=channel_id)
    user = require(request, "messaging.channels")
    result = actions.test_channel(channel, payload.address, actor=user)
    return {"ok": result.ok, "detail": result.detail}


def _template_out(template: Template) -> dict:
    version = template.current_version
    return {
        "id": template.pk,
        "key": template.key,
        "name": template.name,
        "medium": template.medium,
        "purpose": template.purpose,
        "unit_id": template.unit_id,
        "version": version.number if version else None,
        "provider_template": version.provider_template if version else "",
        "contents": version.contents if version else {},
    }


@router.get("/messaging/templates", response=list[TemplateOut], summary="Templates")
def list_templates(request):
    rows = Template.objects.restrict(request.user, "view").select_related("current_version")
    return [_template_out(row) for row in rows]


@router.post("/messaging/templates", response={201: TemplateOut}, summary="Create a template")
def create_template(request, payload: TemplateIn):
    user = require(request, "messaging.change")
    unit = _unit(request, payload.unit) if payload.unit is not None else None
    if unit is None and not user.sees_all_units():
        raise ApiError(
            403, _("Only group-wide roles create organisation-wide templates."), permission="messaging.change"
        )
    try:
        template = actions.save_template(
            key=payload.key,
            name=payload.name,
            medium=payload.medium,
            purpose=payload.purpose,
            contents=payload.contents,
            unit=unit,
            provider_template=payload.provider_template,
            actor=user,
        )
    except actions.TemplateProblemsError as error:
        return problem_response(
            request, 422, _("The template cannot be saved."), errors=[_problem(p) for p in error.problems]
        )
    except ValidationError as error:
        raise _invalid(error) from error
    return Status(201, _template_out(template))


def _problem(problem: TemplateProblem) -> dict[str, Any]:
    """A template problem in the documented errors shape (`loc`, `msg`, `type`), with `language`,
    `part` and `message` kept beside them for clients written against them."""
    if problem.part == "provider_template":
        loc = ["body", "provider_template"]
    elif problem.language:  # a part of one language's text
        loc = ["body", "contents", problem.language, *[step for step in problem.part.split(".") if step]]
    else:  # the contents as a whole
        loc = ["body", "contents"]
    return {"loc": loc, "msg": problem.message, "type": "template", **problem.as_dict()}


@router.post(
    "/messaging/templates/{template_id}/preview",
    response=PreviewOut,
    summary="Render a template for a customer",
)
def preview_template(request, template_id: int, payload: PreviewIn):
    template = get_object_or_404(
        Template.objects.restrict(request.user, "view").select_related("current_version"), pk=template_id
    )
    customer = _customer(request, payload.customer)
    try:
        preview = previews.preview(template, customer, payload.language, request.user)
    except ValidationError as error:
        raise _invalid(error) from error
    return vars(preview)


@router.post("/messaging/opt-outs", response=OptOutOut, summary="Record a customer's opt-out")
def record_opt_out(request, payload: OptOutIn):
    user = require(request, "customers.change")
    customer = _customer(request, payload.customer)
    if customer is None and not payload.address:
        raise ApiError(422, _("Name the customer or the address."))
    try:
        result = actions.opt_out(
            medium=payload.medium,
            address=payload.address,
            customer=customer,
            method=Consent.Method.API,
            scope=payload.scope,
            source="API",
            evidence=payload.evidence,
            unit=user.only_unit(),
            actor=user,
        )
    except ValidationError as error:
        raise _invalid(error) from error
    return {"customers": list(result.customers), "dropped": result.dropped}


@router.get("/messaging/statistics", response=StatisticsOut, summary="Messages per day and channel, by state")
def statistics(request, days: int = Query(30, ge=1, le=366)):  # type: ignore[type-arg]
    require(request, "messaging.view")
    figures = fetch.statistics(request.user, days)
    return {
        "days": [day.isoformat() for day in figures.days],
        "series": figures.series,
        "totals": figures.totals,
        "reasons": [{"code": code, "label": label, "count": count} for code, label, count in figures.reasons],
    }
