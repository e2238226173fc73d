"""The shape of a flow version: a trigger, an ordered list of steps, exit conditions and a goal.

    {"trigger": {"kind": "order_placed", "unpaid_only": true},
     "steps": [{"id": "s1", "kind": "wait", "minutes": 30},
               {"id": "s2", "kind": "send", "template": "unpaid_reminder"},
               {"id": "s3", "kind": "condition", "rule": {...segment rule...}, "no": "end"},
               {"id": "s4", "kind": "split", "percent_b": 50, "b": "s6"},
               {"id": "s5", "kind": "coupon", "coupon_template": 3},
               {"id": "s6", "kind": "tag", "tag": 9},
               {"id": "s7", "kind": "wait_event", "event_kind": "checkout_started", "hours": 24,
                "timeout": "end"},
               {"id": "s8", "kind": "ticket", "subject": "Call about the cart"}],
     "exit": ["order_paid"], "goal": "order_placed"}

Steps run in order; a condition's `no`, a split's `b`, a wait for an event's `timeout` and any step's
`next` jump forward only (to a later step or "end"),
so a step runs at most once per enrolment, which the UNIQUE (enrolment, step) of `StepRun` enforces.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

END = "end"
BRANCHES = ("no", "b", "next", "timeout")

TRIGGERS = {
    "order_placed": _("Order placed"),
    "order_paid": _("Order paid"),
    "order_shipped": _("Order shipped"),
    "order_delivered": _("Order delivered / signed for"),
    "order_refunded": _("Refund recorded"),
    "cart_abandoned": _("Cart abandoned"),
    "event": _("Behavioural event"),
    "segment_entered": _("Entered a segment"),
    "segment_exited": _("Left a segment"),
    "tier_changed": _("Tier upgraded"),
    "member_joined": _("Joined the loyalty programme"),
    "birthday": _("Birthday"),
    "fixed_date": _("Fixed date each year"),
}
# Triggers found by the periodic scan (their sources do not write the customer change feed).
SCANNED_TRIGGERS = {
    "segment_entered",
    "segment_exited",
    "tier_changed",
    "member_joined",
    "birthday",
    "fixed_date",
}

STEP_KINDS = {
    "wait": _("Wait"),
    "send": _("Send a message"),
    "coupon": _("Issue a coupon"),
    "tag": _("Add or remove a tag"),
    "points": _("Add points"),
    "ticket": _("Open a service ticket"),
    "follow_up": _("Plan a follow-up call"),
    "webhook": _("Call a webhook"),
    "wait_event": _("Wait for an event"),
    "condition": _("Condition split"),
    "split": _("Random split (A/B)"),
}

EXITS = {
    "order_paid": _("The order is paid"),
    "order_placed": _("A new order is placed"),
    "order_refunded": _("The order is refunded"),
}
GOALS = {"order_placed": _("Places an order")}


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    params: dict[str, Any]

    def target(self, branch: str) -> str | None:
        value = self.params.get(branch)
        return str(value) if value else None


def steps_of(definition: dict[str, Any]) -> list[Step]:
    return [
        Step(str(raw["id"]), str(raw["kind"]), {k: v for k, v in raw.items() if k not in ("id", "kind")})
        for raw in definition.get("steps", [])
    ]


def first_step(definition: dict[str, Any]) -> str:
    steps = steps_of(definition)
    return steps[0].id if steps else END


def next_after(definition: dict[str, Any], step_id: str) -> str:
    ids = [step.id for step in steps_of(definition)]
    position = ids.index(step_id)
    return ids[position + 1] if position + 1 < len(ids) else END


def find(definition: dict[str, Any], step_id: str) -> Step | None:
    return next((step for step in steps_of(definition) if step.id == step_id), None)


def validate(definition: dict[str, Any]) -> None:
    """Raise ValidationError unless the definition is one the engine can run."""
    trigger = definition.get("trigger") or {}
    if trigger.get("kind") not in TRIGGERS:
        raise ValidationError({"trigger": _("Choose a trigger.")})
    if trigger["kind"] in ("segment_entered", "segment_exited") and not trigger.get("segment"):
        raise ValidationError({"trigger": _("Choose the segment.")})
    if trigger["kind"] == "fixed_date" and not trigger.get("month_day"):
        raise ValidationError({"trigger": _("Give the date (MM-DD).")})
    steps = steps_of(definition)
    if not steps:
        raise ValidationError({"steps": _("A flow needs at least one step.")})
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids) or END in ids:
        raise ValidationError({"steps": _("Step ids must be unique.")})
    for position, step in enumerate(steps):
        if step.kind not in STEP_KINDS:
            raise ValidationError({"steps": _("Unknown step kind.")})
        for branch in BRANCHES:
            target = step.target(branch)
            if target and target != END and (target not in ids or ids.index(target) <= position):
                raise ValidationError({"steps": _("A branch can only jump to a later step.")})
        if step.kind == "send" and not step.params.get("template"):
            raise ValidationError({"steps": _("A message step needs a template.")})
        if step.kind == "coupon" and not step.params.get("coupon_template"):
            raise ValidationError({"steps": _("A coupon step needs a coupon template.")})
        if step.kind == "tag" and not step.params.get("tag"):
            raise ValidationError({"steps": _("A tag step needs a tag.")})
        if step.kind == "points" and not step.params.get("points"):
            raise ValidationError({"steps": _("A points step needs a number of points.")})
        if step.kind == "wait_event" and not (
            (step.params.get("event_kind") or step.params.get("name")) and step.params.get("hours")
        ):
            raise ValidationError({"steps": _("A wait for an event needs the event and a timeout in hours.")})
        if step.kind == "wait" and not (
            step.params.get("minutes") or step.params.get("days") or step.params.get("at")
        ):
            raise ValidationError({"steps": _("A wait needs a duration or a time of day.")})
    for name in definition.get("exit", []):
        if name not in EXITS:
            raise ValidationError({"exit": _("Unknown exit condition.")})
