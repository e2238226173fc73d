"""A unit head opens the Reports dashboard, follows this month's revenue to the sales report (table and
chart), drills into a category's orders and exports them as XLSX."""

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
