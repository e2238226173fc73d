"""Lead pages: the list (with filters and export), capture, import, one lead with its activities, and
its qualification, disqualification, assignment, conversion and transfer."""

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.commerce.importers.reading import ImportFileError, describe, read_rows
from guanxi.commerce.uploads import save_upload
from guanxi.core.access import require
from guanxi.core.exports import Table
from guanxi.customers.fetch import Masker
from guanxi.customers.identities import normalise_phone
from guanxi.sales.access import assignable_users, manages_sales, transfer_targets, unit_for_new_record
from guanxi.sales.actions import leads as actions
from guanxi.sales.fetch import access_by_id
from guanxi.sales.forms import (
    AssignForm,
    ConvertForm,
    DisqualifyForm,
    LeadEditForm,
    LeadForm,
    TransferForm,
    choose,
)
from guanxi.sales.importing import map_headers
from guanxi.sales.jobs import start_lead_import
from guanxi.sales.models import Account, Activity, Lead, LeadTransfer, Pipeline
from guanxi.sales.views.common import (
    back,
    export,
    form_errors,
    keyset,
    owner_choices,
    owner_filter,
    page,
    run,
    unit_choices,
)

VIEW, ADD, CHANGE = "sales.view", "sales.add", "sales.change"


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Open")), ("all", gettext_lazy("Any")), *Lead.Status.choices],
    )
    source = forms.ChoiceField(
        label=gettext_lazy("Source"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Lead.Source.choices],
    )
    owner = forms.TypedChoiceField(label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None)
    stale = forms.BooleanField(label=gettext_lazy("Flagged stale only"), required=False)

    def filter(self, leads):
        if not self.is_valid():
            return leads.filter(status__in=Lead.OPEN_STATUSES)
        data = self.cleaned_data
        status = data["status"]
        leads = (
            leads.filter(status__in=Lead.OPEN_STATUSES)
            if not status
            else leads
            if status == "all"
            else leads.filter(status=status)
        )
        if data["source"]:
            leads = leads.filter(source=data["source"])
        if data.get("owner") is not None:
            leads = leads.filter(owner_id=data["owner"] or None)
        if data["stale"]:
            leads = leads.filter(stale_since__isnull=False)
        text = data["q"].strip()
        if text:
            phone = normalise_phone(text)
            leads = leads.filter(
                Q(company__icontains=text)
                | Q(name__startswith=text)
                | Q(email_key=text.lower())
                | (Q(phone_key=phone) if phone else Q(pk__in=[]))
            )
        return leads


def _filter_form(request, user):
    form = LeadFilterForm(request.GET or None)
    owner_filter(form, user)
    return form


def lead_list(request):
    user = require(request, VIEW)
    form = _filter_form(request, user)
    leads = form.filter(Lead.objects.restrict(user, "view"))
    masker = Masker(user)
    if request.GET.get("format"):
        return export(
            request,
            _leads_table(leads.select_related("owner", "unit").order_by("-created_at", "-pk"), masker),
        )
    rows, paging = keyset(leads.select_related("owner", "customer"), request)
    context = {
        "form": form,
        "leads": [(lead, masker(lead.name), masker(lead.phone, "phone")) for lead in rows],
        **paging,
    }
    if request.htmx and request.htmx.target == "lead-table":
        return page(request, "sales/partials/_lead_table.html", context, "sales:lead_list")
    return page(request, "sales/lead_list.html", context, "sales:lead_list")


def _leads_table(leads, masker: Masker) -> Table:
    return Table(
        name="sales-leads",
        title=_("Leads"),
        columns=(
            _("Id"),
            _("Business unit"),
            _("Status"),
            _("Name"),
            _("Company"),
            _("Title"),
            _("Phone"),
            _("E-mail"),
            _("Source"),
            _("Owner"),
            _("Estimated amount"),
            _("Last activity"),
            _("Flagged stale"),
            _("Created"),
        ),
        rows=tuple(
            (
                lead.pk,
                lead.unit.name,
                lead.get_status_display(),
                masker(lead.name),
                lead.company,
                lead.title,
                masker(lead.phone, "phone"),
                masker(lead.email, "email"),
                lead.get_source_display(),
                lead.owner.shown_name if lead.owner else "",
                lead.estimated_amount,
                lead.last_activity_at,
                lead.stale_since,
                lead.created_at,
            )
            for lead in leads.iterator(chunk_size=2000)
        ),
    )


@require_http_methods(["GET", "POST"])
def lead_add(request):
    user = require(request, ADD)
    form = LeadForm(request.POST or None)
    units = unit_choices(form, user)
    owner_choices(form, user, units[0] if len(units) == 1 else None, empty=_("As the unit's rule says"))
    if request.method == "POST":

        def capture():
            chosen = unit_for_new_record(user, form.cleaned_data.get("unit"))
            if chosen is None:
                raise forms.ValidationError({"unit": _("Choose a unit.")})
            owner_id = form.cleaned_data.get("owner")
            owner = assignable_users(chosen).filter(pk=owner_id).first() if owner_id else None
            fields = {k: form.cleaned_data[k] for k in actions.LEAD_FIELDS}
            return actions.capture_lead(
                unit=chosen, actor=user, source=form.cleaned_data["source"], owner=owner, **fields
            )

        captured = run(request, form, capture)
        if captured is not None:
            if captured.outcome == "duplicate":
                visible = Lead.objects.restrict(user, "view").filter(pk=captured.lead.pk).exists()
                form.add_error(
                    None,
                    _("An open lead of the unit already has this phone or e-mail: #%(number)s.")
                    % {"number": captured.lead.pk}
                    if visible
                    else _("An open lead of the unit already has this phone or e-mail (someone else's)."),
                )
            else:
                messages.success(request, _("Lead saved."))
                return redirect("sales:lead", captured.lead.pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("New lead"), "cancel": reverse("sales:lead_list")},
        "sales:lead_list",
    )


@require_http_methods(["GET", "POST"])
def lead_import(request):
    user = require(request, ADD)

    class ImportForm(forms.Form):
        unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int, empty_value=None, required=False)
        file = forms.FileField(label=_("CSV or XLSX file"))

    form = ImportForm(request.POST or None, request.FILES or None)
    unit_choices(form, user)
    if request.method == "POST" and form.is_valid():
        unit = unit_for_new_record(user, form.cleaned_data.get("unit"))
        if unit is None:
            form.add_error(None, _("Choose a unit."))
        else:
            path = save_upload(form.cleaned_data["file"])
            try:
                map_headers(read_rows(describe(path))[0])
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                job = start_lead_import(path, unit=unit, actor=user, language=request.LANGUAGE_CODE)
                return redirect("web:job", job.pk)
    return page(request, "sales/lead_import.html", {"form": form}, "sales:lead_list")


def lead(request, pk):
    user = require(request, VIEW)
    shown = access_by_id(Lead, user, pk, related=("owner", "unit", "customer", "account", "opportunity"))
    masker = Masker(user)
    may_change = Lead.objects.restrict(user, "change").filter(pk=pk).exists()
    assign = AssignForm(initial={"owner": shown.owner_id})
    choose(
        assign, "owner", ((u.pk, u.shown_name) for u in assignable_users(shown.unit)), _("Unassigned (pool)")
    )
    transfer = TransferForm()
    choose(
        transfer,
        "to_unit",
        ((u.pk, u.name) for u in transfer_targets(shown)),
    )
    context = {
        "lead": shown,
        "name": masker(shown.name),
        "phone": masker(shown.phone, "phone"),
        "email": masker(shown.email, "email"),
        "may_change": may_change and shown.is_open,
        "may_assign": manages_sales(user, shown.unit) and shown.is_open,
        "customer_visible": shown.customer_id is not None and user.has_permission("customers.view"),
        "activities": Activity.objects.restrict(user, "view")
        .filter(lead=shown)
        .select_related("owner")
        .order_by("-created_at", "-pk"),
        "transfers": LeadTransfer.objects.restrict(user, "view")
        .filter(lead=shown)
        .select_related("to_unit", "requested_by"),
        "disqualify_form": DisqualifyForm(),
        "assign_form": assign,
        "transfer_form": transfer,
        "activity_subject": {"lead": shown.pk},
    }
    return page(request, "sales/lead.html", context, "sales:lead_list")


@require_http_methods(["GET", "POST"])
def lead_edit(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change")
    initial = {name: getattr(shown, name) for name in actions.LEAD_FIELDS}
    form = LeadEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        done = run(
            request,
            form,
            lambda: actions.update_lead(
                shown, actor=user, **{k: form.cleaned_data[k] for k in actions.LEAD_FIELDS}
            ),
            _("Lead saved."),
        )
        if done is not None:
            return redirect("sales:lead", pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("Edit lead"), "cancel": reverse("sales:lead", args=[pk])},
        "sales:lead_list",
    )


@require_POST
def lead_qualify(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change")
    form = forms.Form(request.POST)
    run(request, form, lambda: actions.qualify_lead(shown, actor=user), _("Lead qualified."))
    form_errors(request, form)
    return redirect("sales:lead", pk)


@require_POST
def lead_disqualify(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change")
    form = DisqualifyForm(request.POST)
    run(
        request,
        form,
        lambda: actions.disqualify_lead(
            shown, actor=user, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
        ),
        _("Lead disqualified."),
    )
    form_errors(request, form)
    return redirect("sales:lead", pk)


@require_POST
def lead_assign(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change", related=("unit",))
    form = AssignForm(request.POST)
    choose(form, "owner", ((u.pk, u.shown_name) for u in assignable_users(shown.unit)), "")

    def assign():
        owner = (
            assignable_users(shown.unit).filter(pk=form.cleaned_data["owner"]).first()
            if form.cleaned_data["owner"]
            else None
        )
        return actions.assign_lead(shown, owner, actor=user)

    run(request, form, assign, _("Lead assigned."))
    form_errors(request, form)
    return back(request, reverse("sales:lead", args=[pk]))


@require_POST
def lead_transfer(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change", related=("unit",))
    form = TransferForm(request.POST)
    choose(
        form,
        "to_unit",
        ((u.pk, u.name) for u in transfer_targets(shown)),
    )
    done = run(
        request,
        form,
        lambda: actions.request_transfer(
            shown,
            to_unit=transfer_targets(shown).get(pk=form.cleaned_data["to_unit"]),
            reason=form.cleaned_data["reason"],
            actor=user,
        ),
    )
    form_errors(request, form)
    if done is not None:
        messages.success(
            request,
            _("Transfer approved.")
            if done.state == LeadTransfer.State.APPROVED
            else _("Transfer requested; the group decides."),
        )
        if not Lead.objects.restrict(user, "view").filter(pk=pk).exists():
            return redirect("sales:lead_list")
    return redirect("sales:lead", pk)


@require_http_methods(["GET", "POST"])
def lead_convert(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Lead, user, pk, "change", related=("unit",))
    if not shown.is_open:
        messages.error(
            request, _("This lead is already %(status)s.") % {"status": shown.get_status_display()}
        )
        return redirect("sales:lead", pk)
    form = ConvertForm(
        request.POST or None,
        initial={
            "account_name": shown.company or shown.name,
            "amount": shown.estimated_amount,
            "contact_title": shown.title,
        },
    )
    accounts = Account.objects.restrict(user, "view").filter(unit=shown.unit).order_by("name")
    choose(form, "account", ((a.pk, a.name) for a in accounts[:500]), _("A new account"))
    pipelines = Pipeline.objects.restrict(user, "view").filter(unit=shown.unit)
    choose(form, "pipeline", ((p.pk, p.name) for p in pipelines), _("The default pipeline"))
    if request.method == "POST":

        def convert():
            data = form.cleaned_data
            return actions.convert_lead(
                shown,
                actor=user,
                account=accounts.filter(pk=data["account"]).first() if data["account"] else None,
                account_name=data["account_name"],
                contact_title=data["contact_title"],
                with_opportunity=data["with_opportunity"],
                opportunity_name=data["opportunity_name"],
                amount=data["amount"],
                expected_close=data["expected_close"],
                pipeline=pipelines.filter(pk=data["pipeline"]).first() if data["pipeline"] else None,
            )

        done = run(request, form, convert, _("Lead converted."))
        if done is not None:
            return (
                redirect("sales:opportunity", done.opportunity.pk)
                if done.opportunity
                else redirect("sales:account", done.account.pk)
            )
    return page(
        request,
        "sales/form.html",
        {
            "form": form,
            "title": _("Convert lead"),
            "intro": _(
                "The lead becomes an account, a contact (one customer profile, found by phone or e-mail) and, if you like, an opportunity. Nothing is made unless all of it is."
            ),
            "cancel": reverse("sales:lead", args=[pk]),
        },
        "sales:lead_list",
    )
