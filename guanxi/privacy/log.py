"""The erasure log: one line per erasure in a file under GUANXI_HOME, outside the database, so that
restoring a database backup taken before an erasure does not bring the person back for good:
`guanxi privacy replay` reads the log and erases them again.

A line holds the customer ids and peppered hashes of the person's identifiers, never the values.
Back the file up apart from the database (docs/guide/privacy.md).
"""

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from guanxi.customers.models import Customer, Identity
from guanxi.messaging.addresses import address_hash
from guanxi.privacy.subject import Subject

HASH_BATCH = 2000


def log_path() -> Path:
    return Path(settings.GUANXI_HOME) / "privacy" / "erasures.jsonl"


def identity_hash(kind: str, value: str) -> str:
    return address_hash(f"identity:{kind}", value)


def subject_hashes(subject: Subject) -> list[str]:
    values = Identity.objects.filter(customer_id__in=subject.customer_ids).values_list("kind", "value")
    return sorted({identity_hash(kind, value) for kind, value in values})


def append(request_id: int, subject: Subject, hashes: list[str]) -> None:
    """Add the erasure to the log, on disk before the caller goes on (fsync)."""
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {
            "request": request_id,
            "customers": subject.customer_ids,
            "identities": hashes,
            "at": timezone.now().isoformat(),
        }
    )
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


@dataclass(frozen=True)
class LoggedErasure:
    request: int
    customers: tuple[int, ...]
    identities: frozenset[str]
    at: datetime


def entries() -> list[LoggedErasure]:
    path = log_path()
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        found.append(
            LoggedErasure(
                request=raw["request"],
                customers=tuple(raw["customers"]),
                identities=frozenset(raw["identities"]),
                at=datetime.fromisoformat(raw["at"]),
            )
        )
    return found


def customers_to_erase_again() -> list[tuple[LoggedErasure, list[int]]]:
    """Per logged erasure, the customers in the database that are that person again: a logged id
    still holding one of the logged identifiers (or holding none, created before the erasure), and
    any customer holding a logged identifier (a restored profile, or a re-import that merged)."""
    logged = entries()
    if not logged:
        return []
    by_hash: dict[str, set[int]] = {}
    rows = Identity.objects.order_by("pk").values_list("kind", "value", "customer_id")
    for kind, value, customer_id in rows.iterator(chunk_size=HASH_BATCH):
        by_hash.setdefault(identity_hash(kind, value), set()).add(customer_id)
    holders_of: dict[int, set[str]] = {}
    for digest, holders in by_hash.items():
        for customer_id in holders:
            holders_of.setdefault(customer_id, set()).add(digest)
    found = []
    for entry in logged:
        ids = {pk for digest in entry.identities for pk in by_hash.get(digest, ())}
        for pk, created_at in Customer.objects.filter(pk__in=entry.customers).values_list("pk", "created_at"):
            held = holders_of.get(pk, set())
            if held & entry.identities or (not held and created_at <= entry.at):
                ids.add(pk)
        found.append((entry, sorted(ids)))
    return found
