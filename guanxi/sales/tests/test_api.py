"""The sales API: capture idempotent on external_id, problem+json errors per field, the stage move that
books the order, the forecast, activities and notifications."""

from datetime import date
from decimal import Decimal

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.commerce.models import Order
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.targets import set_quota
from guanxi.sales.models import Lead, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_api(client, team_a):
    token = account_actions.create_api_token(user=team_a.rep, name="crm", scope="read_write").secret
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def post(client, url, body):
    return client.post(url, data=body, content_type="application/json")


def test_capturing_a_lead_twice_with_its_external_id_adds_one(rep_api, team_a):
    body = {
        "name": "孙莉",
        "company": "丽景酒店",
        "phone": "13755556666",
        "external_id": "hs-42",
        "estimated_amount": "8000.00",
    }

    first = post(rep_api, "/api/v1/sales/leads", body)
    again = post(rep_api, "/api/v1/sales/leads", body)

    assert (first.status_code, first.json()["outcome"], again.status_code, again.json()["outcome"]) == (
        201,
        "created",
        200,
        "unchanged",
    )
    lead = first.json()
    assert (lead["owner_id"], lead["phone"], lead["estimated_amount"], lead["source"]) == (
        team_a.rep.pk,
        "13755556666",
        "8000.00",
        "api",
    )
    assert Lead.objects.count() == 1


def test_someone_elses_duplicate_is_a_conflict_that_says_nothing_of_it(rep_api, team_a):
    from guanxi.sales.actions.leads import capture_lead

    capture_lead(unit=team_a.unit, actor=team_a.rep2, name="孙莉", phone="13755556666")

    response = post(rep_api, "/api/v1/sales/leads", {"name": "孙莉", "phone": "13755556666"})

    assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
    assert "孙莉" not in response.content.decode()


def test_invalid_values_are_named_by_field(rep_api):
    response = post(rep_api, "/api/v1/sales/leads", {"name": "孙莉", "phone": "138****6666"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "phone"], "msg": "“138****6666” is not a usable phone number.", "type": "invalid"}
    ]


def test_moving_to_won_through_the_api_books_one_order(rep_api, team_a):
    deal = deals.create_opportunity(
        unit=team_a.unit, name="API deal", actor=team_a.rep, amount=Decimal("999.90")
    )

    response = post(rep_api, f"/api/v1/sales/opportunities/{deal.pk}/stage", {"stage": team_a.won.pk})

    body = response.json()
    assert (response.status_code, body["status"], body["probability"], body["weighted_amount"]) == (
        200,
        "won",
        100,
        "999.90",
    )
    assert body["order_id"] == Order.objects.get().pk


def test_a_stage_move_needs_a_stage_of_the_deals_pipeline(rep_api, team_a, team_b):
    deal = deals.create_opportunity(unit=team_a.unit, name="API deal", actor=team_a.rep)

    assert post(rep_api, f"/api/v1/sales/opportunities/{deal.pk}/stage", {}).status_code == 422
    assert (
        post(rep_api, f"/api/v1/sales/opportunities/{deal.pk}/stage", {"stage": team_b.won.pk}).status_code
        == 404
    )


def test_the_forecast_endpoint(rep_api, team_a):
    set_quota(
        unit=team_a.unit, user=team_a.rep, month=date(2026, 6, 1), amount=Decimal("1000"), actor=team_a.head
    )

    body = rep_api.get("/api/v1/sales/forecast?period=2026-06").json()

    assert (body["period"], body["start"], body["end"]) == ("2026-06", "2026-06-01", "2026-07-01")
    assert [(r["owner"], r["quota"], r["attainment"]) for r in body["reps"]] == [("a rep", "1000.00", "0.0")]


def test_logging_and_completing_activities(rep_api, team_a):
    deal = deals.create_opportunity(unit=team_a.unit, name="API deal", actor=team_a.rep)

    planned = post(
        rep_api,
        "/api/v1/sales/activities",
        {
            "kind": "call",
            "subject": "回电",
            "done": False,
            "due_at": "2026-07-01T10:00:00",
            "opportunity": deal.pk,
        },
    )
    done = post(rep_api, f"/api/v1/sales/activities/{planned.json()['id']}/complete", {"outcome": "约了面谈"})

    assert planned.status_code == 201 and planned.json()["due_at"] == "2026-07-01T10:00:00+08:00"
    assert (done.json()["status"], done.json()["outcome"]) == ("done", "约了面谈")


def test_notifications_are_the_callers_own(rep_api, team_a):
    from guanxi.sales.notifications import notify

    notify(team_a.rep, Notification.Kind.STALE, unit=team_a.unit, data={"name": "老客户续约", "days": 30})
    notify(team_a.rep2, Notification.Kind.STALE, unit=team_a.unit, data={"name": "别人的", "days": 30})

    items = rep_api.get("/api/v1/sales/notifications").json()["items"]
    marked = post(rep_api, "/api/v1/sales/notifications/read", {}).json()

    assert [item["text"] for item in items] == ["老客户续约 has had no activity for 30 days"]
    assert marked == {"marked": 1}
