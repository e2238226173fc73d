"""Service pages: the agent's inbox, the ticket list, opening a ticket, the ticket page (conversation,
transitions, assignment, transfer, the customer beside it), transfers, follow-up calls, reports with the
satisfaction index, and the desk's SLA settings with its holiday calendar. Thin: reads in `fetch`,
writes in `actions`."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.models import Order
from guanxi.core import exports
from guanxi.core.access import require
from guanxi.core.display import label_of
from guanxi.customers.fetch import access_customer_by_id
from guanxi.service import actions, attachments, fetch
from guanxi.service.forms import (
    AssignForm,
    CannedForm,
    DeskForm,
    FollowUpForm,
    HolidayForm,
    LoadHolidaysForm,
    NoteForm,
    PolicyForm,
    PriorityForm,
    ReplyForm,
    TicketFilterForm,
    TicketForm,
    TransferForm,
)
from guanxi.service.models import (
    AgentShift,
    Attachment,
    CannedReply,
    ComplaintReason,
    FollowUp,
    TicketChannel,
    TicketType,
    Transfer,
)

VIEW, ADD, CHANGE = "service.view", "service.add", "service.change"
PAGE_SIZE = 50

TABS = (
    ("service:inbox", gettext_lazy("Inbox")),
    ("service:ticket_list", gettext_lazy("Tickets")),
    ("service:follow_ups", gettext_lazy("Follow-ups")),
    ("service:reports", gettext_lazy("Reports")),
    ("service:settings", gettext_lazy("SLA settings")),
)


def page(request, template: str, context: dict[str, Any], active: str) -> HttpResponse:
    tabs = [{"url": reverse(name), "label": label, "active": name == active} for name, label in TABS]
    return render(request, template, {"service_tabs": tabs, **context})


def run(request, action: Callable[[], Any], success: str = "") -> Any:
    """Run an action; its refusal (ValidationError) becomes messages on the page we go back to."""
    try:
        result = action()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return None
    if success:
        messages.success(request, success)
    return result


def _choices(form, field: str, options: list) -> None:
    cast(forms.ChoiceField, form.fields[field]).choices = options


def _units(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").filter(is_active=True))


def _picked_unit(request, units: list[BusinessUnit]) -> BusinessUnit | None:
    wanted = request.GET.get("unit") or request.POST.get("unit") or ""
    for unit in units:
        if str(unit.pk) == wanted:
            return unit
    return units[0] if units else None


# --- inbox -------------------------------------------------------------------------------------


def inbox(request):
    user = require(request, VIEW)
    units = _units(user)
    off = set(AgentShift.objects.filter(user=user, on_shift=False).values_list("unit_id", flat=True))
    return page(
        request,
        "service/inbox.html",
        {
            "inbox": fetch.inbox(user),
            "count_cap": fetch.COUNT_CAP,
            "shifts": [(unit, unit.pk not in off) for unit in units],
            "is_agent": user.has_permission(CHANGE),
            "now": timezone.now(),
        },
        "service:inbox",
    )


@require_POST
def shift(request):
    user = require(request, CHANGE)
    unit = _picked_unit(request, _units(user))
    if unit is None:
        raise Http404
    on = request.POST.get("on") == "1"
    actions.set_on_shift(user, unit, on)
    messages.success(
        request, _("You are on shift.") if on else _("You are off shift: no new tickets come to you.")
    )
    return redirect("service:inbox")


# --- tickets -----------------------------------------------------------------------------------


def _keyset(rows, request) -> tuple[list, dict[str, Any]]:
    ordered = rows.order_by("-created_at", "-pk")
    after = request.GET.get("after", "")
    if after.isdigit():
        last = rows.filter(pk=int(after)).values("created_at").first()
        if last is not None:
            ordered = ordered.filter(
                Q(created_at__lt=last["created_at"]) | Q(created_at=last["created_at"], pk__lt=int(after))
            )
    found = list(ordered[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("after", None)
    return found[:PAGE_SIZE], {
        "next_after": found[PAGE_SIZE - 1].pk if len(found) > PAGE_SIZE else None,
        "is_first_page": not after,
        "query": query.urlencode(),
    }


def ticket_list(request):
    user = require(request, VIEW)
    form = TicketFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    customer = request.GET.get("customer", "")
    filters = fetch.TicketFilters(
        status=data.get("status", ""),
        ticket_type=data.get("ticket_type", ""),
        priority=data.get("priority", ""),
        channel=data.get("channel", ""),
        assignee=data.get("assignee", ""),
        breached=bool(data.get("breached")),
        q=data.get("q", ""),
        customer=int(customer) if customer.isdigit() else None,
    )
    rows = fetch.ticket_list(user, filters)
    if request.GET.get("format") in exports.FORMATS:
        table = exports.Table(
            name="service_tickets",
            title=_("Tickets"),
            columns=(
                _("Number"),
                _("Subject"),
                _("Type"),
                _("Priority"),
                _("Channel"),
                _("Status"),
                _("Assignee"),
                _("Created"),
                _("First response"),
                _("Resolved"),
                _("Satisfaction"),
            ),
            rows=tuple(
                (
                    t.pk,
                    t.subject,
                    t.get_ticket_type_display(),
                    t.get_priority_display(),
                    t.get_channel_display(),
                    t.get_status_display(),
                    t.assignee.shown_name if t.assignee else "",
                    t.created_at,
                    t.first_response_at,
                    t.resolved_at,
                    t.satisfaction,
                )
                for t in rows.order_by("-created_at", "-pk")[:10_000]
            ),
        )
        return exports.export_table(request, table, request.GET["format"])
    shown, paging = _keyset(rows, request)
    return page(
        request,
        "service/ticket_list.html",
        {
            "form": form,
            "tickets": shown,
            "now": timezone.now(),
            "can_export": user.has_permission("data.export"),
            **paging,
        },
        "service:ticket_list",
    )


def ticket_add(request):
    user = require(request, ADD)
    units = _units(user)
    customer = None
    customer_id = request.GET.get("customer") or request.POST.get("customer") or ""
    if customer_id.isdigit():
        customer = access_customer_by_id(user, int(customer_id))
    form = TicketForm(request.POST or None)
    _choices(form, "unit", [(u.pk, u.name) for u in units])
    if len(units) <= 1:
        form.fields.pop("unit")
    orders = (
        list(
            Order.objects.restrict(user, "view").filter(customer=customer).order_by("-placed_at", "-pk")[:20]
        )
        if customer is not None
        else []
    )
    if orders:
        _choices(
            form,
            "orders",
            [
                (str(o.pk), f"{o.number} · {o.placed_at:%Y-%m-%d} · {o.total_amount} {o.currency}")
                for o in orders
            ],
        )
    else:
        form.fields.pop("orders")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = next((u for u in units if u.pk == data.get("unit")), units[0] if len(units) == 1 else None)
        if unit is None:
            form.add_error("unit", _("Choose a unit."))
        else:
            picked = [o for o in orders if str(o.pk) in set(data.get("orders") or [])]
            ticket = run(
                request,
                lambda: actions.open_ticket(
                    actor=user,
                    unit=unit,
                    subject=data["subject"],
                    customer=customer,
                    ticket_type=data["ticket_type"],
                    priority=data["priority"],
                    channel=data["channel"],
                    complaint_reason=data.get("complaint_reason") or "",
                    body=data.get("body") or "",
                    orders=picked,
                ),
                _("Ticket opened."),
            )
            if ticket is not None:
                return redirect("service:ticket", ticket.pk)
    return page(
        request, "service/ticket_form.html", {"form": form, "customer": customer}, "service:ticket_list"
    )


def ticket(request, pk: int):
    user = require(request, VIEW)
    found = fetch.access_ticket(user, pk)
    may_change = user.has_permission(CHANGE) and fetch.tickets(user, "change").filter(pk=pk).exists()
    manager = actions.manages_service(user, found.unit)
    assign_form = AssignForm(initial={"assignee": found.assignee_id})
    people = list(actions.agents(found.unit))
    _choices(
        assign_form,
        "assignee",
        [
            ("", _("Nobody (queue)")),
            *((u.pk, u.shown_name) for u in people),
        ],
    )
    transfer_form = TransferForm()
    _choices(
        transfer_form,
        "to_unit",
        [
            (u.pk, u.name)
            for u in BusinessUnit.objects.filter(is_active=True).exclude(pk=found.unit_id).order_by("code")
        ],
    )
    canned = list(CannedReply.objects.restrict(user, "view").filter(unit=found.unit))
    return page(
        request,
        "service/ticket.html",
        {
            "ticket": found,
            "events": fetch.conversation(found),
            "summary": fetch.customer_summary(user, found),
            "may_change": may_change,
            "is_manager": manager,
            "transitions": [(name, TRANSITION_LABELS[name]) for name in actions.allowed_transitions(found)]
            if may_change
            else [],
            "reply_form": ReplyForm(),
            "note_form": NoteForm(),
            "assign_form": assign_form,
            "priority_form": PriorityForm(initial={"priority": found.priority}),
            "transfer_form": transfer_form,
            "pending_transfer": Transfer.objects.filter(ticket=found, state=Transfer.State.PENDING)
            .select_related("to_unit")
            .first(),
            "canned": canned,
            "now": timezone.now(),
            "follow_ups": list(found.follow_ups.all()),
        },
        "service:ticket_list",
    )


TRANSITION_LABELS = {
    "start": gettext_lazy("Start handling"),
    "wait": gettext_lazy("Wait on customer"),
    "resume": gettext_lazy("Resume"),
    "resolve": gettext_lazy("Resolve"),
    "close": gettext_lazy("Close and archive"),
    "reopen": gettext_lazy("Reopen"),
}


def _changeable(request, pk: int):
    user = require(request, CHANGE)
    return user, fetch.access_ticket(user, pk, "change")


@require_POST
def ticket_move(request, pk: int):
    user, found = _changeable(request, pk)
    action = request.POST.get("action", "")
    if action not in actions.TRANSITIONS:
        raise Http404
    run(
        request,
        lambda: actions.transition(found, action, actor=user, note=request.POST.get("note", "")),
        _("Ticket updated."),
    )
    return redirect("service:ticket", pk)


@require_POST
def ticket_reply(request, pk: int):
    user, found = _changeable(request, pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        run(
            request,
            lambda: actions.reply(
                found, form.cleaned_data["body"], actor=user, wait=form.cleaned_data["wait"]
            ),
            _("Reply sent."),
        )
    else:
        messages.error(request, _("Write the reply."))
    return redirect("service:ticket", pk)


@require_POST
def ticket_note(request, pk: int):
    user, found = _changeable(request, pk)
    form = NoteForm(request.POST, request.FILES)
    if form.is_valid():
        files = attachments.read_uploads(form.cleaned_data["attachments"])
        run(
            request,
            lambda: actions.add_note(found, form.cleaned_data["body"], actor=user, files=files),
            _("Note added."),
        )
    return redirect("service:ticket", pk)


@require_GET
def attachment(request, pk: int, attachment_pk: int):
    """A ticket's file, only as a download, only for someone who may see the ticket."""
    require(request, VIEW)
    found = fetch.access_ticket(request.user, pk)
    row = get_object_or_404(Attachment, pk=attachment_pk, ticket=found)
    response = FileResponse(row.file.open("rb"), as_attachment=True, filename=row.name)
    response["Content-Type"] = row.content_type
    return response


@require_POST
def ticket_assign(request, pk: int):
    user, found = _changeable(request, pk)
    raw = request.POST.get("assignee", "")
    assignee = actions.agents(found.unit).filter(pk=int(raw)).first() if raw.isdigit() else None
    if raw.isdigit() and assignee is None:
        messages.error(request, _("Choose an agent of the unit."))
    else:
        run(request, lambda: actions.assign(found, assignee, actor=user), _("Ticket assigned."))
    return redirect("service:ticket", pk)


@require_POST
def ticket_priority(request, pk: int):
    user, found = _changeable(request, pk)
    form = PriorityForm(request.POST)
    if form.is_valid():
        run(
            request,
            lambda: actions.change_priority(found, form.cleaned_data["priority"], actor=user),
            _("Priority changed."),
        )
    return redirect("service:ticket", pk)


@require_POST
def ticket_transfer(request, pk: int):
    user, found = _changeable(request, pk)
    raw = request.POST.get("to_unit", "")
    target = BusinessUnit.objects.filter(pk=int(raw), is_active=True).first() if raw.isdigit() else None
    if target is None:
        messages.error(request, _("Choose a unit."))
    else:
        run(
            request,
            lambda: actions.request_transfer(
                found, target, actor=user, reason=request.POST.get("reason", "")
            ),
            _("Transfer requested."),
        )
    return redirect("service:ticket", pk)


def _decide(request, pk: int, approve: bool) -> HttpResponse:
    user = require(request, CHANGE)
    transfer = Transfer.objects.restrict(user, "view").filter(pk=pk).first()
    if transfer is None:
        raise Http404
    if approve:
        run(request, lambda: actions.approve_transfer(transfer, actor=user), _("Transfer approved."))
    else:
        run(request, lambda: actions.reject_transfer(transfer, actor=user), _("Transfer rejected."))
    return redirect("service:inbox")


@require_POST
def transfer_approve(request, pk: int):
    return _decide(request, pk, approve=True)


@require_POST
def transfer_reject(request, pk: int):
    return _decide(request, pk, approve=False)


# --- follow-ups --------------------------------------------------------------------------------


def follow_ups(request):
    user = require(request, VIEW)
    show_done = request.GET.get("done") == "1"
    rows = FollowUp.objects.restrict(user, "view").select_related("ticket", "assignee")
    rows = rows.filter(done_at__isnull=not show_done).order_by("-done_at" if show_done else "due_at", "pk")
    return page(
        request,
        "service/follow_ups.html",
        {
            "follow_ups": list(rows[:200]),
            "show_done": show_done,
            "form": FollowUpForm(),
            "now": timezone.now(),
        },
        "service:follow_ups",
    )


@require_POST
def follow_up_done(request, pk: int):
    user = require(request, CHANGE)
    row = FollowUp.objects.restrict(user, "change").filter(pk=pk).first()
    if row is None:
        raise Http404
    form = FollowUpForm(request.POST)
    if form.is_valid():
        run(
            request,
            lambda: actions.complete_follow_up(
                row, actor=user, outcome=form.cleaned_data["outcome"], notes=form.cleaned_data["notes"]
            ),
            _("Follow-up recorded."),
        )
    return redirect("service:follow_ups")


# --- reports -----------------------------------------------------------------------------------

PERIODS = {"30": 30, "90": 90, "365": 365}


def reports(request):
    user = require(request, VIEW)
    units = _units(user)
    unit_raw = request.GET.get("unit", "")
    unit = next((u for u in units if str(u.pk) == unit_raw), None)
    days = PERIODS.get(request.GET.get("days", ""), 90)
    until = timezone.now()
    since = until - timedelta(days=days)
    figures = fetch.report(user, unit_id=unit.pk if unit else None, since=since, until=until)
    index_since = until - timedelta(days=365)
    index = fetch.satisfaction_index(user, unit_id=unit.pk if unit else None, since=index_since, until=until)
    if request.GET.get("format") in exports.FORMATS:
        table = exports.Table(
            name="service_agents",
            title=_("Service per agent"),
            columns=(
                _("Agent"),
                _("Assigned"),
                _("Open"),
                _("Resolved"),
                _("First response within SLA (%)"),
                _("Resolution within SLA (%)"),
                _("Average minutes to first response"),
                _("CSAT"),
            ),
            rows=tuple(
                (
                    a["name"],
                    a["assigned"],
                    a["open"],
                    a["resolved"],
                    a["first_response_met"],
                    a["resolution_met"],
                    a["avg_first_response_minutes"],
                    a["csat"],
                )
                for a in figures["agents"]
            ),
        )
        return exports.export_table(request, table, request.GET["format"], unit=unit)
    charts = {
        "index": {
            "kind": "columns",
            "labels": [p["month"] for p in index],
            "values": [p["index"] or 0 for p in index],
            "series_label": _("Satisfaction index (%)"),
            "mark": 80,
        },
        "types": {
            "kind": "pie",
            "values": [
                {"name": label_of(TicketType, k), "value": v}
                for k, v in figures["volume_by_type"].items()
                if v
            ],
            "series_label": _("Tickets"),
        },
        "channels": {
            "kind": "bar",
            "labels": [label_of(TicketChannel, k) for k in figures["volume_by_channel"]],
            "values": list(figures["volume_by_channel"].values()),
            "series_label": _("Tickets"),
        },
        "reasons": {
            "kind": "bar",
            "labels": [label_of(ComplaintReason, k) for k in figures["complaint_reasons"]],
            "values": list(figures["complaint_reasons"].values()),
            "series_label": _("Complaints"),
        },
    }
    return page(
        request,
        "service/reports.html",
        {
            "figures": figures,
            "index": index,
            "charts": charts,
            "units": units,
            "unit": unit,
            "days": days,
            "periods": [(key, value) for key, value in PERIODS.items()],
            "can_export": user.has_permission("data.export"),
        },
        "service:reports",
    )


# --- settings ----------------------------------------------------------------------------------


def settings_page(request):
    user = require(request, VIEW)
    units = _units(user)
    unit = _picked_unit(request, units)
    if unit is None:
        raise Http404
    desk = actions.settings_for(unit)
    manager = actions.manages_service(user, unit)
    year = timezone.localdate().year
    return page(
        request,
        "service/settings.html",
        {
            "unit": unit,
            "units": units,
            "desk": desk,
            "is_manager": manager,
            "desk_form": DeskForm(
                initial={
                    "assignment": desk.assignment,
                    "support_address": desk.support_address,
                    "opens": desk.opens,
                    "closes": desk.closes,
                    "weekdays": list(desk.weekdays),
                    "warn_minutes": desk.warn_minutes,
                }
            ),
            "policies": fetch.policies(unit),
            "policy_form": PolicyForm(),
            "holiday_form": HolidayForm(),
            "load_form": LoadHolidaysForm(
                initial={"year": year + 1 if timezone.localdate().month >= 11 else year}
            ),
            "days": fetch.calendar_days(unit),
            "canned": list(CannedReply.objects.filter(unit=unit)),
            "canned_form": CannedForm(),
        },
        "service:settings",
    )


def _manager_unit(request):
    user = require(request, CHANGE)
    unit = _picked_unit(request, _units(user))
    if unit is None:
        raise Http404
    return user, unit


def _back(unit) -> HttpResponse:
    return redirect(reverse("service:settings") + f"?unit={unit.pk}")


@require_POST
def settings_desk(request):
    user, unit = _manager_unit(request)
    form = DeskForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run(
            request,
            lambda: actions.save_settings(
                unit,
                actor=user,
                assignment=data["assignment"],
                support_address=data["support_address"],
                opens=data["opens"],
                closes=data["closes"],
                weekdays="".join(data["weekdays"]),
                warn_minutes=data["warn_minutes"],
            ),
            _("Settings saved."),
        )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return _back(unit)


@require_POST
def settings_policy(request):
    user, unit = _manager_unit(request)
    form = PolicyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run(
            request,
            lambda: actions.save_policy(
                unit,
                actor=user,
                ticket_type=data["ticket_type"],
                priority=data["priority"],
                first_response=data["first_response"],
                resolution=data["resolution"],
            ),
            _("SLA policy saved."),
        )
    else:
        messages.error(request, _("Give both targets in business minutes."))
    return _back(unit)


@require_POST
def settings_holiday(request):
    user, unit = _manager_unit(request)
    if request.POST.get("remove"):
        try:
            day = date.fromisoformat(request.POST["remove"])
        except ValueError as error:
            raise Http404 from error
        run(request, lambda: actions.remove_calendar_day(unit, day, actor=user), _("Day removed."))
        return _back(unit)
    form = HolidayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run(
            request,
            lambda: actions.set_calendar_day(
                unit, data["day"], actor=user, is_day_off=data["is_day_off"], name=data["name"]
            ),
            _("Day saved."),
        )
    return _back(unit)


@require_POST
def settings_load_holidays(request):
    user, unit = _manager_unit(request)
    form = LoadHolidaysForm(request.POST)
    if form.is_valid():
        added = run(request, lambda: actions.load_china_holidays(unit, form.cleaned_data["year"], actor=user))
        if added is not None:
            messages.success(request, _("%(count)d days added to the calendar.") % {"count": added})
    return _back(unit)


@require_POST
def settings_canned(request):
    user, unit = _manager_unit(request)
    form = CannedForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run(
            request,
            lambda: actions.save_canned_reply(
                unit, actor=user, title=data["title"], body_zh=data["body_zh"], body_en=data["body_en"]
            ),
            _("Canned reply saved."),
        )
    return _back(unit)
