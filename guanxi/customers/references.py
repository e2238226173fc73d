"""What other apps hold about a customer, declared by the app that owns it.

Every model that points at a customer says how a merge treats its rows; an app may also add items to
the customer's timeline, a section to the 360 page and API, a lookup to the search box and a filter to
the customer list. Apps register from their `AppConfig.ready()`, so `customers` never imports them:
merging, the timeline, the 360 read model and the list read this registry (ADR 0029).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import QuerySet

# --- merge rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repoint:
    """The absorbed customer's rows move to the survivor. With `unique_with`, two rows agreeing on
    those fields clash: the one with the lowest `keep` value stays ("-field": the highest), ties
    keep the survivor's, and the other is deleted (kept in the merge record for undo)."""

    unique_with: tuple[str, ...] = ()
    keep: str = ""


@dataclass(frozen=True)
class Recompute:
    """Rows stay where they are; the owning app recomputes the survivor's from the moved facts."""

    how: str


@dataclass(frozen=True)
class Keep:
    """Rows about the merge itself (or a record of history) that a merge must not move."""

    why: str


MergeRule = Repoint | Recompute | Keep


@dataclass(frozen=True)
class Reference:
    key: str
    model: type[models.Model]
    field: str
    rule: MergeRule


_references: dict[str, Reference] = {}


def register_reference(
    key: str, model: type[models.Model], rule: MergeRule, *, field: str = "customer"
) -> None:
    """Declare that `model.field` points at a customer and how a merge treats it. `key` names the
    table in merge records, so it must never change once merges have been recorded."""
    known = _references.get(key)
    if known is not None and (known.model, known.field) != (model, field):
        raise ValueError(f"customer reference {key!r} is already registered for {known.model.__name__}")
    _references[key] = Reference(key, model, field, rule)


def references() -> list[Reference]:
    return list(_references.values())


def repointed() -> list[Reference]:
    """The references a merge moves, in registration order (undo restores them in the same order)."""
    return [ref for ref in _references.values() if isinstance(ref.rule, Repoint)]


def unregistered_relations() -> list[str]:
    """`app.Model.field` for every foreign key or one-to-one to Customer in any installed model that
    no app registered, hidden ones (related_name="+") included; empty when the registry is complete."""
    from django.apps import apps

    from guanxi.customers.models import Customer

    registered = {(ref.model, ref.field) for ref in _references.values()}
    return sorted(
        f"{model._meta.label}.{relation.name}"
        for model in apps.get_models()
        for relation in model._meta.get_fields()
        if relation.concrete
        and relation.is_relation
        and relation.related_model is Customer
        and (model, relation.name) not in registered
    )


# --- timeline sources --------------------------------------------------------------------------

# (customer, user, limit) -> TimelineItem list, newest first, scoped for the user by the source.
TimelineSource = Callable[[Any, Any, int], list[Any]]
_timeline_sources: dict[str, TimelineSource] = {}


def register_timeline_source(key: str, source: TimelineSource) -> None:
    """Add items read from another app's rows (orders, tickets, points) to every customer timeline.
    A source item replaces a stored event about the same record (same source type, id and kind)."""
    _timeline_sources[key] = source


def timeline_sources() -> list[TimelineSource]:
    return list(_timeline_sources.values())


# --- 360 sections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiPart:
    """A section's field in `GET /api/v1/customers/{id}`: its type, description and value."""

    schema: Any
    description: str
    read: Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Section:
    """A part of the customer 360 page: `fetch(user, customer)` gives the value its templates render
    (as `value`), `kpi_template` adds figures to the strip at the top, `api` its API field."""

    key: str
    template: str
    fetch: Callable[[Any, Any], Any]
    kpi_template: str = ""
    api: ApiPart | None = None


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    _sections[section.key] = section


def sections() -> list[Section]:
    return list(_sections.values())


# --- search lookups and list filters -----------------------------------------------------------

# (user, text) -> customer ids the text identifies among records the user may see (an order number).
SearchLookup = Callable[[Any, str], Iterable[int]]
_search_lookups: dict[str, SearchLookup] = {}


def register_search_lookup(key: str, lookup: SearchLookup) -> None:
    _search_lookups[key] = lookup


def search_lookups() -> list[SearchLookup]:
    return list(_search_lookups.values())


@dataclass(frozen=True)
class ListFilter:
    """A choice filter on the customer list: `apply(customers, user, value, unit_id)` narrows the
    already scoped queryset for a chosen value ("" is never passed); `unit_id` is the unit picked in
    the list, if any."""

    key: str
    label: Any
    choices: Callable[[], list[tuple[str, Any]]]
    apply: Callable[[QuerySet, Any, str, int | None], QuerySet]


_list_filters: dict[str, ListFilter] = {}


def register_list_filter(list_filter: ListFilter) -> None:
    _list_filters[list_filter.key] = list_filter


def list_filters() -> list[ListFilter]:
    return list(_list_filters.values())


# --- facts beside a profile --------------------------------------------------------------------

# (user, customer) -> (label, value) pairs shown where people compare two profiles (the merge queue).
ProfileFacts = Callable[[Any, Any], list[tuple[Any, str]]]
_profile_facts: dict[str, ProfileFacts] = {}


def register_profile_facts(key: str, facts: ProfileFacts) -> None:
    _profile_facts[key] = facts


def profile_facts(user: Any, customer: Any) -> list[tuple[Any, str]]:
    return [fact for facts in _profile_facts.values() for fact in facts(user, customer)]


# --- personal data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteRows:
    """Erasing the person deletes their rows; `customer` is the field path from the model to them."""

    customer: str = "customer"


@dataclass(frozen=True)
class Blank:
    """Erasing the person empties these fields of their rows; the rows stay (counts, amounts, links)."""

    customer: str = "customer"


@dataclass(frozen=True)
class Scrub:
    """Rows not tied to the person (payloads, job parameters, error texts): wherever one of the
    person's values appears in these fields, erasure replaces it."""


@dataclass(frozen=True)
class Retain:
    """Kept on erasure (the allow-list), for the reason given; the privacy guide lists each one."""

    why: str


@dataclass(frozen=True)
class NotPersonal:
    """A field whose name looks personal but holds none (a store's name, a template's body)."""

    why: str


PiiHandling = DeleteRows | Blank | Scrub | Retain | NotPersonal


@dataclass(frozen=True)
class PiiFields:
    model: type[models.Model]
    fields: tuple[str, ...]
    how: PiiHandling


_pii: list[PiiFields] = []

# Field names that look like personal data: every such text or JSON field of an installed model must
# be declared (a test reads `undeclared_pii_fields`), so a new model cannot slip past erasure.
PII_LOOKING = (
    "phone",
    "mobile",
    "email",
    "name",
    "address",
    "receiver",
    "street",
    "body",
    "payload",
    "text",
    "note",
    "evidence",
    "content",
    "subject",
    "properties",
    "attributes",
    "params",
    "data",
    "snapshot",
    "context",
    "detail",
    "response",
    "message",
    "value",
    "label",
    "recipient",
)


def register_pii(model: type[models.Model], fields: Iterable[str], how: PiiHandling) -> None:
    """Declare how erasure treats `fields` of `model` (and what the subject access export holds)."""
    names = tuple(fields)
    known = {field.name for field in model._meta.concrete_fields}
    unknown = set(names) - known
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
    _pii.append(PiiFields(model, names, how))


def pii_fields() -> list[PiiFields]:
    return list(_pii)


def undeclared_pii_fields(registry: Any = None) -> list[str]:
    """`app.Model.field` for every text, JSON or binary field of an installed Guanxi model (in `registry`,
    by default Django's) whose name looks personal and that no app declared with `register_pii`;
    empty when the inventory is complete."""
    from django.apps import apps

    declared = {(item.model, name) for item in _pii for name in item.fields}
    kinds = (models.CharField, models.TextField, models.JSONField, models.BinaryField)
    return sorted(
        f"{model._meta.label}.{field.name}"
        for model in (registry or apps).get_models()
        if model.__module__.startswith("guanxi.")
        for field in model._meta.concrete_fields
        if isinstance(field, kinds)
        and not field.choices
        and any(word in field.name for word in PII_LOOKING)
        and (model, field.name) not in declared
    )


# --- identities received -----------------------------------------------------------------------

# ({IdentityKey: customer id}) -> None, told of identities just given to customers (an import, a
# webhook, a form); privacy marks a profile receiving an erased address as not marketable.
IdentityListener = Callable[[Any], None]
_identity_listeners: dict[str, IdentityListener] = {}


def register_identity_listener(key: str, listener: IdentityListener) -> None:
    _identity_listeners[key] = listener


def identities_received(identities: Any) -> None:
    if identities:
        for listener in _identity_listeners.values():
            listener(identities)
