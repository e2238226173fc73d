"""Opportunities: creating them, moving them through their pipeline's stages (won makes exactly one
order in commerce; lost keeps a reason; reopening cancels the order), their products, competitors,
quotes and bids."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.commerce.actions import record_sales_order
from guanxi.commerce.models import Order, Product
from guanxi.commerce.records import LineRecord
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.core.money import round_money
from guanxi.sales import phrases
from guanxi.sales.access import MANAGE_SALES, assignable_users, manages_sales, require_manager
from guanxi.sales.actions.activities import record_progress
from guanxi.sales.actions.configuration import default_pipeline, won_orders_store
from guanxi.sales.models import (
    Competitor,
    ForecastCategory,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    Pipeline,
    Quote,
    Stage,
    StageChange,
)

EDITABLE_FIELDS = ("name", "amount", "expected_close", "forecast_category", "next_step", "account", "contact")


def create_opportunity(
    *,
    unit: Any,
    name: str,
    actor: Any,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    owner: Any = None,
    account: Any = None,
    contact: Any = None,
    customer: Any = None,
    amount: Decimal | int | str = 0,
    expected_close: date | None = None,
    forecast_category: str = "",
    lead: Any = None,
    at: datetime | None = None,
) -> Opportunity:
    """An open opportunity of `unit` in `stage` (the pipeline's first open stage by default; the unit's
    default pipeline by default), owned by `owner` (a rep's own by default)."""
    if not name.strip():
        raise ValidationError({"name": _("Give the opportunity a name.")})
    pipeline = pipeline or (stage.pipeline if stage else None) or default_pipeline(unit)
    _check_belongs(unit, pipeline=pipeline, account=account, contact=contact)
    stage = stage or pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position", "pk").first()
    if stage is None or stage.pipeline_id != pipeline.pk or not stage.is_open:
        raise ValidationError({"stage": _("Choose an open stage of the pipeline.")})
    if forecast_category and forecast_category not in ForecastCategory.values:
        raise ValidationError({"forecast_category": _("Choose a forecast category.")})
    owner = _checked_owner(unit, owner if owner is not None else actor, actor)
    when = at or timezone.now()
    with transaction.atomic():
        opportunity = Opportunity.objects.create(
            unit=unit,
            pipeline=pipeline,
            stage=stage,
            owner=owner,
            name=name.strip()[:200],
            account=account,
            contact=contact,
            customer=customer or (contact.customer if contact else None),
            amount=round_money(amount or 0),
            currency=pipeline.currency,
            expected_close=expected_close,
            forecast_category=forecast_category,
            lead=lead,
            stage_entered_at=when,
            last_activity_at=when,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=when,
            updated_at=when,
        )
        StageChange.objects.create(
            opportunity=opportunity,
            to_stage=stage,
            amount=opportunity.amount,
            changed_by=opportunity.created_by,
            changed_at=when,
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=opportunity, unit=unit)
    return opportunity


def _check_belongs(unit: Any, *, pipeline: Any = None, account: Any = None, contact: Any = None) -> None:
    if pipeline is not None and pipeline.unit_id != unit.pk:
        raise ValidationError({"pipeline": _("Choose a pipeline of the unit.")})
    if account is not None and account.unit_id != unit.pk:
        raise ValidationError({"account": _("Choose an account of the unit.")})
    if contact is not None and (
        contact.account.unit_id != unit.pk or (account and contact.account_id != account.pk)
    ):
        raise ValidationError({"contact": _("Choose a contact of the opportunity's account.")})


def _checked_owner(unit: Any, owner: Any, actor: Any) -> Any:
    if owner is None:
        return None
    if not assignable_users(unit).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": _("Choose an active sales user of the unit.")})
    if actor is not None and owner != actor:
        require_manager(actor, unit)
    return owner


def update_opportunity(opportunity: Opportunity, *, actor: Any, **fields: Any) -> Opportunity:
    """Change a deal's name, amount, expected close, forecast category, next step, account or contact."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"Not opportunity fields: {unknown}")
    if "name" in fields and not str(fields["name"]).strip():
        raise ValidationError({"name": _("Give the opportunity a name.")})
    if fields.get("forecast_category") and fields["forecast_category"] not in ForecastCategory.values:
        raise ValidationError({"forecast_category": _("Choose a forecast category.")})
    if "amount" in fields:
        if opportunity.lines.exists():
            raise ValidationError(
                {"amount": _("The amount is the sum of the products; change them instead.")}
            )
        fields["amount"] = round_money(fields["amount"] or 0)
    _check_belongs(opportunity.unit, account=fields.get("account"), contact=fields.get("contact"))
    with transaction.atomic():
        changes = {n: (getattr(opportunity, n), v) for n, v in fields.items() if getattr(opportunity, n) != v}
        if not changes:
            return opportunity
        for name, (_before, value) in changes.items():
            setattr(opportunity, name, value)
        if "contact" in changes and opportunity.contact is not None:
            opportunity.customer = opportunity.contact.customer
        opportunity.updated_at = timezone.now()
        opportunity.save()
        audit.record(
            AuditEntry.Action.UPDATE, actor=actor, obj=opportunity, unit=opportunity.unit, changes=changes
        )
    return opportunity


def assign_opportunity(opportunity: Opportunity, owner: Any, *, actor: Any) -> Opportunity:
    """Give the opportunity to `owner`, or to the unit's pool (None). Sales managers only."""
    require_manager(actor, opportunity.unit)
    owner = _checked_owner(opportunity.unit, owner, actor)
    with transaction.atomic():
        before = opportunity.owner
        Opportunity.objects.filter(pk=opportunity.pk).update(owner=owner, stale_since=None)
        opportunity.owner, opportunity.stale_since = owner, None
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            changes={"owner": (before, owner)},
        )
    return opportunity


def move_opportunity(
    opportunity: Opportunity,
    stage: Stage,
    *,
    actor: Any,
    lost_reason: str = "",
    lost_note: str = "",
    at: datetime | None = None,
) -> Opportunity:
    """Put the opportunity in `stage` of its pipeline. The won stage wins it: its one order is booked in
    commerce (created, or restored if it was won before). The lost stage loses it, with a reason. An
    open stage reopens a closed one (a won one only by a sales manager), cancelling its order. Moving
    is progress: it resets the rulebook's clock."""
    if stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError({"stage": _("Choose a stage of the opportunity's pipeline.")})
    if stage.kind == Stage.Kind.LOST and lost_reason not in Opportunity.LostReason.values:
        raise ValidationError({"lost_reason": _("Choose why the opportunity was lost.")})
    when = at or timezone.now()
    with transaction.atomic():
        opportunity = (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("pipeline__unit", "unit")
            .get(pk=opportunity.pk)
        )
        before_stage, before_status = opportunity.stage, opportunity.status
        if before_stage.pk == stage.pk:
            return opportunity
        if before_status == Opportunity.Status.WON and not manages_sales(actor, opportunity.unit):
            raise Denied(MANAGE_SALES, obj=opportunity)
        opportunity.stage, opportunity.stage_entered_at = stage, when
        opportunity.last_activity_at, opportunity.stale_since = max(opportunity.last_activity_at, when), None
        if stage.kind == Stage.Kind.WON:
            opportunity.status, opportunity.closed_at = Opportunity.Status.WON, when
            opportunity.lost_reason, opportunity.lost_note = "", ""
            _book_order(opportunity, Order.Status.PAID, when, actor)
        elif stage.kind == Stage.Kind.LOST:
            opportunity.status, opportunity.closed_at = Opportunity.Status.LOST, when
            opportunity.lost_reason, opportunity.lost_note = lost_reason, lost_note.strip()[:300]
            _cancel_order(opportunity, actor)
        else:
            opportunity.status, opportunity.closed_at = Opportunity.Status.OPEN, None
            opportunity.lost_reason, opportunity.lost_note = "", ""
            _cancel_order(opportunity, actor)
        opportunity.updated_at = timezone.now()
        opportunity.save()
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage=before_stage,
            to_stage=stage,
            amount=opportunity.amount,
            changed_by=actor if getattr(actor, "is_authenticated", False) else None,
            changed_at=when,
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            changes={"stage": (before_stage.pk, stage.pk), "status": (before_status, opportunity.status)},
        )
    return opportunity


def _book_order(opportunity: Opportunity, status: str, when: datetime, actor: Any) -> None:
    """Create or update the opportunity's one order (keyed on it in the store's source)."""
    store = won_orders_store(opportunity.pipeline)
    lines = [
        LineRecord(
            line_no=position,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            sku=line.sku,
            category=line.category,
        )
        for position, line in enumerate(opportunity.lines.order_by("pk"), start=1)
    ] or [
        LineRecord(
            line_no=1,
            name=opportunity.name[:200],
            quantity=1,
            unit_price=opportunity.amount,
            amount=opportunity.amount,
        )
    ]
    contact = opportunity.contact
    customer_id = opportunity.customer_id or (contact.customer_id if contact is not None else None)
    placed_at = when
    if status != Order.Status.PAID and opportunity.order_id is not None:
        placed_at = (
            Order.objects.filter(pk=opportunity.order_id).values_list("placed_at", flat=True).first() or when
        )
    order = record_sales_order(
        store,
        external_id=f"sales-opportunity:{opportunity.pk}",
        number=f"SO{opportunity.pk:06d}",
        customer_id=customer_id,
        status=status,
        placed_at=placed_at,
        currency=opportunity.currency,
        lines=lines,
        attributes={"opportunity": opportunity.pk},
        actor=actor,
    )
    opportunity.order = order


def _cancel_order(opportunity: Opportunity, actor: Any) -> None:
    if opportunity.order_id is not None:
        _book_order(opportunity, Order.Status.CANCELLED, timezone.now(), actor)


def _open_for_change(opportunity: Opportunity) -> Opportunity:
    locked = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if not locked.is_open:
        raise ValidationError(_("Reopen the opportunity to change it."))
    return locked


def _sync_amount(opportunity: Opportunity) -> None:
    total = opportunity.lines.aggregate(total=Sum("amount"))["total"]
    amount = round_money(total or 0)
    Opportunity.objects.filter(pk=opportunity.pk).update(amount=amount, updated_at=timezone.now())
    opportunity.amount = amount


def add_line(
    opportunity: Opportunity,
    *,
    actor: Any,
    quantity: int,
    unit_price: Decimal | None = None,
    product: Product | None = None,
    name: str = "",
    sku: str = "",
) -> OpportunityLine:
    """Add a product (from the catalogue, priced at its list price unless `unit_price` says otherwise,
    or named by hand); the opportunity's amount becomes the sum of its products."""
    if quantity < 1:
        raise ValidationError({"quantity": _("The quantity is at least 1.")})
    if product is None and not name.strip():
        raise ValidationError({"product": _("Choose a product or name one.")})
    price = round_money(unit_price if unit_price is not None else (product.price if product else 0))
    if price < 0:
        raise ValidationError({"unit_price": _("A price is not negative.")})
    with transaction.atomic():
        opportunity = _open_for_change(opportunity)
        line = OpportunityLine.objects.create(
            opportunity=opportunity,
            product=product,
            sku=product.sku if product else sku.strip()[:64],
            name=product.name if product else name.strip()[:200],
            category=product.category if product else "",
            quantity=quantity,
            unit_price=price,
            amount=round_money(price * quantity),
        )
        _sync_amount(opportunity)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            message=phrases.PRODUCT_LINE_ADDED(line=line.pk),
        )
    return line


def remove_line(line: OpportunityLine, *, actor: Any) -> None:
    with transaction.atomic():
        opportunity = _open_for_change(line.opportunity)
        line.delete()
        _sync_amount(opportunity)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            message=phrases.PRODUCT_LINE_REMOVED(),
        )


def link_competitor(
    opportunity: Opportunity,
    competitor: Competitor,
    *,
    actor: Any,
    threat: str = OpportunityCompetitor.Threat.MEDIUM,
    their_price: Decimal | None = None,
    notes: str = "",
) -> OpportunityCompetitor:
    if competitor.unit_id != opportunity.unit_id:
        raise ValidationError({"competitor": _("Choose a competitor of the opportunity's unit.")})
    if threat not in OpportunityCompetitor.Threat.values:
        raise ValidationError({"threat": _("Choose a threat level.")})
    with transaction.atomic():
        link, _created = OpportunityCompetitor.objects.update_or_create(
            opportunity=opportunity,
            competitor=competitor,
            defaults={
                "threat": threat,
                "their_price": round_money(their_price) if their_price is not None else None,
                "notes": notes.strip()[:300],
            },
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            message=phrases.COMPETITOR_SET(competitor=competitor.pk),
        )
    return link


def unlink_competitor(link: OpportunityCompetitor, *, actor: Any) -> None:
    with transaction.atomic():
        opportunity = link.opportunity
        link.delete()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=opportunity,
            unit=opportunity.unit,
            message=phrases.COMPETITOR_REMOVED(),
        )


def create_quote(
    opportunity: Opportunity,
    *,
    actor: Any,
    kind: str = Quote.Kind.QUOTE,
    amount: Decimal | None = None,
    valid_until: date | None = None,
    terms: str = "",
) -> Quote:
    """A quote or bid at `amount` (the opportunity's by default), with a snapshot of its products."""
    if kind not in Quote.Kind.values:
        raise ValidationError({"kind": _("Choose a quote or a bid.")})
    with transaction.atomic():
        opportunity = _open_for_change(opportunity)
        count = Quote.objects.filter(opportunity=opportunity).count()
        prefix = "BID" if kind == Quote.Kind.BID else "Q"
        quote = Quote.objects.create(
            opportunity=opportunity,
            kind=kind,
            number=f"{prefix}-{opportunity.pk}-{count + 1}",
            amount=round_money(amount if amount is not None else opportunity.amount),
            currency=opportunity.currency,
            valid_until=valid_until,
            terms=terms.strip(),
            lines=[
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "amount": str(line.amount),
                }
                for line in opportunity.lines.order_by("pk")
            ],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=quote, unit=opportunity.unit)
        record_progress(at=timezone.now(), opportunity=opportunity)
    return quote


def set_quote_status(quote: Quote, status: str, *, actor: Any) -> Quote:
    if status not in Quote.Status.values:
        raise ValidationError({"status": _("Choose a status.")})
    with transaction.atomic():
        before = quote.status
        quote.status = status
        if status == Quote.Status.SENT and quote.sent_at is None:
            quote.sent_at = timezone.now()
        quote.save(update_fields=["status", "sent_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=quote,
            unit=quote.opportunity.unit,
            changes={"status": (before, status)},
        )
    return quote
