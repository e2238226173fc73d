"""Sign in as a group manager, see the dashboard, switch language; screenshots for the README."""

import re

import pytest
from django.utils import timezone

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def _months_ago(today, months: int, day: int) -> tuple[int, int, int]:
    index = today.year * 12 + today.month - 1 - months
    return (index // 12, index % 12 + 1, day)


def _dataset():
    """A small, fixed shop across two units: enough for every chart to have something to draw."""
    home = account_actions.create_business_unit(code="home", name="家纺 Home textiles")
    beauty = account_actions.create_business_unit(code="beauty", name="美妆 Beauty")
    stores = [
        make_store(home, "home-tmall", Channel.TMALL),
        make_store(home, "home-jd", Channel.JD),
        make_store(beauty, "beauty-douyin", Channel.DOUYIN),
        make_store(beauty, "beauty-mp", Channel.WECHAT_MINIPROGRAM),
    ]
    sources = ["tmall", "jd", "douyin", "wechat_mp", ""]
    customers = [
        make_customer(
            f"顾客{number}", [home] if number % 3 else [home, beauty], source_channel=sources[number % 5]
        )
        for number in range(1, 71)
    ]
    today = timezone.localdate(timezone=SHANGHAI)
    statuses = [Order.Status.COMPLETED, Order.Status.PAID, Order.Status.SHIPPED, Order.Status.CANCELLED]
    number = 0
    for months in range(23, -1, -1):
        for slot in range(3 + (23 - months) // 3 + (months * 5) % 3):  # a growing shop
            number += 1
            make_order(
                stores[(number + slot) % len(stores)],
                customers[(number * 11) % 70],  # some customers buy again, most once
                f"E2E-{number:04}",
                f"{88 + (number * 37) % 420}.50",
                _months_ago(today, months, 1 + (slot * 7) % 27),
                status=statuses[number % len(statuses)],
            )
    return home, beauty


def test_login_dashboard_and_language_switch(live_server, page, transactional_db, screenshots, sign_in):
    account_actions.ensure_organisation("关系演示集团")
    _dataset()
    account_actions.create_user(
        username="manager", password=PASSWORD, role=Role.GROUP_MANAGER, display_name="王经理"
    )
    sign_in("manager")

    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator(".user-name").inner_text() == "王经理"
    page.wait_for_selector("[data-chart='chart-monthly'] canvas")
    page.wait_for_timeout(600)  # let the charts' entry animation finish before the screenshot
    page.screenshot(path=str(screenshots / "dashboard-zh.png"), full_page=True)

    page.click("button[name=language][value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert re.fullmatch(r"¥[\d,]+\.\d\d", page.locator("[data-kpi=revenue]").inner_text())
    page.wait_for_selector("[data-chart='chart-monthly'] canvas")
    page.wait_for_timeout(600)
    page.screenshot(path=str(screenshots / "dashboard-en.png"), full_page=True)

    page.click("button[name=language][value=zh-hans]")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.url == live_server.url + "/"
