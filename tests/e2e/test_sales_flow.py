"""A sales rep converts a lead, moves the opportunity along the kanban board (keyboard, then drag) to
won, and sees the order it made on the customer's page; screenshots of the board and the 360 view."""

import re

import pytest
from django.utils import translation

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.sales.actions import leads
from guanxi.sales.actions.configuration import create_pipeline
from guanxi.sales.models import Opportunity

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def test_a_rep_converts_a_lead_wins_it_on_the_board_and_sees_the_order(
    live_server, page, transactional_db, screenshots, sign_in
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    rep = account_actions.create_user(
        username="rep", password=PASSWORD, role=Role.SALES_REP, units=[home], display_name="郑销售"
    )
    with translation.override("zh-hans"):  # a Chinese install names its default stages in Chinese
        pipeline = create_pipeline(unit=home, name="大客户销售")
    second = pipeline.stages.order_by("position")[1]
    lead = leads.capture_lead(
        unit=home, actor=rep, name="周敏", company="星河酒店", title="采购经理", phone="13822223333"
    ).lead
    sign_in("rep")

    page.goto(f"{live_server.url}/sales/leads/")
    page.click(f"a[href='/sales/leads/{lead.pk}/']")
    page.click("text=转化")
    page.fill("input[name=amount]", "68000")
    page.fill("input[name=opportunity_name]", "星河酒店 客房布草")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/sales/opportunities/\d+/$"))
    deal = Opportunity.objects.get()

    page.goto(f"{live_server.url}/sales/pipeline/")
    card = page.locator(f".card-item[data-id='{deal.pk}']")
    card.focus()
    page.keyboard.press("Shift+ArrowRight")  # one stage on, from the keyboard
    page.wait_for_selector(f".column[data-stage='{second.pk}'] .card-item[data-id='{deal.pk}']")
    assert page.locator("#board-status").inner_text() == f"星河酒店 客房布草 已移到 {second.name}。"
    assert page.evaluate("document.activeElement.dataset.id") == str(deal.pk)  # focus kept
    page.locator(f".card-item[data-id='{deal.pk}']").drag_to(page.locator(".column[data-kind='won']"))
    page.wait_for_selector(f".column[data-kind='won'] .card-item[data-id='{deal.pk}']")
    page.screenshot(path=str(screenshots / "sales-kanban-won-zh.png"), full_page=True)

    deal.refresh_from_db()
    assert deal.status == "won" and deal.order is not None
    page.goto(f"{live_server.url}/customers/{deal.customer_id}/")
    assert page.get_by_text(deal.order.number).first.is_visible()
    assert page.get_by_text("星河酒店 客房布草").first.is_visible()
    page.screenshot(path=str(screenshots / "sales-customer-360-order-zh.png"), full_page=True)
