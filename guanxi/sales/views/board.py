"""The kanban pipeline: stages as columns, opportunities as cards, moved by dragging or from the
keyboard (each card's "Move to" menu; Shift+← and Shift+→ on a focused card). Moves post to the
opportunity's move URL with htmx and get the board back, counts and amounts updated."""

from django import forms
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.access import require
from guanxi.sales.access import unit_for_new_record
from guanxi.sales.actions.configuration import default_pipeline
from guanxi.sales.fetch import access_by_id, board, board_opportunities, closed_since, column_cards
from guanxi.sales.forms import choose
from guanxi.sales.models import Opportunity, Pipeline, Stage
from guanxi.sales.views.common import owner_filter, page

VIEW = "sales.view"


class BoardFilterForm(forms.Form):
    pipeline = forms.TypedChoiceField(
        label=gettext_lazy("Pipeline"), required=False, coerce=int, empty_value=None
    )
    owner = forms.TypedChoiceField(label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None)
    stale = forms.BooleanField(label=gettext_lazy("Flagged stale only"), required=False)


def _filters(request, user) -> tuple[BoardFilterForm, Pipeline | None, int | None, bool]:
    form = BoardFilterForm(request.GET or None)
    pipelines = list(
        Pipeline.objects.restrict(user, "view")
        .select_related("unit")
        .order_by("unit__code", "-is_default", "name")
    )
    choose(
        form,
        "pipeline",
        (
            (p.pk, f"{p.unit.name} · {p.name}" if len({q.unit_id for q in pipelines}) > 1 else p.name)
            for p in pipelines
        ),
    )
    owner_filter(form, user)
    data = form.cleaned_data if form.is_valid() else {}
    chosen = next((p for p in pipelines if p.pk == data.get("pipeline")), None)
    if chosen is None and pipelines:
        chosen = pipelines[0]
    unit = unit_for_new_record(user, None)
    if chosen is None and unit is not None:
        chosen = default_pipeline(unit)  # a unit's first visit makes its default pipeline
    return form, chosen, data.get("owner"), bool(data.get("stale"))


def _card_texts() -> dict:
    """What every card says and links to, made once per board rather than once per card (a board
    renders a hundred and fifty of them)."""
    return {
        "urls": {
            "opportunity": reverse("sales:opportunity_list"),
            "column": reverse("sales:board_column", args=[0]).removesuffix("0/cards/"),
        },
        "labels": {
            "closes": _("closes"),
            "unassigned": _("Unassigned"),
            "stale": _("No activity"),
            "move": _("Move…"),
            "more": _("Show more"),
            "moving": _("Moving %(name)s to %(stage)s…"),
        },
    }


def pipeline_board(request):
    user = require(request, VIEW)
    form, pipeline, owner_id, stale = _filters(request, user)
    if pipeline is None:
        return page(request, "sales/board.html", {"form": form, "board": None}, "sales:board")
    return render_board(request, pipeline, form=form, owner_id=owner_id, stale_only=stale)


def render_board(
    request, pipeline: Pipeline, *, form=None, owner_id=None, stale_only=False, errors=(), moved=None
):
    """The board page, or only the board (htmx: after a move, or a filter change)."""
    user = request.user
    if form is None:
        form, _pipeline, owner_id, stale_only = _filters(request, user)
    shown = board(user, pipeline, owner_id=owner_id, stale_only=stale_only)
    context = {
        "form": form,
        "board": shown,
        "stages": [column.stage for column in shown.columns],
        "lost_reasons": Opportunity.LostReason.choices,
        "errors": errors,
        "moved": moved,
        "filters": request.GET.urlencode(),
        "may_change": user.has_permission("sales.change"),
        **_card_texts(),
    }
    if request.htmx and request.htmx.target == "board":
        return page(request, "sales/partials/_board.html", context, "sales:board")
    return page(request, "sales/board.html", context, "sales:board")


def board_column(request, stage):
    """More cards of one column (the "Show more" button)."""
    user = require(request, VIEW)
    shown_stage = access_by_id(Stage, user, stage, related=("pipeline__unit",))
    _form, _pipeline, owner_id, stale = _filters(request, user)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError as error:
        raise Http404 from error
    opportunities = board_opportunities(user, shown_stage.pipeline, owner_id=owner_id, stale_only=stale)
    cards, has_more = column_cards(opportunities, shown_stage, closed_since(shown_stage.pipeline), offset)
    filters = request.GET.copy()
    filters.pop("offset", None)
    context = {
        "cards": cards,
        "has_more": has_more,
        "stage": shown_stage,
        "next_offset": offset + len(cards),
        "filters": filters.urlencode(),
        "may_change": user.has_permission("sales.change"),
        **_card_texts(),
    }
    return page(request, "sales/partials/_board_cards.html", context, "sales:board")
