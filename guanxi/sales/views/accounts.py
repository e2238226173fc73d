"""Account pages: the list, a new account, one account with its contacts, opportunities and
activities, and adding a contact (a customer profile found or made by phone or e-mail)."""

from django import forms
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import require
from guanxi.customers.fetch import Masker
from guanxi.sales.access import assignable_users, unit_for_new_record
from guanxi.sales.actions import accounts as actions
from guanxi.sales.fetch import access_by_id
from guanxi.sales.forms import AccountForm, ContactForm
from guanxi.sales.models import Account, Activity, Contact, Opportunity
from guanxi.sales.views.common import form_errors, keyset, owner_choices, page, run, unit_choices

VIEW, ADD, CHANGE = "sales.view", "sales.add", "sales.change"


class AccountFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)

    def filter(self, rows):
        if self.is_valid() and self.cleaned_data["q"].strip():
            text = self.cleaned_data["q"].strip()
            rows = rows.filter(
                Q(name__icontains=text) | Q(city__startswith=text) | Q(industry__startswith=text)
            )
        return rows


def account_list(request):
    user = require(request, VIEW)
    form = AccountFilterForm(request.GET or None)
    rows = form.filter(Account.objects.restrict(user, "view")).select_related("owner")
    open_deals = Count("opportunities", filter=Q(opportunities__status=Opportunity.Status.OPEN))
    shown, paging = keyset(
        rows.annotate(open_deals=open_deals, contact_count=Count("contacts", distinct=True)), request
    )
    return page(
        request, "sales/account_list.html", {"form": form, "accounts": shown, **paging}, "sales:account_list"
    )


@require_http_methods(["GET", "POST"])
def account_add(request):
    user = require(request, ADD)
    form = AccountForm(request.POST or None)
    units = unit_choices(form, user)
    owner_choices(form, user, units[0] if len(units) == 1 else None)
    if request.method == "POST":

        def create():
            data = form.cleaned_data
            unit = unit_for_new_record(user, data.get("unit"))
            if unit is None:
                raise forms.ValidationError({"unit": _("Choose a unit.")})
            owner = assignable_users(unit).filter(pk=data["owner"]).first() if data.get("owner") else None
            fields = {k: data[k] for k in actions.ACCOUNT_FIELDS}
            return actions.create_account(unit=unit, actor=user, owner=owner, **fields)

        created = run(request, form, create, _("Account saved."))
        if created is not None:
            return redirect("sales:account", created.pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("New account"), "cancel": reverse("sales:account_list")},
        "sales:account_list",
    )


def account(request, pk):
    user = require(request, VIEW)
    shown = access_by_id(Account, user, pk, related=("owner", "unit"))
    masker = Masker(user)
    contacts = Contact.objects.restrict(user, "view").filter(account=shown).select_related("customer")
    context = {
        "account": shown,
        "contacts": [(contact, masker(contact.customer.name)) for contact in contacts],
        "opportunities": Opportunity.objects.restrict(user, "view")
        .filter(account=shown)
        .select_related("stage", "owner")
        .order_by("status", "-created_at"),
        "activities": Activity.objects.restrict(user, "view")
        .filter(account=shown)
        .select_related("owner")
        .order_by("-created_at", "-pk")[:50],
        "may_change": Account.objects.restrict(user, "change").filter(pk=pk).exists(),
        "contact_form": ContactForm(),
        "customers_visible": user.has_permission("customers.view"),
        "activity_subject": {"account": shown.pk},
    }
    return page(request, "sales/account.html", context, "sales:account_list")


@require_http_methods(["GET", "POST"])
def account_edit(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Account, user, pk, "change", related=("unit",))
    form = AccountForm(
        request.POST or None,
        initial={**{n: getattr(shown, n) for n in actions.ACCOUNT_FIELDS}, "owner": shown.owner_id},
    )
    form.fields.pop("unit")
    owner_choices(form, user, shown.unit, empty=_("Nobody"))
    if request.method == "POST":

        def save():
            data = form.cleaned_data
            changes = {k: data[k] for k in actions.ACCOUNT_FIELDS}
            if "owner" in form.fields:
                changes["owner"] = (
                    assignable_users(shown.unit).filter(pk=data["owner"]).first() if data["owner"] else None
                )
            return actions.update_account(shown, actor=user, **changes)

        if run(request, form, save, _("Account saved.")) is not None:
            return redirect("sales:account", pk)
    return page(
        request,
        "sales/form.html",
        {"form": form, "title": _("Edit account"), "cancel": reverse("sales:account", args=[pk])},
        "sales:account_list",
    )


@require_POST
def contact_add(request, pk):
    user = require(request, CHANGE)
    shown = access_by_id(Account, user, pk, "change", related=("unit", "owner"))
    form = ContactForm(request.POST)
    run(
        request,
        form,
        lambda: actions.add_contact(account=shown, actor=user, **form.cleaned_data),
        _("Contact added."),
    )
    form_errors(request, form)
    return redirect("sales:account", pk)
