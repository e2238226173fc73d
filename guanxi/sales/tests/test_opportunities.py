from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from guanxi.analytics.models import CustomerMetric
from guanxi.analytics.refresh import refresh_metrics
from guanxi.commerce.models import Order, OrderLine, Product, Store
from guanxi.core.access import Denied
from guanxi.customers.models import CustomerChange
from guanxi.sales.actions import leads
from guanxi.sales.actions import opportunities as actions
from guanxi.sales.models import Competitor, Opportunity, Quote, StageChange
from guanxi.sales.tests.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(team_a):
    lead = leads.capture_lead(
        unit=team_a.unit, actor=team_a.rep, name="李娜", company="青禾酒店", phone="13600001234"
    ).lead
    return leads.convert_lead(
        lead, actor=team_a.rep, amount=Decimal("12000"), opportunity_name="青禾酒店 2027 布草"
    ).opportunity


def test_a_new_opportunity_starts_in_the_first_stage_with_its_history(team_a):
    opportunity = actions.create_opportunity(
        unit=team_a.unit, name="床品换新", actor=team_a.rep, amount="8800.5"
    )

    assert (opportunity.stage, opportunity.owner, opportunity.amount, opportunity.currency) == (
        team_a.stage(0),
        team_a.rep,
        Decimal("8800.50"),
        "CNY",
    )
    assert list(StageChange.objects.values_list("from_stage", "to_stage")) == [(None, team_a.stage(0).pk)]


def test_winning_books_exactly_one_order_in_commerce(team_a, deal):
    won = actions.move_opportunity(deal, team_a.won, actor=team_a.rep, at=at(2026, 6, 1, 10))

    order = Order.objects.get()
    assert won.order == order and won.status == "won"
    assert (order.number, order.status, order.total_amount, order.customer, order.unit, order.placed_at) == (
        f"SO{deal.pk:06d}",
        "paid",
        Decimal("12000.00"),
        deal.customer,
        team_a.unit,
        at(2026, 6, 1, 10),
    )
    assert order.store == Store.objects.get(source="sales:home")
    assert list(OrderLine.objects.values_list("name", "quantity", "amount", "customer_id")) == [
        ("青禾酒店 2027 布草", 1, Decimal("12000.00"), deal.customer_id)
    ]


def test_a_won_deal_reopened_and_won_again_still_has_one_order(team_a, team_b, deal):
    actions.move_opportunity(deal, team_a.won, actor=team_a.rep)
    with pytest.raises(Denied):  # a rep cannot undo a win
        actions.move_opportunity(deal, team_a.stage(2), actor=team_a.rep)
    actions.move_opportunity(deal, team_a.stage(2), actor=team_a.manager)

    assert Order.objects.get().status == "cancelled"
    actions.update_opportunity(Opportunity.objects.get(pk=deal.pk), actor=team_a.rep, amount=Decimal("15000"))
    actions.move_opportunity(Opportunity.objects.get(pk=deal.pk), team_a.won, actor=team_a.rep)

    order = Order.objects.get()
    assert (order.status, order.total_amount) == ("paid", Decimal("15000.00"))


def test_the_order_of_a_win_reaches_the_change_feed_and_analytics(team_a, deal):
    CustomerChange.objects.all().delete()

    actions.move_opportunity(deal, team_a.won, actor=team_a.rep, at=at(2026, 6, 1, 10))

    assert CustomerChange.objects.filter(customer_id=deal.customer_id).exists()
    refresh_metrics(unit=None, full=True, as_of=at(2026, 6, 30, 23))
    metric = CustomerMetric.objects.get(customer=deal.customer, unit=team_a.unit)
    assert (metric.orders, metric.total_spend) == (1, Decimal("12000.00"))


def test_losing_needs_a_reason_and_cancels_nothing_that_was_not_booked(team_a, deal):
    with pytest.raises(ValidationError) as refused:
        actions.move_opportunity(deal, team_a.lost, actor=team_a.rep)
    assert refused.value.message_dict == {"lost_reason": ["Choose why the opportunity was lost."]}

    lost = actions.move_opportunity(
        deal, team_a.lost, actor=team_a.rep, lost_reason="price", lost_note="贵了 8%"
    )

    assert (lost.status, lost.lost_reason, lost.get_lost_reason_display(), lost.lost_note) == (
        "lost",
        "price",
        "Price too high",
        "贵了 8%",
    )
    assert not Order.objects.exists()


def test_a_stage_of_another_pipeline_is_refused(team_a, team_b, deal):
    with pytest.raises(ValidationError):
        actions.move_opportunity(deal, team_b.won, actor=team_a.rep)
    assert not Order.objects.exists()


def test_products_make_the_amount_and_the_order_lines(team_a, deal):
    towel = Product.objects.create(sku="T-100", name="酒店毛巾", category="towels", price=Decimal("25.50"))
    actions.add_line(deal, actor=team_a.rep, product=towel, quantity=400)
    actions.add_line(deal, actor=team_a.rep, name="定制刺绣", quantity=1, unit_price=Decimal("1800"))

    deal.refresh_from_db()
    assert deal.amount == Decimal("12000.00")  # 400 × 25.50 + 1,800
    with pytest.raises(ValidationError):
        actions.update_opportunity(deal, actor=team_a.rep, amount=Decimal("1"))
    actions.move_opportunity(deal, team_a.won, actor=team_a.rep)
    assert list(
        OrderLine.objects.order_by("line_no").values_list("sku", "name", "quantity", "unit_price", "amount")
    ) == [
        ("T-100", "酒店毛巾", 400, Decimal("25.50"), Decimal("10200.00")),
        ("", "定制刺绣", 1, Decimal("1800.00"), Decimal("1800.00")),
    ]


def test_quotes_snapshot_the_products_and_competitors_are_recorded(team_a, deal):
    actions.add_line(deal, actor=team_a.rep, name="床单", quantity=10, unit_price=Decimal("99"))
    quote = actions.create_quote(deal, actor=team_a.rep)
    bid = actions.create_quote(deal, actor=team_a.rep, kind="bid", amount=Decimal("950"))
    rival = Competitor.objects.create(unit=team_a.unit, name="洁雅布草")
    actions.link_competitor(deal, rival, actor=team_a.rep, threat="high", their_price=Decimal("899"))

    assert (quote.number, quote.amount, bid.number, bid.amount) == (
        f"Q-{deal.pk}-1",
        Decimal("990.00"),
        f"BID-{deal.pk}-2",
        Decimal("950.00"),
    )
    assert quote.lines == [
        {"sku": "", "name": "床单", "quantity": 10, "unit_price": "99.00", "amount": "990.00"}
    ]
    actions.set_quote_status(quote, Quote.Status.SENT, actor=team_a.rep)
    assert Quote.objects.get(pk=quote.pk).sent_at is not None
    assert deal.competitors.get().their_price == Decimal("899.00")


def test_a_competitor_of_another_unit_is_refused(team_a, team_b, deal):
    rival = Competitor.objects.create(unit=team_b.unit, name="别家")

    with pytest.raises(ValidationError):
        actions.link_competitor(deal, rival, actor=team_a.rep)
