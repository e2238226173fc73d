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
