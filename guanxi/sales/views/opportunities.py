"""Opportunity pages: the list (filters, export), a new opportunity, one opportunity with its products,
competitors, quotes, stage history and activities, and the changes made there."""

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.commerce.models import Order, Product
from guanxi.core.access import require
from guanxi.core.exports import Table
from guanxi.customers.fetch import Masker
from guanxi.sales.access import assignable_users, manages_sales, unit_for_new_record
from guanxi.sales.actions import configuration
from guanxi.sales.actions import opportunities as actions
from guanxi.sales.fetch import access_by_id
from guanxi.sales.forms import (
    AssignForm,
    CompetitorLinkForm,
    LineForm,
    MoveForm,
    OpportunityEditForm,
    OpportunityForm,
    QuoteForm,
    QuoteStatusForm,
    choose,
)
from guanxi.sales.models import (
    Account,
    Activity,
    Competitor,
    Contact,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    Pipeline,
    Quote,
    Stage,
    StageChange,
)
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


class OpportunityFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Opportunity.Status.choices],
    )
    pipeline = forms.TypedChoiceField(
        label=gettext_lazy("Pipeline"), required=False, coerce=int, empty_value=None
    )
    owner = forms.TypedChoiceField(label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None)
    closing_from = forms.DateField(
        label=gettext_lazy("Closing from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    closing_to = forms.DateField(
        label=gettext_lazy("Closing to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    stale = forms.BooleanField(label=gettext_lazy("Flagged stale only"), required=False)

    def filter(self, rows):
        if not self.is_valid():
            return rows
        data = self.cleaned_data
        if data["q"].strip():
            text = data["q"].strip()
            rows = rows.filter(Q(name__icontains=text) | Q(account__name__icontains=text))
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["pipeline"] is not None:
            rows = rows.filter(pipeline_id=data["pipeline"])
        if data.get("owner") is not None:
            rows = rows.filter(owner_id=data["owner"] or None)
        if data["closing_from"]:
            rows = rows.filter(expected_close__gte=data["closing_from"])
        if data["closing_to"]:
            rows = rows.filter(expected_close__lte=data["closing_to"])
        if data["stale"]:
            rows = rows.filter(stale_since__isnull=False)
        return rows


def opportunity_list(request):
    user = require(request, VIEW)
    form = OpportunityFilterForm(request.GET or None)
    choose(form, "pipeline", ((p.pk, p.name) for p in Pipeline.objects.restrict(user, "view")), _("Any"))
    owner_filter(form, user)
    rows = form.filter(Opportunity.objects.restrict(user, "view"))
    if request.GET.get("format"):
        return export(
            request,
            _table(rows.select_related("unit", "stage", "owner", "account").order_by("-created_at", "-pk")),
        )
    shown, paging = keyset(rows.select_related("stage", "owner", "account"), request)
    context = {"form": form, "opportunities": shown, **paging}
    if request.htmx and request.htmx.target == "opportunity-table":
        return page(request, "sales/partials/_opportunity_table.html", context, "sales:opportunity_list")
    return page(request, "sales/opportunity_list.html", context, "sales:opportunity_list")


def _table(rows) -> Table:
    return Table(
        name="sales-opportunities",
        title=_("Opportunities"),
        columns=(
            _("Id"),
            _("Business unit"),
            _("Name"),
            _("Account"),
            _("Stage"),
            _("Win probability (%)"),
            _("Status"),
            _("Amount"),
            _("Currency"),
            _("Expected close"),
            _("Forecast category"),
            _("Owner"),
            _("Lost reason"),
            _("Closed"),
            _("Order"),
            _("Last activity"),
            _("Flagged stale"),
            _("Created"),
        ),
        rows=tuple(
            (
                o.pk,
                o.unit.name,
                o.name,
                o.account.name if o.account else "",
                o.stage.name,
                o.stage.probability,
                o.get_status_display(),
                o.amount,
                o.currency,
                o.expected_close,
                o.get_forecast_category_display()
                if o.forecast_category
                else o.stage.get_forecast_category_display(),
                o.owner.shown_name if o.owner else "",
                o.get_lost_reason_display(),
                o.closed_at,
                o.order_id,
                o.last_activity_at,
                o.stale_since,
                o.created_at,
            )
            for o in rows.iterator(chunk_size=2000)
        ),
    )


@require_http_methods(["GET", "POST"])
def opportunity_add(request):
    user = require(request, ADD)
    form = OpportunityForm(request.POST or None, initial={"account": request.GET.get("account")})
    units = unit_choices(form, user)
    choose(
        form,
        "pipeline",
        ((p.pk, f"{p.name}") for p in Pipeline.objects.restrict(user, "view").filter(unit__in=units)),
        _("The default pipeline"),
    )
    choose(
        form,
        "account",
        (
            (a.pk, a.name)
            for a in Account.objects.restrict(user, "view").filter(unit__in=units).order_by("name")[:500]
        ),
        _("None"),
    )
    owner_choices(form, user, units[0] if len(units) == 1 else None)
    if request.method == "POST":

        def create():
            data = form.cleaned_data
            unit = unit_for_new_record(user, data.get("unit"))
            if unit is None:
                raise forms.ValidationError({"unit": _("Choose a unit.")})
            account = (
                Account.objects.restrict(user, "view").filter(pk=data["account"]).first()
                if data["account"]
                else None
            )
            pipeline = (
                Pipeline.objects.restrict(user, "view").filter(pk=data["pipeline"]).first()
                if data["pipeline"]
                else None
            )
            owner = assignable_users(unit).filter(pk=data["owner"]).first() if data.get("owner") else None
            contacts = Contact.objects.restrict(user, "view").filter(account=account, is_primary=True)
            contact = contacts.first() if account else None
            return actions.create_opportunity(
                unit=unit,
                name=data["name"],
                actor=user,
                pipeline=pipeline,
                owner=owner,
                account=account,
                contact=contact,
                amount=data["amount"] or 0,
                expected_close=data["expected_close"],
                forecast_category=data["forecast_category"],
            )

        created = run(request, form, create, _("Opportunity opened."))
        if created is not None:
            return redirect("sales:opportunity", created.pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("New opportunity"), "cancel": reverse("sales:opportunity_list")},
        "sales:opportunity_list",
    )


def opportunity(request, pk):
    user = require(request, VIEW)
    shown = access_by_id(
        Opportunity,
        user,
        pk,
        related=("stage", "pipeline", "account", "contact__customer", "owner", "unit", "lead"),
    )
    may_change = Opportunity.objects.restrict(user, "change").filter(pk=pk).exists()
    stages = list(shown.pipeline.stages.order_by("position", "pk"))
    move = MoveForm(initial={"stage": shown.stage_id})
    choose(move, "stage", ((s.pk, f"{s.name} · {s.probability}%") for s in stages))
    line_form = LineForm()
    choose(
        line_form,
        "product",
        ((p.pk, f"{p.sku} {p.name}") for p in Product.objects.order_by("sku")[:1000]),
        _("Choose a product"),
    )
    competitor_form = CompetitorLinkForm()
    choose(
        competitor_form,
        "competitor",
        ((c.pk, c.name) for c in Competitor.objects.restrict(user, "view").filter(unit=shown.unit)),
        _("Choose"),
    )
    assign = AssignForm(initial={"owner": shown.owner_id})
    choose(
        assign, "owner", ((u.pk, u.shown_name) for u in assignable_users(shown.unit)), _("Unassigned (pool)")
    )
    masker = Masker(user)
    order = Order.objects.restrict(user, "view").filter(pk=shown.order_id).first() if shown.order_id else None
    context = {
        "opportunity": shown,
        "contact_name": masker(shown.contact.customer.name) if shown.contact else "",
        "may_change": may_change,
        "may_assign": manages_sales(user, shown.unit) and shown.is_open,
        "move_form": move,
        "line_form": line_form,
        "competitor_form": competitor_form,
        "quote_form": QuoteForm(initial={"amount": shown.amount}),
        "assign_form": assign,
        "quote_statuses": Quote.Status.choices,
        "lines": OpportunityLine.objects.restrict(user, "view").filter(opportunity=shown),
        "competitors": OpportunityCompetitor.objects.restrict(user, "view")
        .filter(opportunity=shown)
        .select_related("competitor"),
        "quotes": Quote.objects.restrict(user, "view").filter(opportunity=shown),
        "history": StageChange.objects.restrict(user, "view")
        .filter(opportunity=shown)
        .select_related("from_stage", "to_stage", "changed_by"),
        "activities": Activity.objects.restrict(user, "view")
        .filter(opportunity=shown)
        .select_related("owner")
        .order_by("-created_at", "-pk"),
        "order": order,
        "activity_subject": {"opportunity": shown.pk},
    }
    return page(request, "sales/opportunity.html", context, "sales:opportunity_list")


@require_http_methods(["GET", "POST"])
def opportunity_edit(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change", related=("account",))
    fields = ("name", "amount", "expected_close", "forecast_category", "next_step")
    form = OpportunityEditForm(
        request.POST or None, initial={**{n: getattr(shown, n) for n in fields}, "contact": shown.contact_id}
    )
    contacts = (
        Contact.objects.restrict(user, "view").filter(account=shown.account).select_related("customer")
        if shown.account
        else Contact.objects.none()
    )
    masker = Masker(user)
    choose(form, "contact", ((c.pk, masker(c.customer.name)) for c in contacts), _("None"))
    if shown.lines.exists():
        form.fields.pop("amount")
    if request.method == "POST":

        def save():
            changes = {n: form.cleaned_data[n] for n in fields if n in form.cleaned_data}
            if "amount" in changes:
                changes["amount"] = changes["amount"] or 0
            changes["contact"] = (
                contacts.filter(pk=form.cleaned_data["contact"]).first()
                if form.cleaned_data["contact"]
                else None
            )
            return actions.update_opportunity(shown, actor=user, **changes)

        if run(request, form, save, _("Opportunity saved.")) is not None:
            return redirect("sales:opportunity", pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("Edit opportunity"), "cancel": reverse("sales:opportunity", args=[pk])},
        "sales:opportunity_list",
    )


@require_POST
def opportunity_move(request, pk):
    """Move to a stage: from the opportunity page, or from the kanban board (htmx), which gets the
    board back with its counts and amounts updated."""
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change")
    form = MoveForm(request.POST)
    stages = Stage.objects.restrict(user, "view").filter(pipeline=shown.pipeline_id)
    choose(form, "stage", ((s.pk, s.name) for s in stages))
    moved = run(
        request,
        form,
        lambda: actions.move_opportunity(
            shown,
            stages.get(pk=form.cleaned_data["stage"]),
            actor=user,
            lost_reason=form.cleaned_data["lost_reason"],
            lost_note=form.cleaned_data["lost_note"],
        ),
    )
    if request.htmx:
        from guanxi.sales.views.board import render_board

        return render_board(
            request,
            shown.pipeline,
            errors=[] if moved is not None else [e for errs in form.errors.values() for e in errs],
            moved=moved,
        )
    form_errors(request, form)
    if moved is not None:
        messages.success(request, _("Moved to %(stage)s.") % {"stage": moved.stage.name})
    return back(request, reverse("sales:opportunity", args=[pk]))


@require_POST
def opportunity_assign(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change", related=("unit",))
    form = AssignForm(request.POST)
    choose(form, "owner", ((u.pk, u.shown_name) for u in assignable_users(shown.unit)), "")
    run(
        request,
        form,
        lambda: actions.assign_opportunity(
            shown,
            assignable_users(shown.unit).filter(pk=form.cleaned_data["owner"]).first()
            if form.cleaned_data["owner"]
            else None,
            actor=user,
        ),
        _("Opportunity assigned."),
    )
    form_errors(request, form)
    return back(request, reverse("sales:opportunity", args=[pk]))


@require_POST
def line_add(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change")
    form = LineForm(request.POST)
    choose(form, "product", ((p.pk, p.sku) for p in Product.objects.order_by("sku")[:1000]), "")
    run(
        request,
        form,
        lambda: actions.add_line(
            shown,
            actor=user,
            quantity=form.cleaned_data["quantity"],
            unit_price=form.cleaned_data["unit_price"],
            product=Product.objects.filter(pk=form.cleaned_data["product"]).first()
            if form.cleaned_data["product"]
            else None,
            name=form.cleaned_data["name"],
        ),
        _("Product added."),
    )
    form_errors(request, form)
    return redirect("sales:opportunity", pk)


@require_POST
def line_remove(request, pk, line):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change")
    row = access_by_id(OpportunityLine, user, line, "change")
    if row.opportunity_id == shown.pk:
        form = forms.Form(request.POST)
        run(request, form, lambda: actions.remove_line(row, actor=user), _("Product removed."))
        form_errors(request, form)
    return redirect("sales:opportunity", pk)


@require_POST
def competitor_link(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change", related=("unit",))
    form = CompetitorLinkForm(request.POST)
    known = Competitor.objects.restrict(user, "view").filter(unit=shown.unit)
    choose(form, "competitor", ((c.pk, c.name) for c in known), "")

    def link():
        data = form.cleaned_data
        competitor = known.filter(pk=data["competitor"]).first() if data["competitor"] else None
        if competitor is None:
            if not data["new_competitor"].strip():
                raise forms.ValidationError({"competitor": _("Choose a competitor or name a new one.")})
            competitor = known.filter(
                name=data["new_competitor"].strip()
            ).first() or configuration.create_competitor(
                unit=shown.unit, actor=user, name=data["new_competitor"]
            )
        return actions.link_competitor(
            shown,
            competitor,
            actor=user,
            threat=data["threat"],
            their_price=data["their_price"],
            notes=data["notes"],
        )

    run(request, form, link, _("Competitor recorded."))
    form_errors(request, form)
    return redirect("sales:opportunity", pk)


@require_POST
def competitor_unlink(request, pk, link):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change")
    row = access_by_id(OpportunityCompetitor, user, link, "change")
    if row.opportunity_id == shown.pk:
        actions.unlink_competitor(row, actor=user)
        messages.success(request, _("Competitor removed."))
    return redirect("sales:opportunity", pk)


@require_POST
def quote_add(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Opportunity, user, pk, "change")
    form = QuoteForm(request.POST)
    run(
        request,
        form,
        lambda: actions.create_quote(
            shown,
            actor=user,
            kind=form.cleaned_data["kind"],
            amount=form.cleaned_data["amount"],
            valid_until=form.cleaned_data["valid_until"],
            terms=form.cleaned_data["terms"],
        ),
        _("Quote made."),
    )
    form_errors(request, form)
    return redirect("sales:opportunity", pk)


@require_POST
def quote_status(request, pk):
    user = require(request, CHANGE)
    quote = access_by_id(Quote, user, pk, "change", related=("opportunity__unit",))
    form = QuoteStatusForm(request.POST)
    run(
        request,
        form,
        lambda: actions.set_quote_status(quote, form.cleaned_data["status"], actor=user),
        _("Quote updated."),
    )
    form_errors(request, form)
    return redirect("sales:opportunity", quote.opportunity_id)
