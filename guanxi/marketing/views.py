"""Marketing pages: flows (list with live counts, the step-card builder, enrolment inspector) and
campaigns (list, new, detail with approval and the effect report). Reads through fetch, writes
through actions."""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.core.access import require
from guanxi.marketing import actions, effect, fetch, holdout, journeys, steps
from guanxi.marketing.forms import CampaignForm, FlowForm, StepForm, TriggerForm, attach
from guanxi.marketing.models import Campaign, Enrolment, Flow


def _units(user, permission: str):
    return (
        BusinessUnit.objects.restrict(user, "view").order_by("name")
        if user.has_permission(permission)
        else []
    )


def flow_list(request):
    user = require(request, "marketing.view")
    units = _units(user, "marketing.add")
    form = FlowForm()
    form.fields["unit"].choices = [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]
    context = {"flows": list(fetch.flows(user)), "form": form, "units": units, "tab": "flows"}
    context["holdouts"] = _global_holdouts(user)
    if request.htmx and request.GET.get("counts"):
        return render(request, "marketing/_flow_rows.html", context)
    return render(request, "marketing/flows.html", context)


def _global_holdouts(user) -> list[tuple[BusinessUnit, Decimal]]:
    """The units whose global holdout this user may set, with its current share."""
    return [(unit, holdout.global_percent(unit.pk)) for unit in _units(user, actions.PUBLISH)]


@require_POST
def settings_save(request):
    """Set one unit's global holdout (a share of customers no flow or campaign reaches)."""
    user = require(request, actions.PUBLISH)
    units = _units(user, actions.PUBLISH)
    unit = units.filter(pk=request.POST.get("unit")).first() if units else None
    if unit is None:
        raise Http404
    try:
        percent = Decimal(request.POST.get("global_holdout_percent", ""))
        actions.save_settings(unit=unit, global_holdout_percent=percent, actor=user)
    except (ArithmeticError, ValidationError):
        messages.error(request, _("Give a share between 0 and 90 percent."))
    else:
        messages.success(request, _("Global holdout of %(unit)s saved.") % {"unit": unit.name})
    return redirect("marketing:flow_list")


@require_POST
def flow_new(request):
    user = require(request, "marketing.add")
    units = _units(user, "marketing.add")
    if request.POST.get("install"):
        unit = units.filter(pk=request.POST.get("unit")).first() if units else None
        if unit is None:
            raise Http404
        installed = journeys.install(unit, actor=user)
        messages.success(
            request, _("%(count)d built-in journeys installed, switched off.") % {"count": len(installed)}
        )
        return redirect("marketing:flow_list")
    form = FlowForm(request.POST)
    form.fields["unit"].choices = [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]
    if form.is_valid():
        unit = units.get(pk=form.cleaned_data["unit"])
        try:
            flow = actions.save_flow(unit=unit, actor=user, name=form.cleaned_data["name"])
        except ValidationError as error:
            attach(form, error)
        else:
            return redirect("marketing:flow", flow.pk)
    return render(
        request,
        "marketing/flows.html",
        {"flows": list(fetch.flows(user)), "form": form, "units": units, "tab": "flows"},
    )


def _flow(request, pk: int) -> Flow:
    flow = fetch.flow(request.user, pk)
    if flow is None:
        raise Http404
    return flow


def _choices(user, flow: Flow) -> dict:
    """What the flow's steps may name: the segments and coupons of its unit that `user` may see."""
    from guanxi.customers.models import Tag
    from guanxi.loyalty.models import CouponTemplate
    from guanxi.segments.models import Segment

    segments = Segment.objects.restrict(user, "view").filter(Segment.scope_by_units([flow.unit_id]))
    coupons = CouponTemplate.objects.restrict(user, "view").filter(
        programme__unit_id=flow.unit_id, active=True
    )
    return {
        "segments": [(s.pk, s.name) for s in segments],
        "coupons": [(c.pk, c.name) for c in coupons],
        "tags": [(t.pk, t.name) for t in Tag.objects.order_by("name")],
    }


def _builder_context(
    request, flow: Flow, step_form: StepForm | None = None, trigger_form: TriggerForm | None = None
) -> dict:
    definition = actions.draft_of(flow)
    choices = _choices(request.user, flow)
    names = {
        "segment": dict(choices["segments"]),
        "coupon_template": dict(choices["coupons"]),
        "tag": dict(choices["tags"]),
    }
    step_form = step_form or StepForm()
    step_form.fields["coupon_template"].choices = [("", "—"), *choices["coupons"]]  # type: ignore[attr-defined]
    step_form.fields["tag"].choices = [("", "—"), *choices["tags"]]  # type: ignore[attr-defined]
    step_form.fields["segment"].choices = [("", "—"), *choices["segments"]]  # type: ignore[attr-defined]
    trigger = definition.get("trigger", {})
    exits = set(definition.get("exit", []))
    trigger_form = trigger_form or TriggerForm(
        initial={
            **trigger,
            "exit_paid": "order_paid" in exits,
            "exit_ordered": "order_placed" in exits,
            "exit_refunded": "order_refunded" in exits,
        }
    )
    trigger_form.fields["segment"].choices = [("", "—"), *choices["segments"]]  # type: ignore[attr-defined]
    cards = []
    ids = {step.id: position for position, step in enumerate(steps.steps_of(definition), start=1)}
    branch_labels = {
        "no": _("If not, go to step"),
        "b": _("Path B goes to step"),
        "next": _("Then go to step"),
        "timeout": _("On timeout go to step"),
    }
    for position, step in enumerate(steps.steps_of(definition), start=1):
        details = []
        for key, value in step.params.items():
            if key in names:
                details.append((StepForm.base_fields[key].label, names[key].get(value, value)))
            elif key in branch_labels:
                details.append((branch_labels[key], ids.get(value, _("the end"))))
            elif key in ("purpose", "priority", "event_kind"):
                labels = dict(StepForm.base_fields[key].choices)  # type: ignore[attr-defined]
                details.append((StepForm.base_fields[key].label, labels.get(value, value)))
            elif key == "after_trigger":
                details.append((_("Measured from"), _("the trigger")))
            elif key == "remove":
                details.append((StepForm.base_fields[key].label, _("yes")))
            elif key == "rule":
                details.append((_("Condition"), _("a segment rule")))
            elif key in StepForm.base_fields:
                details.append((StepForm.base_fields[key].label, value))
        cards.append(
            {
                "position": position,
                "step": step,
                "label": steps.STEP_KINDS.get(step.kind, step.kind),
                "details": details,
            }
        )
    newest = flow.versions.order_by("-number").first()
    return {
        "flow": flow,
        "cards": cards,
        "trigger_label": steps.TRIGGERS.get(trigger.get("kind", ""), ""),
        "exits": [steps.EXITS[name] for name in definition.get("exit", []) if name in steps.EXITS],
        "step_form": step_form,
        "trigger_form": trigger_form,
        "draft": newest is not None and newest.published_at is None,
        "can_change": request.user.has_permission("marketing.change"),
    }


def flow_detail(request, pk: int):
    require(request, "marketing.view")
    flow = _flow(request, pk)
    context = _builder_context(request, flow)
    context["enrolments"] = list(
        flow.enrolments.select_related("customer").order_by("-entered_at", "-pk")[:30]
    )
    context["versions"] = list(flow.versions.order_by("-number")[:10])
    context["effect"] = effect.analyse_flow(flow)
    context["tab"] = "flows"
    return render(request, "marketing/flow.html", context)


@require_POST
def flow_steps(request, pk: int):
    """The builder's edits (htmx): add, remove or move a step card, set the trigger and exits."""
    user = require(request, "marketing.change")
    flow = _flow(request, pk)
    definition = actions.draft_of(flow)
    items = list(definition.get("steps", []))
    op = request.POST.get("op", "")
    step_form = trigger_form = None
    if op == "add":
        step_form = StepForm(request.POST)
        choices = _choices(request.user, flow)
        step_form.fields["coupon_template"].choices = [("", "—"), *choices["coupons"]]  # type: ignore[attr-defined]
        step_form.fields["tag"].choices = [("", "—"), *choices["tags"]]  # type: ignore[attr-defined]
        step_form.fields["segment"].choices = [("", "—"), *choices["segments"]]  # type: ignore[attr-defined]
        if step_form.is_valid():
            items.append(step_form.step(f"s{uuid.uuid4().hex[:6]}"))
            step_form = None
    elif op in ("remove", "up", "down"):
        ids = [str(item["id"]) for item in items]
        target = request.POST.get("step", "")
        if target in ids:
            index = ids.index(target)
            if op == "remove":
                items.pop(index)
                for item in items:
                    for branch in steps.BRANCHES:
                        if item.get(branch) == target:
                            item.pop(branch)
            else:
                other = index - 1 if op == "up" else index + 1
                if 0 <= other < len(items):
                    items[index], items[other] = items[other], items[index]
    elif op == "trigger":
        trigger_form = TriggerForm(request.POST)
        trigger_form.fields["segment"].choices = [("", "—"), *_choices(request.user, flow)["segments"]]  # type: ignore[attr-defined]
        if trigger_form.is_valid():
            data = trigger_form.cleaned_data
            trigger = {"kind": data["kind"]}
            for name in ("segment", "event_kind", "offset_days", "month_day"):
                if data.get(name) not in (None, ""):
                    trigger[name] = data[name]
            if data.get("unpaid_only"):
                trigger["unpaid_only"] = True
            definition["trigger"] = trigger
            definition["exit"] = [
                name
                for name, on in (
                    ("order_paid", data["exit_paid"]),
                    ("order_placed", data["exit_ordered"]),
                    ("order_refunded", data["exit_refunded"]),
                )
                if on
            ]
            trigger_form = None
    definition["steps"] = items
    actions.save_draft(flow, definition, actor=user)
    context = _builder_context(request, flow, step_form, trigger_form)
    if request.htmx:
        return render(request, "marketing/_builder.html", context)
    return redirect("marketing:flow", flow.pk)


@require_POST
def flow_publish(request, pk: int):
    user = require(request, "marketing.change")
    flow = _flow(request, pk)
    try:
        version = actions.publish(flow, actor=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Version %(number)d published.") % {"number": version.number})
    return redirect("marketing:flow", flow.pk)


@require_POST
def flow_status(request, pk: int):
    user = require(request, "marketing.change")
    flow = _flow(request, pk)
    try:
        actions.set_status(flow, request.POST.get("status", ""), actor=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("marketing:flow", flow.pk)


def flow_counts(request, pk: int):
    require(request, "marketing.view")
    flow = _flow(request, pk)
    return render(request, "marketing/_flow_counts.html", {"flow": flow})


def enrolment_detail(request, pk: int):
    require(request, "marketing.view")
    enrolment = fetch.enrolment(request.user, pk)
    if enrolment is None:
        raise Http404
    definition = enrolment.version.definition
    current = steps.find(definition, enrolment.step) if enrolment.step else None
    runs = [
        {
            "run": run,
            "label": steps.STEP_KINDS.get(run.kind, run.kind),
            "code": run.detail.get("code", ""),
            "path": run.detail.get("path", ""),
            "until": run.detail.get("until", ""),
        }
        for run in fetch.runs_of(enrolment)
    ]
    return render(
        request,
        "marketing/enrolment.html",
        {
            "enrolment": enrolment,
            "runs": runs,
            "exit_label": steps.EXITS.get(enrolment.exit_reason, ""),
            "current": current,
            "current_label": steps.STEP_KINDS.get(current.kind, "") if current else "",
            "trigger_label": steps.TRIGGERS.get(definition.get("trigger", {}).get("kind", ""), ""),
            "exits": [steps.EXITS[name] for name in definition.get("exit", []) if name in steps.EXITS],
            "active": enrolment.state == Enrolment.State.ACTIVE,
            "tab": "flows",
        },
    )


def campaign_list(request):
    user = require(request, "marketing.view")
    return render(
        request,
        "marketing/campaigns.html",
        {
            "campaigns": list(fetch.campaigns(user)),
            "can_add": user.has_permission("marketing.add"),
            "tab": "campaigns",
        },
    )


def campaign_new(request):
    user = require(request, "marketing.add")
    from guanxi.loyalty.models import CouponTemplate
    from guanxi.segments.models import Segment

    units = _units(user, "marketing.add")
    unit_ids = [u.pk for u in units]
    form = CampaignForm(request.POST or None)
    form.fields["unit"].choices = [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]
    form.fields["segment"].choices = [  # type: ignore[attr-defined]
        (s.pk, s.name)
        for s in Segment.objects.restrict(user, "view").filter(Segment.scope_by_units(unit_ids))
    ]
    coupons = CouponTemplate.objects.restrict(user, "view").filter(
        programme__unit_id__in=unit_ids, active=True
    )
    form.fields["coupon"].choices = [("", "—"), *[(c.pk, c.name) for c in coupons]]  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        unit = units.get(pk=data.pop("unit"))
        data["segment"] = Segment.objects.restrict(user, "view").get(pk=data["segment"])
        data["coupon"] = coupons.filter(pk=data["coupon"]).first() if data["coupon"] else None
        if data.get("test_percent") is None:
            data.pop("test_percent", None)
        try:
            campaign = actions.save_campaign(unit=unit, actor=user, **data)
        except ValidationError as error:
            attach(form, error)
        else:
            return redirect("marketing:campaign", campaign.pk)
    return render(request, "marketing/campaign_new.html", {"form": form, "tab": "campaigns"})


def _campaign(request, pk: int) -> Campaign:
    campaign = fetch.campaign(request.user, pk)
    if campaign is None:
        raise Http404
    return campaign


def campaign_detail(request, pk: int):
    require(request, "marketing.view")
    campaign = _campaign(request, pk)
    result = effect.analyse(campaign)
    charts = {}
    if result is not None:
        groups = [(_("Holdout"), result.holdout), (_("Variant A"), result.a)]
        if result.b.customers:
            groups.append((_("Variant B"), result.b))
        charts["conversion"] = {
            "kind": "columns",
            "labels": [str(name) for name, _f in groups],
            "values": [round(f.rate * 100, 2) for _n, f in groups],
            "series_label": _("Conversion (%)"),
        }
        charts["revenue"] = {
            "kind": "columns",
            "labels": [str(name) for name, _f in groups],
            "values": [round(f.revenue_per_customer, 2) for _n, f in groups],
            "series_label": _("Revenue per customer"),
        }
    preview = campaign.segment.member_count
    return render(
        request,
        "marketing/campaign.html",
        {
            "campaign": campaign,
            "effect": result,
            "charts": charts,
            "preview": preview,
            "preview_cost": (campaign.message_cost * (preview or 0)).quantize(campaign.message_cost)
            if preview
            else None,
            "may_publish": actions.may_publish(request.user),
            "tab": "campaigns",
        },
    )


@require_POST
def campaign_submit(request, pk: int):
    user = require(request, "marketing.change")
    campaign = _campaign(request, pk)
    try:
        actions.submit(campaign, actor=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("marketing:campaign", campaign.pk)


@require_POST
def campaign_approve(request, pk: int):
    user = require(request, "marketing.change")
    campaign = _campaign(request, pk)
    try:
        actions.approve(campaign, actor=user)
    except PermissionDenied:
        raise
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("marketing:campaign", campaign.pk)
