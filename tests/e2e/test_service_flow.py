"""A service agent finds a customer by the last digits of their phone, opens a ticket from the customer's
page, replies, resolves and archives it, and sees the customer's survey answer arrive on the ticket."""

import re

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.service.actions import survey_token
from guanxi.service.models import Survey, Ticket
from guanxi.service.tests.test_attachments import png

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def test_an_agent_handles_a_ticket_and_the_survey_answer_arrives(
    live_server, page, browser, transactional_db, screenshots, sign_in
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    account_actions.create_user(
        username="kefu", password=PASSWORD, role=Role.SERVICE_AGENT, units=[home], display_name="何客服"
    )
    customer = make_customer("刘晓燕", [home], phone="+8613912345678")
    sign_in("kefu")

    page.goto(f"{live_server.url}/customers/")
    page.fill("input[name=q]", "5678")
    page.keyboard.press("Enter")
    page.click(f"a[href='/customers/{customer.pk}/']")
    page.click("text=创建工单")
    page.fill("input[name=subject]", "浴巾洗后掉色")
    page.select_option("select[name=ticket_type]", "after_sales")
    page.fill("textarea[name=body]", "第一次洗就掉色了")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/service/tickets/\d+/$"))
    ticket = Ticket.objects.get()
    assert ticket.customer_id == customer.pk and ticket.assignee is not None

    page.fill("textarea[name=body] >> nth=0", "非常抱歉，我们为您免费换新。")
    page.click("text=发送回复")
    page.wait_for_selector("#conversation >> text=非常抱歉，我们为您免费换新。")
    page.fill("textarea[name=body] >> nth=1", "客户的洗涤标签照片")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "洗涤标签.png", "mimeType": "image/png", "buffer": png(8, 6)}],
    )
    page.click("button:has-text('添加备注')")
    page.wait_for_selector("#conversation >> text=洗涤标签.png")
    page.click("button[data-action=resolve]")
    page.wait_for_selector("#ticket-status >> text=已解决")
    page.click("button[data-action=close]")
    page.wait_for_selector("#ticket-status >> text=已归档")
    page.screenshot(path=str(screenshots / "service-ticket-zh.png"), full_page=True)

    survey = Survey.objects.get(ticket=ticket)
    customer_view = browser.new_context().new_page()  # the customer, not signed in
    customer_view.goto(f"{live_server.url}/s/survey/{survey_token(survey)}/")
    customer_view.check("input[name=score][value='5']")
    customer_view.fill("textarea[name=comment]", "处理得很快")
    customer_view.click("main button[type=submit]")  # the top bar holds the language buttons
    customer_view.wait_for_selector("#survey-thanks")
    customer_view.context.close()

    page.reload()
    assert page.locator("#ticket-satisfaction").inner_text() == "5 / 5"
    assert page.get_by_text("处理得很快").first.is_visible()
