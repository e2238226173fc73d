"""Messaging pages: the outbox and a message, channels with a test send, templates with a live preview,
the sending rules of a unit, delivery statistics, and the 360 section's forms."""

from datetime import time

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.core.access import require
from guanxi.customers.models import Consent, Customer
from guanxi.messaging import actions, fetch, previews, reasons, rendering
from guanxi.messaging.channels.registry import KINDS
from guanxi.messaging.models import (
    ChannelAccount,
    ChannelKind,
    ContactPreference,
    Medium,
    Message,
    MessagingPolicy,
    Purpose,
    Template,
)
from guanxi.messaging.variables import template_variables

PAGE_SIZE = 50


def _units(user):
    return BusinessUnit.objects.restrict(user, "view").order_by("name")


# --- the outbox ----------------------------------------------------------------------------------


def outbox(request):
    require(request, "messaging.view")
    filters = {
        name: request.GET.get(name, "")
        for name in ("state", "medium", "purpose", "reason", "unit", "customer")
    }
    rows = fetch.outbox(request.user, filters)
    page = Paginator(rows.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(
        fetch.outbox(request.user, {**filters, "state": ""})
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    state_counts = [(value, label, counts.get(value, 0)) for value, label in Message.State.choices]
    return render(
        request,
        "messaging/outbox.html",
        {
            "page": page,
            "views": [fetch.view_of(row, request.user) for row in page.object_list],
            "filters": filters,
            "states": Message.State.choices,
            "media": Medium.choices,
            "purposes": Purpose.choices,
            "reasons": sorted(reasons.LABELS.items(), key=lambda item: str(item[1])),
            "units": _units(request.user),
            "state_counts": state_counts,
        },
    )


def message(request, pk: int):
    row = get_object_or_404(
        Message.objects.restrict(request.user, "view").select_related(
            "template", "template_version", "channel", "unit"
        ),
        pk=pk,
    )
    return render(
        request,
        "messaging/message.html",
        {
            "row": row,
            "view": fetch.view_of(row, request.user),
            "reports": row.reports.all(),
            "can_cancel": row.state in (Message.State.QUEUED, Message.State.HELD)
            and Message.objects.restrict(request.user, "change").filter(pk=pk).exists(),
        },
    )


@require_POST
def message_cancel(request, pk: int):
    row = get_object_or_404(Message.objects.restrict(request.user, "change"), pk=pk)
    if actions.cancel_message(row, actor=request.user):
        messages.success(request, _("Message cancelled."))
    else:
        messages.error(request, _("Too late: the message is being sent or finished."))
    return redirect("messaging:message", pk=pk)


# --- channels ------------------------------------------------------------------------------------


def channel_list(request):
    require(request, "messaging.view")
    channels = ChannelAccount.objects.restrict(request.user, "view").select_related("unit")
    return render(
        request,
        "messaging/channel_list.html",
        {
            "channels": channels,
            "kinds": ChannelKind.choices,
            "can_manage": request.user.has_permission("messaging.channels"),
        },
    )


def channel_form(request, pk: int | None = None):
    user = request.user
    channel = get_object_or_404(ChannelAccount.objects.restrict(user, "view"), pk=pk) if pk else None
    require(request, "messaging.channels", unit=channel.unit if channel else None)
    kind = (
        channel.kind
        if channel
        else request.GET.get("kind") or request.POST.get("kind") or ChannelKind.SMS_HTTP
    )
    if kind not in KINDS:
        raise Http404
    values = dict(channel.settings) if channel else {s.name: s.default for s in KINDS[kind].settings}
    errors: list[str] = []
    if request.method == "POST":
        values = {s.name: request.POST.get(s.name, "") for s in KINDS[kind].settings}
        unit = get_object_or_404(_units(user), pk=request.POST.get("unit") or 0)
        try:
            channel = actions.save_channel(
                unit=unit,
                name=request.POST.get("name", ""),
                kind=kind,
                values=values,
                channel=channel,
                is_active=request.POST.get("is_active") == "on",
                actor=user,
            )
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(request, _("Channel saved."))
            return redirect("messaging:channel", pk=channel.pk)
    hooks = {}
    if channel is not None:
        hooks = {
            "reports": actions.hook_url(channel, "reports"),
            "inbound": actions.hook_url(channel, "inbound"),
        }
    return render(
        request,
        "messaging/channel_form.html",
        {
            "channel": channel,
            "kind": kind,
            "kind_label": ChannelKind(kind).label,
            "fields": [
                {
                    "setting": setting,
                    "value": "" if setting.secret else values.get(setting.name, setting.default),
                }
                for setting in KINDS[kind].settings
            ],
            "units": _units(user),
            "errors": errors,
            "name": request.POST.get("name", channel.name if channel else ""),
            "hooks": hooks,
            "test_result": None,
        },
    )


@require_POST
def channel_test(request, pk: int):
    channel = get_object_or_404(ChannelAccount.objects.restrict(request.user, "view"), pk=pk)
    user = require(request, "messaging.channels", unit=channel.unit)
    result = actions.test_channel(channel, request.POST.get("address", ""), actor=user)
    return render(request, "messaging/partials/_test_result.html", {"result": result})


# --- templates -----------------------------------------------------------------------------------


def template_list(request):
    require(request, "messaging.view")
    templates = Template.objects.restrict(request.user, "view").select_related("unit", "current_version")
    return render(
        request,
        "messaging/template_list.html",
        {"templates": templates, "can_change": request.user.has_permission("messaging.change")},
    )


def _posted_contents(request) -> dict:
    contents: dict[str, dict] = {}
    for language in rendering.LANGUAGES:
        names = request.POST.getlist(f"{language}-field-name")
        texts = request.POST.getlist(f"{language}-field-text")
        contents[language] = {
            "subject": request.POST.get(f"{language}-subject", ""),
            "body": request.POST.get(f"{language}-body", ""),
            "fields": {name.strip(): text for name, text in zip(names, texts, strict=False) if name.strip()},
        }
    return contents


def template_form(request, pk: int | None = None):
    user = request.user
    template = get_object_or_404(Template.objects.restrict(user, "view"), pk=pk) if pk else None
    require(request, "messaging.change")
    version = template.current_version if template else None
    contents = version.contents if version else {}
    problems: list[rendering.Problem] = []
    form = {
        "key": template.key if template else "",
        "name": template.name if template else "",
        "medium": template.medium if template else Medium.SMS,
        "purpose": template.purpose if template else Purpose.TRANSACTIONAL,
        "unit": template.unit_id if template else (user.only_unit().pk if user.only_unit() else ""),
        "provider_template": version.provider_template if version else "",
    }
    if request.method == "POST":
        form = {name: request.POST.get(name, "") for name in form}
        contents = _posted_contents(request)
        unit_id = request.POST.get("unit") or None
        unit = get_object_or_404(_units(user), pk=unit_id) if unit_id else None
        try:
            if unit is None and not user.sees_all_units():
                raise ValidationError(_("Choose the business unit the template belongs to."))
            template = actions.save_template(
                key=form["key"],
                name=form["name"],
                medium=form["medium"],
                purpose=form["purpose"],
                contents=contents,
                unit=unit,
                provider_template=form["provider_template"],
                template=template,
                actor=user,
            )
        except actions.TemplateProblemsError as error:
            problems = error.problems
        except ValidationError as error:
            problems = [rendering.Problem("", "", message) for message in error.messages]
        else:
            messages.success(
                request,
                _("Template saved as version %(number)s.")
                % {"number": template.current_version.number if template.current_version else 1},
            )
            return redirect("messaging:template", pk=template.pk)
    return render(
        request,
        "messaging/template_form.html",
        {
            "template": template,
            "form": form,
            "languages": [
                (language, label, contents.get(language, {}))
                for language, label in (("zh-hans", "简体中文"), ("en", "English"))
            ],
            "problems": problems,
            "media": Medium.choices,
            "purposes": Purpose.choices,
            "units": _units(user),
            "variables": template_variables(),
            "opt_out_text": rendering.OPT_OUT_TEXT,
            "versions": template.versions.all()[:10] if template else [],
        },
    )


@require_POST
def template_preview(request):
    """The live preview of the editor: each language with a real customer's data (or the examples)."""
    require(request, "messaging.view")
    customer = None
    if request.POST.get("customer"):
        customer = (
            Customer.objects.restrict(request.user, "view").filter(pk=request.POST.get("customer")).first()
        )
    unit_id = request.POST.get("unit") or None
    unit = _units(request.user).filter(pk=unit_id).first() if unit_id else request.user.only_unit()
    medium = request.POST.get("medium", Medium.SMS)
    results: list[tuple[str, previews.Preview | None, str]] = []
    for language, values in _posted_contents(request).items():
        if not values["body"]:
            continue
        try:
            results.append((language, previews.preview_contents(medium, values, customer, unit), ""))
        except ValidationError as error:
            results.append((language, None, " ".join(error.messages)))
    problems = rendering.check(
        medium,
        request.POST.get("purpose", Purpose.TRANSACTIONAL),
        _posted_contents(request),
        provider_template=request.POST.get("provider_template", ""),
    )
    return render(
        request,
        "messaging/partials/_preview.html",
        {
            "results": results,
            "customer": customer,
            "missing_customer": bool(request.POST.get("customer")) and customer is None,
            "problems": problems,
        },
    )


# --- the unit's sending rules, statistics ---------------------------------------------------------


def settings_form(request):
    require(request, "messaging.view")
    units = _units(request.user)
    unit = get_object_or_404(
        units,
        pk=request.GET.get("unit") or request.POST.get("unit") or (units.first().pk if units.exists() else 0),
    )
    policy = MessagingPolicy.objects.filter(unit=unit).first() or MessagingPolicy(unit=unit)
    errors: list[str] = []
    if request.method == "POST":
        require(request, "messaging.change", unit=unit)
        try:
            actions.save_policy(
                unit,
                quiet_start=time.fromisoformat(request.POST.get("quiet_start", "21:00")),
                quiet_end=time.fromisoformat(request.POST.get("quiet_end", "08:00")),
                quiet_weekdays=[int(day) for day in request.POST.getlist("quiet_weekdays")],
                daily_cap=int(request.POST.get("daily_cap") or 0),
                weekly_cap=int(request.POST.get("weekly_cap") or 0),
                consent_max_age_days=int(request.POST["consent_max_age_days"])
                if request.POST.get("consent_max_age_days")
                else None,
                sms_signature=request.POST.get("sms_signature", ""),
                actor=request.user,
            )
        except (ValidationError, ValueError) as error:
            errors = (
                error.messages
                if isinstance(error, ValidationError)
                else [_("Enter times as HH:MM and whole numbers.")]
            )
        else:
            messages.success(request, _("Sending rules saved."))
            return redirect(f"{request.path}?unit={unit.pk}")
    return render(
        request,
        "messaging/settings.html",
        {
            "unit": unit,
            "units": units,
            "policy": policy,
            "errors": errors,
            "weekdays": [
                (1, _("Monday")),
                (2, _("Tuesday")),
                (3, _("Wednesday")),
                (4, _("Thursday")),
                (5, _("Friday")),
                (6, _("Saturday")),
                (7, _("Sunday")),
            ],
            "can_change": request.user.has_permission("messaging.change"),
        },
    )


def statistics(request):
    require(request, "messaging.view")
    try:
        days = min(max(int(request.GET.get("days", 30)), 7), 366)
    except ValueError:
        days = 30
    figures = fetch.statistics(request.user, days)
    labels = [day.strftime("%m-%d") for day in figures.days]
    per_medium = {
        medium: [sum(day) for day in zip(*states.values(), strict=True)]
        for medium, states in figures.series.items()
    }
    per_state: dict[str, list[int]] = {}
    for states in figures.series.values():
        for state, counts in states.items():
            per_state[state] = [a + b for a, b in zip(per_state.get(state, [0] * days), counts, strict=True)]
    charts = {
        "by-channel": {
            "kind": "stacked",
            "labels": labels,
            "series": [{"name": str(Medium(m).label), "values": v} for m, v in sorted(per_medium.items())],
        },
        "by-state": {
            "kind": "stacked",
            "labels": labels,
            "series": [
                {"name": str(Message.State(s).label), "values": v} for s, v in sorted(per_state.items())
            ],
        },
    }
    rows = [
        {
            "medium": Medium(medium).label,
            "states": [(Message.State(state).label, count) for state, count in sorted(states.items())],
            "total": sum(states.values()),
        }
        for medium, states in sorted(figures.totals.items())
    ]
    return render(
        request,
        "messaging/statistics.html",
        {"charts": charts, "rows": rows, "reasons": figures.reasons, "days": days},
    )


# --- the 360 section's forms ----------------------------------------------------------------------


@require_POST
def customer_preferences(request, pk: int):
    customer = get_object_or_404(Customer.objects.restrict(request.user, "change"), pk=pk)
    try:
        actions.set_contact_preferences(
            customer,
            actor=request.user,
            **{name: request.POST.get(name, "") for name in ContactPreference.Name.values},
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Messaging preferences saved."))
    return redirect(f"/customers/{customer.pk}/#messaging")


@require_POST
def customer_opt_out(request, pk: int):
    customer = get_object_or_404(Customer.objects.restrict(request.user, "change"), pk=pk)
    medium = request.POST.get("medium", "")
    if medium not in (Medium.SMS, Medium.EMAIL, Medium.WECHAT):
        raise Http404
    try:
        actions.opt_out(
            medium=medium,
            customer=customer,
            method=Consent.Method.VERBAL if request.POST.get("how") == "verbal" else Consent.Method.WRITTEN,
            source=_("recorded by %(user)s") % {"user": request.user.get_username()},
            evidence=request.POST.get("evidence", "")[:500],
            unit=request.user.only_unit(),
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Opt-out recorded: no more marketing on this channel."))
    return redirect(f"/customers/{customer.pk}/#messaging")
