"""Opportunity, pipeline and forecast endpoints. Moving an opportunity to its pipeline's won stage books
its one order in commerce; to the lost stage needs a reason."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status

from guanxi.api.errors import ApiError
from guanxi.api.pagination import paginate
from guanxi.core.access import require
from guanxi.core.money import round_money
from guanxi.sales import forecast as forecasting
from guanxi.sales import periods
from guanxi.sales.actions import opportunities as actions
from guanxi.sales.api.routing import acting, owner_of, router, unit_of, visible
from guanxi.sales.api.schemas import (
    ForecastOut,
    OpportunityIn,
    OpportunityListParams,
    OpportunityOut,
    OpportunityPage,
    OpportunityPatch,
    PipelineOut,
    StageMoveIn,
)
from guanxi.sales.models import Account, Contact, Opportunity, Pipeline, Stage


def opportunity_out(opportunity: Opportunity) -> dict:
    stage = opportunity.stage
    return {
        **{
            name: getattr(opportunity, name)
            for name in OpportunityOut.model_fields
            if hasattr(opportunity, name)
        },
        "stage": stage.name,
        "probability": stage.probability,
        "weighted_amount": round_money(opportunity.amount * stage.probability / Decimal(100)),
        "forecast_category": opportunity.shown_forecast_category,
    }


@router.get("/sales/pipelines", response=list[PipelineOut], summary="Pipelines and their stages")
def list_pipelines(request):
    pipelines = (
        Pipeline.objects.restrict(request.user, "view")
        .prefetch_related("stages")
        .order_by("unit_id", "-is_default", "name")
    )
    return [
        {
            **{name: getattr(p, name) for name in ("id", "unit_id", "name", "currency", "is_default")},
            "stages": list(p.stages.all()),
        }
        for p in pipelines
    ]


@router.get(
    "/sales/opportunities", response=OpportunityPage, summary="Opportunities the caller may see, newest first"
)
def list_opportunities(request, params: Query[OpportunityListParams]):
    rows = Opportunity.objects.restrict(request.user, "view").select_related("stage")
    for field, value in (
        ("status", params.status),
        ("pipeline_id", params.pipeline),
        ("stage_id", params.stage),
    ):
        if value is not None:
            rows = rows.filter(**{field: value})
    if params.owner is not None:
        rows = rows.filter(owner_id=params.owner or None)
    if params.stale is not None:
        rows = rows.filter(stale_since__isnull=not params.stale)
    page = paginate(rows, params, sort_field="created_at", descending=True)
    return {"items": [opportunity_out(o) for o in page.items], "next_cursor": page.next_cursor}


@router.post("/sales/opportunities", response={201: OpportunityOut}, summary="Open an opportunity")
def create_opportunity(request, payload: OpportunityIn):
    user = require(request, "sales.add")
    unit = unit_of(request, payload.unit)
    pipeline = visible(Pipeline, request, payload.pipeline)
    stage = visible(Stage, request, payload.stage)
    account = visible(Account, request, payload.account)
    contact = visible(Contact, request, payload.contact, related=("account", "customer"))
    owner = owner_of(unit, payload.owner)
    return acting(
        request,
        lambda: Status(
            201,
            opportunity_out(
                actions.create_opportunity(
                    unit=unit,
                    name=payload.name,
                    actor=user,
                    pipeline=pipeline,
                    stage=stage,
                    owner=owner,
                    account=account,
                    contact=contact,
                    amount=payload.amount,
                    expected_close=payload.expected_close,
                    forecast_category=payload.forecast_category,
                )
            ),
        ),
    )


@router.get("/sales/opportunities/{opportunity_id}", response=OpportunityOut, summary="One opportunity")
def get_opportunity(request, opportunity_id: int):
    return opportunity_out(visible(Opportunity, request, opportunity_id, related=("stage",)))


@router.patch(
    "/sales/opportunities/{opportunity_id}", response=OpportunityOut, summary="Change an opportunity"
)
def update_opportunity(request, opportunity_id: int, payload: OpportunityPatch):
    opportunity = visible(Opportunity, request, opportunity_id, "change", related=("stage",))
    changes = payload.model_dump(exclude_none=True)
    return acting(
        request,
        lambda: opportunity_out(actions.update_opportunity(opportunity, actor=request.user, **changes)),
    )


@router.post(
    "/sales/opportunities/{opportunity_id}/stage",
    response=OpportunityOut,
    summary="Move an opportunity to a stage (won books its order; lost needs a reason)",
)
def move_opportunity(request, opportunity_id: int, payload: StageMoveIn):
    opportunity = visible(Opportunity, request, opportunity_id, "change")
    if payload.stage is None:
        raise ApiError(422, _("Name the stage to move the opportunity to."))
    stage = get_object_or_404(
        Stage.objects.restrict(request.user, "view").filter(pipeline_id=opportunity.pipeline_id),
        pk=payload.stage,
    )
    return acting(
        request,
        lambda: opportunity_out(
            actions.move_opportunity(
                opportunity,
                stage,
                actor=request.user,
                lost_reason=payload.lost_reason,
                lost_note=payload.lost_note,
            )
        ),
    )


@router.get(
    "/sales/forecast", response=ForecastOut, summary="Quota, won, pipeline by category, weighted, commission"
)
def get_forecast(request, period: str | None = None):
    require(request, "sales.view")
    shown = forecasting.forecast(request.user, periods.parse(period))

    def rows(items):
        return [{**vars(row), "owner": row.owner_name, "attainment": row.attainment} for row in items]

    return {
        "period": shown.period.key,
        "start": shown.period.start,
        "end": shown.period.end,
        "reps": rows(shown.reps),
        "units": rows(shown.units),
    }
