"""Consent evidence recorded and withdrawn from the 360 page and the API, and the owner assigned:
without an owner a sales rep (who sees only the customers they own) sees nothing."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Consent, Customer, TimelineEvent

HTMX = {"HX-Request": "true"}
GIVEN = {
    "channel": "sms",
    "state": "granted",
    "method": "written",
    "purpose": "会员短信优惠",
    "text_version": "隐私政策 v3",
    "source": "门店会员登记表",
    "evidence": "顾客签字",
}


@pytest.fixture
def customer(unit_a):
    return make_customer("王芳", [unit_a], phone="+8613800001111")


@pytest.fixture
def agent(make_user, unit_a):
    return make_user("agent_a", Role.SERVICE_AGENT, [unit_a])


def test_an_agent_records_consent_and_its_withdrawal_on_the_360_page(client, agent, customer, unit_a):
    client.force_login(agent)

    given = client.post(f"/customers/{customer.pk}/consent/", GIVEN, headers=HTMX)
    withdrawn = client.post(
        f"/customers/{customer.pk}/consent/",
        {**GIVEN, "state": "withdrawn", "method": "reply", "evidence": "回复 TD", "source": "短信回复"},
        headers=HTMX,
    )

    assert given.status_code == withdrawn.status_code == 200
    assert withdrawn.content.decode().lstrip().startswith('<div id="customer-consent">')
    rows = list(
        Consent.objects.order_by("id").values_list(
            "state", "method", "purpose", "text_version", "source", "unit"
        )
    )
    assert rows == [
        ("granted", "written", "会员短信优惠", "隐私政策 v3", "门店会员登记表", unit_a.pk),
        ("withdrawn", "reply", "会员短信优惠", "隐私政策 v3", "短信回复", unit_a.pk),
    ]
    sms = next(row for row in withdrawn.context["consent"] if row.channel == "sms")
    assert (sms.state, sms.purpose, sms.text_version, sms.evidence) == (
        "withdrawn",
        "会员短信优惠",
        "隐私政策 v3",
        "回复 TD",
    )
    assert [
        entry.details for entry in AuditEntry.objects.filter(object_type="customers.consent").order_by("id")
    ] == [
        f"Consent for SMS on customer #{customer.pk}",
        f"Consent for SMS on customer #{customer.pk}",
    ]
    assert [
        entry.changes for entry in AuditEntry.objects.filter(object_type="customers.consent").order_by("id")
    ] == [
        {"state": {"from": "", "to": "granted"}},
        {"state": {"from": "granted", "to": "withdrawn"}},
    ]
    assert TimelineEvent.objects.filter(kind="consent_changed").count() == 2


def test_consent_needs_a_purpose_and_the_change_permission(client, agent, make_user, customer, unit_a):
    client.force_login(agent)
    missing = client.post(f"/customers/{customer.pk}/consent/", {**GIVEN, "purpose": ""}, headers=HTMX)
    client.force_login(make_user("ana", Role.ANALYST, [unit_a]))
    refused = client.post(f"/customers/{customer.pk}/consent/", GIVEN, headers=HTMX)

    assert missing.context["consent_form"].errors == {"purpose": ["This field is required."]}
    assert refused.status_code == 403
    assert not Consent.objects.exists()


def test_the_timeline_names_the_consent_in_words(client, agent, customer):
    client.force_login(agent)
    client.post(f"/customers/{customer.pk}/consent/", GIVEN, headers=HTMX)

    page = client.get(f"/customers/{customer.pk}/")

    summaries = [item.summary for item in page.context["c360"].timeline.items]
    assert "Consent for SMS: Granted (Written)" in summaries


def test_a_sales_rep_sees_a_customer_once_they_own_it(client, unit_a_head, make_user, customer, unit_a):
    rep = make_user("rep_a", Role.SALES_REP, [unit_a])
    client.force_login(rep)
    before = client.get("/customers/").context["customers"]
    client.force_login(unit_a_head)

    page = client.get(f"/customers/{customer.pk}/")
    assigned = client.post(f"/customers/{customer.pk}/owner/", {"owner": rep.pk})
    client.force_login(rep)
    after = client.get("/customers/").context["customers"]

    assert before == []
    candidates = [value for value, _label in page.context["owner_form"].fields["owner"].choices]
    assert candidates[:2] == ["", rep.pk]
    assert assigned.status_code == 302
    assert [row["customer"].pk for row in after] == [customer.pk]
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    entry = AuditEntry.objects.get(object_type="customers.customer", action="update")
    assert (entry.actor, entry.details, entry.changes) == (
        unit_a_head,
        "Owner: rep_a",
        {"owner": {"from": None, "to": rep.pk}},
    )


def test_nobody_outside_the_customers_units_can_own_it(
    client, unit_a_head, make_user, customer, unit_b, bearer
):
    stranger = make_user("rep_b", Role.SALES_REP, [unit_b])
    client.force_login(unit_a_head)

    page = client.post(f"/customers/{customer.pk}/owner/", {"owner": stranger.pk}, follow=True)
    api = client.put(
        f"/api/v1/customers/{customer.pk}/owner",
        {"owner_id": stranger.pk},
        content_type="application/json",
        headers=bearer(unit_a_head, scope="read_write"),
    )

    assert [str(message) for message in page.context["messages"]] == [
        f"Select a valid choice. {stranger.pk} is not one of the available choices."
    ]
    assert api.status_code == 422
    assert Customer.objects.get(pk=customer.pk).owner is None


def test_the_api_records_consent_and_assigns_the_owner(
    client, unit_a_head, make_user, customer, unit_a, bearer
):
    rep = make_user("rep_a", Role.SALES_REP, [unit_a])
    token = bearer(unit_a_head, scope="read_write")

    recorded = client.post(
        f"/api/v1/customers/{customer.pk}/consent",
        {**GIVEN, "channel": "email", "method": "double_opt_in"},
        content_type="application/json",
        headers=token,
    )
    owned = client.put(
        f"/api/v1/customers/{customer.pk}/owner",
        {"owner_id": rep.pk},
        content_type="application/json",
        headers=token,
    )
    cleared = client.put(
        f"/api/v1/customers/{customer.pk}/owner",
        {"owner_id": None},
        content_type="application/json",
        headers=token,
    )
    detail = client.get(f"/api/v1/customers/{customer.pk}", headers=token).json()

    assert recorded.status_code == 201
    email = next(row for row in recorded.json() if row["channel"] == "email")
    assert (email["state"], email["method"], email["purpose"], email["text_version"]) == (
        "granted",
        "double_opt_in",
        "会员短信优惠",
        "隐私政策 v3",
    )
    assert owned.json() == {"owner_id": rep.pk, "owner_name": "rep_a"}
    assert cleared.json() == {"owner_id": None, "owner_name": ""}
    assert next(row for row in detail["consent"] if row["channel"] == "email")["purpose"] == "会员短信优惠"
    assert [
        entry.details for entry in AuditEntry.objects.filter(object_type="customers.customer").order_by("id")
    ] == [
        "Owner: rep_a",
        "Owner removed",
    ]
