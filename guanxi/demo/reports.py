"""The demo's scheduled reports: the home unit head's weekly sales by product category, to themselves
and the unit's analyst, and the beauty unit head's monthly customers at risk, so the Reports page
lists scheduled deliveries and the messaging outbox receives them when they fall due."""

from dataclasses import dataclass

from guanxi.accounts.models import BusinessUnit, User
from guanxi.reports import actions
from guanxi.reports.models import Frequency

# (creator, unit, report, filters, frequency, recipients)
DELIVERIES = (
    ("head_home", "home", "products", "group=category", Frequency.WEEKLY, ("head_home", "analyst")),
    ("head_beauty", "beauty", "churn", "group=risk", Frequency.MONTHLY, ("head_beauty", "marketer")),
)


@dataclass(frozen=True)
class ReportsDemo:
    deliveries: int


def load_reports_demo() -> ReportsDemo:
    """Schedule the demo's deliveries through the reports app's own action (audited, each recipient
    checked to be able to read the report in the unit)."""
    users = {user.username: user for user in User.objects.all()}
    units = {unit.code: unit for unit in BusinessUnit.objects.all()}
    for creator, unit, report, query, frequency, recipients in DELIVERIES:
        actions.schedule(
            actor=users[creator],
            unit=units[unit],
            report=report,
            query=query,
            frequency=frequency,
            recipients=[users[name] for name in recipients],
        )
    return ReportsDemo(deliveries=len(DELIVERIES))
