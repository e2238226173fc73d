"""Customer pages: the list with filters and live search, the 360 page, and its inline tag and note forms."""

from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.core.access import require
from guanxi.customers import profile
from guanxi.customers.fetch import (
    Masker,
    TimelinePosition,
    access_customer_by_id,
    available_tags,
    contact_prefetch,
    fetch_consent,
    fetch_customer_360,
    fetch_notes,
    fetch_tags,
    fetch_timeline_page,
    owner_candidates,
)
from guanxi.customers.models import (
    Consent,
    ConsentChannel,
    Customer,
    CustomerTag,
    Identity,
    MergeSuggestion,
    Tag,
)
from guanxi.customers.references import list_filters
from guanxi.customers.search import CustomerFilters, filter_customers

PAGE_SIZE = 50
VIEW = "customers.view"
CHANGE = "customers.change"


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(
            attrs={
                "placeholder": _("Name, phone or last four digits, email, order number, platform id"),
                "autocomplete": "off",
                # Live search: replace the table while typing.
                "hx-get": reverse_lazy("customers:customer_list"),
                "hx-trigger": "keyup changed delay:300ms, search",
                "hx-target": "#customer-table",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
                "hx-push-url": "true",
            }
        ),
    )
    unit = forms.TypedChoiceField(label=_("Business unit"), required=False, coerce=int, empty_value=None)
    province = forms.CharField(label=_("Province"), required=False, max_length=32)
    city = forms.CharField(label=_("City"), required=False, max_length=32)
    source_channel = forms.CharField(label=_("Source channel"), required=False, max_length=32)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)

    def __init__(self, data, *, units, tags) -> None:
        super().__init__(data)
        # The filters other apps register (has orders, RFM segment, ABC class), after the tag.
        for list_filter in list_filters():
            self.fields[list_filter.key] = forms.ChoiceField(
                label=list_filter.label, required=False, choices=[("", _("Any")), *list_filter.choices()]
            )
        cast(forms.ChoiceField, self.fields["unit"]).choices = [
            ("", _("All my units")),
            *((unit.pk, unit.name) for unit in units),
        ]
        cast(forms.ChoiceField, self.fields["tag"]).choices = [
            ("", _("Any")),
            *((tag.pk, tag.name) for tag in tags),
        ]

    def filters(self) -> CustomerFilters:
        if not self.is_valid():
            return CustomerFilters()
        data = self.cleaned_data
        return CustomerFilters(
            unit_id=data["unit"],
            province=data["province"].strip(),
            city=data["city"].strip(),
            source_channel=data["source_channel"].strip(),
            tag_id=data["tag"],
            registered=tuple((f.key, data[f.key]) for f in list_filters() if data.get(f.key)),
            query=data["q"].strip(),
        )


class TagForm(forms.Form):
    tag = forms.TypedChoiceField(label=_("Tag"), coerce=int)

    def __init__(self, data, *, tags) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["tag"]).choices = [(tag.pk, tag.name) for tag in tags]


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ConsentForm(forms.Form):
    """One piece of consent evidence: granting and withdrawing are both recorded this way."""

    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    state = forms.ChoiceField(label=_("Consent"), choices=Consent.State.choices)
    method = forms.ChoiceField(label=_("How it was given"), choices=Consent.Method.choices)
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=200,
        help_text=_("What the customer agreed to or withdrew from, e.g. member offers by SMS."),
    )
    text_version = forms.CharField(
        label=_("Text version"),
        max_length=64,
        required=False,
        help_text=_("The version of the wording the customer was shown, e.g. privacy notice v3."),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=200,
        required=False,
        help_text=_("Where: a form, a call, a store counter."),
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The reply received or a note of what was said."),
    )


class OwnerForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, data, *, candidates, **kwargs) -> None:
        super().__init__(data, **kwargs)
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", _("Nobody")),
            *((user.pk, f"{user.shown_name} ({user.get_role_display()})") for user in candidates),
        ]


@require_GET
def customer_list(request):
    user = require(request, VIEW)
    units = _visible_units(user)
    form = CustomerFilterForm(request.GET or None, units=units, tags=Tag.objects.restrict(user, "view"))
    customers = filter_customers(Customer.objects.active().restrict(user, "view"), user, form.filters())
    after = _int(request.GET.get("after"))
    if after is not None:
        customers = customers.filter(pk__lt=after)
    rows = list(
        customers.order_by("-pk").prefetch_related(contact_prefetch(user), _tags(user))[: PAGE_SIZE + 1]
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "customers": _rows(rows[:PAGE_SIZE], Masker(user)),
        "next_after": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
        "is_first_page": after is None,
        "query": query.urlencode(),
    }
    if request.htmx and request.htmx.target == "customer-table":
        return render(request, "customers/partials/_customer_table.html", context)
    # Open merge suggestions whose two customers the user may both see (the review queue's count).
    context["duplicates"] = (
        MergeSuggestion.objects.restrict(user, "view").filter(state=MergeSuggestion.State.OPEN).count()
    )
    return render(request, "customers/customer_list.html", context)


@require_GET
def customer(request, pk):
    user = require(request, VIEW)
    shown = access_customer_by_id(user, pk)
    return render(
        request,
        "customers/customer.html",
        {
            "c360": fetch_customer_360(user, shown),
            "can_change": user.has_permission(CHANGE),
            "tag_form": TagForm(None, tags=available_tags(user, shown)),
            "note_form": NoteForm(None),
            "consent_form": ConsentForm(None),
            "owner_form": _owner_form(None, user, shown),
        },
    )


@require_GET
def customer_timeline(request, pk):
    """The next page of the timeline (htmx "show more")."""
    user = require(request, VIEW)
    shown = access_customer_by_id(user, pk)
    after = _timeline_position(request)
    page = fetch_timeline_page(user, shown, after=after, size=50)
    return render(request, "customers/partials/_timeline.html", {"customer": shown, "timeline": page})


@require_POST
def customer_tag_add(request, pk):
    user = require(request, CHANGE)
    shown = access_customer_by_id(user, pk, "change")
    form = TagForm(request.POST, tags=available_tags(user, shown))
    if form.is_valid():
        tag = Tag.objects.restrict(user, "view").get(pk=form.cleaned_data["tag"])
        _apply(profile.add_tag, shown, tag, actor=user, unit=user.only_unit())
    return _tags_response(request, user, shown)


@require_POST
def customer_tag_remove(request, pk, tag_pk):
    user = require(request, CHANGE)
    shown = access_customer_by_id(user, pk, "change")
    carried = (
        CustomerTag.objects.restrict(user, "view").filter(customer=shown, tag_id=tag_pk).select_related("tag")
    )
    link = carried.first()
    if link is None:
        raise Http404
    _apply(profile.remove_tag, shown, link.tag, actor=user, unit=user.only_unit())
    return _tags_response(request, user, shown)


@require_POST
def customer_note_add(request, pk):
    user = require(request, CHANGE)
    shown = access_customer_by_id(user, pk, "change")
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            profile.add_note(shown, form.cleaned_data["body"], actor=user, unit=user.only_unit())
        except ValidationError as error:
            form.add_error("body", error)
        else:
            form = NoteForm(None)
    if not request.htmx:
        return redirect("customers:customer", pk=shown.pk)
    return render(
        request,
        "customers/partials/_notes.html",
        {"customer": shown, "notes": fetch_notes(user, shown), "note_form": form, "can_change": True},
    )


@require_POST
def customer_consent(request, pk):
    """Record consent evidence (given or withdrawn) on the customer's page."""
    user = require(request, CHANGE)
    shown = access_customer_by_id(user, pk, "change")
    form = ConsentForm(request.POST)
    if form.is_valid():
        _apply(profile.record_consent, shown, **form.cleaned_data, actor=user, unit=user.only_unit())
        form = ConsentForm(None)
    if not request.htmx:
        return redirect("customers:customer", pk=shown.pk)
    return render(
        request,
        "customers/partials/_consent.html",
        {"customer": shown, "consent": fetch_consent(user, shown), "consent_form": form, "can_change": True},
    )


@require_POST
def customer_owner(request, pk):
    """Give the customer an owner: the sales rep who sees them (sales reps see only their own)."""
    user = require(request, CHANGE)
    shown = access_customer_by_id(user, pk, "change")
    form = _owner_form(request.POST, user, shown)
    if form.is_valid():
        chosen = form.cleaned_data["owner"]
        owner = None if chosen is None else next(u for u in owner_candidates(user, shown) if u.pk == chosen)
        _apply(profile.assign_owner, shown, owner, actor=user)
        messages.success(
            request,
            _("%(owner)s now owns this customer.") % {"owner": owner.shown_name}
            if owner
            else _("This customer has no owner now."),
        )
    else:
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
    return redirect("customers:customer", pk=shown.pk)


def _owner_form(data, user, shown: Customer) -> OwnerForm:
    return OwnerForm(data, candidates=owner_candidates(user, shown), initial={"owner": shown.owner_id})


def _apply(action, customer: Customer, *args, **kwargs) -> None:
    """Run a profile action; a refusal (a merged-away profile) is shown as a message, not a 500."""
    try:
        action(customer, *args, **kwargs)
    except ValidationError as error:
        raise PermissionDenied(" ".join(error.messages)) from error


def _tags_response(request, user, shown: Customer):
    if not request.htmx:
        return redirect("customers:customer", pk=shown.pk)
    return render(
        request,
        "customers/partials/_tags.html",
        {
            "customer": shown,
            "tags": fetch_tags(user, shown),
            "tag_form": TagForm(None, tags=available_tags(user, shown)),
            "can_change": True,
        },
    )


def _rows(customers: list[Customer], mask: Masker) -> list[dict]:
    rows = []
    for shown in customers:
        contacts = shown.contact_identities  # type: ignore[attr-defined]  # set by _contacts
        rows.append(
            {
                "customer": shown,
                "name": mask(shown.name),
                "phone": next((mask.identity(i) for i in contacts if i.kind == Identity.Kind.PHONE), ""),
                "email": next((mask.identity(i) for i in contacts if i.kind == Identity.Kind.EMAIL), ""),
                "tags": [link.tag for link in shown.visible_tags],  # type: ignore[attr-defined]
            }
        )
    return rows


def _tags(user) -> Prefetch:
    return Prefetch(
        "customer_tags",
        queryset=CustomerTag.objects.restrict(user, "view").select_related("tag").order_by("tag__name"),
        to_attr="visible_tags",
    )


def _visible_units(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").order_by("code"))


def _timeline_position(request) -> TimelinePosition | None:
    moment = parse_datetime(request.GET.get("before", ""))
    seen, offset = _int(request.GET.get("seen")), _int(request.GET.get("offset"))
    if moment is None or seen is None or offset is None:
        return None
    return TimelinePosition(occurred_at=moment, same_time_seen=seen, offset=offset)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
