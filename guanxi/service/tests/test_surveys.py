"""Satisfaction surveys answered through a signed link without signing in: a tampered, expired or reused
link is refused; one answer per invitation; a low score plans a follow-up call; the satisfaction index."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from guanxi.service import actions, fetch
from guanxi.service.models import FollowUp, Survey, Ticket

from .conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_ticket(desk_a, sms_channel):
    ticket = actions.open_ticket(
        actor=desk_a.agent, unit=desk_a.unit, subject="换货", customer=desk_a.customer
    )
    actions.transition(ticket, "resolve", actor=ticket.assignee)
    return actions.transition(ticket, "close", actor=ticket.assignee)


def link(survey):
    return f"/s/survey/{actions.survey_token(survey)}/"


def test_closing_a_ticket_sends_a_signed_link_that_takes_one_answer(client, closed_ticket):
    survey = Survey.objects.get(ticket=closed_ticket)
    assert link(survey) in actions.survey_url(survey)

    page = client.get(link(survey))
    first = client.post(link(survey), {"score": "5", "comment": "很快"})
    second = client.post(link(survey), {"score": "1"})

    assert page.status_code == 200
    assert first.status_code == 200 and "survey-thanks" in first.content.decode()
    assert second.status_code == 409
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (5, "很快")
    assert Ticket.objects.get(pk=closed_ticket.pk).satisfaction == 5


def test_a_tampered_link_finds_nothing(client, closed_ticket):
    survey = Survey.objects.get(ticket=closed_ticket)
    token = actions.survey_token(survey)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # a well-formed token for the same survey signed with another salt (not ours)
    other_id = signing.dumps(survey.pk, salt="another.purpose")

    assert client.get(f"/s/survey/{forged}/").status_code == 404
    assert client.post(f"/s/survey/{forged}/", {"score": "1"}).status_code == 404
    assert client.get(f"/s/survey/{other_id}/").status_code == 404
    assert Survey.objects.get(pk=survey.pk).answered_at is None


def test_an_expired_link_is_refused(client, closed_ticket):
    survey = Survey.objects.get(ticket=closed_ticket)
    Survey.objects.filter(pk=survey.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post(link(survey), {"score": "4"})

    assert response.status_code == 410
    assert Survey.objects.get(pk=survey.pk).answered_at is None


def test_a_low_score_plans_a_follow_up_call(closed_ticket):
    survey = Survey.objects.get(ticket=closed_ticket)

    actions.answer_survey(survey, score=2, comment="态度差", now=at(2026, 3, 2, 15, 0))

    follow_up = FollowUp.objects.get(reason="low_score")
    assert (follow_up.ticket_id, follow_up.due_at) == (closed_ticket.pk, at(2026, 3, 3, 14, 0))
    with pytest.raises(actions.SurveyClosedError):
        actions.answer_survey(survey, score=5)


def test_the_satisfaction_index_is_the_share_of_satisfied_answers_per_month(desk_a, sms_channel):
    scores = {(2026, 1, 10): [5, 4, 3, 2], (2026, 2, 10): [5, 5, 4, 4, 1]}
    for day, values in scores.items():
        for score in values:
            survey = actions.send_survey(
                unit=desk_a.unit, kind="csat", customer=desk_a.customer, now=at(*day, 9, 0)
            )
            actions.answer_survey(survey, score=score, now=at(*day, 10, 0))
    for score in (10, 9, 8, 3):
        survey = actions.send_survey(
            unit=desk_a.unit, kind="nps", customer=desk_a.customer, now=at(2026, 2, 11, 9, 0)
        )
        actions.answer_survey(survey, score=score, now=at(2026, 2, 11, 10, 0))

    index = fetch.satisfaction_index(desk_a.head, since=at(2026, 1, 1, 0, 0), until=at(2026, 3, 1, 0, 0))

    assert index == [
        {"month": "2026-01", "answers": 4, "index": 50.0, "average": 3.5, "nps": None},
        {"month": "2026-02", "answers": 5, "index": 80.0, "average": 3.8, "nps": 25.0},
    ]
    # the 2 and the 1 (CSAT) and the 3 (NPS) each planned a call back
    assert FollowUp.objects.filter(reason="low_score").count() == 3


def test_a_follow_up_records_its_outcome(client, desk_a, closed_ticket):
    follow_up = actions.plan_follow_up(ticket=closed_ticket, actor=desk_a.agent)
    client.force_login(desk_a.agent)

    client.post(f"/service/follow-ups/{follow_up.pk}/done/", {"outcome": "satisfied", "notes": "已解决"})

    follow_up.refresh_from_db()
    assert (follow_up.outcome, follow_up.notes) == ("satisfied", "已解决")
    assert follow_up.done_at is not None


@pytest.mark.django_db
def test_a_head_sends_an_nps_round_to_a_segment_once_per_customer(
    client, desk_a, desk_b, sms_channel, django_capture_on_commit_callbacks
):
    def send(round_name):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/segments/{segment.pk}/nps/", {"unit": desk_a.unit.pk, "round": round_name})

    from guanxi.commerce.tests.factories import make_customer
    from guanxi.segments import actions as segments

    other = make_customer("a 陈静", [desk_a.unit], phone="13811112222")
    b_only = make_customer("b 赵磊", [desk_b.unit], phone="13733334444")
    segment = segments.create_segment(actor=desk_a.head, name="老客户", kind="static", unit=desk_a.unit)
    segments.add_to_static(segment, [desk_a.customer.pk, other.pk, b_only.pk], actor=desk_a.head)
    client.force_login(desk_a.head)

    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert f"/segments/{segment.pk}/nps/" in page
    response = send("2026 Q4 NPS")

    assert response.status_code == 302
    surveys = Survey.objects.filter(kind="nps").order_by("customer_id")
    assert [(s.customer_id, s.unit_id, s.round) for s in surveys] == sorted(
        [(desk_a.customer.pk, desk_a.unit.pk, "2026 Q4 NPS"), (other.pk, desk_a.unit.pk, "2026 Q4 NPS")]
    )
    assert all(s.outbox_id for s in surveys)
    job_page = client.get(response["Location"]).content.decode()
    assert "Customers invited" in job_page

    send("2026 Q4 NPS")
    assert Survey.objects.filter(kind="nps").count() == 2
    send("2027 Q1 NPS")
    assert Survey.objects.filter(kind="nps").count() == 4


@pytest.mark.django_db
def test_only_who_manages_service_sends_nps_rounds(client, desk_a, make_user):
    from guanxi.accounts.roles import Role
    from guanxi.segments import actions as segments

    segment = segments.create_segment(actor=desk_a.head, name="老客户", kind="static", unit=desk_a.unit)
    client.force_login(make_user("marketer_a", Role.MARKETER, [desk_a.unit]))

    assert f"/segments/{segment.pk}/nps/" not in client.get(f"/segments/{segment.pk}/").content.decode()
    response = client.post(f"/segments/{segment.pk}/nps/", {"unit": desk_a.unit.pk, "round": "x"})
    assert response.status_code == 403
    assert not Survey.objects.exists()


@pytest.mark.django_db
def test_the_api_skips_customers_already_invited_in_the_round(client, desk_a, sms_channel, bearer):
    headers = bearer(desk_a.head, "read_write")
    body = {"unit": desk_a.unit.pk, "customers": [desk_a.customer.pk], "round": "618 回访"}

    first = client.post("/api/v1/service/nps-surveys", body, content_type="application/json", headers=headers)
    again = client.post("/api/v1/service/nps-surveys", body, content_type="application/json", headers=headers)

    assert (first.status_code, first.json()) == (202, {"sent": 1})
    assert (again.status_code, again.json()) == (202, {"sent": 0})
