"""A marketer builds a flow in the step-card builder (trigger: entering a segment; a condition, then a
follow-up call), publishes it and switches it on; a customer enters the segment, the scheduler runs,
and the enrolment inspector shows the customer move through both steps."""

import re

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.marketing import engine
from guanxi.marketing.models import Enrolment, Flow, StepRun
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.service.models import FollowUp

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def test_a_marketer_builds_publishes_and_watches_a_customer_move_through_a_flow(
    live_server, page, transactional_db, screenshots, sign_in
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    account_actions.create_user(
        username="yingxiao", password=PASSWORD, role=Role.MARKETER, units=[home], display_name="马营销"
    )
    segment = Segment.objects.create(name="高价值客户", kind=Segment.Kind.STATIC, unit=home)
    customer = make_customer("刘晓燕", [home], phone="+8613912345678")
    sign_in("yingxiao")

    page.goto(f"{live_server.url}/marketing/flows/")
    page.fill("input[name=name]", "高价值客户回访")
    page.click("form[action$='/flows/new/']:has(input[name=name]) button[type=submit]")
    page.wait_for_url(re.compile(r".*/marketing/flows/\d+/$"))
    flow = Flow.objects.get(name="高价值客户回访")

    trigger = "form:has(input[name=op][value=trigger])"
    page.select_option(f"{trigger} select[name=kind]", "segment_entered")
    page.select_option(f"{trigger} select[name=segment]", str(segment.pk))
    page.click(f"{trigger} button[type=submit]")
    page.wait_for_selector("#builder >> text=进入客户分群")

    add = "form:has(input[name=op][value=add])"
    # Only the chosen step kind's fields show: a wait asks for minutes, not for a coupon or a segment.
    assert page.is_visible(f"{add} input[name=minutes]")
    assert page.is_hidden(f"{add} select[name=coupon_template]") and page.is_hidden(
        f"{add} select[name=segment]"
    )
    page.select_option(f"{add} select[name=kind]", "condition")
    assert page.is_visible(f"{add} select[name=segment]") and page.is_hidden(f"{add} input[name=minutes]")
    page.select_option(f"{add} select[name=segment]", str(segment.pk))
    page.click(f"{add} button[type=submit]")
    page.wait_for_selector("#builder .step-cards >> text=条件分支")
    page.select_option(f"{add} select[name=kind]", "follow_up")
    page.fill(f"{add} input[name=subject]", "感谢成为高价值客户")
    page.click(f"{add} button[type=submit]")
    page.wait_for_selector("#builder .step-cards >> text=安排客户回访")

    with page.expect_navigation():
        page.click("form[action$='/publish/'] button[type=submit]")
    page.click("button[name=status][value=active]")
    page.wait_for_selector("button[name=status][value=paused]")
    flow.refresh_from_db()
    assert (flow.status, flow.current_version.number) == ("active", 1)
    assert [s["kind"] for s in flow.current_version.definition["steps"]] == ["condition", "follow_up"]

    Flow.objects.filter(pk=flow.pk).update(holdout_percent=0)  # one customer: not in a holdout by chance
    SegmentMembership.objects.create(segment=segment, customer=customer)
    assert engine.scan() == 1
    engine.run_due()  # the scheduler (the enrolment's wake-up task may have run the steps already)
    enrolment = Enrolment.objects.get(flow=flow, customer=customer)
    assert enrolment.state == "completed"
    assert list(StepRun.objects.filter(enrolment=enrolment).values_list("kind", "outcome")) == [
        ("condition", "yes"),
        ("follow_up", "done"),
    ]
    assert FollowUp.objects.get(customer=customer).notes == "感谢成为高价值客户"

    page.reload()
    page.screenshot(path=str(screenshots / "marketing-flow-builder-zh.png"), full_page=True)
    page.click(f"a[href='/marketing/enrolments/{enrolment.pk}/']")
    page.wait_for_selector("text=安排客户回访")
    assert page.get_by_text("条件分支").first.is_visible()
    page.screenshot(path=str(screenshots / "marketing-flow-zh.png"), full_page=True)
