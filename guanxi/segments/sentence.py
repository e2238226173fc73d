"""A rule read aloud, in the user's language: "年龄25–49岁 且 性别为女性 且 近365天购买过 毛巾浴巾 类商品".

Every piece is a translatable template, so the catalogues decide word order in each language.
"""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from guanxi.commerce.models import Store
from guanxi.customers.models import Tag
from guanxi.segments import rules
from guanxi.segments.catalogue import (
    CONSENT_CHANNELS,
    EVENT_KINDS,
    IDENTITY_KINDS,
    METRIC_FIELDS,
    OP_LABELS,
    ORDER_MEASURES,
    ORDER_STATUSES,
    PROFILE_FIELDS,
    FieldSpec,
    Op,
)
from guanxi.segments.models import Segment


def describe(rule: rules.Rule, names: dict[str, dict[int, str]] | None = None) -> str:
    """The whole rule as one sentence. `names` maps ids to names: {"tags": {…}, "stores": {…}, "segments": {…}}."""
    text = _node(rule.root, names or {}, top=True)
    return text or _("All customers")


def _node(node: Any, names: dict, top: bool = False) -> str:
    if isinstance(node, rules.AllGroup | rules.AnyGroup):
        children = node.all if isinstance(node, rules.AllGroup) else node.any
        if not children:
            return _("all customers") if isinstance(node, rules.AllGroup) else _("nobody")
        joiner = _(" and ") if isinstance(node, rules.AllGroup) else _(" or ")
        text = joiner.join(_node(child, names) for child in children)
        return text if top or len(children) == 1 else f"({text})"
    if isinstance(node, rules.NotGroup):
        return _("not %(condition)s") % {"condition": _node(node.not_, names)}
    return DESCRIBERS[type(node)](node, names)


def _value(spec: FieldSpec | None, value: Any) -> str:
    if isinstance(value, list):
        return _(", ").join(_value(spec, item) for item in value)
    if spec is not None and spec.choices:
        return spec.choice_label(value)
    return str(value)


def _comparison(label: str, spec: FieldSpec | None, op: str, value: Any) -> str:
    if op == Op.BETWEEN:
        return _("%(field)s %(low)s–%(high)s") % {
            "field": label,
            "low": _value(spec, value[0]),
            "high": _value(spec, value[1]),
        }
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        return f"{label} {OP_LABELS[op]}"
    if op == Op.IN_LAST_DAYS:
        return _("%(field)s within the last %(days)s days") % {"field": label, "days": value}
    if op == Op.BEFORE_DAYS_AGO:
        return _("%(field)s more than %(days)s days ago") % {"field": label, "days": value}
    return f"{label} {OP_LABELS[op]} {_value(spec, value)}"


def _profile(node: rules.ProfileCondition, names: dict) -> str:
    spec = PROFILE_FIELDS[node.field]
    if node.field == "age" and node.op == Op.BETWEEN:
        return _("aged %(low)s–%(high)s") % {"low": node.value[0], "high": node.value[1]}
    return _comparison(str(spec.label), spec, node.op, node.value)


def _metric(node: rules.MetricCondition, names: dict) -> str:
    spec = METRIC_FIELDS[node.field]
    return _comparison(str(spec.label), spec, node.op, node.value)


def _custom(node: rules.CustomFieldCondition, names: dict) -> str:
    return _comparison(node.key, None, node.op, node.value)


def _identity(node: rules.IdentityCondition, names: dict) -> str:
    kind = dict(IDENTITY_KINDS)[node.kind]
    return (_("has a %(kind)s") if node.present else _("has no %(kind)s")) % {"kind": kind}


def _consent(node: rules.ConsentCondition, names: dict) -> str:
    channel = dict(CONSENT_CHANNELS)[node.channel]
    template = {
        "granted": _("agreed to %(channel)s messages"),
        "withdrawn": _("withdrew consent to %(channel)s messages"),
        "unknown": _("never asked about %(channel)s messages"),
    }[node.state]
    return template % {"channel": channel}


def _tags(node: rules.TagCondition, names: dict) -> str:
    tag_names = _(", ").join(names.get("tags", {}).get(pk, f"#{pk}") for pk in node.tags)
    template = {
        "any": _("tagged with any of %(tags)s"),
        "all": _("tagged with all of %(tags)s"),
        "none": _("tagged with none of %(tags)s"),
    }[node.match]
    return template % {"tags": tag_names}


def window_text(window: Any) -> str:
    if window is None:
        return ""
    if isinstance(window, rules.LastWindow):
        if window.unit == "hours":
            return _("in the last %(hours)s hours") % {"hours": window.amount}
        return _("in the last %(days)s days") % {"days": window.amount}
    if isinstance(window, rules.DaysAgoWindow):
        return _("between %(far)s and %(near)s days ago") % {"far": window.max_days, "near": window.min_days}
    if window.start and window.end:
        return _("from %(start)s to %(end)s") % {"start": window.start, "end": window.end}
    if window.start:
        return _("since %(start)s") % {"start": window.start}
    return _("until %(end)s") % {"end": window.end}


def _filters(filters: rules.OrderFilters, names: dict) -> str:
    parts = []
    if filters.categories:
        parts.append(_("in category %(names)s") % {"names": _(", ").join(filters.categories)})
    if filters.products:
        parts.append(_("of product %(names)s") % {"names": _(", ").join(filters.products)})
    if filters.stores:
        stores = names.get("stores", {})
        parts.append(
            _("in store %(names)s")
            % {"names": _(", ").join(stores.get(pk, f"#{pk}") for pk in filters.stores)}
        )
    if filters.channels:
        parts.append(_("on %(names)s") % {"names": _(", ").join(filters.channels)})
    if filters.statuses:
        statuses = dict(ORDER_STATUSES)
        parts.append(
            _("with status %(names)s") % {"names": _(", ").join(str(statuses[s]) for s in filters.statuses)}
        )
    if filters.devices:
        parts.append(_("on device %(names)s") % {"names": _(", ").join(filters.devices)})
    if filters.min_amount is not None:
        parts.append(_("of at least %(amount)s") % {"amount": filters.min_amount})
    if filters.max_amount is not None:
        parts.append(_("of at most %(amount)s") % {"amount": filters.max_amount})
    return " ".join(parts)


def _orders(node: rules.OrderCondition, names: dict) -> str:
    details = " ".join(part for part in (_filters(node.filters, names), window_text(node.window)) if part)
    if node.measure == "count" and (
        (node.op == Op.GTE and node.value == 1) or (node.op == Op.GT and node.value == 0)
    ):
        return (_("bought %(details)s") % {"details": details}).strip()
    if node.measure == "count" and node.op == Op.EQ and node.value == 0:
        return (_("never bought %(details)s") % {"details": details}).strip()
    label = str(ORDER_MEASURES[(node.of, node.measure)])
    comparison = _comparison(label, None, node.op, node.value)
    return f"{comparison} {details}".strip()


def _event(node: rules.EventCondition, names: dict) -> str:
    kind = dict(EVENT_KINDS)[node.kind]
    props = _(", ").join(f"{p.key} {OP_LABELS[p.op]} {_value(None, p.value)}" for p in node.properties)
    template = (
        _("did “%(event)s” at least %(times)s times")
        if node.did
        else _("did not do “%(event)s” %(times)s times")
    )
    text = template % {"event": kind, "times": node.at_least}
    if props:
        text += " " + _("where %(properties)s") % {"properties": props}
    window = window_text(node.window)
    return f"{text} {window}".strip()


def _segment(node: rules.SegmentCondition, names: dict) -> str:
    name = names.get("segments", {}).get(node.segment, f"#{node.segment}")
    return (_("in segment “%(name)s”") if node.member else _("not in segment “%(name)s”")) % {"name": name}


def _loyalty(node: rules.LoyaltyCondition, names: dict) -> str:
    if node.field == "member":
        return _("is a loyalty member")
    template = {
        "eq": _("%(what)s is %(value)s"),
        "ne": _("%(what)s is not %(value)s"),
        "gt": _("%(what)s is more than %(value)s"),
        "gte": _("%(what)s is at least %(value)s"),
        "lt": _("%(what)s is less than %(value)s"),
        "lte": _("%(what)s is at most %(value)s"),
    }[node.op]
    what = _("loyalty tier rank") if node.field == "tier" else _("loyalty points")
    return template % {"what": what, "value": node.value}


DESCRIBERS: dict[type, Callable[[Any, dict], str]] = {
    rules.ProfileCondition: _profile,
    rules.MetricCondition: _metric,
    rules.CustomFieldCondition: _custom,
    rules.IdentityCondition: _identity,
    rules.ConsentCondition: _consent,
    rules.TagCondition: _tags,
    rules.OrderCondition: _orders,
    rules.EventCondition: _event,
    rules.SegmentCondition: _segment,
    rules.LoyaltyCondition: _loyalty,
}


def names_for(rule: rules.Rule, user: Any) -> dict[str, dict[int, str]]:
    """Names of the tags, stores and segments a rule mentions, as the user may see them."""
    tag_ids, store_ids, segment_ids = set(), set(), set()
    for node, _path in rules.walk(rule.root):
        if isinstance(node, rules.TagCondition):
            tag_ids.update(node.tags)
        elif isinstance(node, rules.OrderCondition):
            store_ids.update(node.filters.stores)
        elif isinstance(node, rules.SegmentCondition):
            segment_ids.add(node.segment)
    return {
        "tags": dict(Tag.objects.restrict(user, "view").filter(pk__in=tag_ids).values_list("pk", "name")),
        "stores": dict(
            Store.objects.restrict(user, "view").filter(pk__in=store_ids).values_list("pk", "name")
        ),
        "segments": dict(
            Segment.objects.restrict(user, "view").filter(pk__in=segment_ids).values_list("pk", "name")
        ),
    }
