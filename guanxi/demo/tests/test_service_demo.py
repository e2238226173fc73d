"""The demo's service desk: tickets in every state with SLA breaches, answered surveys behind a
satisfaction index, follow-up calls, a transfer waiting, and the agent's pages open."""

import pytest

from guanxi.accounts.models import User
from guanxi.demo.loader import DEFAULT_SEED, REFERENCE_ANCHOR, load_demo
from guanxi.demo.service import load_service_demo
from guanxi.service import fetch
from guanxi.service.models import FollowUp, Holiday, Survey, Ticket, Transfer

pytestmark = pytest.mark.django_db


def test_the_demo_desk_has_tickets_in_every_state(client):
    load_demo(customers=200, anchor=REFERENCE_ANCHOR)
    demo = load_service_demo(REFERENCE_ANCHOR, seed=DEFAULT_SEED)

    for code in ("home", "beauty"):
        tickets = Ticket.objects.filter(unit__code=code)
        assert set(tickets.values_list("status", flat=True)) == {
            "created",
            "assigned",
            "in_progress",
            "waiting",
            "resolved",
            "closed",
        }, code
        assert set(tickets.values_list("ticket_type", flat=True)) == {
            "inquiry",
            "complaint",
            "after_sales",
            "suggestion",
        }
        assert Holiday.objects.filter(unit__code=code, name="春节").exists()
    assert demo.tickets == Ticket.objects.count() > 100
    assert demo.breached > 0
    assert Ticket.objects.filter(first_response_breached_at__isnull=False, status="in_progress").exists()
    assert all(t.created_at <= REFERENCE_ANCHOR for t in Ticket.objects.all())
    assert (
        Survey.objects.filter(kind="csat", answered_at__isnull=False).count()
        == demo.surveys_answered - 2 * 12
    )  # 12 NPS answers per unit
    assert (
        FollowUp.objects.filter(done_at__isnull=False).exists()
        and FollowUp.objects.filter(done_at__isnull=True).exists()
    )
    assert Transfer.objects.filter(state="pending").count() == 1
    manager = User.objects.get(username="manager")
    index = fetch.satisfaction_index(
        manager, since=REFERENCE_ANCHOR.replace(year=REFERENCE_ANCHOR.year - 1), until=REFERENCE_ANCHOR
    )
    assert len(index) >= 3 and all(
        60 <= point["index"] <= 100 for point in index if point["index"] is not None
    )

    client.force_login(User.objects.get(username="service"))
    for url in (
        "/service/",
        "/service/tickets/",
        "/service/reports/",
        "/service/follow-ups/",
        "/service/settings/",
    ):
        assert client.get(url).status_code == 200, url
    ticket = Ticket.objects.filter(status="closed", satisfaction__isnull=False).first()
    assert client.get(f"/service/tickets/{ticket.pk}/").status_code == 200
