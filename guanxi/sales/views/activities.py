"""Activity pages: "My day", the activity list, logging or planning one (about a lead, an opportunity,
an account or a customer), completing or cancelling it, and the notification list."""

from django import forms
from django.contrib import messages
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import require
from guanxi.customers.models import Customer
from guanxi.sales.access import assignable_users, manages_sales, unit_for_new_record
from guanxi.sales.actions import activities as actions
from guanxi.sales.fetch import access_by_id, my_day
from guanxi.sales.forms import ActivityForm, CompleteForm, choose
from guanxi.sales.models import Account, Activity, Lead, Notification, Opportunity
from guanxi.sales.notifications import describe
from guanxi.sales.reports import open_pipeline_total
from guanxi.sales.views.common import back, form_errors, keyset, page, run

VIEW, ADD, CHANGE = "sales.view", "sales.add", "sales.change"


def home(request):
    user = require(request, VIEW)
    day = my_day(user)
    context = {
        "day": day,
        "notifications": [(n, describe(n), notification_link(n)) for n in day.notifications],
        "pipeline_totals": open_pipeline_total(user),
        "complete_form": CompleteForm(),
    }
    return page(request, "sales/home.html", context, "sales:home")


class ActivityFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Activity.Status.choices],
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Activity.Kind.choices],
    )
    mine = forms.BooleanField(label=gettext_lazy("Mine only"), required=False)

    def filter(self, rows, user):
        if not self.is_valid():
            return rows
        data = self.cleaned_data
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["kind"]:
            rows = rows.filter(kind=data["kind"])
        if data["mine"]:
            rows = rows.filter(owner=user)
        return rows


def activity_list(request):
    user = require(request, VIEW)
    form = ActivityFilterForm(request.GET or None)
    rows = form.filter(Activity.objects.restrict(user, "view"), user).select_related(
        "owner", "lead", "opportunity", "account"
    )
    shown, paging = keyset(rows, request)
    return page(
        request,
        "sales/activity_list.html",
        {"form": form, "activities": shown, "complete_form": CompleteForm(), **paging},
        "sales:activity_list",
    )


def _subject(request, user, data) -> dict:
    """The records the activity is about, each visible to the user (else 404)."""
    found = {}
    for name, model in (("lead", Lead), ("opportunity", Opportunity), ("account", Account)):
        if data.get(name):
            found[name] = access_by_id(model, user, int(data[name]), "change", related=("unit",))
    if data.get("customer"):
        found["customer"] = access_by_id(Customer, user, int(data["customer"]))
    return found


@require_http_methods(["GET", "POST"])
def activity_add(request):
    user = require(request, ADD)
    source = request.POST if request.method == "POST" else request.GET
    subject = _subject(
        request,
        user,
        {
            k: source.get(k)
            for k in ("lead", "opportunity", "account", "customer")
            if str(source.get(k, "")).isdigit()
        },
    )
    form = ActivityForm(
        request.POST or None,
        initial={**{k: v.pk for k, v in subject.items()}, "kind": source.get("kind") or Activity.Kind.CALL},
    )
    record = next((subject[k] for k in ("opportunity", "lead", "account") if k in subject), None)
    unit = record.unit if record is not None else unit_for_new_record(user, None)
    if unit is not None and manages_sales(user, unit):
        choose(form, "owner", ((u.pk, u.shown_name) for u in assignable_users(unit)), _("Me"))
    else:
        form.fields.pop("owner")
    if request.method == "POST":

        def log():
            data = form.cleaned_data
            if unit is None:
                raise forms.ValidationError(
                    _(
                        "Open the lead, opportunity, account or customer the activity is about, and log it there."
                    )
                )
            owner = assignable_users(unit).filter(pk=data["owner"]).first() if data.get("owner") else None
            return actions.log_activity(
                actor=user,
                kind=data["kind"],
                subject=data["subject"],
                notes=data["notes"],
                done=data["done"],
                done_at=data["done_at"],
                due_at=data["due_at"],
                reminder_at=data["reminder_at"],
                owner=owner,
                unit=unit,
                **subject,
            )

        logged = run(request, form, log, _("Activity saved."))
        if logged is not None:
            return back(request, reverse("sales:activity_list"))
        form_errors(request, form)
        if request.POST.get("next"):
            return back(request, reverse("sales:activity_list"))
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("New activity"), "cancel": reverse("sales:activity_list")},
        "sales:activity_list",
    )


@require_POST
def activity_complete(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Activity, user, pk, "change")
    form = CompleteForm(request.POST)
    run(
        request,
        form,
        lambda: actions.complete_activity(shown, actor=user, outcome=form.cleaned_data["outcome"]),
        _("Activity done."),
    )
    form_errors(request, form)
    return back(request, reverse("sales:home"))


@require_POST
def activity_cancel(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Activity, user, pk, "change")
    form = forms.Form(request.POST)
    run(request, form, lambda: actions.cancel_activity(shown, actor=user), _("Activity cancelled."))
    form_errors(request, form)
    return back(request, reverse("sales:home"))


def notification_list(request):
    user = require(request, VIEW)
    rows = Notification.objects.restrict(user, "view").filter(user=user)
    shown, paging = keyset(rows, request)
    return page(
        request,
        "sales/notification_list.html",
        {"notifications": [(n, describe(n), notification_link(n)) for n in shown], **paging},
        "sales:home",
    )


@require_POST
def notifications_read(request):
    user = require(request, VIEW)
    marked = actions.mark_notifications_read(user)
    messages.success(request, _("%(count)d notifications marked read.") % {"count": marked})
    return back(request, reverse("sales:notification_list"))


def notification_link(notification: Notification) -> str:
    """Where a notification's record is shown."""
    names = {
        "sales.lead": "sales:lead",
        "sales.opportunity": "sales:opportunity",
        "sales.activity": "sales:activity_list",
        "sales.leadtransfer": "sales:transfer_list",
    }
    name = names.get(notification.subject_type)
    if name is None:
        return ""
    if name in ("sales:activity_list", "sales:transfer_list"):
        return reverse(name)  # a list: activities and transfers have no page of their own
    return reverse(name, args=[notification.subject_id])
