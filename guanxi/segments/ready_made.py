"""Ready-made segments from the seeds and common practice, installed with the demo.

`install_ready_made_segments()` creates them organisation-wide, or updates them in place when they
exist (matched by key), so running it again changes nothing. A segment that needs a store the
install does not have (the demo's Tmall and WeChat stores) is skipped.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Order, Store
from guanxi.segments import rules
from guanxi.segments.actions import create_segment
from guanxi.segments.models import Segment

SALE_STATUSES = [str(status) for status in Order.SALE_STATUSES]
# The demo's stores for "bought in store A but never in store B".
STORE_A = "tmall:guanxi-home-flagship"
STORE_B = "wechat_mp:guanxi-home"
# The demo shop's towel and bath towel category (guanxi.demo.reference.HOME_TEXTILES).
HOME_TEXTILES = "毛巾浴巾"
HIGH_CLV = 1000
VIP_DORMANT_DAYS = 180


@dataclass(frozen=True)
class ReadyMade:
    key: str
    name: Any
    description: Any


def _rule(root: dict) -> dict:
    return {"version": rules.SCHEMA_VERSION, "root": root}


def _definitions(stores: dict[str, int]) -> list[tuple[ReadyMade, dict | None]]:
    store_a, store_b = stores.get(STORE_A), stores.get(STORE_B)
    return [
        (
            ReadyMade(
                "mothers-day",
                _("Mother's Day audience"),
                _(
                    "Mothers (women aged 35–65) and the 25–49-year-old buyers who shop for them, "
                    "who bought home textiles in the last 365 days."
                ),
            ),
            # Seed 000: the campaign is for mothers, women aged 35-65, and for those who buy for
            # them on the day; the shop's own buyers narrowed that to ages 25-49.
            _rule(
                {
                    "all": [
                        {
                            "any": [
                                {
                                    "all": [
                                        {"type": "profile", "field": "gender", "op": "eq", "value": "female"},
                                        {
                                            "type": "profile",
                                            "field": "age",
                                            "op": "between",
                                            "value": [35, 65],
                                        },
                                    ]
                                },
                                {"type": "profile", "field": "age", "op": "between", "value": [25, 49]},
                            ]
                        },
                        {
                            "type": "orders",
                            "of": "lines",
                            "measure": "count",
                            "op": "gte",
                            "value": 1,
                            "window": {"type": "last", "amount": 365, "unit": "days"},
                            "filters": {"categories": [HOME_TEXTILES], "statuses": SALE_STATUSES},
                        },
                    ]
                }
            ),
        ),
        (
            ReadyMade(
                "unpaid-24h",
                _("Unpaid orders in the last 24 hours (催付)"),
                _("Customers with an order awaiting payment placed in the last 24 hours."),
            ),
            _rule(
                {
                    "type": "orders",
                    "measure": "count",
                    "op": "gte",
                    "value": 1,
                    "window": {"type": "last", "amount": 24, "unit": "hours"},
                    "filters": {"statuses": [Order.Status.CREATED.value]},
                }
            ),
        ),
        (
            ReadyMade(
                "store-a-not-b",
                _("Bought on Tmall, never in the WeChat mini-program"),
                _(
                    "Customers with a purchase in the Tmall flagship store and none in the WeChat mini-program."
                ),
            ),
            _rule(
                {
                    "all": [
                        {
                            "type": "orders",
                            "op": "gte",
                            "value": 1,
                            "filters": {"stores": [store_a], "statuses": SALE_STATUSES},
                        },
                        {
                            "type": "orders",
                            "op": "eq",
                            "value": 0,
                            "filters": {"stores": [store_b], "statuses": SALE_STATUSES},
                        },
                    ]
                }
            )
            if store_a and store_b
            else None,
        ),
        (
            ReadyMade(
                "win-back",
                _("Win back: high value, rising churn risk"),
                _(
                    "Predicted lifetime value of at least 1,000 and a churn risk between 50% and 90%: slipping, not yet lost."
                ),
            ),
            _rule(
                {
                    "all": [
                        {"type": "metric", "field": "predicted_clv", "op": "gte", "value": HIGH_CLV},
                        {"type": "metric", "field": "churn_risk", "op": "between", "value": [0.5, 0.9]},
                    ]
                }
            ),
        ),
        (
            ReadyMade(
                "new-30-days", _("New customers of the last 30 days"), _("First seen in the last 30 days.")
            ),
            _rule({"type": "profile", "field": "first_seen_at", "op": "in_last_days", "value": 30}),
        ),
        (
            ReadyMade(
                "dormant-vip",
                _("Dormant VIPs"),
                _("Top-revenue (ABC class A) customers whose last order was more than 180 days ago."),
            ),
            _rule(
                {
                    "all": [
                        {"type": "metric", "field": "abc_class", "op": "eq", "value": "A"},
                        {
                            "type": "metric",
                            "field": "last_order_at",
                            "op": "before_days_ago",
                            "value": VIP_DORMANT_DAYS,
                        },
                    ]
                }
            ),
        ),
    ]


@transaction.atomic
def install_ready_made_segments() -> list[Segment]:
    """Create or update the ready-made segments (organisation-wide, owned by the system)."""
    stores = dict(Store.objects.filter(source__in=[STORE_A, STORE_B]).values_list("source", "pk"))
    installed = []
    for spec, rule in _definitions(stores):
        if rule is None:
            continue
        existing = Segment.objects.filter(key=spec.key).first()
        if existing is None:
            installed.append(
                create_segment(
                    actor=None,
                    name=str(spec.name),
                    description=str(spec.description),
                    rule=rule,
                    key=spec.key,
                )
            )
            continue
        parsed = rules.parse_rule(rule).to_json()
        if existing.rule != parsed or existing.name != str(spec.name):
            Segment.objects.filter(pk=existing.pk).update(
                rule=parsed, name=str(spec.name), description=str(spec.description)
            )
            existing.refresh_from_db()
        installed.append(existing)
    return installed
