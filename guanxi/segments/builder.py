"""The rule builder's form: a rule tree rendered as nested form fields, and read back from a POST.

Each node has a path ("r", "r.0", "r.0.2") and its fields are named "<path>:<name>". Structural
edits (add a condition or group, remove, negate) arrive as `action=<verb>:<path>` and are applied
to the tree read from the form, so the server holds no builder state between requests.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from guanxi.customers.models import CustomFieldDefinition
from guanxi.segments.catalogue import (
    AGGREGATE_OPS,
    CONSENT_CHANNELS,
    EVENT_KINDS,
    IDENTITY_KINDS,
    METRIC_FIELDS,
    OP_LABELS,
    ORDER_MEASURES,
    ORDER_STATUSES,
    PROFILE_FIELDS,
    FieldSpec,
    Kind,
    Op,
)

ROOT = "r"
MAX_CHILDREN = 100
LIST_OPS = (Op.IN, Op.NOT_IN)
DEFAULT_CONDITION = {"type": "profile", "field": "gender", "op": "eq", "value": "female"}
WINDOWS = (
    ("", _("any time")),
    ("last:24:hours", _("in the last 24 hours")),
    ("last:7:days", _("in the last 7 days")),
    ("last:30:days", _("in the last 30 days")),
    ("last:90:days", _("in the last 90 days")),
    ("last:180:days", _("in the last 180 days")),
    ("last:365:days", _("in the last 365 days")),
    ("days_ago:365:730", _("between 730 and 365 days ago")),
)


@dataclass(frozen=True)
class PickerEntry:
    key: str
    label: Any
    group: Any


def picker(custom_fields: list[CustomFieldDefinition] | None = None) -> list[PickerEntry]:
    """Every field a condition can test, grouped for the picker."""
    entries = [PickerEntry(f"profile.{k}", s.label, _("Profile")) for k, s in PROFILE_FIELDS.items()]
    entries += [
        PickerEntry("identity", _("identity present"), _("Profile")),
        PickerEntry("consent", _("consent"), _("Profile")),
        PickerEntry("tags", _("tags"), _("Profile")),
    ]
    entries += [
        PickerEntry(f"custom_field.{d.key}", d.label, _("Custom fields")) for d in custom_fields or []
    ]
    entries += [PickerEntry(f"metric.{k}", s.label, _("Metrics")) for k, s in METRIC_FIELDS.items()]
    entries += [
        PickerEntry(f"orders.{of}.{m}", label, _("Orders")) for (of, m), label in ORDER_MEASURES.items()
    ]
    entries += [
        PickerEntry("event", _("behaviour (events)"), _("Behaviour")),
        PickerEntry("segment", _("member of segment"), _("Segments")),
    ]
    return entries


def picker_groups(entries: list[PickerEntry]) -> list[tuple[Any, list[PickerEntry]]]:
    """The picker's entries under their group headings (a <select>'s optgroups), in order."""
    groups: dict[str, tuple[Any, list[PickerEntry]]] = {}
    for entry in entries:
        groups.setdefault(str(entry.group), (entry.group, []))[1].append(entry)
    return list(groups.values())


# Rule JSON → view of nested nodes for the template.


def node_view(node: Any, path: str = ROOT, categories: tuple[str, ...] = ()) -> dict[str, Any]:
    """The tree as the template draws it; `categories` are the product categories to offer."""
    if isinstance(node, dict) and ("all" in node or "any" in node):
        kind = "all" if "all" in node else "any"
        children = node[kind] if isinstance(node[kind], list) else []
        return {
            "path": path,
            "kind": kind,
            "children": [node_view(child, f"{path}.{i}", categories) for i, child in enumerate(children)],
        }
    if isinstance(node, dict) and "not" in node:
        return {"path": path, "kind": "not", "children": [node_view(node["not"], f"{path}.0", categories)]}
    return {
        "path": path,
        "kind": "condition",
        "condition": _condition_view(node if isinstance(node, dict) else {}, categories),
    }


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _window_key(window: Any) -> str:
    if not isinstance(window, dict):
        return ""
    if window.get("type") == "last":
        return f"last:{window.get('amount')}:{window.get('unit', 'days')}"
    if window.get("type") == "days_ago":
        return f"days_ago:{window.get('min_days')}:{window.get('max_days')}"
    return f"dates:{window.get('start') or ''}:{window.get('end') or ''}"


def _condition_view(data: dict, categories: tuple[str, ...] = ()) -> dict[str, Any]:
    kind = data.get("type", "profile")
    view: dict[str, Any] = {"type": kind, "op": data.get("op", ""), "value": "", "value2": ""}
    value = data.get("value")
    if data.get("op") == Op.BETWEEN and isinstance(value, list) and len(value) == 2:
        view["value"], view["value2"] = str(value[0]), str(value[1])
    else:
        view["value"] = _joined(value)
    spec: FieldSpec | None = None
    if kind in ("profile", "metric"):
        view["field"] = f"{kind}.{data.get('field', '')}"
        spec = (PROFILE_FIELDS if kind == "profile" else METRIC_FIELDS).get(data.get("field", ""))
    elif kind == "custom_field":
        view["field"] = f"custom_field.{data.get('key', '')}"
    elif kind == "orders":
        view["field"] = f"orders.{data.get('of', 'orders')}.{data.get('measure', 'count')}"
        filters = data.get("filters") or {}
        chosen = [str(category) for category in filters.get("categories", [])]
        view.update(
            window=_window_key(data.get("window")),
            categories=_joined(chosen),
            category_list=chosen,
            # The shop's categories, and any the rule names that no product has (kept, not dropped).
            category_options=[*categories, *(c for c in chosen if c not in categories)],
            products=_joined(filters.get("products", [])),
            stores=[str(pk) for pk in filters.get("stores", [])],
            statuses=list(filters.get("statuses", [])),
        )
    elif kind == "event":
        view["field"] = "event"
        props = data.get("properties") or [{}]
        view.update(
            kind=data.get("kind", "browse"),
            did=data.get("did", True),
            at_least=data.get("at_least", 1),
            window=_window_key(data.get("window")),
            property_key=props[0].get("key", ""),
            property_keys=[
                *EVENT_PROPERTIES,
                *(
                    [(props[0]["key"], props[0]["key"])]
                    if props[0].get("key") not in dict(EVENT_PROPERTIES)
                    else []
                ),
            ],
            property_value=_joined(props[0].get("value", "")),
        )
    else:
        view["field"] = kind
        view.update({key: value for key, value in data.items() if key not in ("type", "value", "op")})
        if kind == "tags":
            view["tags"] = [str(pk) for pk in data.get("tags", [])]
    view["ops"] = _ops(kind, spec)
    view["choices"] = list(spec.choices) if spec else []
    view["between"] = view["op"] == Op.BETWEEN
    view["takes_value"] = view["op"] not in (Op.IS_SET, Op.IS_NOT_SET)
    # A choice field takes its values from a list: one for is / is not, several for is one of.
    view["many"] = view["op"] in LIST_OPS
    view["values"] = [str(item) for item in value] if isinstance(value, list) else [_joined(value)]
    return view


def _ops(kind: str, spec: FieldSpec | None) -> list[tuple[str, Any]]:
    if kind == "orders":
        codes: tuple = AGGREGATE_OPS
    elif kind == "custom_field":
        codes = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.IS_SET, Op.IS_NOT_SET)
    elif spec is not None:
        codes = spec.operators
    else:
        codes = ()
    return [(str(code), OP_LABELS[code]) for code in codes]


# POST → rule JSON.


def tree_from_post(data: QueryDict) -> dict[str, Any]:
    return {"version": 1, "root": _read(data, ROOT, 0)}


def _read(data: QueryDict, path: str, depth: int) -> dict[str, Any]:
    kind = data.get(f"{path}:node", "condition")
    if kind in ("all", "any", "not") and depth < 12:
        count = min(_int(data.get(f"{path}:n"), 0), MAX_CHILDREN)
        children = [_read(data, f"{path}.{i}", depth + 1) for i in range(count)]
        if kind == "not":
            return {"not": children[0] if children else {"all": []}}
        return {kind: children}
    return _read_condition(data, path)


def _int(raw: Any, default: Any = None) -> Any:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


def _typed(kind: str | None, raw: str) -> Any:
    raw = raw.strip()
    if kind == Kind.INTEGER:
        return _int(raw, raw)
    if kind == Kind.NUMBER:
        return raw
    if kind is None:
        number = _int(raw)
        if number is not None:
            return number
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


def _without_condition_values(data: QueryDict, path: str) -> QueryDict:
    prefix = f"{path}:"
    kept = data.copy()
    for name in list(kept):
        if name.startswith(prefix) and name not in (f"{path}:field", f"{path}:node"):
            del kept[name]
    return kept


def _value(data: QueryDict, path: str, op: str, kind: str | None) -> Any:
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        return None
    if op in LIST_OPS:
        # Ticked boxes (one value each), or one text of values separated by commas.
        return [_typed(kind, item) for item in _list(data, f"{path}:value")]
    raw = data.get(f"{path}:value", "")
    if op == Op.BETWEEN:
        return [_typed(kind, raw), _typed(kind, data.get(f"{path}:value2", ""))]
    if op in (Op.IN_LAST_DAYS, Op.BEFORE_DAYS_AGO):
        return _int(raw, raw)
    return _typed(kind, raw)


def _window(raw: str) -> dict[str, Any] | None:
    parts = (raw or "").split(":")
    if parts[0] == "last" and len(parts) == 3:
        return {"type": "last", "amount": _int(parts[1], 0), "unit": parts[2]}
    if parts[0] == "days_ago" and len(parts) == 3:
        return {"type": "days_ago", "min_days": _int(parts[1], 0), "max_days": _int(parts[2], 0)}
    if parts[0] == "dates" and len(parts) == 3:
        return {"type": "dates", "start": parts[1] or None, "end": parts[2] or None}
    return None


def _list(data: QueryDict, name: str) -> list[str]:
    values = data.getlist(name)
    if len(values) == 1:
        values = values[0].replace("，", ",").split(",")
    return [value.strip() for value in values if value.strip()]


def _read_condition(data: QueryDict, path: str) -> dict[str, Any]:
    field = data.get(f"{path}:field", "profile.gender")
    was = data.get(f"{path}:was", field)
    if was != field:
        # A new field starts afresh: the old operator and value meant something else (a gender is
        # no age), so they are dropped rather than carried into the new condition.
        data = _without_condition_values(data, path)
    op = data.get(f"{path}:op", "")
    group, _dot, name = field.partition(".")
    if group in ("profile", "metric"):
        spec = (PROFILE_FIELDS if group == "profile" else METRIC_FIELDS).get(name)
        if spec is None:
            return {"type": group, "field": name, "op": op}
        op = op if op in spec.operators else spec.operators[0]
        return {"type": group, "field": name, "op": op, "value": _value(data, path, op, spec.kind)}
    if group == "custom_field":
        return {
            "type": "custom_field",
            "key": name,
            "op": op or "eq",
            "value": _value(data, path, op or "eq", None),
        }
    if group == "orders":
        of, _dot, measure = name.partition(".")
        op = op if op in AGGREGATE_OPS else Op.GTE
        kind = Kind.INTEGER if measure == "count" else Kind.NUMBER
        filters: dict[str, Any] = {}
        for key in ("categories", "products"):
            if _list(data, f"{path}:{key}"):
                filters[key] = _list(data, f"{path}:{key}")
        stores = [_int(pk) for pk in _list(data, f"{path}:stores") if _int(pk) is not None]
        if stores:
            filters["stores"] = stores
        if _list(data, f"{path}:statuses"):
            filters["statuses"] = _list(data, f"{path}:statuses")
        value = _value(data, path, op, kind)
        return {
            "type": "orders",
            "of": of or "orders",
            "measure": measure or "count",
            "op": op,
            "value": value if value != "" else 1,
            "window": _window(data.get(f"{path}:window", "")),
            "filters": filters,
        }
    if group == "event":
        condition: dict[str, Any] = {
            "type": "event",
            "kind": data.get(f"{path}:kind", "browse"),
            "did": data.get(f"{path}:did", "true") == "true",
            "at_least": _int(data.get(f"{path}:at_least"), 1),
            "window": _window(data.get(f"{path}:window", "")),
        }
        key = data.get(f"{path}:property_key", "").strip()
        if key:
            condition["properties"] = [
                {"key": key, "op": "eq", "value": _typed(None, data.get(f"{path}:property_value", ""))}
            ]
        return condition
    if group == "tags":
        return {
            "type": "tags",
            "match": data.get(f"{path}:match", "any"),
            "tags": [_int(pk) for pk in data.getlist(f"{path}:tags") if _int(pk) is not None],
        }
    if group == "identity":
        return {
            "type": "identity",
            "kind": data.get(f"{path}:kind", "phone"),
            "present": data.get(f"{path}:present", "true") == "true",
        }
    if group == "consent":
        return {
            "type": "consent",
            "channel": data.get(f"{path}:channel", "sms"),
            "state": data.get(f"{path}:state", "granted"),
        }
    if group == "segment":
        return {
            "type": "segment",
            "segment": _int(data.get(f"{path}:segment"), 0),
            "member": data.get(f"{path}:member", "true") == "true",
        }
    return dict(DEFAULT_CONDITION)


# Structural edits.


def apply_action(rule: dict[str, Any], action: str) -> dict[str, Any]:
    """`add:<path>` (a condition in a group), `group:<path>` (a nested group), `remove:<path>`,
    `negate:<path>` (wrap in not), `switch:<path>` (all ↔ any)."""
    verb, _colon, path = action.partition(":")
    root = rule["root"]
    if path == ROOT:
        parent, index = None, None
        node = root
    else:
        parent_path, _dot, last = path.rpartition(".")
        parent = _find(root, parent_path)
        index = _int(last)
        children = _children(parent)
        if children is None or index is None or not 0 <= index < len(children):
            return rule
        node = children[index]
    if verb in ("add", "group") and isinstance(node, dict) and ("all" in node or "any" in node):
        node[_group_key(node)].append(
            dict(DEFAULT_CONDITION) if verb == "add" else {"all": [dict(DEFAULT_CONDITION)]}
        )
    elif verb == "remove" and parent is not None and index is not None:
        parent[_group_key(parent)].pop(index)
    elif verb == "negate":
        replacement = node["not"] if isinstance(node, dict) and "not" in node else {"not": node}
        _replace(rule, parent, index, replacement)
    elif verb == "switch" and isinstance(node, dict) and ("all" in node or "any" in node):
        replacement = {"any": node["all"]} if "all" in node else {"all": node["any"]}
        _replace(rule, parent, index, replacement)
    if not (isinstance(rule["root"], dict) and ("all" in rule["root"] or "any" in rule["root"])):
        rule["root"] = {"all": [rule["root"]]}
    return rule


def _children(node: Any) -> list | None:
    if not isinstance(node, dict):
        return None
    if "all" in node or "any" in node:
        return node.get("all", node.get("any"))
    if "not" in node:
        return None
    return None


def _group_key(node: dict) -> str:
    return "all" if "all" in node else "any"


def _find(root: Any, path: str) -> Any:
    node = root
    for part in path.split(".")[1:]:
        if isinstance(node, dict) and "not" in node:
            node = node["not"]
            continue
        children = _children(node)
        index = _int(part)
        if children is None or index is None or not 0 <= index < len(children):
            return None
        node = children[index]
    return node


def _replace(rule: dict, parent: Any, index: int | None, replacement: Any) -> None:
    if parent is None:
        rule["root"] = replacement
    elif isinstance(parent, dict) and "not" in parent:
        parent["not"] = replacement
    elif index is not None:
        parent[_group_key(parent)][index] = replacement


# What an event condition may look at among an event's properties (the demo's and the platforms').
EVENT_PROPERTIES = (("", _("any product")), ("category", _("category")), ("sku", _("SKU")))

CHOICE_SETS = {
    "identity_kinds": IDENTITY_KINDS,
    "consent_channels": CONSENT_CHANNELS,
    "event_kinds": EVENT_KINDS,
    "order_statuses": ORDER_STATUSES,
    "windows": WINDOWS,
}


@dataclass(frozen=True)
class Explained:
    """A problem of the rule where the marketer sees it: the condition by its field's name."""

    where: Any
    message: Any
    path: str


PATH_STEP = re.compile(r"\.(all|any)\[(\d+)\]|\.not")


def explain(problem: Any, rule: dict[str, Any], labels: dict[str, Any]) -> Explained:
    """`root.all[0].value: 应为范围内的整数` as «年龄»: 请填写数值 — the condition named by its field,
    and an empty value asked for rather than judged."""
    node: Any = rule.get("root")
    path = problem.path
    for step in PATH_STEP.finditer(path.removeprefix("root")):
        if not isinstance(node, dict):
            break
        node = node.get("not") if step.group(0) == ".not" else _child(node, step.group(1), int(step.group(2)))
    if not isinstance(node, dict) or "type" not in node:
        return Explained(_("The rule"), problem.message, path)
    where = labels.get(_field_key(node), node.get("type"))
    empty = node.get("value") in ("", None, [], ["", ""]) and path.endswith(".value")
    return Explained(where, _("fill in a value") if empty else problem.message, path)


def _child(node: dict, key: str, index: int) -> Any:
    children = node.get(key)
    return children[index] if isinstance(children, list) and index < len(children) else None


def _field_key(node: dict) -> str:
    kind = node.get("type", "")
    if kind in ("profile", "metric"):
        return f"{kind}.{node.get('field', '')}"
    if kind == "custom_field":
        return f"custom_field.{node.get('key', '')}"
    if kind == "orders":
        return f"orders.{node.get('of', 'orders')}.{node.get('measure', 'count')}"
    return kind
