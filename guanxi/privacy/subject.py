"""Who a request is about: the customer and the profiles merged into it, their rows in every table
the registry names, and the values (phones, e-mails, names, identifiers) that identify them."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import phonenumbers
from django.db import models

from guanxi.customers.models import Address, Customer, Identity
from guanxi.customers.references import Blank, DeleteRows, pii_fields, references

# Identifier values shorter than this are not looked for outside the person's own rows: a short
# platform id ("1042") would match unrelated numbers everywhere.
MIN_IDENTIFIER = 6
MIN_NAME = 2


@dataclass
class Subject:
    customer_ids: list[int]
    phones: set[str] = field(default_factory=set)  # E.164
    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    others: set[str] = field(default_factory=set)  # other identifiers, address lines

    def tokens(self) -> list[str]:
        """Every written form of the person's values to look for, longest first."""
        found = set(self.emails) | {name for name in self.names if len(name) >= MIN_NAME}
        found |= {value for value in self.others if len(value) >= MIN_IDENTIFIER}
        for phone in self.phones:
            found |= phone_forms(phone)
        return sorted(found, key=lambda token: (-len(token), token))

    def pattern(self) -> re.Pattern | None:
        tokens = self.tokens()
        if not tokens:
            return None
        return re.compile("|".join(re.escape(token) for token in tokens), re.IGNORECASE)


def phone_forms(phone: str) -> set[str]:
    """+8613812345678, 13812345678, 138 1234 5678, 138-1234-5678 (and the national form elsewhere)."""
    forms = {phone}
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    national = str(number.national_number)
    forms |= {national, f"{number.country_code}{national}"}
    if len(national) == 11:
        forms |= {
            f"{national[:3]} {national[3:7]} {national[7:]}",
            f"{national[:3]}-{national[3:7]}-{national[7:]}",
        }
    return forms


def json_forms(token: str) -> set[str]:
    """The token as a JSON text stores it: SQLite keeps non-ASCII characters as \\u escapes."""
    return {token, json.dumps(token)[1:-1]}


def subject_for(customer: Customer) -> Subject:
    """The customer, every profile merged into it, and the values that identify them."""
    ids = {customer.pk}
    frontier = {customer.pk}
    while frontier:
        frontier = set(Customer.objects.filter(merged_into__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    subject = Subject(sorted(ids))
    for kind, value in Identity.objects.filter(customer_id__in=ids).values_list("kind", "value"):
        if kind == Identity.Kind.PHONE:
            subject.phones.add(value)
        elif kind == Identity.Kind.EMAIL:
            subject.emails.add(value.lower())
        else:
            subject.others.add(value)
    subject.names |= {
        name for name in Customer.objects.filter(pk__in=ids).values_list("name", flat=True) if name
    }
    for receiver, phone, street in Address.objects.filter(customer_id__in=ids).values_list(
        "receiver", "phone", "street"
    ):
        if receiver:
            subject.names.add(receiver)
        if street:
            subject.others.add(street)
        digits = re.sub(r"\D", "", phone or "")
        if len(digits) >= MIN_IDENTIFIER:
            subject.others.add(digits)
    return subject


@dataclass(frozen=True)
class Table:
    """The rows of one model that are about the person, found through `path`s to the customer."""

    model: type[models.Model]
    paths: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label

    def rows(self, customer_ids: list[int]) -> models.QuerySet:
        where = models.Q()
        for path in self.paths:
            where |= models.Q(**{f"{path}__in": customer_ids})
        return self.model._base_manager.filter(where).order_by("pk")


def tables() -> list[Table]:
    """Every table holding rows about a customer: the registered references (which a test keeps
    complete) and the rows personal-data declarations reach through another table (order lines)."""
    paths: dict[type[models.Model], set[str]] = {Customer: {"pk"}}
    for ref in references():
        paths.setdefault(ref.model, set()).add(ref.field)
    for item in pii_fields():
        if isinstance(item.how, DeleteRows | Blank):
            paths.setdefault(item.model, set()).add(item.how.customer)
    return [Table(model, tuple(sorted(found))) for model, found in paths.items()]


def row_values(row: dict) -> Iterator[str]:
    """Every string in a row, nested JSON included (what a token scan reads)."""
    stack: list = list(row.values())
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
