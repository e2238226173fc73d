"""The demo's B2B sales: leads in every state, a pipeline per unit with deals in every stage, won deals
with their orders, stale deals flagged, an inactive rep, and the sales rep's day planned."""

import pytest
from django.urls import reverse

from guanxi.accounts.models import User
from guanxi.commerce.models import Order, OrderLine
from guanxi.customers.models import Customer
from guanxi.demo.loader import DEFAULT_SEED, REFERENCE_ANCHOR, load_demo
from guanxi.demo.sales import load_sales_demo
from guanxi.sales.fetch import my_day
from guanxi.sales.models import Activity, Contact, Lead, LeadTransfer, Opportunity, Pipeline
from guanxi.sales.reports import inactivity

pytestmark = pytest.mark.django_db


def test_the_demo_sells_b2b_in_every_unit(client):
    """One load (a demo shop takes most of a minute), then every promise of the sales demo."""
    load_demo(customers=200, anchor=REFERENCE_ANCHOR)
    demo = load_sales_demo(REFERENCE_ANCHOR, seed=DEFAULT_SEED)

    assert set(Pipeline.objects.values_list("unit__code", flat=True)) == {"home", "beauty"}
    for code in ("home", "beauty"):
        deals = Opportunity.objects.filter(unit__code=code)
        assert set(deals.values_list("status", flat=True)) == {"open", "won", "lost"}
        assert deals.filter(stale_since__isnull=False).exists()
    assert set(Lead.objects.values_list("status", flat=True)) == {
        "new",
        "working",
        "qualified",
        "disqualified",
        "converted",
    }
    assert Lead.objects.filter(owner__isnull=True, status="new").exists()  # the pool
    assert LeadTransfer.objects.filter(state="requested").count() == 1
    assert (demo.won, demo.leads) == (Opportunity.objects.filter(status="won").count(), Lead.objects.count())
    won = Opportunity.objects.filter(status="won")
    orders = Order.objects.filter(pk__in=won.values("order_id"))
    assert orders.count() == won.count() and set(orders.values_list("status", flat=True)) == {"paid"}
    assert all(placed <= REFERENCE_ANCHOR for placed in orders.values_list("placed_at", flat=True))
    # Their lines carry the catalogue's unit costs, as the online orders' lines do.
    assert OrderLine.objects.filter(order__in=orders, unit_cost__isnull=False).exists()
    buyers = Customer.objects.filter(
        pk__in=Contact.objects.values("customer_id"), orders__store__channel="tmall"
    )
    assert buyers.exists()
    lead = User.objects.get(username="sales_lead")
    assert [row.user.username for row in inactivity(lead, now=REFERENCE_ANCHOR, only_inactive=True)] == [
        "sales_idle"
    ]
    rep = User.objects.get(username="sales")
    day = my_day(rep, now=REFERENCE_ANCHOR)
    assert [a.subject for a in day.due_today] == ["确认样品反馈", "上门洽谈年度合同"]
    assert [a.subject for a in day.overdue] == ["回电：询问价格"]
    assert day.stale and day.unread
    assert all(
        done <= REFERENCE_ANCHOR
        for done in Activity.objects.filter(owner=rep, done_at__isnull=False).values_list(
            "done_at", flat=True
        )
    )
    for username, pages in (
        (
            "sales",
            (
                "home",
                "board",
                "lead_list",
                "opportunity_list",
                "account_list",
                "activity_list",
                "forecast",
                "reports",
                "targets",
            ),
        ),
        ("sales_lead", ("board", "inactivity", "settings", "forecast", "transfer_list")),
        ("manager", ("board", "transfer_list", "reports")),
    ):
        client.force_login(User.objects.get(username=username))
        for name in pages:
            assert client.get(reverse(f"sales:{name}")).status_code == 200, (username, name)
