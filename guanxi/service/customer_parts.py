"""What service adds to a customer: its references (a merge moves tickets, follow-ups and surveys to the
survivor), ticket openings and resolutions on the timeline, and the Service section of the 360 page and
API (open tickets first, the latest closed ones, the satisfaction they gave).

Every read goes through `restrict(user, "view")`: a unit sees only its own tickets.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Case, When
from django.utils.translation import gettext

from guanxi.customers.references import (
    ApiPart,
    Repoint,
    Section,
    register_reference,
    register_section,
    register_timeline_source,
)
from guanxi.customers.timeline import TimelineItem
from guanxi.service.models import OPEN_STATUSES, FollowUp, Survey, Ticket

RECENT = 10
OPENED_KIND = "ticket_opened"
RESOLVED_KIND = "ticket_resolved"


@dataclass(frozen=True)
class CustomerService:
    """The 360 page's Service section."""

    customer_id: int
    tickets: tuple[Ticket, ...]
    open_count: int
    csat: float | None
    may_add: bool

    @property
    def is_empty(self) -> bool:
        return not self.tickets


def fetch_customer_service(user: Any, customer: Any) -> CustomerService:
    """Three queries: the latest tickets (open first), how many are open, the average CSAT answered."""
    tickets = Ticket.objects.restrict(user, "view").filter(customer=customer)
    latest = tuple(
        tickets.select_related("assignee").order_by(
            Case(When(status__in=OPEN_STATUSES, then=0), default=1), "-created_at", "-pk"
        )[:RECENT]
    )
    csat = (
        Survey.objects.restrict(user, "view")
        .filter(customer=customer, kind=Survey.Kind.CSAT, answered_at__isnull=False)
        .aggregate(avg=Avg("score"))["avg"]
    )
    return CustomerService(
        customer_id=customer.pk,
        tickets=latest,
        open_count=tickets.filter(status__in=OPEN_STATUSES).count(),
        csat=round(float(csat), 2) if csat is not None else None,
        may_add=user.has_permission("service.add"),
    )


def service_for_api(user: Any, customer: Any) -> dict:
    value = fetch_customer_service(user, customer)
    return {
        "open_tickets": value.open_count,
        "csat": value.csat,
        "tickets": [
            {
                "id": t.pk,
                "subject": t.subject,
                "ticket_type": t.ticket_type,
                "priority": t.priority,
                "status": t.status,
                "created_at": t.created_at,
                "resolved_at": t.resolved_at,
            }
            for t in value.tickets
        ],
    }


def timeline_items(customer: Any, user: Any, limit: int) -> list[TimelineItem]:
    """Tickets opened and resolved that `user` may see, newest first."""
    tickets = list(
        Ticket.objects.restrict(user, "view").filter(customer=customer).order_by("-created_at", "-pk")[:limit]
    )
    items = []
    for ticket in tickets:
        data = {"subject": ticket.subject, "type": ticket.get_ticket_type_display()}
        items.append(
            TimelineItem(
                occurred_at=ticket.created_at,
                kind=OPENED_KIND,
                summary=gettext("Ticket opened (%(type)s): %(subject)s") % data,
                unit_id=ticket.unit_id,
                data={"ticket": ticket.pk},
                source_type="service.ticket",
                source_id=str(ticket.pk),
            )
        )
        if ticket.resolved_at is not None:
            items.append(
                TimelineItem(
                    occurred_at=ticket.resolved_at,
                    kind=RESOLVED_KIND,
                    summary=gettext("Ticket resolved: %(subject)s") % data,
                    unit_id=ticket.unit_id,
                    data={"ticket": ticket.pk},
                    source_type="service.ticket",
                    source_id=str(ticket.pk),
                )
            )
    return sorted(items, key=lambda item: item.occurred_at, reverse=True)[:limit]


def register() -> None:
    register_personal_data()
    from guanxi.service.schemas import CustomerServiceOut

    register_reference("service_tickets", Ticket, Repoint())
    register_reference("service_follow_ups", FollowUp, Repoint())
    register_reference("service_surveys", Survey, Repoint())
    register_timeline_source("service", timeline_items)
    register_section(
        Section(
            key="service",
            template="service/customer_service.html",
            kpi_template="service/customer_kpis.html",
            fetch=fetch_customer_service,
            api=ApiPart(
                CustomerServiceOut,
                "Service tickets about the person that the caller may see, open first, and their average CSAT.",
                service_for_api,
            ),
        )
    )


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import Blank, DeleteRows, NotPersonal, Scrub, register_pii
    from guanxi.service.models import (
        Attachment,
        CannedReply,
        FollowUp,
        Holiday,
        InboundEmail,
        ServiceSettings,
        Ticket,
        TicketEvent,
    )

    register_pii(Ticket, ["subject", "email_address", "email_message_id"], Blank())
    register_pii(Ticket, ["subject", "email_address"], Scrub())
    register_pii(TicketEvent, ["body", "data", "message_id"], Blank(customer="ticket__customer"))
    register_pii(TicketEvent, ["body", "data"], Scrub())
    # The files (a parcel's photo shows its label) go with their rows; other tickets' file names are scrubbed.
    register_pii(Attachment, ["name"], DeleteRows(customer="ticket__customer"))
    register_pii(Attachment, ["name"], Scrub())
    register_pii(Attachment, ["content_type"], NotPersonal("The kind of file (image/png)."))
    register_pii(FollowUp, ["notes"], Blank())
    register_pii(FollowUp, ["notes"], Scrub())
    register_pii(
        InboundEmail, ["message_id", "recipient"], NotPersonal("A mail's id and the unit's own address.")
    )
    register_pii(CannedReply, ["body_zh", "body_en"], NotPersonal("A reply template's wording."))
    register_pii(Holiday, ["name"], NotPersonal("A holiday's name."))
    register_pii(ServiceSettings, ["support_address"], NotPersonal("The unit's own support address."))
