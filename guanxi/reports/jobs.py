"""The reports app's scheduled work: sending the scheduled reports that are due."""

from guanxi.reports import actions


def deliver_due() -> None:
    """Scheduled (each morning): e-mail the daily, weekly and monthly reports due today."""
    actions.deliver_due()
