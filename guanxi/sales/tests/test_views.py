"""The sales pages through HTTP: the kanban board and its moves, capture and conversion forms,
exports (audited, needing data.export), and the public web form."""

from decimal import Decimal

import pytest
from django.urls import reverse

from guanxi.commerce.models import Order
from guanxi.core.models import AuditEntry
from guanxi.sales.actions import leads
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.configuration import create_lead_form
from guanxi.sales.models import Lead, Opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(team_a):
    return deals.create_opportunity(
        unit=team_a.unit, name="酒店布草", actor=team_a.rep, amount=Decimal("5000")
    )


def test_the_board_shows_each_stage_with_its_cards_and_figures(client, team_a, deal):
    client.force_login(team_a.rep)

    page = client.get(reverse("sales:board")).content.decode()

    assert "酒店布草" in page and "¥5,000.00" in page
    for stage in team_a.pipeline.stages.all():
        assert f'data-stage="{stage.pk}"' in page


def test_a_card_dropped_on_the_next_stage_moves_and_the_board_comes_back(client, team_a, deal):
    client.force_login(team_a.rep)
    target = team_a.stage(1)

    response = client.post(
        reverse("sales:opportunity_move", args=[deal.pk]) + f"?pipeline={team_a.pipeline.pk}",
        {"stage": target.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board"') and f'data-focus="{deal.pk}"' in body
    assert "酒店布草 moved to Needs confirmed." in body
    assert Opportunity.objects.get(pk=deal.pk).stage == target


def test_a_card_dropped_on_won_books_the_order(client, team_a, deal):
    client.force_login(team_a.rep)

    client.post(
        reverse("sales:opportunity_move", args=[deal.pk]),
        {"stage": team_a.won.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )

    assert Order.objects.get().total_amount == Decimal("5000.00")


def test_a_card_dropped_on_lost_without_a_reason_stays_and_says_why(client, team_a, deal):
    client.force_login(team_a.rep)

    response = client.post(
        reverse("sales:opportunity_move", args=[deal.pk]),
        {"stage": team_a.lost.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )

    assert "Choose why the opportunity was lost." in response.content.decode()
    assert Opportunity.objects.get(pk=deal.pk).status == "open"


def test_the_move_menu_works_without_script(client, team_a, deal):
    client.force_login(team_a.rep)

    response = client.post(
        reverse("sales:opportunity_move", args=[deal.pk]),
        {"stage": team_a.lost.pk, "lost_reason": "timing", "next": reverse("sales:board")},
    )

    assert response.status_code == 302 and response["Location"] == reverse("sales:board")
    assert Opportunity.objects.get(pk=deal.pk).lost_reason == "timing"


def test_more_cards_of_a_column_come_in_pages(client, team_a):
    for number in range(30):
        deals.create_opportunity(unit=team_a.unit, name=f"deal {number:02d}", actor=team_a.rep)
    client.force_login(team_a.rep)

    first = client.get(reverse("sales:board")).content.decode()
    more = client.get(
        reverse("sales:board_column", args=[team_a.stage(0).pk]) + "?offset=20"
    ).content.decode()

    assert first.count('class="card-item') == 20 and "Show more" in first
    assert more.count('class="card-item') == 10 and "Show more" not in more


def test_a_lead_entered_on_the_page_is_the_reps_own(client, team_a):
    client.force_login(team_a.rep)

    response = client.post(
        reverse("sales:lead_add"),
        {"name": "钱多多", "company": "多多商贸", "phone": "13812341234", "source": "trade_show"},
    )

    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sales:lead", args=[lead.pk])
    assert (lead.owner, lead.source) == (team_a.rep, "trade_show")


def test_a_duplicate_lead_is_reported_on_the_form(client, team_a):
    leads.capture_lead(unit=team_a.unit, actor=team_a.rep2, name="钱多多", phone="13812341234")
    client.force_login(team_a.rep)

    response = client.post(
        reverse("sales:lead_add"), {"name": "钱多多", "phone": "138 1234 1234", "source": "manual"}
    )

    assert response.status_code == 200
    assert (
        "An open lead of the unit already has this phone or e-mail (someone else&#x27;s)."
        in response.content.decode()
    )
    assert Lead.objects.count() == 1


def test_converting_on_the_page_leads_to_the_new_opportunity(client, team_a):
    lead = leads.capture_lead(
        unit=team_a.unit, actor=team_a.rep, name="钱多多", company="多多商贸", phone="13812341234"
    ).lead
    client.force_login(team_a.rep)

    response = client.post(
        reverse("sales:lead_convert", args=[lead.pk]),
        {"account_name": "多多商贸", "with_opportunity": "on", "amount": "3000"},
    )

    opportunity = Opportunity.objects.get()
    assert response["Location"] == reverse("sales:opportunity", args=[opportunity.pk])
    assert (opportunity.amount, opportunity.account.name) == (Decimal("3000.00"), "多多商贸")


def test_exports_need_the_permission_and_are_audited(client, team_a, deal, make_user):
    client.force_login(team_a.rep)  # reps do not export by default
    assert client.get(reverse("sales:opportunity_list") + "?format=csv").status_code == 403

    client.force_login(team_a.manager)
    response = client.get(reverse("sales:opportunity_list") + "?format=csv")

    assert response.status_code == 200 and "酒店布草" in response.content.decode("utf-8-sig")
    entry = AuditEntry.objects.filter(action="export").get()
    assert (entry.actor, entry.object_id, entry.details) == (
        team_a.manager,
        "sales-opportunities",
        "CSV file of 1 rows",
    )


def test_lead_exports_mask_phones_without_the_pii_permission(client, team_a, make_user):
    leads.capture_lead(unit=team_a.unit, actor=team_a.rep, name="钱多多", phone="13812341234")
    team_a.head.can_view_pii = False
    team_a.head.save()
    client.force_login(team_a.head)

    body = client.get(reverse("sales:lead_list") + "?format=csv").content.decode("utf-8-sig")

    assert "138****1234" in body and "13812341234" not in body and "钱**" in body


def test_the_web_form_turns_a_visitor_into_a_lead(client, team_a):
    form = create_lead_form(
        unit=team_a.unit, actor=team_a.head, name="官网", heading="联系我们", consent_text="同意联系我"
    )
    url = reverse("sales:web_form", args=[form.key])

    assert client.get(url).status_code == 200
    refused = client.post(url, {"name": "访客", "phone": "13612345678"})
    assert refused.status_code == 422 and not Lead.objects.exists()  # consent not given
    response = client.post(
        url, {"name": "访客", "phone": "13612345678", "consent": "on", "message": "想订 500 套"}
    )

    assert response.status_code == 200 and "Thank you" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.source, lead.source_detail, lead.consent_text, lead.description, lead.owner) == (
        "web_form",
        "官网",
        "同意联系我",
        "想订 500 套",
        team_a.rep,
    )


def test_the_web_form_trap_and_limit_stop_robots(client, team_a):
    form = create_lead_form(unit=team_a.unit, actor=team_a.head, name="官网", heading="联系我们")
    url = reverse("sales:web_form", args=[form.key])

    trapped = client.post(url, {"name": "bot", "phone": "13612345678", "website": "http://spam"})
    assert "Thank you" in trapped.content.decode() and not Lead.objects.exists()
    for number in range(5):
        client.post(url, {"name": f"访客{number}", "phone": f"1361234567{number}"})
    limited = client.post(url, {"name": "访客9", "phone": "13612345679"})
    assert limited.status_code == 422 and Lead.objects.count() == 5


def test_an_unknown_or_closed_web_form_is_not_found(client, team_a):
    assert client.get(reverse("sales:web_form", args=["nope"])).status_code == 404
