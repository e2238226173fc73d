"""Sales settings for a unit's sales managers: the rulebook's thresholds, pipelines and their stages,
web forms; the competitor list (anyone who sells adds to it); and the group's transfer decisions."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.models import Store
from guanxi.core.access import require
from guanxi.sales.access import manages_sales, may_transfer_across_units, require_manager, unit_for_new_record
from guanxi.sales.actions import configuration as actions
from guanxi.sales.actions.leads import decide_transfer
from guanxi.sales.fetch import access_by_id
from guanxi.sales.forms import (
    CompetitorForm,
    DecisionForm,
    PipelineEditForm,
    PipelineForm,
    RulesForm,
    StageForm,
    WebFormForm,
    choose,
)
from guanxi.sales.models import Competitor, LeadForm, LeadTransfer, Pipeline, SalesRules, Stage
from guanxi.sales.views.common import back, form_errors, page, run, unit_choices

VIEW, MANAGE = "sales.view", "sales.manage"


def _managed_units(user) -> list[BusinessUnit]:
    return [
        unit
        for unit in BusinessUnit.objects.restrict(user, "view").filter(is_active=True)
        if manages_sales(user, unit)
    ]


def settings_page(request):
    user = require(request, MANAGE)
    units = _managed_units(user)
    unit = next((u for u in units if str(u.pk) == request.GET.get("unit")), units[0] if units else None)
    context: dict[str, Any] = {"units": units, "unit": unit}
    if unit is not None:
        rules = SalesRules.for_unit(unit)
        pipelines = list(Pipeline.objects.restrict(user, "view").filter(unit=unit).prefetch_related("stages"))
        stores = Store.objects.restrict(user, "view").filter(unit=unit)
        pipeline_forms = []
        for pipeline in pipelines:
            form = PipelineEditForm(
                initial={
                    "name": pipeline.name,
                    "store": pipeline.store_id,
                    "is_default": pipeline.is_default,
                },
                prefix=f"p{pipeline.pk}",
            )
            choose(form, "store", ((s.pk, s.name) for s in stores), _("The unit's direct-sales store"))
            stage_forms = [
                (
                    stage,
                    StageForm(
                        initial={
                            "name": stage.name,
                            "probability": stage.probability,
                            "forecast_category": stage.forecast_category,
                        },
                        prefix=f"s{stage.pk}",
                    ),
                )
                for stage in pipeline.stages.all()
            ]
            pipeline_forms.append(
                (
                    pipeline,
                    form,
                    stage_forms,
                    StageForm(
                        prefix=f"new{pipeline.pk}",
                        initial={"probability": 50, "forecast_category": "pipeline"},
                    ),
                )
            )
        context.update(
            rules_form=RulesForm(initial={name: getattr(rules, name) for name in actions.RULE_FIELDS}),
            pipelines=pipeline_forms,
            pipeline_form=PipelineForm(),
            lead_forms=LeadForm.objects.restrict(user, "view").filter(unit=unit),
            web_form=WebFormForm(),
        )
        context["web_form"].fields.pop("unit")
    return page(request, "sales/settings.html", context, "sales:settings")


def _unit(request, user, pk):
    unit = access_by_id(BusinessUnit, user, pk)
    require_manager(user, unit)
    return unit


def _to_settings(unit) -> str:
    return f"{reverse('sales:settings')}?unit={unit.pk}"


@require_POST
def rules_save(request, unit):
    user = require(request, MANAGE)
    shown = _unit(request, user, unit)
    form = RulesForm(request.POST)
    run(
        request, form, lambda: actions.update_rules(shown, actor=user, **form.cleaned_data), _("Rules saved.")
    )
    form_errors(request, form)
    return redirect(_to_settings(shown))


@require_POST
def pipeline_add(request, unit):
    user = require(request, MANAGE)
    shown = _unit(request, user, unit)
    form = PipelineForm(request.POST)
    run(
        request,
        form,
        lambda: actions.create_pipeline(unit=shown, actor=user, **form.cleaned_data),
        _("Pipeline made."),
    )
    form_errors(request, form)
    return redirect(_to_settings(shown))


@require_POST
def pipeline_save(request, pk):
    user = require(request, MANAGE)
    pipeline = access_by_id(Pipeline, user, pk, "change", related=("unit",))
    form = PipelineEditForm(request.POST, prefix=f"p{pk}")
    stores = Store.objects.restrict(user, "view").filter(unit=pipeline.unit)
    choose(form, "store", ((s.pk, s.name) for s in stores), "")
    run(
        request,
        form,
        lambda: actions.update_pipeline(
            pipeline,
            actor=user,
            name=form.cleaned_data["name"],
            store=stores.filter(pk=form.cleaned_data["store"]).first()
            if form.cleaned_data["store"]
            else None,
            is_default=form.cleaned_data["is_default"],
        ),
        _("Pipeline saved."),
    )
    form_errors(request, form)
    return redirect(_to_settings(pipeline.unit))


@require_POST
def stage_add(request, pk):
    user = require(request, MANAGE)
    pipeline = access_by_id(Pipeline, user, pk, "change", related=("unit",))
    form = StageForm(request.POST, prefix=f"new{pk}")
    run(
        request, form, lambda: actions.add_stage(pipeline, actor=user, **form.cleaned_data), _("Stage added.")
    )
    form_errors(request, form)
    return redirect(_to_settings(pipeline.unit))


@require_POST
def stage_save(request, pk):
    user = require(request, MANAGE)
    stage = access_by_id(Stage, user, pk, "change", related=("pipeline__unit",))
    action = request.POST.get("action", "save")
    form = StageForm(request.POST, prefix=f"s{pk}")
    if action in ("earlier", "later"):
        actions.move_stage(stage, actor=user, earlier=action == "earlier")
    elif action == "delete":
        empty = forms.Form(request.POST)
        run(request, empty, lambda: actions.delete_stage(stage, actor=user), _("Stage removed."))
        form_errors(request, empty)
    else:
        run(
            request,
            form,
            lambda: actions.update_stage(stage, actor=user, **form.cleaned_data),
            _("Stage saved."),
        )
        form_errors(request, form)
    return redirect(_to_settings(stage.pipeline.unit))


@require_POST
def web_form_add(request, unit):
    user = require(request, MANAGE)
    shown = _unit(request, user, unit)
    form = WebFormForm(request.POST)
    form.fields.pop("unit")
    run(
        request,
        form,
        lambda: actions.create_lead_form(unit=shown, actor=user, **form.cleaned_data),
        _("Web form made."),
    )
    form_errors(request, form)
    return redirect(_to_settings(shown))


@require_POST
def web_form_toggle(request, pk):
    user = require(request, MANAGE)
    shown = access_by_id(LeadForm, user, pk, "change", related=("unit",))
    actions.set_lead_form_active(shown, actor=user, active=not shown.is_active)
    messages.success(request, _("Web form opened.") if shown.is_active else _("Web form closed."))
    return redirect(_to_settings(shown.unit))


@require_http_methods(["GET", "POST"])
def competitor_list(request):
    user = require(request, VIEW)
    form = CompetitorForm(request.POST or None)
    unit_choices(form, user)
    if request.method == "POST":
        require(request, "sales.add")

        def add():
            unit = unit_for_new_record(user, form.cleaned_data.get("unit"))
            if unit is None:
                raise ValidationError({"unit": _("Choose a unit.")})
            fields = {k: form.cleaned_data[k] for k in ("name", "website", "strengths", "weaknesses")}
            return actions.create_competitor(unit=unit, actor=user, **fields)

        if run(request, form, add, _("Competitor added.")) is not None:
            return redirect("sales:competitor_list")
    competitors = Competitor.objects.restrict(user, "view").select_related("unit")
    return page(
        request,
        "sales/competitor_list.html",
        {"competitors": competitors, "form": form},
        "sales:opportunity_list",
    )


def transfer_list(request):
    user = require(request, VIEW)
    transfers = LeadTransfer.objects.restrict(user, "view").select_related(
        "lead", "from_unit", "to_unit", "requested_by", "decided_by"
    )
    context = {
        "transfers": transfers[:200],
        "decides": may_transfer_across_units(user),
        "decision_form": DecisionForm(),
    }
    return page(request, "sales/transfer_list.html", context, "sales:transfer_list")


@require_POST
def transfer_decide(request, pk):
    user = require(request, VIEW)
    transfer = access_by_id(LeadTransfer, user, pk, related=("lead", "from_unit", "to_unit"))
    form = DecisionForm(request.POST)
    run(
        request,
        form,
        lambda: decide_transfer(
            transfer, approve=form.cleaned_data["approve"], actor=user, note=form.cleaned_data["note"]
        ),
        _("Transfer decided."),
    )
    form_errors(request, form)
    return back(request, reverse("sales:transfer_list"))
