"""Tickets through the seed's process (创建 → 分配 → 处理 → 反馈 → 归档): every transition a history entry
and an audit entry; assignment by round robin or least loaded among agents on shift, or by hand."""

import pytest
from django.core.exceptions import ValidationError

from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.messaging.models import Message
from guanxi.service import actions
from guanxi.service.models import AssignmentMode, FollowUp, Survey, Ticket, TicketEvent

from .conftest import at

pytestmark = pytest.mark.django_db


def open_ticket(desk, subject="物流太慢", **fields):
    return actions.open_ticket(
        actor=desk.agent, unit=desk.unit, subject=subject, customer=desk.customer, **fields
    )


def mode(desk, assignment):
    actions.save_settings(desk.unit, actor=desk.head, assignment=assignment)


def test_round_robin_deals_tickets_in_turn(desk_a):
    owners = [open_ticket(desk_a).assignee for _ in range(4)]

    assert owners == [desk_a.agent, desk_a.agent2, desk_a.agent3, desk_a.agent]


def test_agents_off_shift_get_no_new_tickets(desk_a):
    actions.set_on_shift(desk_a.agent2, desk_a.unit, False)

    owners = [open_ticket(desk_a).assignee for _ in range(3)]

    assert owners == [desk_a.agent, desk_a.agent3, desk_a.agent]


def test_least_loaded_picks_the_agent_with_fewest_open_tickets(desk_a):
    mode(desk_a, AssignmentMode.LEAST_LOADED)
    for _ in range(2):
        open_ticket(desk_a, assignee=desk_a.agent)
    open_ticket(desk_a, assignee=desk_a.agent2)

    assert open_ticket(desk_a).assignee == desk_a.agent3
    assert open_ticket(desk_a).assignee == desk_a.agent2  # 1 each for agent2 and agent3: the earlier one


def test_manual_mode_leaves_tickets_in_the_queue_and_an_agent_takes_one(desk_a):
    mode(desk_a, AssignmentMode.MANUAL)
    ticket = open_ticket(desk_a)
    assert (ticket.status, ticket.assignee) == ("created", None)

    actions.assign(ticket, desk_a.agent2, actor=desk_a.agent2)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("assigned", desk_a.agent2)


def test_only_a_manager_gives_a_ticket_to_someone_else(desk_a):
    ticket = open_ticket(desk_a)

    with pytest.raises(Denied):
        actions.assign(ticket, desk_a.agent3, actor=desk_a.agent)
    actions.assign(ticket, desk_a.agent3, actor=desk_a.head)

    assert Ticket.objects.get(pk=ticket.pk).assignee == desk_a.agent3


def test_the_whole_process_leaves_a_history_and_an_audit_trail(desk_a, sms_channel):
    ticket = open_ticket(
        desk_a,
        ticket_type="complaint",
        complaint_reason="logistics",
        body="三天还没发货",
        now=at(2026, 3, 2, 9, 0),
    )
    agent = ticket.assignee

    actions.transition(ticket, "start", actor=agent, now=at(2026, 3, 2, 9, 5))
    actions.reply(ticket, "已催促仓库", actor=agent, now=at(2026, 3, 2, 9, 10), wait=True)
    actions.customer_wrote(ticket, "好的谢谢", now=at(2026, 3, 2, 10, 0))
    actions.add_note(ticket, "仓库说明天发", actor=agent, now=at(2026, 3, 2, 10, 5))
    actions.transition(ticket, "resolve", actor=agent, now=at(2026, 3, 2, 11, 0))
    actions.transition(ticket, "close", actor=agent, now=at(2026, 3, 3, 11, 0))

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert ticket.resolved_at == at(2026, 3, 2, 11, 0)
    events = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "data__new"))
    assert events == [
        ("created", None),
        ("inbound", None),
        ("assigned", None),
        ("status", "in_progress"),
        ("reply", None),
        ("status", "waiting"),
        ("inbound", None),
        ("status", "in_progress"),
        ("note", None),
        ("status", "resolved"),
        ("follow_up", None),
        ("status", "closed"),
        ("survey", None),
    ]
    audited = list(
        AuditEntry.objects.filter(object_type="service.ticket", object_id=str(ticket.pk))
        .order_by("pk")
        .values_list("message_code", flat=True)
    )
    assert audited == [
        "service.ticket_opened",
        "service.ticket_assigned",
        "service.ticket_status",
        "service.ticket_replied",
        "service.ticket_status",
        "service.ticket_status",
        "service.ticket_note",
        "service.ticket_status",
        "service.ticket_status",
    ]
    # the complaint's call back (客户回访) eight business hours after the resolution, and the CSAT survey
    follow_up = FollowUp.objects.get(ticket=ticket)
    assert (follow_up.reason, follow_up.due_at, follow_up.assignee) == (
        "complaint",
        at(2026, 3, 3, 10, 0),
        agent,
    )
    survey = Survey.objects.get(ticket=ticket)
    assert survey.kind == "csat" and survey.outbox_id is not None
    reply = Message.objects.get(source=f"service:{ticket.pk}", subject__startswith="[#")
    assert (reply.customer_id, reply.body, reply.medium, reply.state) == (
        desk_a.customer.pk,
        "已催促仓库",
        "sms",
        "queued",
    )


def test_transitions_outside_the_process_are_refused(desk_a):
    ticket = open_ticket(desk_a)

    with pytest.raises(ValidationError):
        actions.transition(ticket, "close", actor=desk_a.agent)
    with pytest.raises(ValidationError):
        actions.transition(ticket, "reopen", actor=desk_a.agent)
    assert actions.allowed_transitions(Ticket.objects.get(pk=ticket.pk)) == ["start", "wait", "resolve"]


def test_reopening_gives_a_new_resolution_deadline(desk_a):
    ticket = open_ticket(desk_a, now=at(2026, 3, 2, 9, 0))
    actions.transition(ticket, "resolve", actor=ticket.assignee, now=at(2026, 3, 2, 10, 0))

    actions.transition(ticket, "reopen", actor=ticket.assignee, now=at(2026, 3, 4, 9, 0))

    ticket.refresh_from_db()
    assert (ticket.status, ticket.reopened, ticket.resolved_at) == ("in_progress", 1, None)
    assert ticket.resolution_due == at(2026, 3, 5, 16, 0)  # normal: 16 business hours


def test_a_customer_writing_to_a_resolved_ticket_reopens_it(desk_a):
    ticket = open_ticket(desk_a)
    actions.transition(ticket, "resolve", actor=ticket.assignee)

    actions.customer_wrote(ticket, "还是不行")

    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"


def test_resolved_tickets_are_archived_after_a_week(desk_a):
    ticket = open_ticket(desk_a, now=at(2026, 3, 2, 9, 0))
    actions.transition(ticket, "resolve", actor=ticket.assignee, now=at(2026, 3, 2, 10, 0))

    assert actions.scan_sla(now=at(2026, 3, 9, 9, 0)).closed == 0
    assert actions.scan_sla(now=at(2026, 3, 9, 10, 0)).closed == 1
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_orders_of_another_customer_or_unit_are_refused(desk_a, desk_b):
    from guanxi.commerce.tests.factories import make_order, make_store

    other = make_order(make_store(desk_b.unit, "B 店"), desk_b.customer, "B-1", "10.00", (2026, 3, 1))

    with pytest.raises(ValidationError):
        open_ticket(desk_a, orders=[other])
