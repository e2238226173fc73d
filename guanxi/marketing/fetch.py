"""Reads for marketing pages, scoped through `restrict(user, "view")`."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from guanxi.marketing.models import Campaign, Enrolment, Flow, Recipient, StepRun


@dataclass
class CustomerMarketing:
    enrolments: list[Enrolment] = field(default_factory=list)
    recipients: list[Recipient] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.enrolments and not self.recipients


def customer_marketing(user: Any, customer: Any) -> CustomerMarketing:
    enrolments = list(
        Enrolment.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("flow", "version")
        .order_by("-entered_at", "-pk")[:20]
    )
    recipients = list(
        Recipient.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("campaign")
        .order_by("-campaign__sent_at", "-pk")[:20]
    )
    return CustomerMarketing(enrolments, recipients)


def flows(user: Any):
    """The user's flows with live counts by enrolment state."""
    return (
        Flow.objects.restrict(user, "view")
        .select_related("unit", "current_version")
        .annotate(
            in_progress=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.ACTIVE)),
            completed=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.COMPLETED)),
            exited=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.EXITED)),
            held_out=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.HOLDOUT)),
        )
        .order_by("unit_id", "name", "pk")
    )


def flow(user: Any, pk: int) -> Flow | None:
    return flows(user).filter(pk=pk).first()


def campaigns(user: Any):
    return (
        Campaign.objects.restrict(user, "view")
        .select_related("unit", "segment", "coupon")
        .annotate(
            recipient_count=Count("recipients"),
            holdout_count=Count("recipients", filter=Q(recipients__group=Recipient.Group.HOLDOUT)),
        )
        .order_by("-created_at", "-pk")
    )


def campaign(user: Any, pk: int) -> Campaign | None:
    return campaigns(user).filter(pk=pk).first()


def enrolment(user: Any, pk: int) -> Enrolment | None:
    return (
        Enrolment.objects.restrict(user, "view")
        .select_related("flow", "version", "customer")
        .filter(pk=pk)
        .first()
    )


def runs_of(enrolment: Enrolment) -> list[StepRun]:
    return list(StepRun.objects.filter(enrolment=enrolment).order_by("ran_at", "pk"))


def sent_campaigns(user: Any) -> Any:
    """The sent campaigns the user may see, for the reports' campaign effect report."""
    return Campaign.objects.restrict(user, "view").filter(sent_at__isnull=False).order_by("-sent_at", "-pk")


def campaign_recipients(user: Any) -> Any:
    """The recipients (treated and held out) of the sent campaigns the user may see."""
    return Recipient.objects.restrict(user, "view").filter(campaign__sent_at__isnull=False)
