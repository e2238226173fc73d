"""A marketer opens a segment, tags every member, follows the job to the end, and sees the tag on a
customer's 360 page; screenshots of the job page and the 360 view."""

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers import profile
from guanxi.segments import actions as segment_actions

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]

WOMEN = {"version": 1, "root": {"type": "profile", "field": "gender", "op": "eq", "value": "female"}}


def test_tag_every_member_of_a_segment(live_server, page, transactional_db, screenshots, sign_in):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家纺 Home textiles")
    women = [make_customer(f"女顾客{number}", [home], gender="female") for number in range(1, 26)]
    make_customer("男顾客", [home], gender="male")
    manager = account_actions.create_user(
        username="manager", password=PASSWORD, role=Role.GROUP_MANAGER, display_name="王经理"
    )
    profile.create_tag("母亲节 2027")
    segment = segment_actions.create_segment(actor=manager, name="女性顾客", rule=WOMEN)
    segment_actions.refresh_segment(segment)
    sign_in("manager")

    page.goto(f"{live_server.url}/segments/{segment.pk}/")
    page.select_option("#bulk-tag", label="母亲节 2027")
    page.click("form[action$='/tag/'] button[type=submit]")

    page.wait_for_url(f"{live_server.url}/jobs/**")
    page.wait_for_selector("#job-progress .badge-succeeded")
    assert page.locator("#job-progress .percent").inner_text() == "100%"
    assert page.locator("#job-progress .chip").all_text_contents() == ["变更的客户 25"]
    page.screenshot(path=str(screenshots / "segment-tag-job-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/customers/{women[0].pk}/")
    assert page.get_by_text("母亲节 2027").first.is_visible()
    page.screenshot(path=str(screenshots / "customer-360-tagged-zh.png"), full_page=True)
