"""Who a rule selects, as one user sees it: counts, samples and member querysets.

A unit user's audience holds only customers visible to their units, and their orders, events and
metrics are that unit's. Counts run under a deadline so a heavy rule cannot hang a worker: PostgreSQL
cancels the statement (`statement_timeout`), SQLite aborts it from a progress handler.
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.engine import engine_selected
from guanxi.customers.models import Customer
from guanxi.segments import rules
from guanxi.segments.compiler import Context, SegmentRef, compile_rule
from guanxi.segments.models import Segment

DEFAULT_TIMEOUT_MS = 5_000
SAMPLE_SIZE = 10
# SQLite calls the progress handler every this many virtual-machine instructions.
SQLITE_CHECK_EVERY = 10_000
QUERY_CANCELED = "57014"

T = TypeVar("T")
logger = logging.getLogger(__name__)


class QueryTimeoutError(Exception):
    """The query ran past its deadline and was cancelled."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            str(
                _(
                    "Counting took longer than %(seconds)s seconds and was stopped. Narrow the rule "
                    "(a shorter window, fewer alternatives) or save it and let the scheduled refresh count it."
                )
                % {"seconds": f"{seconds:g}"}
            )
        )


def timeout_ms() -> int:
    return int(getattr(settings, "SEGMENT_COUNT_TIMEOUT_MS", DEFAULT_TIMEOUT_MS))


def with_deadline(run: Callable[[], T], milliseconds: int | None = None) -> T:
    """`run()` (one or more queries), cancelled with QueryTimeoutError after `milliseconds`."""
    milliseconds = timeout_ms() if milliseconds is None else milliseconds
    seconds = milliseconds / 1000
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # is_local: the setting ends with this transaction (or savepoint's transaction).
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)", [str(max(1, milliseconds))]
                    )
                    # Counts take tens to hundreds of milliseconds; compiling them costs about 100 more.
                    cursor.execute("SELECT set_config('jit', 'off', true)")
                return run()
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) == QUERY_CANCELED:
                raise QueryTimeoutError(seconds) from error
            raise
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_CHECK_EVERY)
        try:
            return run()
        except OperationalError as error:
            if "interrupted" in str(error):
                raise QueryTimeoutError(seconds) from error
            raise
        finally:
            raw.set_progress_handler(None, 0)
    return run()


def unit_scope(user: Any, unit: Any = None) -> tuple[int, ...] | None:
    """The units whose orders, events and metrics count: the segment's, else the user's (None: all)."""
    if unit is not None:
        return (unit.pk,)
    if user is None or user.sees_all_units():
        return None
    return tuple(BusinessUnit.objects.restrict(user, "view").order_by("pk").values_list("pk", flat=True))


def resolver_for(user: Any) -> Callable[[int], SegmentRef | None]:
    segments = Segment.objects.restrict(user, "view") if user is not None else Segment.objects.all()

    def resolve(pk: int) -> SegmentRef | None:
        row = segments.filter(pk=pk).values("pk", "kind", "rule").first()
        return SegmentRef(row["pk"], row["kind"], row["rule"]) if row else None

    return resolve


def context_for(
    user: Any, *, unit: Any = None, now: datetime | None = None, inside: int | None = None
) -> Context:
    return Context(
        now=now or timezone.now(),
        unit_ids=unit_scope(user, unit),
        resolve_segment=resolver_for(user),
        stack=(inside,) if inside else (),
    )


def audience(user: Any, rule: rules.Rule, *, unit: Any = None, now: datetime | None = None, inside=None):
    """Customers (active, visible to the user and to the unit) that the rule selects.

    `user` None is the system (scheduled refreshes): every customer, scoped only by `unit`.
    """
    customers = Customer.objects.restrict(user, "view") if user is not None else Customer.objects.all()
    customers = customers.filter(status=Customer.Status.ACTIVE)
    if unit is not None:
        customers = customers.filter(Customer.scope_by_units([unit.pk]))
    context = context_for(user, unit=unit, now=now, inside=inside)
    return customers.filter(compile_rule(rule, context))


def count_preview(user: Any, rule: rules.Rule, *, unit: Any = None, now: datetime | None = None) -> int:
    """How many customers the rule selects. With the analytics engine selected (ADR 0036) the count
    runs there, over its copy as of the last export, for the users who see every unit; rules the
    engine cannot evaluate, and users limited to some units, are counted by the database."""
    if engine_selected() and (user is None or user.sees_all_units()):
        from guanxi.analytics.engine.connection import get_engine
        from guanxi.segments import engine_sql

        try:
            return engine_sql.count(
                get_engine(), rule, context_for(user, unit=unit, now=now), unit_id=unit.pk if unit else None
            )
        except engine_sql.EngineUnsupportedError:
            pass
        except rules.RuleError:
            raise
        except Exception:  # the database holds the truth: an engine that fails is worked around
            logger.warning(
                "segment count on the analytics engine failed; counting in the database", exc_info=True
            )
    return with_deadline(lambda: audience(user, rule, unit=unit, now=now).count())


def sample(
    user: Any, rule: rules.Rule, *, unit: Any = None, now: datetime | None = None, size: int = SAMPLE_SIZE
):
    """A few members, newest customers first."""
    return with_deadline(lambda: list(audience(user, rule, unit=unit, now=now).order_by("-pk")[:size]))
