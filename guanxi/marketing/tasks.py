"""Queue entry points for flows: woken when enrolments become due, and every minute as a safety net
(a killed worker's task is lost with it, but not its enrolments: their lease runs out and the next pass
resumes them)."""

from django.db import transaction
from huey.contrib.djhuey import db_task


@db_task()
def run_flows_task() -> int:
    from guanxi.marketing import engine

    return engine.run_due().steps


def wake_flow_runner() -> None:
    run_flows_task()


def wake() -> None:
    transaction.on_commit(wake_flow_runner)
