"""What sales adds to a customer: the Sales section of the 360 page and API, activities and closed deals
on the timeline, the "sales contact" list filter, and merges that move the person's sales records."""

from decimal import Decimal

import pytest

from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.merging.merge import merge_customers, undo_merge
from guanxi.customers.timeline import customer_timeline
from guanxi.sales.actions import accounts, activities, leads
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.models import Activity, Contact, Opportunity
from guanxi.sales.tests.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer(team_a):
    """A hotel's buyer who also shops online, with a won deal and two calls logged."""
    lead = leads.capture_lead(
        unit=team_a.unit, actor=team_a.rep, name="周敏", company="星河酒店", phone="13822223333"
    ).lead
    done = leads.convert_lead(lead, actor=team_a.rep, amount=Decimal("6600"), opportunity_name="星河酒店布草")
    activities.log_activity(
        actor=team_a.rep,
        kind="call",
        subject="确认规格",
        opportunity=done.opportunity,
        done_at=at(2026, 6, 1, 10),
    )
    deals.move_opportunity(done.opportunity, team_a.won, actor=team_a.rep, at=at(2026, 6, 2, 10))
    activities.log_activity(
        actor=team_a.rep2,
        kind="visit",
        subject="别人的拜访",
        account=done.account,
        customer=done.contact.customer,
        done_at=at(2026, 6, 3, 10),
    )
    return done.contact.customer


def test_the_360_page_shows_the_persons_deals_and_the_order_they_made(client, team_a, buyer):
    client.force_login(team_a.rep)

    page = client.get(f"/customers/{buyer.pk}/").content.decode()

    assert "星河酒店布草" in page and "星河酒店" in page
    assert (
        f"SO{Opportunity.objects.get().pk:06d}" in page
    )  # the order, in the orders section and the deal row
    assert "确认规格" in page
    assert "别人的拜访" not in page  # another rep's activity


def test_the_customer_api_has_the_sales_part(client, team_a, buyer):
    client.force_login(team_a.rep)

    sales = client.get(f"/api/v1/customers/{buyer.pk}").json()["sales"]

    assert sales["accounts"] == [
        {
            "account_id": Contact.objects.get().account_id,
            "account": "星河酒店",
            "title": "",
            "is_primary": True,
        }
    ]
    [deal] = sales["opportunities"]
    assert (deal["name"], deal["status"], deal["amount"]) == ("星河酒店布草", "won", "6600.00")
    assert [a["subject"] for a in sales["activities"]] == ["确认规格"]


def test_the_timeline_has_activities_and_closed_deals_in_the_readers_scope(team_a, buyer):
    rep_items = [
        (item.kind, item.summary)
        for item in customer_timeline(buyer, team_a.rep)
        if item.kind.startswith(("sales", "opportunity"))
    ]
    head_items = [
        item.summary for item in customer_timeline(buyer, team_a.head) if item.kind == "sales_activity"
    ]

    assert rep_items == [
        ("opportunity_won", "Deal won: 星河酒店布草, 6600.00 CNY"),
        ("sales_activity", "Call: 确认规格"),
    ]
    assert head_items == ["Visit: 别人的拜访", "Call: 确认规格"]


def test_the_customer_list_filters_sales_contacts(client, team_a, buyer):
    make_customer("网购顾客", [team_a.unit], owner=team_a.rep)
    client.force_login(team_a.rep)

    contacts = client.get("/customers/", {"sales_contact": "yes"}).context["customers"]
    others = client.get("/customers/", {"sales_contact": "no"}).context["customers"]

    assert [row["customer"].pk for row in contacts] == [buyer.pk]
    assert [row["customer"].name for row in others] == ["网购顾客"]


def test_a_merge_moves_the_sales_records_and_undo_brings_them_back(team_a, buyer):
    twin = make_customer("周敏", [team_a.unit], phone="+8613900001111")
    account = Contact.objects.get().account
    accounts.add_contact(account=account, actor=team_a.rep, name="周敏", phone="13900001111")
    deal = deals.create_opportunity(unit=team_a.unit, name="第二单", actor=team_a.rep, customer=twin)

    record = merge_customers(buyer, twin, reason="same person")

    assert list(Contact.objects.filter(account=account).values_list("customer_id", flat=True)) == [buyer.pk]
    assert Opportunity.objects.get(pk=deal.pk).customer == buyer
    undo_merge(record)
    assert sorted(Contact.objects.filter(account=account).values_list("customer_id", flat=True)) == sorted(
        [buyer.pk, twin.pk]
    )
    assert Opportunity.objects.get(pk=deal.pk).customer == twin
    assert Activity.objects.filter(customer=buyer).count() == 2
