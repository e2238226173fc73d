"""Queue entry points for the webhook inbox: woken when a delivery is acknowledged, every minute as the
sweeper (a killed worker's task is lost with it, its rows are not: their lease runs out and this pass
takes them), and when a worker starts."""

import logging

from django.core.cache import cache
from django.db import transaction
from huey.contrib.djhuey import HUEY, db_task, on_startup

from guanxi.commerce.inbox import drain

logger = logging.getLogger("guanxi.webhooks")

TASK_SECONDS = 50
# A burst of deliveries wakes one task, not one per request: a wake is skipped while one was sent
# in the last WAKE_EVERY seconds, and a woken task keeps looking for longer than that once the inbox
# is empty, so no row waits for the sweeper.
WAKE_EVERY = 2
IDLE_SECONDS = 3.0
WAKE_KEY = "commerce:webhook-inbox:woken"


@db_task()
def drain_inbox_task() -> dict:
    report = drain(TASK_SECONDS, idle=0.0 if HUEY.immediate else IDLE_SECONDS)
    return {"applied": report.applied, "failed": report.failed}


def drain_inbox() -> dict:
    """The periodic pass (config/schedules.py)."""
    report = drain(TASK_SECONDS)
    return {"applied": report.applied, "failed": report.failed}


def wake_inbox() -> None:
    """Start applying once the surrounding transaction commits."""

    def wake() -> None:
        try:
            if cache.add(WAKE_KEY, 1, timeout=WAKE_EVERY) or HUEY.immediate:
                drain_inbox_task()
        except Exception:
            # The delivery is committed and acknowledged; the minute's sweep applies it.
            logger.exception("could not wake the webhook inbox worker")

    transaction.on_commit(wake)


@on_startup()
def resume_inbox() -> None:
    """A (re)started worker takes up the inbox at once rather than at the next minute."""
    drain_inbox_task()
