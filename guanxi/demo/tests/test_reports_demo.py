"""The demo's scheduled reports: the unit heads' deliveries are set up through the reports app's own
action, listed on their Reports page, and each runs for its recipients."""

import pytest
from django.http import QueryDict

from guanxi.accounts.models import User
from guanxi.core.models import AuditEntry
from guanxi.demo.loader import REFERENCE_ANCHOR, load_demo
from guanxi.demo.reports import load_reports_demo
from guanxi.reports import catalogue
from guanxi.reports.kit import parse_scope, run
from guanxi.reports.models import Delivery

pytestmark = pytest.mark.django_db


def test_the_demo_schedules_the_unit_heads_reports(client):
    load_demo(customers=200, anchor=REFERENCE_ANCHOR)

    demo = load_reports_demo()

    deliveries = [
        (
            d.created_by.username,
            d.unit.code,
            d.report,
            d.query,
            d.frequency,
            sorted(d.recipients.values_list("username", flat=True)),
        )
        for d in Delivery.objects.order_by("pk")
    ]
    assert deliveries == [
        ("head_home", "home", "products", "group=category&unit=home", "weekly", ["analyst", "head_home"]),
        ("head_beauty", "beauty", "churn", "group=risk&unit=beauty", "monthly", ["head_beauty", "marketer"]),
    ]
    assert demo.deliveries == 2
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.CREATE, object_type="reports.delivery").count()
        == 2
    )

    weekly = Delivery.objects.get(report="products")
    analyst = User.objects.get(username="analyst")
    scope = parse_scope(catalogue.BY_SLUG["products"], QueryDict(weekly.query), weekly.unit, REFERENCE_ANCHOR)
    assert run(catalogue.BY_SLUG["products"], analyst, scope).rows  # the home unit's categories sold

    client.force_login(User.objects.get(username="head_home"))
    page = client.get("/reports/").content.decode()
    assert 'id="delivery-table"' in page
    assert 'href="/reports/products/?group=category&amp;unit=home"' in page
