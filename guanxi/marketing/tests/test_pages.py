"""The marketing pages as a marketer uses them: build a flow from step cards (htmx), publish it,
switch it on, watch a customer move through it; campaigns with approval and the effect report; the
customer's flows on the 360 page; and nothing of another unit."""

import pytest
import time_machine

from guanxi.accounts.roles import Role
from guanxi.marketing.models import Campaign, Enrolment, Flow
from guanxi.marketing.tests.conftest import t
from guanxi.marketing.tests.test_flows import texts, tick
from guanxi.segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_marketer_builds_publishes_and_watches_a_flow(
    client, make_user, unit_a, sms, shopper, send_order, gateways
):
    marketer = make_user("mk", Role.MARKETER, [unit_a])
    client.force_login(marketer)
    assert client.get("/marketing/flows/").status_code == 200
    response = client.post("/marketing/flows/new/", {"unit": unit_a.pk, "name": "发货关怀"})
    flow = Flow.objects.get(name="发货关怀")
    assert response.status_code == 302 and response["Location"] == f"/marketing/flows/{flow.pk}/"
    url = f"/marketing/flows/{flow.pk}/steps/"
    page = client.post(
        url, {"op": "trigger", "kind": "order_placed", "unpaid_only": "on", "exit_paid": "on"}, **HTMX
    )
    assert page.status_code == 200 and "Order placed" in page.content.decode()
    client.post(url, {"op": "add", "kind": "wait", "minutes": "30"}, **HTMX)
    page = client.post(
        url, {"op": "add", "kind": "send", "template": "unpaid_reminder", "purpose": "transactional"}, **HTMX
    )
    assert page.content.decode().count('class="card" id="step-') == 2
    assert client.post(f"/marketing/flows/{flow.pk}/publish/").status_code == 302
    with time_machine.travel(t(0), tick=False) as clock:
        client.force_login(marketer)  # a session of the frozen clock's day
        client.post(f"/marketing/flows/{flow.pk}/status/", {"status": "active"})
        flow.refresh_from_db()
        assert flow.status == Flow.Status.ACTIVE and flow.current_version.number == 1
        flow.holdout_percent = 0
        flow.save()
        wang = shopper("王芳", "+8613800000001")
        send_order(wang, "T1", "199.00", t(1), status="created")
        clock.move_to(t(2))
        tick()
        enrolment = Enrolment.objects.get(flow=flow)
        page = client.get(f"/marketing/enrolments/{enrolment.pk}/").content.decode()
        assert "Order placed" in page and "Wait" in page
        clock.move_to(t(33))
        tick()
    assert texts(gateways) == ["【关系家纺】王芳，订单 T1 还未付款。"]
    client.force_login(marketer)
    page = client.get(f"/customers/{wang.pk}/").content.decode()
    assert f"/marketing/enrolments/{enrolment.pk}/" in page
    listing = client.get("/marketing/flows/?counts=1", **HTMX).content.decode()
    assert "发货关怀" in listing


def test_campaign_pages_approval_and_effect(client, make_user, unit_a, unit_b, sms, unit_a_head):
    marketer = make_user("mk", Role.MARKETER, [unit_a])
    segment = Segment.objects.create(name="母亲节人群", kind=Segment.Kind.STATIC, unit=unit_a, member_count=0)
    client.force_login(marketer)
    response = client.post(
        "/marketing/campaigns/new/",
        {
            "unit": unit_a.pk,
            "name": "母亲节",
            "segment": segment.pk,
            "template": "promo",
            "channel": "sms",
            "holdout_percent": "10",
            "b_percent": "0",
            "attribution_days": "7",
        },
    )
    campaign = Campaign.objects.get(name="母亲节")
    assert response.status_code == 302
    client.post(f"/marketing/campaigns/{campaign.pk}/submit/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    assert client.post(f"/marketing/campaigns/{campaign.pk}/approve/").status_code == 403
    client.force_login(unit_a_head)
    client.post(f"/marketing/campaigns/{campaign.pk}/approve/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    from guanxi.marketing import campaigns

    campaigns.send_due()
    page = client.get(f"/marketing/campaigns/{campaign.pk}/").content.decode()
    assert 'id="effect"' in page and "chart-conversion" in page
    assert "母亲节" in client.get("/marketing/campaigns/").content.decode()
    # Another unit's head sees none of it.
    client.force_login(make_user("head_b", Role.UNIT_HEAD, [unit_b]))
    assert client.get(f"/marketing/campaigns/{campaign.pk}/").status_code == 404
    assert "母亲节" not in client.get("/marketing/campaigns/").content.decode()
    assert SegmentMembership.objects.count() == 0


def test_the_api_builds_publishes_and_reports(client, make_user, unit_a, unit_b, sms, bearer, unit_a_head):
    from decimal import Decimal

    from guanxi.accounts.models import ApiToken

    headers = bearer(unit_a_head, ApiToken.Scope.READ_WRITE)
    flow = client.post(
        "/api/v1/marketing/flows",
        {"unit": unit_a.pk, "name": "API 流程"},
        content_type="application/json",
        headers=headers,
    )
    assert flow.status_code == 201, flow.content
    flow_id = flow.json()["id"]
    bad = client.post(
        f"/api/v1/marketing/flows/{flow_id}/publish",
        {"definition": {"trigger": {"kind": "order_paid"}, "steps": []}},
        content_type="application/json",
        headers=headers,
    )
    assert bad.status_code == 422
    definition = {
        "trigger": {"kind": "order_paid"},
        "steps": [{"id": "s1", "kind": "send", "template": "promo"}],
    }
    published = client.post(
        f"/api/v1/marketing/flows/{flow_id}/publish",
        {"definition": definition},
        content_type="application/json",
        headers=headers,
    )
    assert published.json()["version"] == 1 and published.json()["definition"] == definition
    on = client.post(
        f"/api/v1/marketing/flows/{flow_id}/status",
        {"status": "active"},
        content_type="application/json",
        headers=headers,
    )
    assert on.json()["status"] == "active"
    segment = Segment.objects.create(name="人群", kind=Segment.Kind.STATIC, unit=unit_a)
    created = client.post(
        "/api/v1/marketing/campaigns",
        {"unit": unit_a.pk, "name": "API 活动", "segment": segment.pk, "template": "promo"},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201 and Decimal(created.json()["holdout_percent"]) == 10
    campaign_id = created.json()["id"]
    assert client.get(f"/api/v1/marketing/campaigns/{campaign_id}/effect", headers=headers).status_code == 409
    submitted = client.post(f"/api/v1/marketing/campaigns/{campaign_id}/submit", headers=headers)
    assert submitted.json()["status"] == "scheduled"
    from guanxi.marketing import campaigns

    campaigns.send_due()
    report = client.get(f"/api/v1/marketing/campaigns/{campaign_id}/effect", headers=headers).json()
    assert report["treated"]["customers"] == 0 and report["winner"] == ""
    other = bearer(make_user("head_b", Role.UNIT_HEAD, [unit_b]))
    assert client.get(f"/api/v1/marketing/flows/{flow_id}", headers=other).status_code == 404
    assert client.get("/api/v1/marketing/campaigns", headers=other).json() == []


def test_the_global_holdout_is_set_on_the_flows_page_by_those_who_may_approve(
    client, make_user, unit_a, unit_b, unit_a_head
):
    from guanxi.marketing import holdout

    marketer = make_user("mk", Role.MARKETER, [unit_a])
    client.force_login(marketer)
    assert 'id="global-holdout"' not in client.get("/marketing/flows/").content.decode()
    assert (
        client.post("/marketing/settings/", {"unit": unit_a.pk, "global_holdout_percent": "5"}).status_code
        == 403
    )
    client.force_login(unit_a_head)
    assert 'id="global-holdout"' in client.get("/marketing/flows/").content.decode()
    response = client.post("/marketing/settings/", {"unit": unit_a.pk, "global_holdout_percent": "5"})
    assert response.status_code == 302 and holdout.global_percent(unit_a.pk) == 5
    assert (
        client.post("/marketing/settings/", {"unit": unit_b.pk, "global_holdout_percent": "7"}).status_code
        == 404
    )
    client.post("/marketing/settings/", {"unit": unit_a.pk, "global_holdout_percent": "95"})
    assert holdout.global_percent(unit_a.pk) == 5 and holdout.global_percent(unit_b.pk) == 0
