"""Configuring a unit's sales: pipelines and their stages, the rulebook's thresholds, web forms and
the competitors it tracks. Only sales managers of the unit (sales.manage) may."""

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.commerce.actions import ensure_store
from guanxi.commerce.models import Channel, Store
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.sales import phrases
from guanxi.sales.access import require_manager
from guanxi.sales.models import (
    Competitor,
    ForecastCategory,
    LeadForm,
    Opportunity,
    Pipeline,
    SalesRules,
    Stage,
)

RULE_FIELDS = (
    "stale_after_days",
    "return_stale_to_pool",
    "inactive_after_days",
    "assignment",
    "commission_rate",
)


def default_stages() -> list[tuple[str, int, str, str]]:
    """(name, probability %, kind, forecast category) of a new pipeline, named in the active language."""
    return [
        (_("Initial contact"), 10, Stage.Kind.OPEN, ForecastCategory.PIPELINE),
        (_("Needs confirmed"), 25, Stage.Kind.OPEN, ForecastCategory.PIPELINE),
        (_("Proposal and quote"), 50, Stage.Kind.OPEN, ForecastCategory.BEST_CASE),
        (_("Negotiation"), 75, Stage.Kind.OPEN, ForecastCategory.COMMIT),
        (_("Won"), 100, Stage.Kind.WON, ForecastCategory.COMMIT),
        (_("Lost"), 0, Stage.Kind.LOST, ForecastCategory.OMITTED),
    ]


def create_pipeline(*, unit: Any, name: str, currency: str = "CNY", actor: Any = None) -> Pipeline:
    """A pipeline with the default stages; the unit's first pipeline is its default."""
    require_manager(actor, unit)
    with transaction.atomic():
        first = not Pipeline.objects.filter(unit=unit).exists()
        try:
            with transaction.atomic():
                pipeline = Pipeline.objects.create(
                    unit=unit, name=name.strip(), currency=currency.upper()[:3], is_default=first
                )
        except IntegrityError as error:
            raise ValidationError({"name": _("The unit already has a pipeline of this name.")}) from error
        Stage.objects.bulk_create(
            Stage(
                pipeline=pipeline,
                name=stage_name,
                position=position,
                probability=probability,
                kind=kind,
                forecast_category=category,
            )
            for position, (stage_name, probability, kind, category) in enumerate(default_stages())
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=pipeline, unit=unit)
    return pipeline


def default_pipeline(unit: Any) -> Pipeline:
    """The unit's default pipeline, made with the default stages the first time it is needed."""
    pipeline = Pipeline.objects.filter(unit=unit).order_by("-is_default", "pk").first()
    return pipeline or create_pipeline(unit=unit, name=_("Sales pipeline"))


def won_orders_store(pipeline: Pipeline) -> Store:
    """Where the pipeline's won opportunities become orders: its own store, else the unit's direct-sales
    store (made the first time a deal is won)."""
    if pipeline.store_id is not None:
        return pipeline.store  # type: ignore[return-value]  # store_id is set
    unit = pipeline.unit
    return ensure_store(
        unit=unit,
        source=f"sales:{unit.code}",
        name=_("%(unit)s direct sales") % {"unit": unit.name},
        channel=Channel.OFFLINE,
        currency=pipeline.currency,
    )


def update_pipeline(
    pipeline: Pipeline, *, actor: Any, name: str, store: Store | None, is_default: bool
) -> Pipeline:
    require_manager(actor, pipeline.unit)
    if store is not None and store.unit_id != pipeline.unit_id:
        raise ValidationError({"store": _("Choose a store of the pipeline's unit.")})
    with transaction.atomic():
        changes = {}
        for field, value in (("name", name.strip()), ("store", store), ("is_default", is_default)):
            if getattr(pipeline, field) != value:
                changes[field] = (getattr(pipeline, field), value)
                setattr(pipeline, field, value)
        if is_default:
            Pipeline.objects.filter(unit=pipeline.unit_id, is_default=True).exclude(pk=pipeline.pk).update(
                is_default=False
            )
        try:
            with transaction.atomic():
                pipeline.save()
        except IntegrityError as error:
            raise ValidationError({"name": _("The unit already has a pipeline of this name.")}) from error
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=pipeline, unit=pipeline.unit, changes=changes)
    return pipeline


def add_stage(
    pipeline: Pipeline, *, actor: Any, name: str, probability: int, forecast_category: str
) -> Stage:
    """An open stage after the last open one (the won and lost stages stay last)."""
    require_manager(actor, pipeline.unit)
    _check_probability(probability)
    with transaction.atomic():
        stages = list(Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position", "pk"))
        last_open = max((s.position for s in stages if s.is_open), default=-1)
        for stage in stages:
            if stage.position > last_open:
                Stage.objects.filter(pk=stage.pk).update(position=stage.position + 1)
        stage = Stage.objects.create(
            pipeline=pipeline,
            name=name.strip(),
            position=last_open + 1,
            probability=probability,
            forecast_category=forecast_category,
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=stage, unit=pipeline.unit)
    return stage


def update_stage(stage: Stage, *, actor: Any, name: str, probability: int, forecast_category: str) -> Stage:
    """Rename a stage or change its win probability or forecast category. The won and lost stages keep
    100% and 0%."""
    require_manager(actor, stage.pipeline.unit)
    if not stage.is_open:
        probability = 100 if stage.kind == Stage.Kind.WON else 0
    _check_probability(probability)
    with transaction.atomic():
        changes = {
            field: (getattr(stage, field), value)
            for field, value in (
                ("name", name.strip()),
                ("probability", probability),
                ("forecast_category", forecast_category),
            )
            if getattr(stage, field) != value
        }
        for field, (_before, value) in changes.items():
            setattr(stage, field, value)
        stage.save()
        audit.record(
            AuditEntry.Action.UPDATE, actor=actor, obj=stage, unit=stage.pipeline.unit, changes=changes
        )
    return stage


def move_stage(stage: Stage, *, actor: Any, earlier: bool) -> None:
    """Swap an open stage with its open neighbour (won and lost stay last)."""
    require_manager(actor, stage.pipeline.unit)
    with transaction.atomic():
        open_stages = list(
            Stage.objects.select_for_update()
            .filter(pipeline=stage.pipeline_id, kind=Stage.Kind.OPEN)
            .order_by("position", "pk")
        )
        index = next((i for i, s in enumerate(open_stages) if s.pk == stage.pk), None)
        other = None if index is None else index - 1 if earlier else index + 1
        if index is None or other is None or not 0 <= other < len(open_stages):
            return
        first, second = open_stages[index], open_stages[other]
        Stage.objects.filter(pk=first.pk).update(position=second.position)
        Stage.objects.filter(pk=second.pk).update(position=first.position)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=stage,
            unit=stage.pipeline.unit,
            message=(phrases.STAGE_MOVED_EARLIER if earlier else phrases.STAGE_MOVED_LATER)(),
        )


def delete_stage(stage: Stage, *, actor: Any) -> None:
    """Remove an open stage that no opportunity is in or has been in."""
    require_manager(actor, stage.pipeline.unit)
    if not stage.is_open:
        raise ValidationError(_("The won and lost stages cannot be removed."))
    if Opportunity.objects.filter(stage=stage).exists():
        raise ValidationError(_("Move the opportunities in this stage elsewhere first."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                stage.delete()
        except ProtectedError as error:  # stage history points at it
            raise ValidationError(
                _("Opportunities passed through this stage; it cannot be removed.")
            ) from error
        audit.record(
            AuditEntry.Action.DELETE,
            actor=actor,
            unit=stage.pipeline.unit,
            object_type="sales.stage",
            object_id=str(stage.pk),
        )


def _check_probability(probability: int) -> None:
    if not 0 <= probability <= 100:
        raise ValidationError({"probability": _("A probability is between 0 and 100%.")})


def update_rules(unit: Any, *, actor: Any, **fields: Any) -> SalesRules:
    """Change the unit's rulebook thresholds (any of RULE_FIELDS)."""
    require_manager(actor, unit)
    unknown = sorted(set(fields) - set(RULE_FIELDS))
    if unknown:
        raise ValueError(f"Not sales rules: {unknown}")
    with transaction.atomic():
        rules, _created = SalesRules.objects.select_for_update().get_or_create(unit=unit)
        changes = {
            name: (getattr(rules, name), value)
            for name, value in fields.items()
            if getattr(rules, name) != value
        }
        for name, (_before, value) in changes.items():
            setattr(rules, name, value)
        rules.full_clean(exclude=["unit", "last_assigned"])
        rules.updated_at = timezone.now()
        rules.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            unit=unit,
            object_type="sales.salesrules",
            object_id=str(rules.pk),
            changes=changes,
        )
    return rules


def create_lead_form(
    *,
    unit: Any,
    actor: Any,
    name: str,
    heading: str,
    introduction: str = "",
    consent_text: str = "",
    thank_you: str = "",
) -> LeadForm:
    require_manager(actor, unit)
    with transaction.atomic():
        form = LeadForm.objects.create(
            unit=unit,
            key=secrets.token_urlsafe(18)[:24],
            name=name.strip(),
            heading=heading.strip(),
            introduction=introduction.strip(),
            consent_text=consent_text.strip(),
            thank_you=thank_you.strip(),
            created_by=actor,
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=form, unit=unit)
    return form


def set_lead_form_active(form: LeadForm, *, actor: Any, active: bool) -> LeadForm:
    require_manager(actor, form.unit)
    with transaction.atomic():
        LeadForm.objects.filter(pk=form.pk).update(is_active=active)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=form,
            unit=form.unit,
            changes={"is_active": (form.is_active, active)},
        )
        form.is_active = active
    return form


def create_competitor(
    *, unit: Any, actor: Any, name: str, website: str = "", strengths: str = "", weaknesses: str = ""
) -> Competitor:
    """Track a competitor in the unit; reps meet them in deals, so anyone who sells may add one."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                competitor = Competitor.objects.create(
                    unit=unit,
                    name=name.strip(),
                    website=website.strip(),
                    strengths=strengths.strip(),
                    weaknesses=weaknesses.strip(),
                )
        except IntegrityError as error:
            raise ValidationError(
                {"name": _("The unit already tracks a competitor of this name.")}
            ) from error
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=competitor, unit=unit)
    return competitor
