"""Loading the demo shop as a job, so the CLI shows its progress and the job panel records it."""

from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import User
from guanxi.accounts.roles import Role
from guanxi.core.background import Progress, job_kind
from guanxi.core.display import Coded
from guanxi.core.models import Job
from guanxi.core.planner import refresh_planner_statistics
from guanxi.demo.loader import DEFAULT_SEED, load_demo
from guanxi.demo.loyalty import load_loyalty_demo
from guanxi.demo.reference import USERS
from guanxi.demo.reports import load_reports_demo
from guanxi.demo.sales import load_sales_demo
from guanxi.demo.service import load_service_demo

DEMO_JOB_KIND = "demo.load"


@job_kind(
    DEMO_JOB_KIND,
    label=_("Load the demo shop"),
    counts={
        "units": _("Business units"),
        "stores": _("Stores"),
        "customers": _("Customers"),
        "orders": _("Orders"),
        "order_lines": _("Order lines"),
        "returns": _("Returns"),
        "events": _("Events"),
        "duplicates": _("Duplicate profiles"),
        "merges": _("Merges"),
        "merge_suggestions": _("Merge suggestions"),
        "sales_leads": _("Sales leads"),
        "sales_opportunities": _("Sales opportunities"),
        "service_tickets": _("Service tickets"),
        "loyalty_members": _("Loyalty members"),
        "coupons_redeemed": _("Coupons redeemed"),
        "scheduled_reports": _("Scheduled reports"),
    },
)
def load_demo_job(job: Job, progress: Progress) -> dict:
    """params: {"customers": int}. Refuses (DemoAlreadyLoaded) on a database that has demo data."""

    def report(done: int, total: int, message: str | Coded) -> None:
        if total != progress.job.progress_total:
            progress.set_total(total)
        progress.advance(done - progress.job.progress_done, message)

    summary = load_demo(customers=int(job.params.get("customers", 6000)), progress=report)
    sales = load_sales_demo(seed=DEFAULT_SEED)
    service = load_service_demo(seed=DEFAULT_SEED)
    loyalty = load_loyalty_demo(seed=DEFAULT_SEED)
    reports = load_reports_demo()
    refresh_planner_statistics()
    return {
        "units": summary.units,
        "stores": summary.stores,
        "customers": summary.customers,
        "orders": summary.orders,
        "order_lines": summary.order_lines,
        "returns": summary.returns,
        "events": summary.events,
        "duplicates": summary.duplicates,
        "merges": summary.merges,
        "merge_suggestions": summary.merge_suggestions,
        "sales_leads": sales.leads,
        "sales_opportunities": sales.opportunities,
        "service_tickets": service.tickets,
        "loyalty_members": loyalty.members,
        "coupons_redeemed": loyalty.coupons_redeemed,
        "scheduled_reports": reports.deliveries,
    }


def demo_is_loaded() -> bool:
    return User.objects.filter(username__in=[user[0] for user in USERS]).exists()


def demo_logins() -> list[tuple[str, str]]:
    """(username, role label) of every demo user, in the order the reference lists them."""
    labels = dict(Role.choices)
    return [(user[0], str(labels.get(user[1], user[1]))) for user in USERS]
