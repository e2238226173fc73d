"""A unit head opens the Reports dashboard, follows this month's revenue to the sales report (table and
chart), drills into a category's orders and exports them as XLSX; then each role in turn opens its own
dashboard, follows a figure of its section to the rows behind it and exports them."""

import csv
import io
import re

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel
from guanxi.commerce.tests.factories import make_customer, make_order, make_store

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def test_a_unit_head_drills_from_the_dashboard_to_orders_and_exports_them(
    live_server, page, transactional_db, screenshots, sign_in
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    beauty = account_actions.create_business_unit(code="beauty", name="美妆")
    account_actions.create_user(
        username="zhuguan", password=PASSWORD, role=Role.UNIT_HEAD, units=[home], display_name="王主管"
    )
    today = timezone.localdate()
    store = make_store(home, "家居天猫店", Channel.TMALL)
    other = make_store(beauty, "美妆抖音店", Channel.DOUYIN)
    liu = make_customer("刘晓燕", [home])
    make_order(store, liu, "H-1001", "268.00", (today.year, today.month, 1))
    make_order(store, make_customer("陈伟", [home]), "H-1002", "132.00", (today.year, today.month, 1))
    make_order(other, make_customer("赵敏", [beauty]), "B-9001", "9999.00", (today.year, today.month, 1))
    sign_in("zhuguan")

    page.goto(f"{live_server.url}/reports/")
    revenue = page.locator("a[data-figure=revenue]")
    assert revenue.inner_text() == "¥400.00"
    revenue.click()
    page.wait_for_url(re.compile(r".*/reports/products/\?.*"))
    page.wait_for_selector("[data-chart=chart-report] canvas")
    assert page.locator("#report-table tbody tr").count() == 1
    assert "9999" not in page.content()
    page.screenshot(path=str(screenshots / "reports-sales-by-product-zh.png"), full_page=True)

    page.click("#report-table tbody tr >> nth=0 >> a.drill")
    page.wait_for_url(re.compile(r".*/reports/products/drill/\?.*"))
    numbers = page.locator("#drill-table tbody tr td:first-child").all_inner_texts()
    assert sorted(numbers) == ["H-1001", "H-1002"]

    with page.expect_download() as download:
        page.click("#export-xlsx")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True)) == ["H-1001", "H-1002"]


def test_each_role_opens_its_dashboard_drills_into_a_figure_and_exports_it(
    live_server, page, transactional_db, screenshots, sign_in
):
    """A group manager (sales), a marketer (customers), a unit head as the service lead (tickets) and a
    sales manager (deals won): each one's dashboard, a figure of their section, its rows, an export."""
    from datetime import datetime, time
    from decimal import Decimal

    from guanxi.analytics.models import CustomerMetric
    from guanxi.marketing.models import Campaign, Recipient
    from guanxi.reports.kit import business_zone
    from guanxi.sales.actions import opportunities as deals
    from guanxi.sales.actions.configuration import create_pipeline
    from guanxi.sales.actions.targets import set_quota
    from guanxi.sales.models import Stage
    from guanxi.segments.models import Segment
    from guanxi.service import actions as service_actions

    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    beauty = account_actions.create_business_unit(code="beauty", name="美妆")
    create = account_actions.create_user
    create(username="jituan", password=PASSWORD, role=Role.GROUP_MANAGER, display_name="李总")
    create(username="shichang", password=PASSWORD, role=Role.MARKETER, units=[home], can_export=True)
    head = create(username="zhuguan", password=PASSWORD, role=Role.UNIT_HEAD, units=[home])
    lead = create(username="xiaoshou", password=PASSWORD, role=Role.SALES_MANAGER, units=[home])
    rep = create(username="yewu", password=PASSWORD, role=Role.SALES_REP, units=[home], display_name="周业务")

    now = timezone.now()
    today = timezone.localtime(now, business_zone()).date()
    month = today.replace(day=1)
    first = datetime.combine(month, time(12), business_zone())
    store = make_store(home, "家居天猫店", Channel.TMALL)
    liu = make_customer("刘晓燕", [home])
    chen = make_customer("陈伟", [home])
    make_order(store, liu, "H-1001", "268.00", (today.year, today.month, 1))
    make_order(store, chen, "H-1002", "132.00", (today.year, today.month, 1))
    make_order(
        make_store(beauty, "美妆抖音店", Channel.DOUYIN),
        None,
        "B-9001",
        "9999.00",
        (month.year, month.month, 1),
    )
    for customer, spend in ((liu, "268.00"), (chen, "132.00")):  # the metrics store's rows of unit home
        CustomerMetric.objects.create(
            customer=customer, unit=home, orders=1, total_spend=Decimal(spend), first_order_at=first
        )
    segment = Segment.objects.create(name="老客回购", kind=Segment.Kind.STATIC, unit=home)
    campaign = Campaign.objects.create(
        unit=home, name="双十二", segment=segment, template="promo", status="sent", sent_at=first
    )
    Recipient.objects.create(campaign=campaign, customer=liu, group="a")
    ticket = service_actions.open_ticket(actor=head, unit=home, subject="退货咨询", customer=liu, now=now)
    pipeline = create_pipeline(unit=home, name="企业团购")
    stages = list(pipeline.stages.order_by("position"))
    won_stage = pipeline.stages.get(kind=Stage.Kind.WON)
    won_orders = []
    for name, amount in (("酒店布草", "8800.00"), ("员工福利", "3200.00")):
        deal = deals.create_opportunity(
            unit=home, name=name, actor=lead, owner=rep, amount=Decimal(amount), stage=stages[0], at=now
        )
        deals.move_opportunity(deal, won_stage, actor=lead, at=now)  # books the deal's order
        deal.refresh_from_db()
        won_orders.append(deal.order.number)
    deals.create_opportunity(
        unit=home, name="样品试用", actor=lead, owner=rep, amount=Decimal("1000.00"), stage=stages[0], at=now
    )
    set_quota(unit=home, user=rep, month=month, amount=Decimal("20000"), actor=head)

    def follow(username, figure, expected_value, report, export, column, others=()):
        sign_in(username)
        page.goto(f"{live_server.url}/reports/")
        link = page.locator(f"a[data-figure={figure}]")
        assert link.inner_text() == expected_value
        assert [page.locator(f"a[data-figure={key}]").inner_text() for key, _value in others] == [
            value for _key, value in others
        ]
        page.screenshot(path=str(screenshots / f"reports-home-{username}-zh.png"), full_page=True)
        link.click()
        page.wait_for_url(re.compile(rf".*/reports/{report}/\?.*"))
        page.click("#report-table tbody tr >> nth=0 >> a.drill")
        page.wait_for_url(re.compile(rf".*/reports/{report}/drill/\?.*"))
        shown = page.locator("#drill-table tbody tr td:first-child").all_inner_texts()
        with page.expect_download() as download:
            page.click(f"#export-{export}")
        data = download.value.path().read_bytes()
        if export == "xlsx":
            rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2, values_only=True))
        else:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]
        assert sorted(str(row[column]) for row in rows) == sorted(shown)
        page.context.clear_cookies()
        return sorted(shown)

    # The group manager: all units' revenue (the won deals' orders the largest, no category), to those
    # orders.
    others = (("won_deals", "2"),)
    assert follow("jituan", "revenue", "¥22,399.00", "products", "csv", 0, others) == sorted(won_orders)
    # The marketer: unit home's new customers (one order so far), to the customers; and the campaign.
    others = (("campaigns", "1"), ("recipients", "1"), ("net", "¥268.00"))
    assert follow("shichang", "new", "2", "composition", "csv", 0, others) == sorted(
        [str(liu.pk), str(chen.pk)]
    )
    # The unit head leads the unit's service desk: this month's ticket.
    assert follow("zhuguan", "tickets", "1", "service", "xlsx", 0) == [str(ticket.pk)]
    # The sales manager: the deals won this month against the rep's quota.
    others = (
        ("won_amount", "¥12,000.00"),
        ("open_amount", "¥1,000.00"),
        ("attainment", "60.00%"),
        ("revenue", "¥12,400.00"),
    )
    assert follow("xiaoshou", "won_deals", "2", "quota", "xlsx", 0, others) == ["员工福利", "酒店布草"]
