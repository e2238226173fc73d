"""The fields a rule may test: their value kind, allowed operators, choices and labels.

One table serves validation (which operator and value a field takes), the compiler (which column it
reads), the builder's field picker and the sentence that reads a rule aloud.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guanxi.analytics.models import AbcClass, CustomerClass, LifecycleStage, RfmSegment
from guanxi.commerce.models import Channel, Event, Order
from guanxi.customers.models import ConsentChannel, Gender, Identity


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    # Dates only, counted back from "now": within the last N days / more than N days ago.
    IN_LAST_DAYS = "in_last_days"
    BEFORE_DAYS_AGO = "before_days_ago"


class Kind(StrEnum):
    CHOICE = "choice"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"


CHOICE_OPS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_SET, Op.IS_NOT_SET)
TEXT_OPS = CHOICE_OPS
NUMBER_OPS = (Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN, Op.IS_SET, Op.IS_NOT_SET)
DATE_OPS = (*NUMBER_OPS, Op.IN_LAST_DAYS, Op.BEFORE_DAYS_AGO)
OPS_BY_KIND = {
    Kind.CHOICE: CHOICE_OPS,
    Kind.TEXT: TEXT_OPS,
    Kind.INTEGER: NUMBER_OPS,
    Kind.NUMBER: NUMBER_OPS,
    Kind.DATE: DATE_OPS,
}
# Aggregates over orders and events are never "unset": they compare numbers.
AGGREGATE_OPS = (Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN)

OP_LABELS: dict[str, Promise] = {
    Op.EQ: _("is"),
    Op.NE: _("is not"),
    Op.IN: _("is one of"),
    Op.NOT_IN: _("is none of"),
    Op.GT: _("more than"),
    Op.GTE: _("at least"),
    Op.LT: _("less than"),
    Op.LTE: _("at most"),
    Op.BETWEEN: _("between"),
    Op.IS_SET: _("is known"),
    Op.IS_NOT_SET: _("is unknown"),
    Op.IN_LAST_DAYS: _("in the last N days"),
    Op.BEFORE_DAYS_AGO: _("more than N days ago"),
}


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: Promise
    kind: Kind
    column: str
    choices: tuple[tuple[str, Promise], ...] = ()
    # Bounds a value must respect (scores 1–5, probabilities 0–1).
    minimum: float | None = None
    maximum: float | None = None
    ops: tuple[str, ...] = field(default=())
    # A DATE field stored as a timestamp: dates compare by local calendar day.
    timestamp: bool = False

    @property
    def operators(self) -> tuple[str, ...]:
        return self.ops or OPS_BY_KIND[self.kind]

    def choice_label(self, value: str) -> str:
        return str(dict(self.choices).get(value, value))


def _choices(text_choices) -> tuple[tuple[str, Promise], ...]:
    return tuple((value, label) for value, label in text_choices.choices)


PROFILE_FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in (
        FieldSpec(
            "gender",
            _("gender"),
            Kind.CHOICE,
            "gender",
            tuple((v, lbl) for v, lbl in Gender.choices if v),
            ops=(Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_SET, Op.IS_NOT_SET),
        ),
        # Age in whole years on today's date, from the birthday.
        FieldSpec("age", _("age"), Kind.INTEGER, "birthday", minimum=0, maximum=150),
        FieldSpec("birthday", _("birthday"), Kind.DATE, "birthday"),
        FieldSpec("province", _("province"), Kind.TEXT, "province"),
        FieldSpec("city", _("city"), Kind.TEXT, "city"),
        FieldSpec("district", _("district"), Kind.TEXT, "district"),
        FieldSpec("occupation", _("occupation"), Kind.TEXT, "occupation"),
        FieldSpec("source_channel", _("source channel"), Kind.TEXT, "source_channel"),
        FieldSpec(
            "first_seen_at",
            _("first seen"),
            Kind.DATE,
            "first_seen_at",
            ops=(Op.GTE, Op.LTE, Op.BETWEEN, Op.IN_LAST_DAYS, Op.BEFORE_DAYS_AGO),
            timestamp=True,
        ),
    )
}

METRIC_FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in (
        FieldSpec("r_score", _("R score"), Kind.INTEGER, "r_score", minimum=1, maximum=5),
        FieldSpec("f_score", _("F score"), Kind.INTEGER, "f_score", minimum=1, maximum=5),
        FieldSpec("m_score", _("M score"), Kind.INTEGER, "m_score", minimum=1, maximum=5),
        FieldSpec("rfm_segment", _("RFM segment"), Kind.CHOICE, "rfm_segment", _choices(RfmSegment)),
        FieldSpec("abc_class", _("ABC class"), Kind.CHOICE, "abc_class", _choices(AbcClass)),
        FieldSpec("predicted_clv", _("predicted lifetime value"), Kind.NUMBER, "predicted_clv"),
        FieldSpec("churn_risk", _("churn risk"), Kind.NUMBER, "churn_risk", minimum=0, maximum=1),
        FieldSpec(
            "probability_alive",
            _("probability still active"),
            Kind.NUMBER,
            "probability_alive",
            minimum=0,
            maximum=1,
        ),
        FieldSpec(
            "lifecycle_stage", _("lifecycle stage"), Kind.CHOICE, "lifecycle_stage", _choices(LifecycleStage)
        ),
        FieldSpec(
            "customer_class", _("customer class"), Kind.CHOICE, "customer_class", _choices(CustomerClass)
        ),
        FieldSpec("orders", _("number of orders"), Kind.INTEGER, "orders", minimum=0),
        FieldSpec("total_spend", _("total spend"), Kind.NUMBER, "total_spend"),
        FieldSpec("average_order_value", _("average order value"), Kind.NUMBER, "average_order_value"),
        FieldSpec("recency_days", _("days since last order"), Kind.INTEGER, "recency_days", minimum=0),
        FieldSpec("first_order_at", _("first order date"), Kind.DATE, "first_order_at", timestamp=True),
        FieldSpec("last_order_at", _("last order date"), Kind.DATE, "last_order_at", timestamp=True),
        FieldSpec("expected_next_order_at", _("expected next order"), Kind.DATE, "expected_next_order_at"),
    )
}

ORDER_MEASURES: dict[tuple[str, str], Promise] = {
    ("orders", "count"): _("number of orders"),
    ("orders", "sum"): _("total order amount"),
    ("orders", "avg"): _("average order amount"),
    ("orders", "max"): _("largest order amount"),
    ("lines", "count"): _("number of order lines"),
    ("lines", "sum"): _("total line amount"),
    ("lines", "avg"): _("average line amount"),
    ("lines", "max"): _("largest line amount"),
}

IDENTITY_KINDS = _choices(Identity.Kind)
CONSENT_CHANNELS = _choices(ConsentChannel)
EVENT_KINDS = _choices(Event.Kind)
ORDER_STATUSES = _choices(Order.Status)
DEVICES = tuple((value, label) for value, label in Order.Device.choices if value)
CHANNELS = _choices(Channel)
