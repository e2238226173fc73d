"""Plain-language explanations of a customer's metrics, shown on the 360 page and in the API."""

from typing import TYPE_CHECKING

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from guanxi.analytics.conf import analytics_config
from guanxi.analytics.models import ChurnMethod, CustomerMetric, LifecycleStage

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# Keyed by str: CustomerMetric.lifecycle_stage is a plain CharField value.
LIFECYCLE_TEXT: dict[str, "StrPromise"] = {
    LifecycleStage.EXPLORATION: gettext_lazy(
        "No order yet, or a first one recently: the customer is still getting to know the shop."
    ),
    LifecycleStage.DEVELOPMENT: gettext_lazy(
        "Has bought again: orders are coming more often, but the relationship is not settled yet."
    ),
    LifecycleStage.STABLE: gettext_lazy("Regular orders over a long time: a stable relationship."),
    LifecycleStage.DECLINE: gettext_lazy(
        "Overdue compared with the customer's usual rhythm: the relationship is declining."
    ),
    LifecycleStage.LOST: gettext_lazy("No order for a long time: the decline has ended in a loss."),
}


# The features a stored churn reason may name (guanxi.analytics.churn and .supervised), as noun phrases.
REASON_TEXT: dict[str, "StrPromise"] = {
    "days_since_last_order": gettext_lazy("time since the last order"),
    "orders": gettext_lazy("number of orders"),
    "overdue": gettext_lazy("time since the last order against the customer's usual interval"),
    "spend": gettext_lazy("total spend"),
    "returns_rate": gettext_lazy("share of spend returned"),
    "tenure": gettext_lazy("time since the first order"),
    "interval": gettext_lazy("usual time between orders"),
    "mobile_share": gettext_lazy("share of orders placed on a phone"),
}


def explain(row: CustomerMetric) -> dict[str, str]:
    """One sentence per topic, in the caller's language."""
    config = analytics_config()
    if not row.orders:
        return {"summary": _("No order yet: a potential customer.")}
    texts = {
        "rfm": _(
            "Last order %(days)s days ago (R %(r)s of 5), %(orders)s orders (F %(f)s of 5), %(spend)s spent in "
            "total (M %(m)s of 5): segment “%(segment)s”."
        )
        % {
            "days": row.recency_days,
            "r": row.r_score,
            "orders": row.orders,
            "f": row.f_score,
            "spend": formats.number_format(row.total_spend, 2),
            "m": row.m_score,
            "segment": row.get_rfm_segment_display(),
        },
        "abc": _("ABC class %(abc)s by total spend.") % {"abc": row.abc_class},
        "lifecycle": str(LIFECYCLE_TEXT.get(row.lifecycle_stage, "")),
    }
    if row.churn_risk is not None:
        percent = round(row.churn_risk * 100)
        if row.churn_method == ChurnMethod.RECENCY:
            texts["churn"] = _(
                "About %(percent)s%% risk of not ordering again soon, judged from the time since the last order."
            ) % {"percent": percent}
        else:
            texts["churn"] = _("%(percent)s%% chance of no order in the next %(days)s days.") % {
                "percent": percent,
                "days": config.CHURN_HORIZON_DAYS,
            }
        texts["churn"] = " ".join([texts["churn"], *_reason_sentences(row.churn_reasons)])
    if row.expected_purchases_365 is not None:
        texts["forecast"] = _("Expected orders in the next 365 days: %(count)s.") % {
            "count": formats.number_format(row.expected_purchases_365, 1)
        }
    if row.predicted_clv is not None:
        texts["clv"] = _("Predicted value over the next %(months)s months: %(value)s.") % {
            "months": config.CLV_MONTHS,
            "value": formats.number_format(row.predicted_clv, 2),
        }
    texts["next_order"] = (
        _("Next order expected around %(date)s.") % {"date": formats.date_format(row.expected_next_order_at)}
        if row.expected_next_order_at
        else _("No further order is expected soon.")
    )
    if row.method == "empirical":
        texts["method"] = _(
            "Estimated from simple averages: there is too little purchase history to fit the forecasting model."
        )
    return texts


def _reason_sentences(reasons: list[dict]) -> list[str]:
    """The stored reasons, [{"feature": …, "direction": "up" | "down"}, …], as at most two sentences."""
    separator = pgettext("list separator", ", ")
    sentences = []
    for direction, sentence in (
        # Translators: after the churn risk; the list names what raises it, e.g. "number of orders".
        ("up", _("Raised by: %(reasons)s.")),
        # Translators: after the churn risk; the list names what lowers it.
        ("down", _("Lowered by: %(reasons)s.")),
    ):
        named = [
            str(REASON_TEXT[reason["feature"]])
            for reason in reasons or []
            if reason.get("direction") == direction and reason.get("feature") in REASON_TEXT
        ]
        if named:
            sentences.append(sentence % {"reasons": separator.join(named)})
    return sentences
