"""Inbound e-mail over a real SMTP session: a message to a unit's support address opens one ticket, a
reply to it threads onto the same ticket (In-Reply-To / References), a replayed message creates nothing,
and the listener refuses addresses that are no unit's."""

import smtplib
import socket
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from guanxi.service import actions
from guanxi.service.inbound import receive_email
from guanxi.service.mail_server import controller
from guanxi.service.models import InboundEmail, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

SUPPORT = "kefu@home-textiles.cn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(desk_a):
    actions.save_settings(desk_a.unit, actor=desk_a.head, assignment="round_robin", support_address=SUPPORT)
    server = controller(port=free_port())
    server.start()
    yield server
    server.stop()


def mail(subject: str, body: str, *, in_reply_to: str = "", references: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "李娜 <lina.buyer@163.com>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="163.com")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    message.set_content(body)
    return message


def send(server, message: EmailMessage, to: str = SUPPORT) -> None:
    with smtplib.SMTP(server.hostname, server.port) as client:
        client.send_message(message, to_addrs=[to])


def test_a_message_opens_a_ticket_and_the_reply_threads_onto_it(smtp, desk_a):
    first = mail("枕套颜色不对", "收到的是灰色，订的是米白色。")

    send(smtp, first)

    ticket = Ticket.objects.get()
    assert (ticket.unit, ticket.channel, ticket.subject) == (desk_a.unit, "email", "枕套颜色不对")
    assert ticket.email_address == "lina.buyer@163.com"
    assert ticket.email_message_id == first["Message-ID"]
    assert ticket.customer is not None and ticket.customer.name == "李娜"
    assert ticket.assignee == desk_a.agent
    assert TicketEvent.objects.get(ticket=ticket, kind="inbound").body == "收到的是灰色，订的是米白色。"

    answer = mail(
        "Re: 枕套颜色不对", "好的，请换成米白色。\n\n> 收到的是灰色", in_reply_to=first["Message-ID"]
    )
    send(smtp, answer)

    assert Ticket.objects.count() == 1
    inbound = list(
        TicketEvent.objects.filter(ticket=ticket, kind="inbound")
        .order_by("pk")
        .values_list("body", "message_id")
    )
    assert inbound == [
        ("收到的是灰色，订的是米白色。", first["Message-ID"]),
        ("好的，请换成米白色。", answer["Message-ID"]),
    ]


def test_a_replayed_message_creates_nothing(smtp):
    message = mail("发票", "请开发票")
    send(smtp, message)

    send(smtp, message)
    again = receive_email(bytes(message))

    assert again.outcome == "replayed"
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind="inbound").count() == 1
    assert InboundEmail.objects.count() == 1


def test_a_reply_to_a_later_message_of_the_thread_still_threads(smtp):
    first = mail("尺寸", "被套有 220 的吗")
    send(smtp, first)
    second = mail("Re: 尺寸", "还有 200 的", in_reply_to=first["Message-ID"])
    send(smtp, second)
    third = mail(
        "Re: 尺寸",
        "谢谢",
        in_reply_to=second["Message-ID"],
        references=f"{first['Message-ID']} {second['Message-ID']}",
    )

    send(smtp, third)

    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind="inbound").count() == 3


def test_the_listener_refuses_unknown_recipients(smtp):
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp, mail("spam", "x"), to="nobody@home-textiles.cn")

    assert Ticket.objects.count() == 0
