"""The sidebar and the areas of the product that are not built yet (design.md §4)."""

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guanxi.web.settings_pages import SETTINGS_PERMISSIONS


@dataclass(frozen=True)
class Area:
    """A part of the product announced in the navigation before its pages exist."""

    slug: str
    title: Promise
    description: Promise
    permission: str


AREAS: dict[str, Area] = {
    area.slug: area
    for area in (
        Area(
            "loyalty",
            _("Loyalty"),
            _("Membership tiers, a points ledger, benefits, coupons and referrals."),
            "loyalty.view",
        ),
        Area(
            "marketing",
            _("Marketing"),
            _("Automated care flows and targeted campaigns with holdout groups and effect analysis."),
            "marketing.view",
        ),
        Area(
            "messaging",
            _("Messaging"),
            _("Email, SMS, WeChat and webhook messages sent through an outbox that respects consent."),
            "messaging.view",
        ),
        Area(
            "service",
            _("Service"),
            _("Service tickets with SLAs and satisfaction surveys, beside the customer's full history."),
            "service.view",
        ),
        Area(
            "reports",
            _("Reports"),
            _("Dashboards and exports for a business unit or the whole group."),
            "reports.view",
        ),
    )
}


@dataclass(frozen=True)
class Route:
    url_name: str
    kwargs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NavItem:
    """One sidebar link. The first route that resolves is used, so an app's real page replaces
    its placeholder as soon as the app registers its URL; an item with no route is skipped."""

    label: Promise
    icon: str
    routes: tuple[Route, ...]
    permission: str | tuple[str, ...] | None = None  # a tuple: any one of them


@dataclass(frozen=True)
class NavSection:
    label: Promise
    items: tuple[NavItem, ...]


def _area(slug: str, icon: str, real_url_name: str | None = None) -> NavItem:
    area = AREAS[slug]
    routes = (Route(real_url_name),) if real_url_name else ()
    return NavItem(area.title, icon, (*routes, Route("web:area", {"slug": slug})), area.permission)


NAVIGATION: tuple[NavSection, ...] = (
    NavSection(
        _("Overview"),
        (
            NavItem(_("Dashboard"), "dashboard", (Route("web:dashboard"),)),
            NavItem(_("Customers"), "customers", (Route("customers:customer_list"),), "customers.view"),
            NavItem(_("Orders"), "orders", (Route("commerce:order_list"),), "commerce.view"),
            NavItem(_("Stores"), "stores", (Route("commerce:store_list"),), "commerce.view"),
        ),
    ),
    NavSection(
        _("Insight"),
        (
            NavItem(_("Analytics"), "analytics", (Route("analytics:overview"),), "analytics.view"),
            NavItem(_("Segments"), "segments", (Route("segments:segment_list"),), "segments.view"),
            _area("reports", "reports", "reports:home"),
        ),
    ),
    NavSection(
        _("Engagement"),
        (
            _area("loyalty", "loyalty", "loyalty:home"),
            _area("marketing", "marketing", "marketing:home"),
            _area("messaging", "messaging", "messaging:outbox"),
        ),
    ),
    NavSection(
        _("Operations"),
        (
            _area("service", "service", "service:inbox"),
            NavItem(_("Sales"), "sales", (Route("sales:home"),), "sales.view"),
        ),
    ),
    NavSection(
        _("System"),
        (
            NavItem(_("Imports"), "imports", (Route("commerce:import_list"),), "commerce.view"),
            NavItem(_("Jobs"), "jobs", (Route("web:job_list"),), "core.view"),
            NavItem(_("Audit log"), "audit", (Route("web:audit_list"),), "core.audit"),
            NavItem(_("Privacy requests"), "audit", (Route("privacy:request_list"),), "privacy.request"),
            NavItem(_("Users"), "users", (Route("accounts:user_list"),), "accounts.manage"),
            NavItem(_("API tokens"), "tokens", (Route("accounts:token_list"),)),
            NavItem(_("Settings"), "settings", (Route("web:settings"),), SETTINGS_PERMISSIONS),
        ),
    ),
)
