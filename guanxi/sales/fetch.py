"""Read models of the sales pages: the kanban board, "my day", and the records a page may open.

Everything is read through `restrict()`. The board reads a fixed number of queries whatever the
number of opportunities: one grouped count per pipeline, then one page of cards per stage (an index
range on the stage and expected close), so a column of 100,000 deals costs what one of 10 does.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DateField,
    DecimalField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone

from guanxi.core.money import round_money
from guanxi.sales.models import Activity, Notification, Opportunity, Pipeline, Quota, SalesRules, Stage
from guanxi.sales.rulebook import local_midnight

CARDS_PER_COLUMN = 20
# What a card shows: loading only these makes a board of 150 cards a third cheaper to build.
CARD_FIELDS = (
    "name",
    "amount",
    "currency",
    "expected_close",
    "stale_since",
    "lost_reason",
    "closed_at",
    "stage_id",
    "account__name",
    "owner__username",
    "owner__display_name",
    "owner__first_name",
    "owner__last_name",
)
# Won and lost columns show the deals closed lately, not every deal ever closed.
CLOSED_COLUMN_DAYS = 30


def access_by_id(model: Any, user: Any, pk: int, action: str = "view", related: tuple[str, ...] = ()) -> Any:
    """The `model` row `pk` if `user` may act on it, else 404 (never 403: other units' and other reps'
    records do not exist for them)."""
    row = model.objects.restrict(user, action).select_related(*related).filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


@dataclass(frozen=True)
class Column:
    stage: Stage
    count: int
    amount: Decimal
    weighted: Decimal
    cards: tuple[Opportunity, ...]
    has_more: bool


@dataclass(frozen=True)
class Board:
    pipeline: Pipeline
    columns: tuple[Column, ...]

    @property
    def open_amount(self) -> Decimal:
        return sum((c.amount for c in self.columns if c.stage.is_open), Decimal("0.00"))

    @property
    def open_weighted(self) -> Decimal:
        return sum((c.weighted for c in self.columns if c.stage.is_open), Decimal("0.00"))


def board_opportunities(
    user: Any, pipeline: Pipeline, *, owner_id: int | None = None, stale_only: bool = False
) -> QuerySet:
    opportunities = Opportunity.objects.restrict(user, "view").filter(pipeline=pipeline)
    if owner_id is not None:
        opportunities = opportunities.filter(owner_id=owner_id or None)
    if stale_only:
        opportunities = opportunities.filter(stale_since__isnull=False)
    return opportunities


def _column_rows(opportunities: QuerySet, stage: Stage, since: datetime) -> QuerySet:
    if stage.is_open:
        return opportunities.filter(stage=stage)
    return opportunities.filter(stage=stage, closed_at__gte=since)


def board(user: Any, pipeline: Pipeline, *, owner_id: int | None = None, stale_only: bool = False) -> Board:
    """The pipeline's stages with their counts, amounts, weighted amounts and first cards."""
    stages = list(pipeline.stages.order_by("position", "pk"))
    opportunities = board_opportunities(user, pipeline, owner_id=owner_id, stale_only=stale_only)
    since = closed_since(pipeline)
    # Open deals and lately closed ones apart: each sum is one index range (sales_opp_board_totals),
    # and a stage's weighted amount is its total at the stage's probability.
    totals = {
        row["stage_id"]: row
        for part in (
            opportunities.filter(status=Opportunity.Status.OPEN),
            opportunities.exclude(status=Opportunity.Status.OPEN).filter(closed_at__gte=since),
        )
        for row in part.values("stage_id").annotate(count=Count("*"), total=Sum("amount")).order_by()
    }
    columns = []
    for stage in stages:
        total = totals.get(stage.pk, {})
        amount = round_money(total.get("total") or 0)
        cards, has_more = column_cards(opportunities, stage, since)
        columns.append(
            Column(
                stage,
                total.get("count", 0),
                amount,
                round_money(amount * stage.probability / 100),
                cards,
                has_more,
            )
        )
    return Board(pipeline, tuple(columns))


def closed_since(pipeline: Pipeline) -> datetime:
    rules = SalesRules.for_unit(pipeline.unit)
    today = timezone.localtime(timezone.now(), rules.zone).date()
    return local_midnight(today - timedelta(days=CLOSED_COLUMN_DAYS), rules.zone)


def column_cards(
    opportunities: QuerySet, stage: Stage, since: datetime, offset: int = 0
) -> tuple[tuple[Opportunity, ...], bool]:
    """One page of a column's cards: open stages by expected close (undated last), closed ones newest
    first."""
    rows = _column_rows(opportunities, stage, since).select_related("account", "owner").only(*CARD_FIELDS)
    if stage.is_open:
        rows = rows.order_by(F("expected_close").asc(nulls_last=True), "pk")
    else:
        rows = rows.order_by("-closed_at", "-pk")
    page = list(rows[offset : offset + CARDS_PER_COLUMN + 1])
    return tuple(page[:CARDS_PER_COLUMN]), len(page) > CARDS_PER_COLUMN


@dataclass(frozen=True)
class MyDay:
    today: date
    overdue: tuple[Activity, ...]
    due_today: tuple[Activity, ...]
    done_today: tuple[Activity, ...]
    stale: tuple[Opportunity, ...]
    notifications: tuple[Notification, ...]
    unread: int


def my_day(user: Any, now: datetime | None = None) -> MyDay:
    """The signed-in user's own day, in the time zone of their unit (the install's with several)."""
    now = now or timezone.now()
    unit = user.only_unit()
    zone = SalesRules(unit=unit).zone if unit else timezone.get_current_timezone()
    today = timezone.localtime(now, zone).date()
    start, end = local_midnight(today, zone), local_midnight(today + timedelta(days=1), zone)
    mine = (
        Activity.objects.restrict(user, "view")
        .filter(owner=user)
        .select_related("lead", "opportunity", "account", "customer")
    )
    planned = mine.filter(status=Activity.Status.PLANNED)
    notifications = Notification.objects.restrict(user, "view").filter(user=user)
    return MyDay(
        today=today,
        overdue=tuple(planned.filter(due_at__lt=start).order_by("due_at", "pk")[:50]),
        due_today=tuple(planned.filter(due_at__gte=start, due_at__lt=end).order_by("due_at", "pk")),
        done_today=tuple(
            mine.filter(status=Activity.Status.DONE, done_at__gte=start, done_at__lt=end).order_by("-done_at")
        ),
        stale=tuple(
            Opportunity.objects.restrict(user, "view")
            .filter(owner=user, status=Opportunity.Status.OPEN, stale_since__isnull=False)
            .select_related("account", "stage")
            .order_by("last_activity_at")[:20]
        ),
        notifications=tuple(notifications.order_by("-created_at", "-pk")[:20]),
        unread=notifications.filter(read_at__isnull=True).count(),
    )


# Reads of the reports app (guanxi.reports.catalogue) ---------------------------------------------


def open_opportunities(user: Any, currency: str) -> QuerySet:
    """Open opportunities the user may see, in one currency (amounts are never added across them)."""
    return Opportunity.objects.restrict(user, "view").filter(
        status=Opportunity.Status.OPEN, currency=currency
    )


def _won_in_month(user: Any, zone: Any) -> QuerySet:
    return (
        Opportunity.objects.restrict(user, "view")
        .filter(status=Opportunity.Status.WON, closed_at__isnull=False)
        .annotate(close_month=TruncMonth("closed_at", tzinfo=zone, output_field=DateField()))
    )


def won_opportunities(user: Any, currency: str, zone: Any) -> QuerySet:
    """The won deals the user may see, in one currency, each with `close_month`: the first day of the
    month it was closed in `zone` (the reports' dashboard counts them per month)."""
    return _won_in_month(user, zone).filter(currency=currency)


def quotas_with_won(user: Any, currency: str, zone: Any) -> QuerySet:
    """The quotas the user may see, in one currency, each with `won`: what its rep won in its unit and
    month (closed in that month in `zone`), counting only the deals the user may see."""
    won = (
        _won_in_month(user, zone)
        .filter(
            owner_id=OuterRef("user_id"),
            unit_id=OuterRef("unit_id"),
            currency=OuterRef("currency"),
            close_month=OuterRef("month"),
        )
        .values("owner_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        Quota.objects.restrict(user, "view")
        .filter(currency=currency)
        .annotate(
            won=Coalesce(
                Subquery(won), Value(Decimal(0)), output_field=DecimalField(max_digits=20, decimal_places=2)
            )
        )
    )


def won_behind_quotas(user: Any, quotas: QuerySet, zone: Any) -> QuerySet:
    """The won deals the user may see that count against `quotas` (same rep, unit, currency, month)."""
    return _won_in_month(user, zone).filter(
        Exists(
            quotas.filter(
                user_id=OuterRef("owner_id"),
                unit_id=OuterRef("unit_id"),
                currency=OuterRef("currency"),
                month=OuterRef("close_month"),
            )
        )
    )
