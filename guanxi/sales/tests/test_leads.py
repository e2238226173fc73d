from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from guanxi.commerce.tests.factories import make_customer
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer, CustomerUnit, Identity
from guanxi.sales.actions import leads as actions
from guanxi.sales.actions.configuration import update_rules
from guanxi.sales.models import (
    Account,
    Activity,
    Contact,
    Lead,
    LeadTransfer,
    Notification,
    Opportunity,
    SalesRules,
)

pytestmark = pytest.mark.django_db


def capture(team, **fields):
    values = {"name": "王小明", "company": "锦程酒店", "phone": "13912345678", **fields}
    return actions.capture_lead(unit=team.unit, **values)


def test_a_rep_owns_the_leads_they_enter(team_a):
    captured = capture(team_a, actor=team_a.rep)

    assert captured.outcome == "created"
    lead = captured.lead
    assert (lead.owner, lead.status, lead.phone_key, lead.source) == (
        team_a.rep,
        "new",
        "+8613912345678",
        "manual",
    )
    assert not Notification.objects.exists()  # nobody tells you about your own lead


def test_leads_without_a_rep_are_dealt_round_robin_and_the_rep_is_told(team_a):
    owners = [capture(team_a, phone=f"1391234567{n}").lead.owner for n in range(3)]

    assert owners == [team_a.rep, team_a.rep2, team_a.rep]
    assert SalesRules.objects.get(unit=team_a.unit).last_assigned == team_a.rep
    assert list(Notification.objects.values_list("user__username", "kind", "data")) == [
        ("a_rep", "lead_assigned", {"name": "锦程酒店"}),
        ("a_rep2", "lead_assigned", {"name": "锦程酒店"}),
        ("a_rep", "lead_assigned", {"name": "锦程酒店"}),
    ]


def test_a_unit_that_assigns_by_hand_keeps_new_leads_in_its_pool(team_a):
    update_rules(team_a.unit, actor=team_a.head, assignment=SalesRules.Assignment.MANUAL)

    lead = capture(team_a, actor=team_a.manager).lead

    assert lead.owner is None
    actions.assign_lead(lead, team_a.rep2, actor=team_a.manager)
    assert Lead.objects.get(pk=lead.pk).owner == team_a.rep2
    assert Notification.objects.get().user == team_a.rep2


def test_only_a_sales_manager_gives_a_lead_to_someone_else(team_a):
    lead = capture(team_a, actor=team_a.rep).lead

    with pytest.raises(Denied):
        actions.assign_lead(lead, team_a.rep2, actor=team_a.rep)
    with pytest.raises(Denied):
        capture(team_a, actor=team_a.rep, owner=team_a.rep2, phone="13700001111")


def test_an_owner_must_sell_in_the_lead_unit(team_a, team_b):
    lead = capture(team_a, actor=team_a.rep).lead

    with pytest.raises(ValidationError) as refused:
        actions.assign_lead(lead, team_b.rep, actor=team_a.manager)
    assert refused.value.message_dict == {"owner": ["Choose an active sales user of the lead's unit."]}


def test_an_open_lead_with_the_same_phone_or_email_is_not_duplicated(team_a):
    first = capture(team_a, actor=team_a.rep, email="Wang@Jincheng.cn").lead

    by_phone = capture(team_a, actor=team_a.rep2, phone="139 1234 5678", email="")
    by_email = capture(team_a, actor=team_a.rep2, phone="", email="wang@jincheng.cn")

    assert (by_phone.outcome, by_phone.lead.pk) == ("duplicate", first.pk)
    assert (by_email.outcome, by_email.lead.pk) == ("duplicate", first.pk)
    assert Lead.objects.count() == 1


def test_a_closed_lead_does_not_block_a_new_one(team_a):
    old = capture(team_a, actor=team_a.rep).lead
    actions.disqualify_lead(old, actor=team_a.rep, reason="no_budget")

    again = capture(team_a, actor=team_a.rep)

    assert again.outcome == "created" and again.lead.pk != old.pk


def test_a_resent_external_id_updates_its_lead_instead_of_adding_one(team_a):
    first = capture(team_a, actor=team_a.rep, source="api", external_id="crm-7", title="采购")
    same = capture(team_a, actor=team_a.rep, source="api", external_id="crm-7", title="采购")
    changed = capture(team_a, actor=team_a.rep, source="api", external_id="crm-7", title="采购经理")

    assert [first.outcome, same.outcome, changed.outcome] == ["created", "unchanged", "updated"]
    assert Lead.objects.get().title == "采购经理"


def test_a_lead_is_matched_to_the_known_customer_with_its_phone(team_a):
    buyer = make_customer("王小明", [], phone="+8613912345678")

    lead = capture(team_a, actor=team_a.rep).lead

    assert lead.customer == buyer


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"phone": "138****5678"}, {"phone": ["“138****5678” is not a usable phone number."]}),
        (
            {"phone": "", "email": "test@test.com"},
            {"email": ["“test@test.com” is not a usable e-mail address."]},
        ),
        (
            {"phone": "", "email": ""},
            {"phone": ["Give a phone number or an e-mail address, so the lead can be reached."]},
        ),
        ({"name": "", "company": ""}, {"name": ["Give the person's name or their company."]}),
    ],
)
def test_bad_contact_details_are_refused_by_field(team_a, fields, errors):
    with pytest.raises(ValidationError) as refused:
        capture(team_a, actor=team_a.rep, **fields)

    assert refused.value.message_dict == errors
    assert not Lead.objects.exists()


def test_personal_data_never_reaches_the_audit_log(team_a):
    lead = capture(team_a, actor=team_a.rep, email="wang@jincheng.cn").lead
    actions.update_lead(lead, actor=team_a.rep, phone="13811112222")

    logged = str(list(AuditEntry.objects.values("message", "changes", "object_label")))
    for value in ("王小明", "13912345678", "13811112222", "wang@jincheng.cn"):
        assert value not in logged


def test_disqualifying_needs_a_reason_and_closes_the_lead(team_a):
    lead = capture(team_a, actor=team_a.rep).lead

    with pytest.raises(ValidationError):
        actions.disqualify_lead(lead, actor=team_a.rep, reason="")
    actions.disqualify_lead(lead, actor=team_a.rep, reason="no_budget", note="明年再谈")

    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason, lead.disqualify_note) == (
        "disqualified",
        "no_budget",
        "明年再谈",
    )
    assert lead.get_disqualify_reason_display() == "No budget"
    with pytest.raises(ValidationError):
        actions.qualify_lead(lead, actor=team_a.rep)


def test_conversion_makes_account_contact_customer_and_opportunity(team_a):
    lead = capture(
        team_a, actor=team_a.rep, email="wang@jincheng.cn", title="采购经理", estimated_amount="50000"
    ).lead
    actions.qualify_lead(lead, actor=team_a.rep)

    done = actions.convert_lead(lead, actor=team_a.rep)

    customer = done.contact.customer
    assert (done.account.name, done.account.unit, done.account.owner) == ("锦程酒店", team_a.unit, team_a.rep)
    assert (customer.name, customer.owner) == ("王小明", team_a.rep)
    assert set(Identity.objects.filter(customer=customer).values_list("kind", "value")) == {
        ("phone", "+8613912345678"),
        ("email", "wang@jincheng.cn"),
    }
    assert CustomerUnit.objects.filter(customer=customer, unit=team_a.unit).exists()
    assert (done.contact.title, done.contact.is_primary) == ("采购经理", True)
    opportunity = done.opportunity
    assert (
        opportunity.name,
        opportunity.amount,
        opportunity.stage,
        opportunity.owner,
        opportunity.customer,
    ) == (
        "锦程酒店 deal",
        Decimal("50000.00"),
        team_a.stage(0),
        team_a.rep,
        customer,
    )
    lead.refresh_from_db()
    assert (lead.status, lead.account, lead.opportunity, lead.customer) == (
        "converted",
        done.account,
        opportunity,
        customer,
    )


def test_conversion_reuses_the_customer_who_already_buys_online(team_a):
    buyer = make_customer("王小明", [], phone="+8613912345678")
    lead = capture(team_a, actor=team_a.rep).lead

    done = actions.convert_lead(lead, actor=team_a.rep, with_opportunity=False)

    assert done.contact.customer == buyer and done.opportunity is None
    assert Customer.objects.count() == 1


def test_conversion_is_all_or_nothing(team_a):
    lead = capture(team_a, actor=team_a.rep, email="wang@jincheng.cn").lead
    Activity.objects.create(unit=team_a.unit, owner=team_a.rep, subject="首次电话", lead=lead, status="done")

    with (
        mock.patch.object(actions, "create_opportunity", side_effect=RuntimeError("pipeline broke")),
        pytest.raises(RuntimeError),
    ):
        actions.convert_lead(lead, actor=team_a.rep)

    assert (
        Account.objects.count(),
        Contact.objects.count(),
        Customer.objects.count(),
        Opportunity.objects.count(),
    ) == (0, 0, 0, 0)
    assert Lead.objects.get(pk=lead.pk).status == "new"
    assert Activity.objects.get().account_id is None


def test_conversion_moves_the_lead_history_to_the_account_and_deal(team_a):
    lead = capture(team_a, actor=team_a.rep).lead
    activity = Activity.objects.create(
        unit=team_a.unit, owner=team_a.rep, subject="首次电话", lead=lead, status="done"
    )

    done = actions.convert_lead(lead, actor=team_a.rep)

    activity.refresh_from_db()
    assert (activity.account, activity.opportunity, activity.customer) == (
        done.account,
        done.opportunity,
        done.contact.customer,
    )


def test_a_cross_unit_transfer_waits_for_the_group(team_a, team_b, manager):
    lead = capture(team_a, actor=team_a.rep).lead

    transfer = actions.request_transfer(lead, to_unit=team_b.unit, reason="美妆客户", actor=team_a.rep)

    assert transfer.state == "requested" and Lead.objects.get(pk=lead.pk).unit == team_a.unit
    assert Notification.objects.get(kind="transfer_requested").user == manager
    with pytest.raises(Denied):
        actions.decide_transfer(transfer, approve=True, actor=team_a.head)
    actions.decide_transfer(transfer, approve=True, actor=manager)
    lead.refresh_from_db()
    assert (lead.unit, lead.owner) == (team_b.unit, team_b.rep)
    decided = Notification.objects.get(kind="transfer_decided")
    assert (decided.user, decided.data["approved"]) == (team_a.rep, True)


def test_a_rejected_transfer_leaves_the_lead_where_it_was(team_a, team_b, manager):
    lead = capture(team_a, actor=team_a.rep).lead
    transfer = actions.request_transfer(lead, to_unit=team_b.unit, reason="?", actor=team_a.rep)

    actions.decide_transfer(transfer, approve=False, actor=manager, note="留在本版块")

    assert Lead.objects.get(pk=lead.pk).unit == team_a.unit
    assert LeadTransfer.objects.get().state == "rejected"
