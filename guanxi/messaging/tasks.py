"""Queue entry points for the outbox: woken when messages are queued, and every minute as a safety net
(a killed worker's task is lost with it — Huey is at-most-once — but its rows are not: the database
holds them, and the next pass takes them when their lease runs out)."""

from django.db import transaction
from huey.contrib.djhuey import db_task, on_startup

from guanxi.messaging.sending import as_dict, drain, pending_now

# Each woken task drains the outbox; as many as the consumer has threads can work side by side.
PARALLEL_SENDERS = 2
TASK_SECONDS = 50


@db_task()
def send_messages_task() -> dict:
    report = drain(TASK_SECONDS)
    if report.claimed and pending_now():
        send_messages_task()  # time ran out with work left: carry on in a fresh task
    return as_dict(report)


def send_due_messages() -> dict:
    """The periodic pass (config/schedules.py)."""
    return as_dict(drain(TASK_SECONDS))


def wake_senders() -> None:
    """Start sending once the surrounding transaction commits."""

    def wake() -> None:
        for _sender in range(PARALLEL_SENDERS):
            send_messages_task()

    transaction.on_commit(wake)


@on_startup()
def resume_sending() -> None:
    """A (re)started worker takes up the outbox at once rather than at the next minute."""
    send_messages_task()
