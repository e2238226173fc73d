"""Scheduled delivery: a report set up from its page is e-mailed through the messaging outbox when due,
once a day at most, only to people who may read it, and every step is audited."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry
from guanxi.messaging.models import Message
from guanxi.reports import actions
from guanxi.reports.models import Delivery
from guanxi.reports.tests.data import PERIOD

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 6, 1, 7, 0, tzinfo=SHANGHAI)
TUESDAY = datetime(2026, 6, 2, 7, 0, tzinfo=SHANGHAI)


def test_a_scheduled_report_is_mailed_when_due_and_once(client, shop, mail, unit_a, unit_a_head, make_user):
    analyst = make_user("ana", Role.ANALYST, [unit_a], email="ana@guanxi-shop.cn")
    client.force_login(unit_a_head)

    response = client.post(
        "/reports/products/schedule/",
        {
            "unit": "home",
            "query": f"group=category&{PERIOD}",
            "frequency": "weekly",
            "recipients": [analyst.pk],
        },
    )

    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert (delivery.report, delivery.frequency, list(delivery.recipients.all())) == (
        "products",
        "weekly",
        [analyst],
    )
    assert delivery.query == "group=category&start=2025-01&end=2025-12&unit=home"
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.CREATE, object_type="reports.delivery").count()
        == 1
    )

    assert actions.deliver_due(TUESDAY) == 0  # weekly reports go out on Mondays
    assert actions.deliver_due(MONDAY) == 1
    assert actions.deliver_due(MONDAY) == 0

    message = Message.objects.get(source="reports")
    assert (message.user, message.medium, message.address) == (analyst, "email", "ana@guanxi-shop.cn")
    assert message.subject == "Sales by product — Home textiles, 2026-06-01"
    lines = message.body.splitlines()
    assert lines[:4] == [
        "Category | Revenue | Revenue, share (%) | Units sold | Orders | Customers",
        "home_textiles | 150.00 | 95.5 | 2 | 2 | 2",
        "=cmd|' /C calc'!A0 | 7.00 | 4.5 | 2 | 1 | 1",
        "Total | 157.00 | 100.0 | 4 | 2 | 2",
    ]
    assert lines[-1].endswith("/reports/products/?group=category&start=2025-01&end=2025-12&unit=home")
    sent = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT, object_type="reports.delivery")
    assert (sent.actor, sent.unit) == (unit_a_head, unit_a)


def test_recipients_must_be_able_to_read_the_report(client, shop, unit_a, unit_b, unit_a_head, make_user):
    outsider = make_user("outsider", Role.UNIT_HEAD, [unit_b], email="b@guanxi-shop.cn")
    rep = make_user("rep", Role.SALES_REP, [unit_a], email="rep@guanxi-shop.cn")

    for person in (outsider, rep):
        with pytest.raises(actions.DeliveryError):
            actions.schedule(
                actor=unit_a_head,
                unit=unit_a,
                report="products",
                query="",
                frequency="daily",
                recipients=[person],
            )
    assert Delivery.objects.count() == 0


def test_a_recipient_who_lost_access_gets_nothing(shop, unit_a, unit_a_head, make_user, mail):
    analyst = make_user("ana", Role.ANALYST, [unit_a], email="ana@guanxi-shop.cn")
    delivery = actions.schedule(
        actor=unit_a_head,
        unit=unit_a,
        report="churn",
        query="group=risk",
        frequency="daily",
        recipients=[analyst],
    )
    analyst.units.clear()

    assert actions.deliver_due(TUESDAY) == 1

    assert Message.objects.filter(source="reports").count() == 0
    delivery.refresh_from_db()
    assert delivery.last_sent_on == TUESDAY.date()


def test_cancelling_is_audited_and_other_units_cannot(
    client, shop, unit_a, unit_a_head, unit_b_head, make_user
):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    delivery = actions.schedule(
        actor=unit_a_head, unit=unit_a, report="churn", query="", frequency="monthly", recipients=[analyst]
    )
    client.force_login(unit_b_head)
    assert client.post(f"/reports/deliveries/{delivery.pk}/cancel/").status_code == 404

    client.force_login(unit_a_head)
    assert client.post(f"/reports/deliveries/{delivery.pk}/cancel/").status_code == 302
    assert Delivery.objects.count() == 0
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.DELETE, object_type="reports.delivery").count()
        == 1
    )
