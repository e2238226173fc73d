"""The service API's shapes (in a module of their own so the customer 360 API can use its part)."""

from datetime import date, datetime

from ninja import Schema
from pydantic import Field


class CustomerTicketOut(Schema):
    id: int
    subject: str
    ticket_type: str
    priority: str
    status: str
    created_at: datetime
    resolved_at: datetime | None


class CustomerServiceOut(Schema):
    open_tickets: int
    csat: float | None = Field(description="Average CSAT score (1–5) the person gave, if any.")
    tickets: list[CustomerTicketOut]


class TicketOut(Schema):
    id: int
    unit_id: int
    customer_id: int | None
    subject: str
    ticket_type: str
    priority: str
    channel: str
    status: str
    status_label: str
    complaint_reason: str
    assignee_id: int | None
    order_ids: list[int]
    created_at: datetime
    updated_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    paused: bool = Field(description="Waiting on the customer: the SLA clocks stand still.")
    first_response_breached: bool
    resolution_breached: bool
    satisfaction: int | None
    actions: list[str] = Field(description="The transitions the ticket's state allows now.")


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class TicketIn(Schema):
    unit: int | None = Field(None, description="Required when the caller belongs to several units.")
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=20_000, description="What the customer said.")
    customer: int | None = None
    ticket_type: str = "inquiry"
    priority: str = "normal"
    channel: str = "api"
    complaint_reason: str = ""
    orders: list[int] = Field(default_factory=list, max_length=50)


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str = Field(description="The type found in the file's content, not the sender's claim.")
    size: int


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    actor_id: int | None
    text: str = Field(
        description="What was written (replies, notes, the customer's messages) or what happened."
    )
    created_at: datetime
    attachments: list[AttachmentOut] = Field(
        default_factory=list,
        description="Files kept on this entry; download each from …/attachments/{attachment_id}.",
    )
    refused_files: list[str] = Field(
        default_factory=list, description="Files a customer sent that were not kept, each with the reason."
    )


class TransitionIn(Schema):
    action: str = Field(description="start, wait, resume, resolve, close or reopen")
    note: str = Field("", max_length=5000)


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=20_000)
    wait: bool = Field(False, description="Then wait on the customer (the SLA clocks pause).")


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=20_000)


class AssignIn(Schema):
    assignee: int | None = Field(description="A user of the ticket's unit; null puts it back in the queue.")


class TransferIn(Schema):
    to_unit: int
    reason: str = Field("", max_length=300)


class TransferOut(Schema):
    id: int
    ticket_id: int
    from_unit_id: int
    to_unit_id: int
    state: str
    source_approved: bool
    target_approved: bool


class PolicyOut(Schema):
    ticket_type: str
    priority: str
    first_response_minutes: int
    resolution_minutes: int
    is_default: bool


class PolicyIn(Schema):
    ticket_type: str
    priority: str
    first_response_minutes: int = Field(gt=0, le=525_600)
    resolution_minutes: int = Field(gt=0, le=525_600)


class HolidayOut(Schema):
    day: date
    is_day_off: bool
    name: str


class NpsIn(Schema):
    unit: int
    customers: list[int] = Field(max_length=10_000)
    round: str = Field(
        "",
        max_length=60,
        description="Name of this send; customers already invited in the same round are skipped.",
    )


class AgentStatsOut(Schema):
    user_id: int
    name: str
    assigned: int
    open: int
    resolved: int
    first_response_met: float | None
    resolution_met: float | None
    avg_first_response_minutes: float | None
    csat: float | None


class IndexPointOut(Schema):
    month: str
    answers: int
    index: float | None = Field(description="Share of CSAT answers scoring 4 or 5, in percent.")
    average: float | None
    nps: float | None


class ReportOut(Schema):
    volume_by_type: dict[str, int]
    volume_by_channel: dict[str, int]
    complaint_reasons: dict[str, int]
    first_response_met: float | None
    resolution_met: float | None
    agents: list[AgentStatsOut]
    satisfaction_index: list[IndexPointOut]
