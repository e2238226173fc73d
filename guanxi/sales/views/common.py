"""What the sales pages share: the tabs under the page title, choices scoped to the user, keyset
paging, running an action behind a form, and exports."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.core import exports
from guanxi.sales.access import assignable_users, manages_sales, may_transfer_across_units, writable_units
from guanxi.sales.forms import attach, choose
from guanxi.sales.models import Activity

PAGE_SIZE = 50


@dataclass(frozen=True)
class Tab:
    url_name: str
    label: Promise
    managers_only: bool = False


TABS = (
    Tab("sales:home", _("My day")),
    Tab("sales:board", _("Pipeline")),
    Tab("sales:opportunity_list", _("Opportunities")),
    Tab("sales:lead_list", _("Leads")),
    Tab("sales:account_list", _("Accounts")),
    Tab("sales:activity_list", _("Activities")),
    Tab("sales:forecast", _("Forecast")),
    Tab("sales:reports", _("Reports")),
    Tab("sales:targets", _("Quotas and plans")),
    Tab("sales:inactivity", _("Inactivity"), managers_only=True),
    Tab("sales:settings", _("Settings"), managers_only=True),
)


def page(request, template: str, context: dict[str, Any], active: str) -> HttpResponse:
    """Render a sales page with its tabs."""
    user = request.user
    tabs = [
        {"url": reverse(tab.url_name), "label": tab.label, "active": tab.url_name == active}
        for tab in TABS
        if not tab.managers_only or manages_sales(user)
    ]
    if may_transfer_across_units(user):
        tabs.append(
            {
                "url": reverse("sales:transfer_list"),
                "label": _("Transfers"),
                "active": active == "sales:transfer_list",
            }
        )
    shared = {
        "sales_tabs": tabs,
        "manages_sales": manages_sales(user),
        "can_export": user.has_permission("data.export"),
        "activity_kinds": Activity.Kind.choices,
    }
    return render(request, template, {**shared, **context})


def run(request, form, action: Callable[[], Any], success: str = "") -> Any:
    """Run an action for a valid form; its ValidationError is shown on the form. The action's result,
    or None when it was refused (the form then carries the errors)."""
    if not form.is_valid():
        return None
    try:
        result = action()
    except ValidationError as error:
        attach(form, error)
        return None
    if success:
        messages.success(request, success)
    return result


def back(request, fallback: str) -> HttpResponse:
    """Redirect to the page the form was posted from (a path on this site), else `fallback`."""
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


def form_errors(request, form) -> None:
    """Show a posted form's errors as messages on the page it returns to."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


def unit_choices(form, user: Any, field: str = "unit") -> list[BusinessUnit]:
    """Offer the units the user may add records to; the field is dropped when there is one."""
    units = list(writable_units(user))
    if len(units) <= 1:
        form.fields.pop(field, None)
    else:
        choose(form, field, ((u.pk, u.name) for u in units), _("Choose a unit"))
    return units


def owner_choices(form, user: Any, unit: Any, field: str = "owner", empty: Any = None) -> None:
    """Offer the unit's sales users to a manager; others cannot give records away."""
    if unit is None or not manages_sales(user, unit):
        form.fields.pop(field, None)
        return
    choose(
        form,
        field,
        ((u.pk, u.shown_name) for u in assignable_users(unit)),
        empty if empty is not None else _("Me"),
    )


def owner_filter(form, user: Any) -> None:
    """Let a sales manager of one unit filter by owner (0: the unit's pool); others see no such filter
    (a rep's lists hold only their own records anyway)."""
    units = list(BusinessUnit.objects.restrict(user, "view"))
    if manages_sales(user) and len(units) == 1:
        people = ((u.pk, u.shown_name) for u in assignable_users(units[0]))
        choose(form, "owner", [(0, _("Unassigned (pool)")), *people], _("Anyone"))
    else:
        form.fields.pop("owner")


def keyset(rows: QuerySet, request, field: str = "created_at") -> tuple[list, dict[str, Any]]:
    """One page of `rows` newest first by (`field`, id), after the row named by ?after=."""
    page_rows = rows.order_by(f"-{field}", "-pk")
    after = request.GET.get("after", "")
    if after.isdigit():
        last = rows.filter(pk=int(after)).values(field).first()
        if last is not None:
            page_rows = page_rows.filter(
                Q(**{f"{field}__lt": last[field]}) | Q(**{field: last[field], "pk__lt": int(after)})
            )
    found = list(page_rows[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("after", None)
    return found[:PAGE_SIZE], {
        "next_after": found[PAGE_SIZE - 1].pk if len(found) > PAGE_SIZE else None,
        "is_first_page": not after,
        "query": query.urlencode(),
    }


def export(request, table: exports.Table, unit: Any = None) -> HttpResponse | None:
    """The table as the ?format= file (CSV or XLSX) when asked for one; None otherwise."""
    fmt = request.GET.get("format", "")
    if fmt not in exports.FORMATS:
        return None
    return exports.export_table(request, table, fmt, unit=unit)
