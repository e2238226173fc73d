"""Service work off the request: the SLA scan every minute (scheduled in guanxi/config/schedules.py)."""

from guanxi.service import actions


def scan_sla() -> None:
    """Scheduled: warn of SLA deadlines coming, alert on those passed, archive old resolved tickets."""
    actions.scan_sla()
