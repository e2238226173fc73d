"""Drill-down: the customers, orders or tickets behind one row of a report, as a table (shown and
exported alike). Names are masked without the PII permission, as on every other list."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from guanxi.commerce.models import Order
from guanxi.core.display import label_of
from guanxi.core.exports import Table
from guanxi.customers.fetch import Masker
from guanxi.customers.models import Customer
from guanxi.sales.models import Opportunity
from guanxi.service import fetch as service_fetch
from guanxi.service.models import Status, TicketType

LIMIT = 500  # rows listed and exported; the count above the table is the full one


@dataclass(frozen=True)
class Drilled:
    table: Table
    links: tuple[str, ...]  # the page of each row's customer, order or ticket
    total: int


def drill(kind: str, user, rows: QuerySet, name: str, title: str) -> Drilled:
    kinds = {"customers": _customers, "orders": _orders, "tickets": _tickets, "opportunities": _opportunities}
    return kinds[kind](user, rows, name, title)


def _customers(user, rows: QuerySet, name: str, title: str) -> Drilled:
    ids = rows.values("customer_id")
    customers = Customer.objects.restrict(user, "view").filter(pk__in=ids).order_by("pk")
    total = customers.count()
    mask = Masker(user)
    shown = list(customers[:LIMIT])
    return Drilled(
        Table(
            name,
            title,
            (_("Customer"), _("Name"), _("Province"), _("City"), _("Source channel")),
            tuple((c.pk, mask(c.name), c.province, c.city, c.source_channel) for c in shown),
        ),
        tuple(reverse("customers:customer", args=[c.pk]) for c in shown),
        total,
    )


def _orders(user, rows: QuerySet, name: str, title: str) -> Drilled:
    orders = (
        Order.objects.restrict(user, "view")
        .filter(pk__in=rows.values("order_id"))
        .select_related("store")
        .order_by("-placed_at", "-pk")
    )
    total = orders.count()
    shown = list(orders[:LIMIT])
    return Drilled(
        Table(
            name,
            title,
            (_("Order number"), _("Placed at"), _("Store"), _("Customer"), _("Total"), _("Refunded")),
            tuple(
                (o.number, o.placed_at, o.store.name, o.customer_id, o.total_amount, o.refunded_amount)
                for o in shown
            ),
        ),
        tuple(reverse("commerce:order", args=[o.pk]) for o in shown),
        total,
    )


def _tickets(user, rows: QuerySet, name: str, title: str) -> Drilled:
    tickets = (
        service_fetch.tickets(user)
        .filter(pk__in=rows.values("pk"))
        .select_related("assignee")
        .order_by("-pk")
    )
    total = tickets.count()
    shown = list(tickets[:LIMIT])
    return Drilled(
        Table(
            name,
            title,
            (_("Ticket"), _("Opened"), _("Type"), _("Status"), _("Agent"), _("Customer"), _("Satisfaction")),
            tuple(
                (
                    t.pk,
                    t.created_at,
                    label_of(TicketType, t.ticket_type),
                    label_of(Status, t.status),
                    t.assignee.username if t.assignee else "",
                    t.customer_id,
                    t.satisfaction,
                )
                for t in shown
            ),
        ),
        tuple(reverse("service:ticket", args=[t.pk]) for t in shown),
        total,
    )


def _opportunities(user, rows: QuerySet, name: str, title: str) -> Drilled:
    opportunities = (
        Opportunity.objects.restrict(user, "view")
        .filter(pk__in=rows.values("pk"))
        .select_related("stage", "owner")
        .order_by("-amount", "-pk")
    )
    total = opportunities.count()
    shown = list(opportunities[:LIMIT])
    return Drilled(
        Table(
            name,
            title,
            (_("Opportunity"), _("Stage"), _("Owner"), _("Amount"), _("Expected close"), _("Closed")),
            tuple(
                (
                    o.name,
                    o.stage.name,
                    o.owner.shown_name if o.owner else "",
                    o.amount,
                    o.expected_close,
                    o.closed_at,
                )
                for o in shown
            ),
        ),
        tuple(reverse("sales:opportunity", args=[o.pk]) for o in shown),
        total,
    )
