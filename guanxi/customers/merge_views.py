"""The merge review queue: open suggestions side by side with their evidence, accept or reject them,
scan for duplicates now, and the merge history with undo. The merging functions audit every decision."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.access import require
from guanxi.core.background import start_job
from guanxi.customers.fetch import CONTACT_KINDS, Masker
from guanxi.customers.merging.merge import MergeError, undo_merge
from guanxi.customers.merging.suggestions import accept_suggestion, reject_suggestion
from guanxi.customers.models import Customer, Identity, MergeRecord, MergeSuggestion
from guanxi.customers.references import profile_facts

VIEW = "customers.view"
CHANGE = "customers.change"
SCAN_JOB = "customers.suggest_merges"
PAGE_SIZE = 20
HISTORY_SIZE = 50
EVIDENCE_LABELS = {
    "same_name_address": _("Same name and address"),
    "same_taobao_nick": _("Same Taobao buyer nick in two stores"),
    "masked_phone_and_name": _("Masked phone fits a full number, same name"),
    "same_phone": _("Same mobile phone"),
    "same_email": _("Same email"),
    "same_wechat_unionid": _("Same WeChat unionid"),
    "same_person_id": _("Same cross-store person id"),
}


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Why not the same person?"), required=False, max_length=200)


@dataclass(frozen=True)
class PersonView:
    """One side of a suggestion, as the user may see it."""

    customer: Customer
    name: str
    contacts: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]  # (label, value) from other apps: orders, stores
    survives: bool


@dataclass(frozen=True)
class SuggestionView:
    suggestion: MergeSuggestion
    people: tuple[PersonView, PersonView]
    evidence: tuple[tuple[str, str, int], ...]  # (label, masked detail, score)
    blocked: bool  # one side has since been merged elsewhere: accepting would fail


def open_suggestions(user):
    """Undecided suggestions whose two customers the user may both see."""
    return MergeSuggestion.objects.restrict(user, "view").filter(state=MergeSuggestion.State.OPEN)


@require_GET
def merge_list(request):
    user = require(request, VIEW)
    suggestions = open_suggestions(user).select_related("customer_a", "customer_b")
    page = Paginator(suggestions.order_by("-score", "-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    mask = Masker(user)
    history = (
        MergeRecord.objects.restrict(user, "view")
        .select_related("survivor", "absorbed", "merged_by", "undone_by")
        .order_by("-merged_at", "-id")[:HISTORY_SIZE]
    )
    return render(
        request,
        "customers/merges/merge_list.html",
        {
            "page": page,
            "suggestions": _suggestion_views(user, list(page.object_list), mask),
            "history": [
                (record, mask(record.survivor.name), mask(record.absorbed.name)) for record in history
            ],
            "can_change": user.has_permission(CHANGE),
            "reject_form": RejectForm(),
        },
    )


@require_POST
def merge_scan(request):
    """Look for duplicates now (the same job the schedule runs); its page shows the progress."""
    user = require(request, CHANGE)
    job = start_job(SCAN_JOB, started_by=user)
    return redirect("web:job", pk=job.pk)


@require_POST
def merge_accept(request, pk):
    user = require(request, CHANGE)
    suggestion = _open_suggestion(user, pk)
    try:
        record = accept_suggestion(suggestion, actor=user)
    except MergeError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Customer #%(absorbed)s was merged into customer #%(survivor)s.")
            % {"absorbed": record.absorbed_id, "survivor": record.survivor_id},
        )
    return redirect("customers:merge_list")


@require_POST
def merge_reject(request, pk):
    user = require(request, CHANGE)
    suggestion = _open_suggestion(user, pk)
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        reject_suggestion(suggestion, actor=user, reason=reason)
    except MergeError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Marked as different people; this pair will not be suggested again."))
    return redirect("customers:merge_list")


@require_POST
def merge_undo(request, pk):
    user = require(request, CHANGE)
    record = get_object_or_404(MergeRecord.objects.restrict(user, "change"), pk=pk)
    try:
        undo_merge(record, actor=user)
    except MergeError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Customer #%(absorbed)s was split back out of customer #%(survivor)s.")
            % {"absorbed": record.absorbed_id, "survivor": record.survivor_id},
        )
    return redirect("customers:merge_list")


def _open_suggestion(user, pk: int) -> MergeSuggestion:
    return get_object_or_404(
        MergeSuggestion.objects.restrict(user, "change"), pk=pk, state=MergeSuggestion.State.OPEN
    )


def _suggestion_views(user, suggestions: list[MergeSuggestion], mask: Masker) -> list[SuggestionView]:
    ids = {s.customer_a_id for s in suggestions} | {s.customer_b_id for s in suggestions}
    contacts: dict[int, list[str]] = {}
    identities = (
        Identity.objects.restrict(user, "view")
        .filter(customer_id__in=ids, kind__in=CONTACT_KINDS)
        .order_by("customer_id", "kind", "id")
    )
    for identity in identities:
        contacts.setdefault(identity.customer_id, []).append(mask.identity(identity))
    views = []
    for suggestion in suggestions:
        pair = (suggestion.customer_a, suggestion.customer_b)
        survivor = min(pair, key=lambda customer: (customer.first_seen_at, customer.pk))
        people = tuple(_person(user, customer, mask, contacts, customer == survivor) for customer in pair)
        evidence = tuple(
            (
                str(EVIDENCE_LABELS.get(item.get("code", ""), item.get("code", ""))),
                item.get("detail", ""),
                item.get("score", 0),
            )
            for item in suggestion.evidence
        )
        views.append(
            SuggestionView(
                suggestion=suggestion,
                people=(people[0], people[1]),
                evidence=evidence,
                blocked=any(customer.is_merged for customer in pair),
            )
        )
    return views


def _person(
    user, customer: Customer, mask: Masker, contacts: dict[int, list[str]], survives: bool
) -> PersonView:
    return PersonView(
        customer=customer,
        name=mask(customer.name),
        contacts=tuple(contacts.get(customer.pk, ())),
        facts=tuple((str(label), value) for label, value in profile_facts(user, customer)),
        survives=survives,
    )
