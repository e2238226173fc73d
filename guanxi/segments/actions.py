"""Every write of the segments app: saving segments, refreshing memberships, static lists, bulk tags.

Membership is materialised: one `SegmentMembership` row per stay, closed (`exited_at`) when the
customer stops matching, so later flows can trigger on entry and exit. A refresh compares the rule's
current audience with the open rows in SQL and writes only the differences.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.engine import engine_selected
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_value
from guanxi.customers import changes, profile
from guanxi.customers.actions import find_customers_by_identity
from guanxi.customers.identities import identity_key
from guanxi.customers.models import Customer, Identity, Tag
from guanxi.segments import rules
from guanxi.segments.audience import audience, context_for
from guanxi.segments.compiler import compile_rule
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.segments.phrases import MEMBERS_ADDED, MEMBERS_REMOVED, REFRESHED, RULE_CHANGED

INSERT_BATCH = 5_000
logger = logging.getLogger(__name__)
CHANGE_READER = "segments"  # this app's name as a reader of the customer change feed
CHANGES_PER_PASS = 20_000
MAX_PASSES = 50  # a pass per 20,000 changes; the rest waits for the next run rather than starve it
MAX_LIST_ROWS = 100_000
CSV_KINDS = {kind.value for kind in Identity.Kind}


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    members: int
    entered: int
    exited: int


@dataclass
class ListReport:
    """What a static list upload did: rows matched to customers and the rows that were not."""

    rows: int = 0
    matched: int = 0
    added: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)


# Saving.


def check_rule(user: Any, data: Any, *, unit: Any = None, segment: Segment | None = None) -> rules.Rule:
    """The parsed rule, after checking that every segment it refers to exists for the user and that
    none of them leads back to `segment` (RuleError otherwise)."""
    rule = rules.parse_rule(data)
    compile_rule(rule, context_for(user, unit=unit, inside=segment.pk if segment else None))
    return rule


def ensure_can_change(user: Any, segment: Segment) -> None:
    """Organisation-wide segments belong to roles that see every unit."""
    if not user.has_permission("segments.change"):
        raise Denied("segments.change", obj=segment)
    if segment.unit_id is None and not user.sees_all_units():
        # Organisation-wide segments belong to roles that see every unit.
        raise Denied("segments.change", obj=segment)
    if (
        segment.unit_id is not None
        and not Segment.objects.restrict(user, "change").filter(pk=segment.pk).exists()
    ):
        raise Denied("segments.change", obj=segment)


def allowed_unit(user: Any, unit: Any) -> Any:
    """The unit a new segment belongs to: unit users must choose one of theirs (their only one by default)."""
    if user.sees_all_units():
        return unit
    if unit is None:
        only = user.only_unit()
        if only is not None:
            return only
        raise ValidationError(_("Choose the business unit this segment belongs to."), code="unit")
    if not BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists():
        raise Denied("segments.add", obj=unit)
    return unit


@transaction.atomic
def create_segment(
    *,
    actor: Any,
    name: str,
    rule: Any = None,
    description: str = "",
    kind: str = Segment.Kind.DYNAMIC,
    unit: Any = None,
    key: str = "",
) -> Segment:
    if actor is not None and not actor.has_permission("segments.add"):
        raise Denied("segments.add")
    if actor is not None:
        unit = allowed_unit(actor, unit)
    name = name.strip()
    if not name:
        raise ValidationError(_("A segment needs a name."), code="required")
    parsed = check_rule(actor, rule, unit=unit) if kind == Segment.Kind.DYNAMIC else rules.everyone()
    segment = Segment.objects.create(
        name=name,
        description=description,
        kind=kind,
        rule=parsed.to_json(),
        schema_version=rules.SCHEMA_VERSION,
        owner=actor if getattr(actor, "is_authenticated", False) else None,
        unit=unit,
        key=key,
    )
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=segment, unit=unit)
    return segment


@transaction.atomic
def update_segment(segment: Segment, *, actor: Any, **changes: Any) -> Segment:
    """Change name, description or rule; a changed rule is refreshed on commit."""
    if actor is not None:
        ensure_can_change(actor, segment)
    before = {name: getattr(segment, name) for name in changes}
    if "rule" in changes:
        if segment.kind != Segment.Kind.DYNAMIC:
            raise ValidationError(_("A static segment has no rule."), code="static")
        changes["rule"] = check_rule(actor, changes["rule"], unit=segment.unit, segment=segment).to_json()
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise ValidationError(_("A segment needs a name."), code="required")
    for name, value in changes.items():
        if name not in ("name", "description", "rule"):
            raise ValueError(f"{name} cannot be changed")
        setattr(segment, name, value)
    segment.updated_at = timezone.now()
    segment.save()
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=segment,
        unit=segment.unit,
        changes={
            n: (before[n], getattr(segment, n))
            for n in changes
            if n != "rule" and before[n] != getattr(segment, n)
        },
        message=RULE_CHANGED() if "rule" in changes else None,
    )
    return segment


@transaction.atomic
def delete_segment(segment: Segment, *, actor: Any) -> None:
    if actor is not None:
        ensure_can_change(actor, segment)
        if not actor.has_permission("segments.delete"):
            raise Denied("segments.delete", obj=segment)
    dependants = [
        other.name
        for other in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment.pk)
        if segment.pk in rules.referenced_segments(rules.parse_rule(other.rule))
    ]
    if dependants:
        raise ValidationError(
            _("Other segments use this one: %(names)s."),
            code="in_use",
            params={"names": ", ".join(dependants)},
        )
    try:
        with transaction.atomic():
            audit.record(AuditEntry.Action.DELETE, actor=actor, obj=segment, unit=segment.unit)
            segment.delete()
    except ProtectedError as error:  # a campaign of another app sends to it (this app cannot know them)
        raise ValidationError(
            _("In use, delete or change these first: %(names)s."),
            code="in_use",
            params={"names": ", ".join(sorted(str(obj) for obj in error.protected_objects))},
        ) from None


# Refreshing.


def refresh_segment(
    segment: Segment,
    *,
    now: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
    actor: Any = None,
) -> RefreshResult:
    """Bring the open memberships in line with the rule (for some customers only, if given)."""
    now = now or timezone.now()
    ids = None if customer_ids is None else sorted(set(customer_ids))
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        current = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
        entered = exited = 0
        engine_ids = _members_on_engine(segment, now) if ids is None else None
        if engine_ids is not None:
            # Evaluated on the analytics engine; the changes are written back here.
            stays = set(current.values_list("customer_id", flat=True))
            chosen = set(engine_ids)
            leaving = sorted(stays - chosen)
            for start in range(0, len(leaving), ENGINE_WRITE_CHUNK):
                exited += current.filter(customer_id__in=leaving[start : start + ENGINE_WRITE_CHUNK]).update(
                    exited_at=now
                )
            joining = sorted(chosen - stays)
            SegmentMembership.objects.bulk_create(
                [SegmentMembership(segment=segment, customer_id=pk, entered_at=now) for pk in joining],
                batch_size=ENGINE_WRITE_CHUNK,
            )
            entered = len(joining)
        elif segment.kind == Segment.Kind.DYNAMIC:
            selected = audience(
                None, rules.parse_rule(segment.rule), unit=segment.unit, now=now, inside=segment.pk
            )
            scoped_current = current
            if ids is not None:
                selected = selected.filter(pk__in=ids)
                scoped_current = current.filter(customer_id__in=ids)
            exited = scoped_current.exclude(customer_id__in=selected.values("pk")).update(exited_at=now)
            entered = _insert_members(segment, selected.exclude(pk__in=current.values("customer_id")), now)
        members = current.count()
        Segment.objects.filter(pk=segment.pk).update(member_count=members, refreshed_at=now)
        if actor is not None:
            audit.record(
                AuditEntry.Action.UPDATE,
                actor=actor,
                obj=segment,
                unit=segment.unit,
                message=REFRESHED(entered=entered, exited=exited),
            )
    return RefreshResult(segment.pk, members, entered, exited)


ENGINE_WRITE_CHUNK = 5_000


def _members_on_engine(segment: Segment, now: datetime) -> list[int] | None:
    """A dynamic segment's members as the analytics engine selects them (ADR 0036), or None where the
    engine is not selected or cannot evaluate the rule."""
    if segment.kind != Segment.Kind.DYNAMIC or not engine_selected():
        return None
    from guanxi.analytics.engine.connection import get_engine
    from guanxi.segments import engine_sql

    try:
        return engine_sql.members(
            get_engine(),
            rules.parse_rule(segment.rule),
            context_for(None, unit=segment.unit, now=now, inside=segment.pk),
            unit_id=segment.unit_id,
        )
    except engine_sql.EngineUnsupportedError:
        return None
    except rules.RuleError:
        raise
    except Exception:  # the database holds the truth: an engine that fails is worked around
        logger.warning("segment refresh on the analytics engine failed; using the database", exc_info=True)
        return None


def _insert_members(segment: Segment, customers, now: datetime) -> int:
    """Open a stay for each of `customers` in one INSERT … SELECT: a first refresh of a segment of
    300,000 then moves no ids through Python. Returns how many stays were opened."""
    select, params = customers.order_by().values(member_id=F("pk")).query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(SegmentMembership._meta.db_table)
    columns = ", ".join(quote(name) for name in ("segment_id", "customer_id", "entered_at"))
    with connection.cursor() as cursor:
        # The SELECT is the ORM's own compilation of the rule; every user value in it is a parameter.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT %s, member.member_id, %s FROM ({select}) AS member",  # noqa: S608
            [segment.pk, now, *params],
        )
        return cursor.rowcount


def refresh_all_segments(now: datetime | None = None) -> list[RefreshResult]:
    """The scheduled refresh of every dynamic segment (idempotent; safe to run again)."""
    now = now or timezone.now()
    return [
        refresh_segment(segment, now=now)
        for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
    ]


def refresh_for_customers(customer_ids: Iterable[int], now: datetime | None = None) -> list[RefreshResult]:
    """Re-evaluate only these customers in every dynamic segment, after their orders or tags changed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    now = now or timezone.now()
    return [
        refresh_segment(segment, now=now, customer_ids=ids)
        for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
    ]


def refresh_changed_customers(now: datetime | None = None) -> int:
    """Re-evaluate, in every dynamic segment, the customers whose orders, events, tags or profile changed
    since the last call (segments' rows of the customer change feed); returns how many customers."""
    done = 0
    for _pass in range(MAX_PASSES):
        with changes.taken(CHANGE_READER, CHANGES_PER_PASS) as customer_ids:
            refresh_for_customers(customer_ids, now)
        if not customer_ids:
            break
        done += len(customer_ids)
    return done


# Static lists.


@transaction.atomic
def add_to_static(segment: Segment, customer_ids: Iterable[int], *, actor: Any) -> int:
    """Add visible customers to a static segment; returns how many were new."""
    _ensure_static(segment, actor)
    visible = _visible_customers(actor).filter(pk__in=set(customer_ids))
    current = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values("customer_id")
    new_ids = list(visible.exclude(pk__in=current).values_list("pk", flat=True))
    now = timezone.now()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer_id=pk, entered_at=now) for pk in new_ids],
        batch_size=INSERT_BATCH,
    )
    _recount(segment, now)
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=segment,
        unit=segment.unit,
        message=MEMBERS_ADDED(count=len(new_ids)),
    )
    return len(new_ids)


@transaction.atomic
def remove_from_static(segment: Segment, customer_ids: Iterable[int], *, actor: Any) -> int:
    _ensure_static(segment, actor)
    visible = _visible_customers(actor).filter(pk__in=set(customer_ids)).values("pk")
    now = timezone.now()
    removed = SegmentMembership.objects.filter(
        segment=segment, exited_at__isnull=True, customer_id__in=visible
    ).update(exited_at=now)
    _recount(segment, now)
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=segment,
        unit=segment.unit,
        message=MEMBERS_REMOVED(count=removed),
    )
    return removed


def add_contacts_to_static(segment: Segment, content: bytes | str, *, actor: Any) -> ListReport:
    """Match a CSV of phones, emails or platform ids to customers through their identities.

    Columns are named by identity kind (`phone`, `email`, `taobao_nick`, `wechat_unionid`…) or are
    `kind,value`; a file without a header holds phones or emails, one per cell. Values are normalised
    the way identities are; unmatched rows are reported with a reason and a masked value.
    """
    _ensure_static(segment, actor)
    report = ListReport()
    wanted: list[tuple[int, list, str]] = []
    for row_number, keys, raw in _read_contacts(content):
        report.rows += 1
        if not keys:
            report.unmatched.append(_unmatched(row_number, raw, _("not a valid phone, email or id")))
            continue
        wanted.append((row_number, keys, raw))
    found = find_customers_by_identity([key for _row, keys, _raw in wanted for key in keys])
    visible = set(_visible_customers(actor).filter(pk__in=set(found.values())).values_list("pk", flat=True))
    matched: set[int] = set()
    for row_number, keys, raw in wanted:
        ids = [found[key] for key in keys if key in found and found[key] in visible]
        if ids:
            report.matched += 1
            matched.add(ids[0])
        else:
            report.unmatched.append(_unmatched(row_number, raw, _("no customer with this identity")))
    report.unmatched.sort(key=lambda row: row["row"])
    report.added = add_to_static(segment, matched, actor=actor)
    return report


def _unmatched(row: int, raw: str, reason: Any) -> dict[str, Any]:
    return {"row": row, "value": mask_value(raw), "reason": str(reason)}


def _read_contacts(content: bytes | str):
    text = content if isinstance(content, str) else _decode(content)
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_LIST_ROWS:
        raise ValidationError(
            _("At most %(max)d rows per file."), code="too_many", params={"max": MAX_LIST_ROWS}
        )
    if not rows:
        return
    header = [cell.strip().lower() for cell in rows[0]]
    has_header = "kind" in header or any(cell in CSV_KINDS for cell in header)
    start = 1 if has_header else 0
    for index, row in enumerate(rows[start:], start=start + 1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        keys = []
        if has_header and "kind" in header and "value" in header:
            kind_cell, value_cell = cells[header.index("kind")], cells[header.index("value")]
            pairs = [(kind_cell.lower(), value_cell)]
        elif has_header:
            pairs = [
                (name, cell) for name, cell in zip(header, cells, strict=False) if name in CSV_KINDS and cell
            ]
        else:
            pairs = [
                (Identity.Kind.EMAIL if "@" in cell else Identity.Kind.PHONE, cell) for cell in cells if cell
            ]
        for kind, value in pairs:
            if kind in CSV_KINDS:
                key = identity_key(kind, value)
                if key is not None:
                    keys.append(key)
        yield index, keys, next((cell for cell in cells if cell), "")


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is not UTF-8 or GB18030 text."), code="encoding")


def _ensure_static(segment: Segment, actor: Any) -> None:
    if actor is not None:
        ensure_can_change(actor, segment)
    if segment.kind != Segment.Kind.STATIC:
        raise ValidationError(_("Customers can be listed by hand only in a static segment."), code="dynamic")


def _visible_customers(actor: Any):
    customers = Customer.objects.restrict(actor, "view") if actor is not None else Customer.objects.all()
    return customers.filter(status=Customer.Status.ACTIVE)


def _recount(segment: Segment, now: datetime) -> None:
    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=members, refreshed_at=now)


# Bulk actions.


def tag_members(
    segment: Segment,
    tag: Tag,
    *,
    actor: Any,
    remove: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add (or remove) a tag on every current member the actor may change; returns how many changed.

    Tagged through the customers app's bulk action (an audit entry and timeline event per customer),
    which notes the changed customers in the change outbox: `refresh_changed_customers` re-evaluates
    them within a minute, so they are not refreshed here a second time. `progress` hears of each
    batch; `start_tag_members` runs this as a background job for large segments.
    """
    if not actor.has_permission("customers.change"):
        raise Denied("customers.change")
    members = current_members(actor, segment)
    customers = Customer.objects.restrict(actor, "change").filter(pk__in=members.values("customer_id"))
    changed = profile.tag_customers(
        customers, tag, actor=actor, unit=segment.unit, remove=remove, progress=progress
    )
    return len(changed)


def current_members(user: Any, segment: Segment):
    """Open memberships of the customers the user may see."""
    rows = (
        SegmentMembership.objects.restrict(user, "view")
        if user is not None
        else SegmentMembership.objects.all()
    )
    return rows.filter(segment=segment, exited_at__isnull=True)
