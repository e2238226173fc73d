"""Business-unit isolation: an agent of unit A sees no unit-B ticket on any page or endpoint, and a
transfer across units (跨版块) moves a ticket only when a manager of each side has agreed."""

import pytest

from guanxi.core.access import Denied
from guanxi.service import actions
from guanxi.service.models import Ticket, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def b_ticket(desk_b):
    return actions.open_ticket(
        actor=desk_b.agent, unit=desk_b.unit, subject="B 的投诉", customer=desk_b.customer
    )


def test_an_agent_of_unit_a_sees_no_unit_b_ticket_on_any_route(client, desk_a, desk_b, b_ticket, bearer):
    mine = actions.open_ticket(
        actor=desk_a.agent, unit=desk_a.unit, subject="A 的咨询", customer=desk_a.customer
    )
    client.force_login(desk_a.agent)

    pages = {
        url: client.get(url)
        for url in (
            "/service/",
            "/service/tickets/",
            "/service/tickets/?status=open",
            "/service/reports/",
            "/service/follow-ups/",
        )
    }
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert "B 的投诉" not in response.content.decode(), url
    assert "A 的咨询" in pages["/service/tickets/"].content.decode()
    for url in (f"/service/tickets/{b_ticket.pk}/", f"/service/tickets/?customer={desk_b.customer.pk}"):
        response = client.get(url)
        assert response.status_code in (200, 404)
        assert "B 的投诉" not in response.content.decode()
    assert client.get(f"/service/tickets/{b_ticket.pk}/").status_code == 404
    assert client.post(f"/service/tickets/{b_ticket.pk}/move/", {"action": "start"}).status_code == 404
    assert client.post(f"/service/tickets/{b_ticket.pk}/reply/", {"body": "x"}).status_code == 404
    assert Ticket.objects.get(pk=b_ticket.pk).status == "assigned"

    headers = bearer(desk_a.agent)
    listed = client.get("/api/v1/service/tickets", headers=headers).json()
    assert [row["id"] for row in listed["items"]] == [mine.pk]
    assert client.get(f"/api/v1/service/tickets/{b_ticket.pk}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/service/tickets/{b_ticket.pk}/events", headers=headers).status_code == 404
    report = client.get("/api/v1/service/report", headers=headers).json()
    assert sum(report["volume_by_type"].values()) == 1


def test_a_transfer_needs_both_units(desk_a, desk_b):
    ticket = actions.open_ticket(
        actor=desk_a.agent, unit=desk_a.unit, subject="其实是美妆订单", customer=desk_a.customer
    )

    transfer = actions.request_transfer(ticket, desk_b.unit, actor=desk_a.agent, reason="买的是美妆")
    assert (transfer.source_approved_by, transfer.target_approved_by) == (None, None)
    with pytest.raises(Denied):
        actions.approve_transfer(transfer, actor=desk_a.agent2)  # an agent cannot agree for a unit
    actions.approve_transfer(transfer, actor=desk_b.head)
    assert Ticket.objects.get(pk=ticket.pk).unit == desk_a.unit  # the source has not agreed yet

    actions.approve_transfer(transfer, actor=desk_a.head)

    transfer.refresh_from_db()
    ticket.refresh_from_db()
    assert transfer.state == Transfer.State.DONE
    assert (transfer.source_approved_by, transfer.target_approved_by) == (desk_a.head, desk_b.head)
    assert ticket.unit == desk_b.unit
    assert ticket.assignee == desk_b.agent  # dealt out in its new unit
    assert Ticket.objects.restrict(desk_a.agent, "view").filter(pk=ticket.pk).count() == 0
    assert Ticket.objects.restrict(desk_b.agent, "view").filter(pk=ticket.pk).count() == 1


def test_a_head_of_another_unit_cannot_approve_for_the_source(desk_a, desk_b, make_user, organisation):
    from guanxi.accounts import actions as account_actions
    from guanxi.accounts.roles import Role

    third = account_actions.create_business_unit(code="food", name="Food")
    head_c = make_user("head_c", Role.UNIT_HEAD, [third])
    ticket = actions.open_ticket(
        actor=desk_a.agent, unit=desk_a.unit, subject="转给美妆", customer=desk_a.customer
    )
    transfer = actions.request_transfer(ticket, desk_b.unit, actor=desk_a.head)

    with pytest.raises(Denied):
        actions.approve_transfer(transfer, actor=head_c)
    actions.reject_transfer(transfer, actor=desk_b.head)

    transfer.refresh_from_db()
    assert transfer.state == Transfer.State.REJECTED
    assert Ticket.objects.get(pk=ticket.pk).unit == desk_a.unit


def test_transfers_through_the_pages(client, desk_a, desk_b):
    ticket = actions.open_ticket(
        actor=desk_a.agent, unit=desk_a.unit, subject="转单", customer=desk_a.customer
    )
    client.force_login(desk_a.head)
    client.post(f"/service/tickets/{ticket.pk}/transfer/", {"to_unit": desk_b.unit.pk, "reason": "美妆"})
    transfer = Transfer.objects.get(ticket=ticket)
    assert transfer.source_approved_by == desk_a.head

    client.force_login(desk_b.head)
    inbox = client.get("/service/").content.decode()
    assert "转单" in inbox
    client.post(f"/service/transfers/{transfer.pk}/approve/")

    assert Ticket.objects.get(pk=ticket.pk).unit == desk_b.unit
