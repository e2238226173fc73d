"""Privacy pages: the requests list and one request (approve, run, download), starting a request from
the customer 360 page, and the retention settings with what past runs purged."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.core.access import require
from guanxi.customers.models import Customer
from guanxi.privacy import actions
from guanxi.privacy import retention as retention_rules
from guanxi.privacy.models import PrivacyRequest, RetentionRun

PAGE_SIZE = 50


def request_list(request):
    require(request, actions.REQUEST)
    rows = PrivacyRequest.objects.restrict(request.user, "request").select_related(
        "requested_by", "approved_by"
    )
    state = request.GET.get("state", "")
    if state in PrivacyRequest.State.values:
        rows = rows.filter(state=state)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/request_list.html",
        {"page": page, "states": PrivacyRequest.State.choices, "state": state},
    )


def _visible(request, pk: int) -> PrivacyRequest:
    require(request, actions.REQUEST)
    return get_object_or_404(
        PrivacyRequest.objects.restrict(request.user, "request").select_related(
            "job", "requested_by", "approved_by"
        ),
        pk=pk,
    )


def request_detail(request, pk: int):
    item = _visible(request, pk)
    user = request.user
    return render(
        request,
        "privacy/request.html",
        {
            "item": item,
            "job": item.job,
            "can_approve": user.has_permission(actions.APPROVE),
            "counts": sorted(item.counts.items()),
        },
    )


def _customer(request, customer_id: int) -> Customer:
    require(request, actions.REQUEST)
    return get_object_or_404(Customer.objects.restrict(request.user, "view"), pk=customer_id)


@require_POST
def request_export(request, pk: int):
    customer = _customer(request, pk)
    item = actions.request_export(customer, actor=request.user, note=request.POST.get("note", ""))
    messages.success(request, _("The copy of the data is being prepared."))
    return redirect("privacy:request", item.pk)


@require_POST
def request_erasure(request, pk: int):
    customer = _customer(request, pk)
    item = actions.request_erasure(customer, actor=request.user, note=request.POST.get("note", ""))
    messages.success(request, _("Erasure request recorded; it waits for approval."))
    return redirect("privacy:request", item.pk)


def _step(request, pk: int, step) -> PrivacyRequest:
    require(request, actions.APPROVE)
    item = _visible(request, pk)
    try:
        step(item, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return item


@require_POST
def approve(request, pk: int):
    item = _step(request, pk, actions.approve)
    return redirect("privacy:request", item.pk)


@require_POST
def reject(request, pk: int):
    item = _step(request, pk, actions.reject)
    return redirect("privacy:request", item.pk)


@require_POST
def run(request, pk: int):
    item = _step(request, pk, actions.run_erasure)
    return redirect("privacy:request", item.pk)


def download(request, pk: int):
    item = _visible(request, pk)
    try:
        path = actions.export_file(item, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("privacy:request", item.pk)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"privacy-request-{item.pk}.zip")


def retention(request):
    require(request, actions.REQUEST)
    can_change = request.user.has_permission(actions.APPROVE)
    if request.method == "POST":
        require(request, actions.APPROVE)
        _save_horizons(request)
        return redirect("privacy:retention")
    horizons = retention_rules.horizons()
    classes = [(item, horizons[item.key]) for item in retention_rules.DATA_CLASSES]
    runs = Paginator(RetentionRun.objects.all(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/retention.html",
        {
            "classes": classes,
            "runs": runs,
            "run_rows": [
                (run, [run.purged.get(key, 0) for key in [*retention_rules.CLASS_KEYS, "exports"]])
                for run in runs.object_list
            ],
            "can_change": can_change,
        },
    )


def _save_horizons(request) -> None:
    for item in retention_rules.DATA_CLASSES:
        raw = request.POST.get(item.key, "").strip()
        if not raw:
            continue
        try:
            actions.set_retention(item.key, int(raw) if raw.isdigit() else -1, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    messages.success(request, _("Retention saved."))
