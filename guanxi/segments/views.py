"""Segment pages: the list, the builder (htmx), a segment with its members and history, and actions."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.models import Product, Store
from guanxi.core import exports
from guanxi.core.access import require
from guanxi.customers.models import CustomFieldDefinition, Tag
from guanxi.loyalty.jobs import start_issue
from guanxi.loyalty.models import CouponTemplate, Membership
from guanxi.segments import actions, builder, rules
from guanxi.segments.audience import QueryTimeoutError, count_preview, sample
from guanxi.segments.fetch import members_table
from guanxi.segments.jobs import start_nps_survey, start_tag_members
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.segments.sentence import describe, names_for
from guanxi.service import actions as service

PAGE_SIZE = 50


def segment_list(request):
    require(request, "segments.view")
    segments = Segment.objects.restrict(request.user, "view").select_related("unit", "owner")
    page = Paginator(segments, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "segments/segment_list.html",
        {"page": page, "can_add": request.user.has_permission("segments.add")},
    )


def segment(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "view"), pk=pk)
    parsed = rules.parse_rule(item.rule)
    history = (
        SegmentMembership.objects.restrict(request.user, "view")
        .filter(segment=item)
        .select_related("customer")
    )
    page = Paginator(history.order_by("-entered_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "segments/segment.html",
        {
            "segment": item,
            "sentence": describe(parsed, names_for(parsed, request.user)),
            "current": actions.current_members(request.user, item).count(),
            "page": page,
            "tags": Tag.objects.restrict(request.user, "view"),
            "can_change": Segment.objects.restrict(request.user, "change").filter(pk=pk).exists(),
            "can_export": request.user.has_permission(exports.EXPORT_PERMISSION),
            "can_tag": request.user.has_permission("customers.change"),
            "survey_units": [
                u
                for u in BusinessUnit.objects.restrict(request.user, "view")
                .filter(is_active=True)
                .order_by("code")
                if service.manages_service(request.user, u)
            ],
            "survey_round": f"NPS {item.name} {timezone.localdate():%Y-%m-%d}",
            "coupon_templates": (
                CouponTemplate.objects.restrict(request.user, "change")
                .filter(active=True, **({"programme__unit": item.unit} if item.unit_id else {}))
                .select_related("programme")
                if request.user.has_permission("loyalty.change")
                else CouponTemplate.objects.none()
            ),
        },
    )


def _builder_context(request, rule_json: dict, unit=None) -> dict:
    user = request.user
    categories = tuple(
        Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )
    return {
        "tree": builder.node_view(rule_json.get("root", {"all": []}), categories=categories),
        "rule_json": _shown_json(rule_json),
        "picker_groups": builder.picker_groups(builder.picker(_custom_fields(user))),
        "choice_sets": builder.CHOICE_SETS,
        "tags": list(Tag.objects.restrict(user, "view").values_list("pk", "name")),
        "stores": list(Store.objects.restrict(user, "view").values_list("pk", "name")),
        "segments": list(Segment.objects.restrict(user, "view").values_list("pk", "name")),
        "unit": unit,
    }


def _shown_json(rule_json: dict) -> str:
    return json.dumps(rule_json, ensure_ascii=False, indent=2)


def _explained(user, problems, rule_json: dict) -> list[builder.Explained]:
    labels = {entry.key: entry.label for entry in builder.picker(_custom_fields(user))}
    return [builder.explain(problem, rule_json, labels) for problem in problems]


def _custom_fields(user) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.restrict(user, "view"))


def _units(user):
    return BusinessUnit.objects.restrict(user, "view").order_by("name")


def segment_form(request, pk: int | None = None):
    user = request.user
    item = get_object_or_404(Segment.objects.restrict(user, "change"), pk=pk) if pk else None
    if item is None:
        require(request, "segments.add")
    rule_json = item.rule if item else {"version": 1, "root": {"all": [dict(builder.DEFAULT_CONDITION)]}}
    errors: list = []
    if request.method == "POST":
        rule_json = _posted_rule(request)
        name = request.POST.get("name", "")
        description = request.POST.get("description", "")
        try:
            if item is None:
                kind = request.POST.get("kind", Segment.Kind.DYNAMIC)
                unit_id = request.POST.get("unit") or None
                unit = get_object_or_404(_units(user), pk=unit_id) if unit_id else None
                item = actions.create_segment(
                    actor=user, name=name, description=description, rule=rule_json, kind=kind, unit=unit
                )
            else:
                changes = {"name": name, "description": description}
                if item.kind == Segment.Kind.DYNAMIC:
                    changes["rule"] = rule_json
                actions.update_segment(item, actor=user, **changes)
        except rules.RuleError as error:
            errors = _explained(user, error.problems, rule_json)
        except ValidationError as error:
            errors = [builder.Explained("", message, "") for message in error.messages]
        else:
            actions.refresh_segment(item)
            messages.success(request, _("Segment saved."))
            return redirect("segments:segment", pk=item.pk)
    context = _builder_context(request, rule_json, item.unit if item else None)
    context.update(
        segment=item,
        errors=errors,
        name=request.POST.get("name", item.name if item else ""),
        description=request.POST.get("description", item.description if item else ""),
        units=_units(user),
        kinds=Segment.Kind.choices,
    )
    return render(request, "segments/segment_form.html", context)


def _posted_rule(request) -> dict:
    if request.POST.get("action") == "json" or "r:node" not in request.POST:
        try:
            return json.loads(request.POST.get("rule_json", ""))
        except json.JSONDecodeError:
            return {"version": 1, "root": {"all": []}}
    return builder.tree_from_post(request.POST)


@require_POST
def builder_partial(request):
    """Re-render the builder after a structural edit (add, remove, negate, switch) or a field change."""
    require(request, "segments.view")
    rule_json = _posted_rule(request)
    action = request.POST.get("action", "")
    if action and action != "json":
        if not isinstance(rule_json.get("root"), dict):
            return HttpResponseBadRequest()
        rule_json = builder.apply_action(rule_json, action)
    return render(request, "segments/partials/_builder.html", _builder_context(request, rule_json))


@require_POST
def preview(request):
    """The live count, the sentence and a sample for the rule in the form."""
    require(request, "segments.view")
    rule_json = _posted_rule(request)
    unit_id = request.POST.get("unit") or None
    unit = _units(request.user).filter(pk=unit_id).first() if unit_id else None
    # The rule as JSON, in step with the builder (the "advanced" box shows it).
    context: dict = {"problems": [], "count": None, "rule_json": _shown_json(rule_json)}
    try:
        parsed = rules.parse_rule(rule_json)
        context["sentence"] = describe(parsed, names_for(parsed, request.user))
        context["count"] = count_preview(request.user, parsed, unit=unit)
        context["sample"] = sample(request.user, parsed, unit=unit)
    except rules.RuleError as error:
        context["problems"] = _explained(request.user, error.problems, rule_json)
    except QueryTimeoutError as error:
        context["timeout"] = str(error)
    return render(request, "segments/partials/_preview.html", context)


@require_POST
def segment_refresh(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "change"), pk=pk)
    result = actions.refresh_segment(item, actor=request.user)
    messages.success(
        request,
        _("Refreshed: %(entered)d entered, %(exited)d left, %(members)d members.")
        % {"entered": result.entered, "exited": result.exited, "members": result.members},
    )
    return redirect("segments:segment", pk=pk)


@require_POST
def segment_delete(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "delete"), pk=pk)
    try:
        actions.delete_segment(item, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("segments:segment", pk=pk)
    messages.success(request, _("Segment deleted."))
    return redirect("segments:segment_list")


@require_POST
def segment_tag(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "view"), pk=pk)
    tag = get_object_or_404(Tag.objects.restrict(request.user, "view"), pk=request.POST.get("tag") or 0)
    user = require(request, "customers.change")
    job = start_tag_members(item, tag, actor=user, remove=request.POST.get("remove") == "1")
    return redirect("web:job", pk=job.pk)


@require_POST
def segment_nps(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "view"), pk=pk)
    unit = get_object_or_404(
        BusinessUnit.objects.restrict(request.user, "view"), pk=request.POST.get("unit") or 0
    )
    round_name = (request.POST.get("round") or "").strip()[:60]
    if not round_name:
        messages.error(request, _("Name this survey round."))
        return redirect("segments:segment", pk=pk)
    job = start_nps_survey(item, unit, actor=request.user, round_name=round_name)
    return redirect("web:job", pk=job.pk)


@require_POST
def segment_coupons(request, pk: int):
    """Issue a coupon to every current member of the segment who is in the template's programme, as
    a job with progress. Keyed by segment, template and day: a second click issues nothing twice."""
    item = get_object_or_404(Segment.objects.restrict(request.user, "view"), pk=pk)
    user = require(request, "loyalty.change")
    template = get_object_or_404(
        CouponTemplate.objects.restrict(user, "change").filter(active=True).select_related("programme__unit"),
        pk=request.POST.get("template") or 0,
    )
    customers = actions.current_members(user, item).values("customer_id")
    members = sorted(
        Membership.objects.restrict(user, "view")
        .filter(programme=template.programme, customer_id__in=customers)
        .values_list("customer_id", flat=True)
    )
    if not members:
        messages.error(request, _("No member of this segment is in the coupon's loyalty programme."))
        return redirect("segments:segment", pk=pk)
    day = timezone.localdate()
    job = start_issue(template, members, actor=user, key=f"segment:{item.pk}:{template.pk}:{day:%Y%m%d}")
    return redirect("web:job", pk=job.pk)


@require_POST
def segment_upload(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "change"), pk=pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV file."))
        return redirect("segments:segment", pk=pk)
    try:
        report = actions.add_contacts_to_static(item, upload.read(), actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("segments:segment", pk=pk)
    return render(request, "segments/list_report.html", {"segment": item, "report": report})


def segment_export(request, pk: int):
    item = get_object_or_404(Segment.objects.restrict(request.user, "view"), pk=pk)
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        return HttpResponseBadRequest(_("Unknown format."))
    return exports.export_table(request, members_table(request.user, item), fmt, unit=item.unit)
