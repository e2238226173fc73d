"""Service endpoints: tickets (list with filters, open, read, history), their transitions, replies, notes,
assignment and cross-unit transfers; SLA policies and the holiday calendar; NPS surveys; the service
report with the per-agent statistics and the satisfaction index."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, UploadedFile
from ninja.responses import Status as HttpStatus
from pydantic import Field

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError
from guanxi.api.pagination import CursorParams, paginate
from guanxi.commerce.models import Order
from guanxi.core.access import require
from guanxi.customers.models import Customer
from guanxi.service import actions, attachments, fetch
from guanxi.service.models import Attachment, Priority, Ticket, TicketChannel, TicketType, Transfer
from guanxi.service.schemas import (
    AssignIn,
    EventOut,
    HolidayOut,
    NoteIn,
    NpsIn,
    PolicyIn,
    PolicyOut,
    ReplyIn,
    ReportOut,
    TicketIn,
    TicketOut,
    TicketPage,
    TransferIn,
    TransferOut,
    TransitionIn,
)

router = Router(tags=["service"])
VIEW, ADD, CHANGE = "service.view", "service.add", "service.change"


class TicketParams(CursorParams):
    status: str | None = Field(None, description="A status, or `open` for every open one.", max_length=16)
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    channel: TicketChannel | None = None
    assignee: str | None = Field(None, description="A user id, `me` or `none`.", max_length=20)
    customer: int | None = None
    unit: int | None = None
    breached: bool = False


def _out(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "unit_id": ticket.unit_id,
        "customer_id": ticket.customer_id,
        "subject": ticket.subject,
        "ticket_type": ticket.ticket_type,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "status": ticket.status,
        "status_label": ticket.get_status_display(),
        "complaint_reason": ticket.complaint_reason,
        "assignee_id": ticket.assignee_id,
        "order_ids": [link.order_id for link in ticket.order_links.all()],
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "assigned_at": ticket.assigned_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "first_response_due": ticket.first_response_due,
        "resolution_due": ticket.resolution_due,
        "paused": ticket.paused_at is not None,
        "first_response_breached": ticket.first_response_breached_at is not None,
        "resolution_breached": ticket.resolution_breached_at is not None,
        "satisfaction": ticket.satisfaction,
        "actions": actions.allowed_transitions(ticket),
    }


def _invalid(error: ValidationError) -> ApiError:
    return ApiError(422, " ".join(error.messages))


def _unit(request, unit_id: int | None, action: str = "view") -> BusinessUnit:
    units = BusinessUnit.objects.restrict(request.user, "view").filter(is_active=True)
    if unit_id is None:
        found = list(units[:2])
        if len(found) != 1:
            raise ApiError(422, _("Say which business unit."))
        return found[0]
    unit = units.filter(pk=unit_id).first()
    if unit is None:
        raise ApiError(404, _("No such business unit, or you may not see it."))
    return unit


def _ticket(request, ticket_id: int, action: str = "view") -> Ticket:
    ticket = (
        fetch.tickets(request.user, action).select_related("unit", "customer").filter(pk=ticket_id).first()
    )
    if ticket is None:
        raise ApiError(404, _("No such ticket, or you may not see it."))
    return ticket


@router.get(
    "/service/tickets", response=TicketPage, summary="Tickets you may see, newest first, with filters"
)
def list_tickets(request, params: Query[TicketParams]):
    require(request, VIEW)
    filters = fetch.TicketFilters(
        status=params.status or "",
        ticket_type=params.ticket_type or "",
        priority=params.priority or "",
        channel=params.channel or "",
        assignee=params.assignee or "",
        customer=params.customer,
        unit=params.unit,
        breached=params.breached,
    )
    rows = fetch.ticket_list(request.user, filters).prefetch_related("order_links")
    page = paginate(rows, params, sort_field="created_at", descending=True)
    return {"items": [_out(t) for t in page.items], "next_cursor": page.next_cursor}


@router.post("/service/tickets", response={201: TicketOut}, summary="Open a ticket")
def open_ticket(request, payload: TicketIn):
    user = require(request, ADD)
    unit = _unit(request, payload.unit)
    customer = None
    if payload.customer is not None:
        customer = Customer.objects.restrict(user, "view").filter(pk=payload.customer).first()
        if customer is None:
            raise ApiError(404, _("No such customer, or you may not see them."))
    orders = list(Order.objects.restrict(user, "view").filter(pk__in=payload.orders))
    if len(orders) != len(set(payload.orders)):
        raise ApiError(404, _("No such order, or you may not see it."))
    try:
        ticket = actions.open_ticket(
            actor=user,
            unit=unit,
            subject=payload.subject,
            customer=customer,
            ticket_type=payload.ticket_type,
            priority=payload.priority,
            channel=payload.channel,
            body=payload.body,
            orders=orders,
            complaint_reason=payload.complaint_reason,
        )
    except ValidationError as error:
        raise _invalid(error) from error
    return HttpStatus(201, _out(ticket))


@router.get("/service/tickets/{ticket_id}", response=TicketOut, summary="One ticket")
def get_ticket(request, ticket_id: int):
    require(request, VIEW)
    return _out(_ticket(request, ticket_id))


@router.get(
    "/service/tickets/{ticket_id}/events",
    response=list[EventOut],
    summary="A ticket's conversation and history",
)
def ticket_events(request, ticket_id: int):
    require(request, VIEW)
    return [_event_out(event) for event in fetch.conversation(_ticket(request, ticket_id))]


def _event_out(view: fetch.EventView) -> dict:
    return vars(view) | {
        "attachments": [
            {"id": f.pk, "name": f.name, "content_type": f.content_type, "size": f.size} for f in view.files
        ]
    }


def _entry(ticket: Ticket, event_id: int) -> dict:
    return _event_out(next(e for e in fetch.conversation(ticket) if e.id == event_id))


@router.post(
    "/service/tickets/{ticket_id}/transitions", response=TicketOut, summary="Move a ticket along its process"
)
def move_ticket(request, ticket_id: int, payload: TransitionIn):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    if payload.action not in actions.TRANSITIONS:
        raise ApiError(422, _("Unknown action."))
    try:
        ticket = actions.transition(ticket, payload.action, actor=user, note=payload.note)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    return _out(ticket)


@router.post(
    "/service/tickets/{ticket_id}/replies", response={201: EventOut}, summary="Reply to the customer"
)
def reply(request, ticket_id: int, payload: ReplyIn):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    try:
        event = actions.reply(ticket, payload.body, actor=user, wait=payload.wait)
    except ValidationError as error:
        raise _invalid(error) from error
    return HttpStatus(201, _entry(ticket, event.pk))


@router.post("/service/tickets/{ticket_id}/notes", response={201: EventOut}, summary="Add an internal note")
def note(request, ticket_id: int, payload: NoteIn):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    event = actions.add_note(ticket, payload.body, actor=user)
    return HttpStatus(201, _entry(ticket, event.pk))


@router.post(
    "/service/tickets/{ticket_id}/attachments",
    response={201: EventOut},
    summary="Add an internal note with files (multipart: `files`, optional `body`)",
)
def attach(request, ticket_id: int, files: File[list[UploadedFile] | None] = None, body: Form[str] = ""):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    if not files:
        raise ApiError(422, _("Attach the files as `files`."))
    try:
        event = actions.add_note(ticket, body, actor=user, files=attachments.read_uploads(files))
    except ValidationError as error:
        raise _invalid(error) from error
    return HttpStatus(201, _entry(ticket, event.pk))


@router.get(
    "/service/tickets/{ticket_id}/attachments/{attachment_id}",
    response={200: None},
    summary="Download a file kept on a ticket",
)
def download_attachment(request, ticket_id: int, attachment_id: int):
    require(request, VIEW)
    row = Attachment.objects.filter(pk=attachment_id, ticket=_ticket(request, ticket_id)).first()
    if row is None:
        raise ApiError(404, _("No such file on this ticket."))
    response = FileResponse(row.file.open("rb"), as_attachment=True, filename=row.name)
    response["Content-Type"] = row.content_type
    return response


@router.post(
    "/service/tickets/{ticket_id}/assign", response=TicketOut, summary="Assign or put back in the queue"
)
def assign(request, ticket_id: int, payload: AssignIn):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    assignee = None
    if payload.assignee is not None:
        assignee = actions.agents(ticket.unit).filter(pk=payload.assignee).first()
        if assignee is None:
            raise ApiError(422, _("Choose an agent of the unit."))
    try:
        ticket = actions.assign(ticket, assignee, actor=user)
    except ValidationError as error:
        raise _invalid(error) from error
    return _out(ticket)


def _transfer_out(transfer: Transfer) -> dict:
    return {
        "id": transfer.pk,
        "ticket_id": transfer.ticket_id,
        "from_unit_id": transfer.from_unit_id,
        "to_unit_id": transfer.to_unit_id,
        "state": transfer.state,
        "source_approved": transfer.source_approved_by_id is not None,
        "target_approved": transfer.target_approved_by_id is not None,
    }


@router.post(
    "/service/tickets/{ticket_id}/transfers",
    response={201: TransferOut},
    summary="Ask to transfer a ticket to another unit",
)
def request_transfer(request, ticket_id: int, payload: TransferIn):
    user = require(request, CHANGE)
    ticket = _ticket(request, ticket_id, "change")
    target = BusinessUnit.objects.filter(pk=payload.to_unit, is_active=True).first()
    if target is None:
        raise ApiError(404, _("No such business unit."))
    try:
        transfer = actions.request_transfer(ticket, target, actor=user, reason=payload.reason)
    except ValidationError as error:
        raise _invalid(error) from error
    return HttpStatus(201, _transfer_out(transfer))


def _transfer(request, transfer_id: int) -> Transfer:
    transfer = Transfer.objects.restrict(request.user, "view").filter(pk=transfer_id).first()
    if transfer is None:
        raise ApiError(404, _("No such transfer, or you may not see it."))
    return transfer


@router.post(
    "/service/transfers/{transfer_id}/approve",
    response=TransferOut,
    summary="Agree to a transfer for your unit's side",
)
def approve_transfer(request, transfer_id: int):
    user = require(request, CHANGE)
    try:
        transfer = actions.approve_transfer(_transfer(request, transfer_id), actor=user)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    return _transfer_out(transfer)


@router.post("/service/transfers/{transfer_id}/reject", response=TransferOut, summary="Refuse a transfer")
def reject_transfer(request, transfer_id: int):
    user = require(request, CHANGE)
    try:
        transfer = actions.reject_transfer(_transfer(request, transfer_id), actor=user)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from error
    return _transfer_out(transfer)


@router.get("/service/policies", response=list[PolicyOut], summary="A unit's SLA targets (business minutes)")
def list_policies(request, unit: int | None = None):
    require(request, VIEW)
    return [vars(row) for row in fetch.policies(_unit(request, unit))]


@router.put(
    "/service/units/{unit_id}/policies",
    response=PolicyOut,
    summary="Set a unit's SLA targets of a type and priority",
)
def save_policy(request, unit_id: int, payload: PolicyIn):
    user = require(request, CHANGE)
    unit = _unit(request, unit_id)
    try:
        policy = actions.save_policy(
            unit,
            actor=user,
            ticket_type=payload.ticket_type,
            priority=payload.priority,
            first_response=payload.first_response_minutes,
            resolution=payload.resolution_minutes,
        )
    except ValidationError as error:
        raise _invalid(error) from error
    return {
        "ticket_type": policy.ticket_type,
        "priority": policy.priority,
        "first_response_minutes": policy.first_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "is_default": False,
    }


@router.get(
    "/service/holidays", response=list[HolidayOut], summary="A unit's days off and adjusted working days"
)
def list_holidays(
    request,
    unit: int | None = None,
    year: int | None = Query(None, ge=1, le=9999),  # a calendar year
):
    require(request, VIEW)
    return [
        {"day": row.day, "is_day_off": row.is_day_off, "name": row.name}
        for row in fetch.calendar_days(_unit(request, unit), year)
    ]


@router.post("/service/nps-surveys", response={202: dict}, summary="Send an NPS survey to customers")
def send_nps(request, payload: NpsIn):
    user = require(request, CHANGE)
    unit = _unit(request, payload.unit)
    customers = list(Customer.objects.restrict(user, "view").filter(pk__in=payload.customers))
    if len(customers) != len(set(payload.customers)):
        raise ApiError(404, _("No such customer, or you may not see them."))
    return HttpStatus(202, {"sent": actions.send_nps(unit, customers, actor=user, round_name=payload.round)})


@router.get(
    "/service/report", response=ReportOut, summary="Service figures: volume, SLA, agents, satisfaction index"
)
def service_report(
    request, unit: int | None = None, since: datetime | None = None, until: datetime | None = None
):
    require(request, VIEW)
    until = until or timezone.now()
    since = since or until - timedelta(days=90)
    unit_id = _unit(request, unit).pk if unit is not None else None
    return fetch.report(request.user, unit_id=unit_id, since=since, until=until)
