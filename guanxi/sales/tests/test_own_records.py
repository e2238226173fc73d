"""The rulebook's own-records rule on every sales route: a sales rep sees only what they own (业务人员只能
看到自己录入的营销信息) on every page, endpoint, export and aggregate; a sales manager sees their
team's and the pool; nobody of unit A sees unit B (that walk is tests/access/test_cross_unit.py).

Another rep's records and the pool carry MARKER in their names and the amount 7,654,321; a response
holding either leaks. Every sales route and endpoint must be classified in WEB or API below.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from guanxi.api.main import api
from guanxi.sales import urls as sales_urls
from guanxi.sales.actions import accounts, activities, leads, opportunities
from guanxi.sales.actions.configuration import create_competitor, create_lead_form
from guanxi.sales.actions.targets import set_plan, set_quota
from guanxi.sales.models import Notification, SalesRules
from guanxi.sales.notifications import notify

pytestmark = pytest.mark.django_db
MARKER = "REPTWOSECRET"
AMOUNTS = ("7654321", "7,654,321")


@dataclass(frozen=True)
class Route:
    kind: str  # "page": no id; "detail": another rep's object; "public": no data; "refused": 403 for reps
    method: str = "get"
    object: str = ""
    export: bool = False


WEB: dict[str, Route] = {
    "home": Route("page"),
    "notification_list": Route("page"),
    "notifications_read": Route("page", "post"),
    "board": Route("page"),
    "board_column": Route("page", object="stage"),
    "opportunity_list": Route("page", export=True),
    "opportunity_add": Route("page"),
    "opportunity": Route("detail", object="opportunity"),
    "opportunity_edit": Route("detail", object="opportunity"),
    "opportunity_move": Route("detail", "post", "opportunity"),
    "opportunity_assign": Route("detail", "post", "opportunity"),
    "line_add": Route("detail", "post", "opportunity"),
    "line_remove": Route("detail", "post", "line"),
    "competitor_link": Route("detail", "post", "opportunity"),
    "competitor_unlink": Route("detail", "post", "link"),
    "quote_add": Route("detail", "post", "opportunity"),
    "quote_status": Route("detail", "post", "quote"),
    "lead_list": Route("page", export=True),
    "lead_add": Route("page"),
    "lead_import": Route("page"),
    "lead": Route("detail", object="lead"),
    "lead_edit": Route("detail", object="lead"),
    "lead_qualify": Route("detail", "post", "lead"),
    "lead_disqualify": Route("detail", "post", "lead"),
    "lead_assign": Route("detail", "post", "lead"),
    "lead_convert": Route("detail", object="lead"),
    "lead_transfer": Route("detail", "post", "lead"),
    "transfer_list": Route("page"),
    "transfer_decide": Route("detail", "post", "transfer"),
    "account_list": Route("page"),
    "account_add": Route("page"),
    "account": Route("detail", object="account"),
    "account_edit": Route("detail", object="account"),
    "contact_add": Route("detail", "post", "account"),
    "activity_list": Route("page"),
    "activity_add": Route("page"),
    "activity_complete": Route("detail", "post", "activity"),
    "activity_cancel": Route("detail", "post", "activity"),
    "competitor_list": Route("page"),
    "forecast": Route("page", export=True),
    "reports": Route("page"),
    "targets": Route("page"),
    "inactivity": Route("refused"),
    "settings": Route("refused"),
    "rules_save": Route("refused", "post", "unit"),
    "pipeline_add": Route("refused", "post", "unit"),
    "web_form_add": Route("refused", "post", "unit"),
    "pipeline_save": Route("refused", "post", "pipeline"),
    "stage_add": Route("refused", "post", "pipeline"),
    "stage_save": Route("refused", "post", "stage"),
    "web_form_toggle": Route("refused", "post", "lead_form"),
    "web_form": Route("public"),
}
API: dict[tuple[str, str], Route] = {
    ("get", "/api/v1/sales/accounts"): Route("page"),
    ("post", "/api/v1/sales/accounts"): Route("page", "post"),
    ("get", "/api/v1/sales/accounts/{account_id}"): Route("detail", object="account"),
    ("get", "/api/v1/sales/activities"): Route("page"),
    ("post", "/api/v1/sales/activities"): Route("page", "post"),
    ("post", "/api/v1/sales/activities/{activity_id}/complete"): Route("detail", "post", "activity"),
    ("get", "/api/v1/sales/notifications"): Route("page"),
    ("post", "/api/v1/sales/notifications/read"): Route("page", "post"),
    ("get", "/api/v1/sales/leads"): Route("page"),
    ("post", "/api/v1/sales/leads"): Route("page", "post"),
    ("get", "/api/v1/sales/leads/{lead_id}"): Route("detail", object="lead"),
    ("patch", "/api/v1/sales/leads/{lead_id}"): Route("detail", "patch", "lead"),
    ("post", "/api/v1/sales/leads/{lead_id}/qualify"): Route("detail", "post", "lead"),
    ("post", "/api/v1/sales/leads/{lead_id}/disqualify"): Route("detail", "post", "lead"),
    ("post", "/api/v1/sales/leads/{lead_id}/assign"): Route("detail", "post", "lead"),
    ("post", "/api/v1/sales/leads/{lead_id}/convert"): Route("detail", "post", "lead"),
    ("get", "/api/v1/sales/pipelines"): Route("page"),
    ("get", "/api/v1/sales/opportunities"): Route("page"),
    ("post", "/api/v1/sales/opportunities"): Route("page", "post"),
    ("get", "/api/v1/sales/opportunities/{opportunity_id}"): Route("detail", object="opportunity"),
    ("patch", "/api/v1/sales/opportunities/{opportunity_id}"): Route("detail", "patch", "opportunity"),
    ("post", "/api/v1/sales/opportunities/{opportunity_id}/stage"): Route("detail", "post", "opportunity"),
    ("get", "/api/v1/sales/forecast"): Route("page"),
}


def test_every_sales_route_and_endpoint_is_classified():
    names = {pattern.name for pattern in sales_urls.urlpatterns}
    assert names == set(WEB)
    schema = api.get_openapi_schema()
    operations = {
        (method, path)
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/sales")
        for method in ops
    }
    assert operations == set(API)


@dataclass
class World:
    mine: dict[str, object]
    theirs: dict[str, object]


@pytest.fixture
def world(team_a, team_b):
    """Unit A: the rep's records, the other rep's (MARKER, 7,654,321), and a pool lead (MARKER)."""
    rules = SalesRules.for_unit(team_a.unit)
    rules.assignment = SalesRules.Assignment.MANUAL
    rules.save()
    today = timezone.localdate()

    def records(rep, name, amount):
        lead = leads.capture_lead(
            unit=team_a.unit, actor=rep, name=name, company=name, phone=f"1390000{amount % 10000:04d}"
        ).lead
        account = accounts.create_account(unit=team_a.unit, actor=rep, name=f"{name} 公司")
        contact = accounts.add_contact(
            account=account, actor=rep, name=name, phone=f"1370000{amount % 10000:04d}"
        )
        deal = opportunities.create_opportunity(
            unit=team_a.unit,
            name=f"{name} deal",
            actor=rep,
            account=account,
            contact=contact,
            amount=Decimal(amount),
            expected_close=today,
        )
        line = opportunities.add_line(
            deal, actor=rep, name=f"{name} product", quantity=1, unit_price=Decimal(amount)
        )
        # The unit's competitor list is shared reference data (like tags): its names carry no marker.
        rival = create_competitor(unit=team_a.unit, actor=rep, name=f"rival {amount}"[:12])
        link = opportunities.link_competitor(deal, rival, actor=rep, notes=name)
        quote = opportunities.create_quote(deal, actor=rep, terms=name)
        won = opportunities.create_opportunity(
            unit=team_a.unit, name=f"{name} won", actor=rep, amount=Decimal(amount)
        )
        opportunities.move_opportunity(won, team_a.won, actor=rep)
        activity = activities.log_activity(
            actor=rep,
            kind="call",
            subject=f"{name} call",
            opportunity=deal,
            done=False,
            due_at=timezone.now(),
        )
        activities.log_activity(actor=rep, kind="visit", subject=f"{name} visit", lead=lead)
        transfer = leads.request_transfer(
            leads.capture_lead(
                unit=team_a.unit, actor=rep, name=name, phone=f"1380000{amount % 10000:04d}"
            ).lead,
            to_unit=team_b.unit,
            reason=name,
            actor=rep,
        )
        set_quota(unit=team_a.unit, user=rep, month=today, amount=Decimal(amount), actor=team_a.head)
        set_plan(unit=team_a.unit, user=rep, month=today, actor=rep, notes=name)
        notify(rep, Notification.Kind.STALE, unit=team_a.unit, subject=deal, data={"name": name, "days": 30})
        return {
            "lead": lead.pk,
            "account": account.pk,
            "opportunity": deal.pk,
            "line": (deal.pk, line.pk),
            "link": (deal.pk, link.pk),
            "quote": quote.pk,
            "activity": activity.pk,
            "transfer": transfer.pk,
        }

    mine = records(team_a.rep, "甲乙", 1200)
    theirs = records(team_a.rep2, MARKER, 7654321)
    leads.capture_lead(
        unit=team_a.unit, actor=team_a.manager, name=MARKER, company=MARKER, phone="13311112222"
    )  # the pool
    shared = {
        "stage": team_a.stage(0).pk,
        "unit": team_a.unit.pk,
        "pipeline": team_a.pipeline.pk,
        "lead_form": create_lead_form(unit=team_a.unit, actor=team_a.head, name="f", heading="h").pk,
    }
    return World({**mine, **shared}, {**theirs, **shared})


def leaks(response) -> bool:
    body = response.content.decode("utf-8", errors="replace")
    return MARKER in body or any(amount in body for amount in AMOUNTS)


def web_url(name: str, value) -> str:
    pattern = next(p for p in sales_urls.urlpatterns if p.name == name)
    keys = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
    if name == "web_form":
        return reverse("sales:web_form", args=["nokey"])
    values = value if isinstance(value, tuple) else (value,) if value is not None else ()
    return reverse(f"sales:{name}", args=list(values)[: len(keys)])


def api_url(path: str, value) -> str:
    return re.sub(r"\{\w+\}", str(value), path) if value is not None else path


def request(client, method: str, url: str, api_call: bool):
    if api_call and method != "get":
        return getattr(client, method)(url, data={}, content_type="application/json")
    return getattr(client, method)(url)


def test_a_rep_sees_only_their_own_records_everywhere(client, team_a, world):
    client.force_login(team_a.rep)
    walked = 0
    for name, spec in WEB.items():
        if spec.kind == "public":
            continue
        obj = world.theirs.get(spec.object) if spec.object else None
        response = request(client, spec.method, web_url(name, obj), api_call=False)
        if spec.kind == "refused":
            assert response.status_code == 403, (name, response.status_code)
        elif spec.kind == "detail":
            assert response.status_code in (403, 404, 405), (name, response.status_code)
            own = request(client, "get", web_url(name, world.mine[spec.object]), api_call=False)
            assert not leaks(own), f"{name}: the rep's own page shows another rep's data"
        else:
            assert response.status_code < 500, (name, response.status_code)
        assert not leaks(response), f"the rep saw another rep's data at {spec.method.upper()} {name}"
        if spec.export:
            exported = client.get(web_url(name, obj) + "?format=csv")
            assert exported.status_code in (200, 403) and not leaks(exported), f"{name} export leaks"
        walked += 1
    for table in ("funnel", "results", "lost", "activities"):
        assert not leaks(client.get(reverse("sales:reports") + f"?format=csv&table={table}"))
    for (method, path), spec in API.items():
        obj = world.theirs.get(spec.object) if spec.object else None
        response = request(
            client, method, api_url(path, obj[0] if isinstance(obj, tuple) else obj), api_call=True
        )
        if spec.kind == "detail":
            assert response.status_code in (403, 404), (path, method, response.status_code)
        else:
            assert response.status_code < 500, (path, method, response.status_code, response.content[:300])
        assert not leaks(response), f"the rep saw another rep's data at {method.upper()} {path}"
        walked += 1
    assert walked == len(WEB) - 1 + len(API)


def test_the_rep_can_still_open_their_own_records(client, team_a, world):
    client.force_login(team_a.rep)
    for name in ("opportunity", "lead", "account"):
        assert client.get(web_url(name, world.mine[name])).status_code == 200
    assert client.get(f"/api/v1/sales/opportunities/{world.mine['opportunity']}").status_code == 200


def test_a_sales_manager_sees_their_team_and_the_pool(client, team_a, world):
    client.force_login(team_a.manager)
    for name in (
        "lead_list",
        "opportunity_list",
        "board",
        "forecast",
        "account_list",
        "activity_list",
        "transfer_list",
    ):
        assert leaks(client.get(reverse(f"sales:{name}"))), name
    assert leaks(client.get(reverse("sales:lead_list") + "?format=csv"))
    for name in ("opportunity", "lead", "account"):
        assert client.get(web_url(name, world.theirs[name])).status_code == 200
    pool = client.get("/api/v1/sales/leads?owner=0").json()["items"]
    assert [lead["company"] for lead in pool] == [MARKER]


def test_a_rep_cannot_log_an_activity_on_another_reps_record(client, team_a, world):
    client.force_login(team_a.rep)

    response = client.get(reverse("sales:activity_add") + f"?opportunity={world.theirs['opportunity']}")

    assert response.status_code == 404


def test_the_rep_aggregates_count_their_own_deals_only(team_a, world):
    from guanxi.sales import periods
    from guanxi.sales.fetch import board
    from guanxi.sales.forecast import forecast

    shown = board(team_a.rep, team_a.pipeline)
    assert [(c.stage.name, c.count, c.amount) for c in shown.columns if c.count] == [
        ("Initial contact", 1, Decimal("1200.00")),
        ("Won", 1, Decimal("1200.00")),
    ]
    [row] = forecast(team_a.rep, periods.month(timezone.localdate())).reps
    assert (row.owner_name, row.won, row.quota) == ("a rep", Decimal("1200.00"), Decimal("1200.00"))
