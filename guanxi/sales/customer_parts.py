"""What sales adds to a customer: its references (merges move leads, contacts, opportunities and
activities to the survivor), activities and closed deals on the timeline, the Sales section of the
360 page and API, the "sales contact" list filter and the accounts beside a profile in the merge queue.

Every read goes through `restrict(user, "view")`: a rep sees the activities and deals they own, a
sales manager their team's, a unit head their unit's.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Q, QuerySet, Sum, When
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import round_money
from guanxi.customers.references import (
    ApiPart,
    ListFilter,
    Repoint,
    Section,
    register_list_filter,
    register_profile_facts,
    register_reference,
    register_section,
    register_timeline_source,
)
from guanxi.customers.timeline import TimelineItem
from guanxi.sales.models import Activity, Contact, Lead, Opportunity

RECENT = 10
ACTIVITY_KIND = "sales_activity"
WON_KIND = "opportunity_won"
LOST_KIND = "opportunity_lost"


@dataclass(frozen=True)
class CustomerSales:
    """The 360 page's Sales section."""

    contacts: tuple[Contact, ...]
    open_opportunities: tuple[Opportunity, ...]
    closed_opportunities: tuple[Opportunity, ...]
    activities: tuple[Activity, ...]
    open_amount: tuple[tuple[str, Any], ...]  # (currency, amount)

    @property
    def is_empty(self) -> bool:
        return not (self.contacts or self.open_opportunities or self.closed_opportunities or self.activities)


def fetch_customer_sales(user: Any, customer: Any) -> CustomerSales:
    """Four queries whatever the person's history: contacts, their latest deals (open first), the open
    amount per currency, their latest activities."""
    opportunities = Opportunity.objects.restrict(user, "view").filter(customer=customer)
    latest = list(
        opportunities.select_related("stage", "account", "owner", "order").order_by(
            Case(When(status=Opportunity.Status.OPEN, then=0), default=1),
            "-closed_at",
            "expected_close",
            "-pk",
        )[: 2 * RECENT]
    )
    open_amount = (
        opportunities.filter(status=Opportunity.Status.OPEN)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return CustomerSales(
        contacts=tuple(
            Contact.objects.restrict(user, "view")
            .filter(customer=customer)
            .select_related("account", "account__owner")
        ),
        open_opportunities=tuple(deal for deal in latest if deal.is_open)[:RECENT],
        closed_opportunities=tuple(deal for deal in latest if not deal.is_open)[:RECENT],
        activities=tuple(
            Activity.objects.restrict(user, "view")
            .filter(customer=customer)
            .select_related("owner")
            .order_by("-created_at", "-pk")[:RECENT]
        ),
        open_amount=tuple((row["currency"], round_money(row["total"] or 0)) for row in open_amount),
    )


def sales_for_api(user: Any, customer: Any) -> dict:
    sales = fetch_customer_sales(user, customer)
    return {
        "accounts": [
            {
                "account_id": c.account_id,
                "account": c.account.name,
                "title": c.title,
                "is_primary": c.is_primary,
            }
            for c in sales.contacts
        ],
        "opportunities": [
            {
                "id": o.pk,
                "name": o.name,
                "stage": o.stage.name,
                "status": o.status,
                "amount": o.amount,
                "currency": o.currency,
                "expected_close": o.expected_close,
                "order_id": o.order_id,
            }
            for o in (*sales.open_opportunities, *sales.closed_opportunities)
        ],
        "activities": [
            {
                "id": a.pk,
                "kind": a.kind,
                "status": a.status,
                "subject": a.subject,
                "due_at": a.due_at,
                "done_at": a.done_at,
            }
            for a in sales.activities
        ],
    }


def describe_activity(activity: Activity) -> str:
    data = {"kind": activity.get_kind_display(), "subject": activity.subject}
    if activity.status == Activity.Status.DONE:
        return gettext("%(kind)s: %(subject)s") % data
    return gettext("%(kind)s planned: %(subject)s") % data


def timeline_items(customer: Any, user: Any, limit: int) -> list[TimelineItem]:
    """The customer's logged activities and closed deals that `user` may see, newest first."""
    activities = (
        Activity.objects.restrict(user, "view")
        .filter(customer=customer, status=Activity.Status.DONE)
        .order_by("-done_at", "-pk")[:limit]
    )
    items = [
        TimelineItem(
            occurred_at=activity.done_at,
            kind=ACTIVITY_KIND,
            summary=describe_activity(activity),
            unit_id=activity.unit_id,
            data={"kind": activity.kind},
            source_type="sales.activity",
            source_id=str(activity.pk),
        )
        for activity in activities
        if activity.done_at is not None
    ]
    closed = (
        Opportunity.objects.restrict(user, "view")
        .filter(customer=customer, status__in=[Opportunity.Status.WON, Opportunity.Status.LOST])
        .order_by("-closed_at", "-pk")[:limit]
    )
    for deal in closed:
        won = deal.status == Opportunity.Status.WON
        data = {"name": deal.name, "amount": str(deal.amount), "currency": deal.currency}
        items.append(
            TimelineItem(
                occurred_at=deal.closed_at,
                kind=WON_KIND if won else LOST_KIND,
                summary=(
                    gettext("Deal won: %(name)s, %(amount)s %(currency)s")
                    if won
                    else gettext("Deal lost: %(name)s (%(reason)s)")
                )
                % {**data, "reason": deal.get_lost_reason_display()},
                unit_id=deal.unit_id,
                data=data,
                source_type="sales.opportunity",
                source_id=str(deal.pk),
            )
        )
    return sorted(items, key=lambda item: item.occurred_at, reverse=True)


def filter_by_contacts(customers: QuerySet, user: Any, value: str, unit_id: int | None) -> QuerySet:
    contacts = Contact.objects.restrict(user, "view")
    if unit_id is not None:
        contacts = contacts.filter(account__unit_id=unit_id)
    is_contact = Q(pk__in=contacts.values("customer_id"))
    return customers.filter(is_contact if value == "yes" else ~is_contact)


def account_facts(user: Any, customer: Any) -> list[tuple[Any, str]]:
    """The accounts the person is a contact of, beside their profile in the merge queue (none: nothing)."""
    names = list(
        Contact.objects.restrict(user, "view")
        .filter(customer=customer)
        .values_list("account__name", flat=True)
    )
    return [(_("Sales accounts"), ", ".join(names))] if names else []


def register() -> None:
    register_personal_data()
    from guanxi.sales.api.schemas import CustomerSalesOut

    register_reference("sales_leads", Lead, Repoint())
    # A person at an account once: two profiles of one person at the same account keep the older contact.
    register_reference("sales_contacts", Contact, Repoint(unique_with=("account",), keep="id"))
    register_reference("sales_opportunities", Opportunity, Repoint())
    register_reference("sales_activities", Activity, Repoint())
    register_timeline_source("sales", timeline_items)
    register_section(
        Section(
            key="sales",
            template="sales/customer_sales.html",
            kpi_template="sales/customer_kpis.html",
            fetch=fetch_customer_sales,
            api=ApiPart(
                CustomerSalesOut,
                "Accounts the person is a contact of, deals and activities about them, that the caller may see.",
                sales_for_api,
            ),
        )
    )
    register_list_filter(
        ListFilter(
            key="sales_contact",
            label=_("Sales contact"),
            choices=lambda: [("yes", _("Yes")), ("no", _("No"))],
            apply=filter_by_contacts,
        )
    )
    register_profile_facts("sales_accounts", account_facts)


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import Blank, NotPersonal, Scrub, register_pii
    from guanxi.sales.models import (
        Account,
        Activity,
        Competitor,
        Lead,
        LeadForm,
        LeadTransfer,
        Notification,
        Opportunity,
        OpportunityCompetitor,
        OpportunityLine,
        Pipeline,
        SalesPlan,
        Stage,
    )

    lead_fields = [
        "name",
        "company",
        "title",
        "phone",
        "email",
        "phone_key",
        "email_key",
        "source_detail",
        "description",
        "consent_text",
        "disqualify_note",
    ]
    register_pii(Lead, lead_fields, Blank())
    # A lead not (yet) linked to the profile may still carry the person's phone or e-mail.
    register_pii(Lead, lead_fields, Scrub())
    register_pii(Activity, ["subject", "notes"], Blank())
    register_pii(Activity, ["subject", "notes"], Scrub())
    register_pii(Opportunity, ["name", "lost_note"], Scrub())
    register_pii(Account, ["name", "phone", "address"], Scrub())
    register_pii(LeadTransfer, ["decision_note"], Scrub())
    register_pii(Notification, ["data"], Scrub())
    register_pii(Notification, ["subject_type", "subject_id"], NotPersonal("A link to a sales record."))
    register_pii(OpportunityCompetitor, ["notes"], Scrub())
    register_pii(SalesPlan, ["notes"], Scrub())
    register_pii(LeadForm, ["name", "consent_text"], NotPersonal("A web form's name and wording."))
    register_pii(Competitor, ["name"], NotPersonal("A competitor's name."))
    register_pii(OpportunityLine, ["name"], NotPersonal("The product's name."))
    register_pii(Pipeline, ["name"], NotPersonal("A pipeline's name."))
    register_pii(Stage, ["name"], NotPersonal("A stage's name."))
