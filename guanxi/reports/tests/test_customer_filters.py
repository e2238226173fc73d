"""The tier and segment filters: the customer and order reports keep only the customers of a loyalty tier
(by rank, in the chosen unit's programme) or of a saved segment the viewer may see; the filters travel
in the permalink and a scheduled delivery, and a segment the viewer may not see is not found."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty.models import Membership, Tier
from guanxi.messaging.models import Message
from guanxi.reports import actions
from guanxi.reports.models import Delivery
from guanxi.reports.tests.data import PERIOD, SHANGHAI
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.service import actions as service_actions

D = Decimal
MONDAY = datetime(2026, 6, 1, 7, 0, tzinfo=SHANGHAI)


@pytest.fixture
def tiers(shop, unit_a, unit_b):
    """Zhang holds the second tier (金卡) of unit A's programme, Li the first (银卡), Wang is no
    member; Zhao holds the second tier of unit B's programme."""
    march = datetime(2025, 3, 10, 12, tzinfo=SHANGHAI)
    home = loyalty.create_programme(unit=unit_a, name="家纺会员", now=march)
    beauty = loyalty.create_programme(unit=unit_b, name="美妆会员", now=march)
    for programme, customer, rank in ((home, "zhang", 1), (home, "li", 0), (beauty, "zhao", 1)):
        membership = loyalty.enrol(programme, shop[customer], now=march)
        Membership.objects.filter(pk=membership.pk).update(
            tier=Tier.objects.get(programme=programme, rank=rank)
        )
    return home, beauty


def _segment(name, unit, customers):
    segment = Segment.objects.create(name=name, kind=Segment.Kind.STATIC, unit=unit)
    for customer in customers:
        SegmentMembership.objects.create(segment=segment, customer=customer)
    return segment


@pytest.fixture
def segments(shop, unit_a, unit_b):
    return {
        "vip": _segment("大客户", unit_a, [shop["zhang"], shop["wang"]]),
        "beauty": _segment("美妆老客", unit_b, [shop["zhao"]]),
    }


def _result(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    result = response.context["result"]
    return [(row.label, *row.values) for row in result.rows], result.totals


def test_contribution_of_a_tier_in_the_unit_and_across_the_group(client, tiers, unit_a_head, manager):
    client.force_login(unit_a_head)

    rows, totals = _result(client, "/reports/contribution/?group=class&tier=1")

    assert rows == [
        ("Loyal customer", Decimal("300.00"), Decimal("100.0"), 1, Decimal("100.0"), Decimal("300.00"))
    ]
    assert totals == (Decimal("300.00"), Decimal("100.0"), 1, Decimal("100.0"), Decimal("300.00"))

    # All units: the second tier of any programme, read from the organisation-wide rows.
    client.force_login(manager)
    rows, totals = _result(client, "/reports/contribution/?group=abc&tier=1")
    assert rows == [("A", Decimal("1300.00"), Decimal("100.0"), 2, Decimal("100.0"), Decimal("650.00"))]


def test_sales_and_members_of_a_tier_and_a_segment(client, tiers, segments, unit_a_head):
    client.force_login(unit_a_head)

    rows, totals = _result(client, f"/reports/products/?group=category&{PERIOD}&tier=0")
    assert rows == [
        ("home_textiles", Decimal("50.00"), Decimal("87.7"), 1, 1, 1),
        ("=cmd|' /C calc'!A0", Decimal("7.00"), Decimal("12.3"), 2, 1, 1),
    ]
    assert totals == (Decimal("57.00"), Decimal("100.0"), 3, 1, 1)

    vip = segments["vip"].pk
    rows, totals = _result(client, f"/reports/products/?group=category&{PERIOD}&segment={vip}")
    assert rows == [("home_textiles", Decimal("100.00"), Decimal("100.0"), 1, 1, 1)]

    rows, totals = _result(client, f"/reports/composition/?group=class&segment={vip}")
    assert rows == [
        ("Loyal customer", 1, Decimal("50.0"), Decimal("300.00"), Decimal("85.7")),
        ("Old customer", 1, Decimal("50.0"), Decimal("50.00"), Decimal("14.3")),
    ]

    # Both filters: the members of the segment who hold the tier (Wang is no member).
    rows, totals = _result(client, f"/reports/tiers/?group=tier&segment={vip}")
    assert rows == [("金卡", 1, Decimal("100.0"))]
    rows, totals = _result(client, f"/reports/contribution/?group=class&segment={vip}&tier=0")
    assert rows == []
    assert totals == (Decimal("0.00"), None, 0, None, None)


def test_the_filters_are_offered_and_travel_in_the_permalink_and_the_drill_down(
    client, shop, tiers, segments, unit_a_head
):
    client.force_login(unit_a_head)
    vip = segments["vip"].pk

    response = client.get(f"/reports/contribution/?group=class&tier=1&segment={vip}")

    page = response.content.decode()
    assert f'href="?unit=home&amp;group=class&amp;tier=1&amp;segment={vip}"' in page
    offered = {f.key: choices for f, choices in response.context["filters"]}
    assert offered["tier"] == [("0", "银卡"), ("1", "金卡"), ("2", "白金卡"), ("3", "钻石卡")]
    assert offered["segment"] == [(str(vip), "大客户")]  # not unit B's segment
    drill = client.get(f"/reports/contribution/drill/?group=class&segment={vip}&value=old")
    assert [row[0] for row in drill.context["drilled"].table.rows] == [shop["wang"].pk]

    # A report whose figures are not the customers' (the pipeline) neither offers nor keeps them.
    response = client.get(f"/reports/pipeline/?tier=1&segment={vip}")
    assert response.context["query"] == "unit=home&group=stage"


def test_a_segment_the_viewer_may_not_see_is_not_found(client, shop, segments, unit_a_head):
    client.force_login(unit_a_head)
    hidden = segments["beauty"].pk

    assert client.get(f"/reports/contribution/?segment={hidden}").status_code == 404
    assert client.get(f"/reports/contribution/drill/?segment={hidden}").status_code == 404
    assert client.get("/reports/contribution/?segment=999999").status_code == 404


def test_a_segment_of_the_whole_organisation_counts_only_its_members_in_the_chosen_unit(
    client, shop, unit_a, unit_a_head
):
    everyone = _segment("全体", None, [shop["zhang"], shop["zhao"]])
    client.force_login(unit_a_head)

    rows, _totals = _result(client, f"/reports/contribution/?group=class&segment={everyone.pk}")

    assert rows == [
        ("Loyal customer", Decimal("300.00"), Decimal("100.0"), 1, Decimal("100.0"), Decimal("300.00"))
    ]


def test_a_scheduled_delivery_keeps_the_filters_and_skips_who_may_not_see_the_segment(
    client, tiers, segments, mail, unit_a, unit_a_head, make_user
):
    analyst = make_user("ana", Role.ANALYST, [unit_a], email="ana@guanxi-shop.cn")
    vip = segments["vip"].pk
    client.force_login(unit_a_head)

    response = client.post(
        "/reports/products/schedule/",
        {
            "unit": "home",
            "query": f"group=category&{PERIOD}&segment={vip}",
            "frequency": "weekly",
            "recipients": [analyst.pk],
        },
    )

    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert delivery.query == f"group=category&start=2025-01&end=2025-12&segment={vip}&unit=home"
    assert actions.deliver_due(MONDAY) == 1
    assert Message.objects.get(source="reports").body.splitlines()[:3] == [
        "Category | Revenue | Revenue, share (%) | Units sold | Orders | Customers",
        "home_textiles | 100.00 | 100.0 | 1 | 1 | 1",
        "Total | 100.00 | 100.0 | 1 | 1 | 1",
    ]

    # Moved to unit B's segment, the delivery no longer reaches anyone who may not see it.
    Message.objects.all().delete()
    Delivery.objects.filter(pk=delivery.pk).update(
        query=f"group=category&segment={segments['beauty'].pk}&unit=home", last_sent_on=None
    )
    assert actions.deliver_due(MONDAY) == 1
    assert not Message.objects.filter(source="reports").exists()


def test_scheduling_with_a_segment_a_recipient_may_not_see_is_refused(
    shop, segments, unit_a, unit_b, unit_a_head, manager, make_user
):
    analyst = make_user("ana", Role.ANALYST, [unit_a], email="ana@guanxi-shop.cn")
    beauty = segments["beauty"].pk

    with pytest.raises(actions.DeliveryError, match="Every recipient must be able to see the chosen segment"):
        actions.schedule(
            actor=manager,
            unit=unit_a,
            report="contribution",
            query=f"segment={beauty}",
            frequency="daily",
            recipients=[analyst],
        )
    assert not Delivery.objects.exists()


def test_the_service_report_counts_the_tickets_of_a_segment_s_and_a_tier_s_customers(client, desk_a):
    opened = timezone.now() - timedelta(hours=1)
    other = make_customer("李娜", [desk_a.unit])
    for subject, customer, agent in (
        ("one", desk_a.customer, desk_a.agent),
        ("two", desk_a.customer, desk_a.agent2),
        ("three", other, desk_a.agent2),
        ("four", None, desk_a.agent),
    ):
        service_actions.open_ticket(
            actor=desk_a.head,
            unit=desk_a.unit,
            subject=subject,
            customer=customer,
            assignee=agent,
            now=opened,
        )
    regulars = _segment("老客户", desk_a.unit, [desk_a.customer])
    programme = loyalty.create_programme(unit=desk_a.unit, name="会员", now=opened)
    loyalty.enrol(programme, other, now=opened)  # the first tier (rank 0)
    client.force_login(desk_a.head)

    rows, totals = _result(client, f"/reports/service/?group=agent&segment={regulars.pk}")
    assert rows == [("a_agent", 1, Decimal("50.0"), 0, 0, None), ("a_agent2", 1, Decimal("50.0"), 0, 0, None)]
    assert totals[0] == 2

    rows, totals = _result(client, "/reports/service/?group=agent&tier=0")
    assert rows == [("a_agent2", 1, Decimal("100.0"), 0, 0, None)]


def test_the_analyses_about_customers_offer_the_tier_and_segment_filters(
    client, tiers, segments, unit_a_head
):
    client.force_login(unit_a_head)
    vip = segments["vip"].pk  # Zhang and Wang; Wang has no sale order

    everyone, _totals = _result(client, "/reports/pareto/")
    pareto_tier, pareto_tier_totals = _result(client, "/reports/pareto/?tier=1")
    pareto_segment, _totals = _result(client, f"/reports/pareto/?segment={vip}")
    classes_tier, classes_tier_totals = _result(client, "/reports/abc-by-class/?tier=1")
    classes_segment, classes_segment_totals = _result(client, f"/reports/abc-by-class/?segment={vip}")
    clv_tier, clv_tier_totals = _result(client, "/reports/clv/?tier=0")
    page = client.get("/reports/pareto/?tier=1")
    drill = client.get("/reports/pareto/drill/?tier=1&value=A").context["drilled"]

    # Unit A's sale orders: Zhang 180.00 (A), Li 50.00 (B); the second tier is Zhang alone.
    assert everyone[:2] == [
        ("A", 1, D("50.00"), D("180.00"), D("78.30")),
        ("B", 1, D("50.00"), D("50.00"), D("21.70")),
    ]
    assert pareto_tier == [
        ("A", 1, D("100.00"), D("180.00"), D("100.00")),
        ("B", 0, D("0.00"), D("0.00"), D("0.00")),
        ("C", 0, D("0.00"), D("0.00"), D("0.00")),
    ]
    assert pareto_tier_totals == (1, None, D("180.00"), None)
    assert pareto_segment == pareto_tier
    assert page.context["charts"]["curve"]["points"] == [[0.0, 0.0], [100.0, 100.0]]
    assert [f.key for f, _choices in page.context["filters"]] == ["tier", "segment"]
    assert [row[1] for row in drill.table.rows] == ["张三"]
    # Within each customer class: the tier keeps Zhang (loyal), the segment Zhang and Wang (old).
    assert [(row[0], row[1], row[2]) for row in classes_tier] == [("Loyal customer", 1, D("300.00"))]
    assert classes_tier_totals[:2] == (1, D("300.00"))
    assert [(row[0], row[1], row[2]) for row in classes_segment] == [
        ("Loyal customer", 1, D("300.00")),
        ("Old customer", 1, D("50.00")),
    ]
    assert classes_segment_totals[:2] == (2, D("350.00"))
    # The first tier is Li alone, whose predicted value of 80 falls in the ninth band.
    assert clv_tier[8] == ("80–90", 1)
    assert clv_tier_totals == (1,)


def test_a_sales_analysis_does_not_take_the_customer_filters(client, tiers, unit_a_head):
    client.force_login(unit_a_head)

    page = client.get("/reports/order-sales/?tier=1&start=2025-01&end=2025-12")

    assert page.context["filters"] == []
    assert page.context["result"].totals == (D("150.00"), D("100.0"), 2)  # both of unit A's sales count
