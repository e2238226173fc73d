"""The Settings area: the pages that set an install up, each shown to those who may use it."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SettingsPage:
    title: Promise
    description: Promise
    url_name: str
    permission: str
    icon: str


SETTINGS_PAGES: tuple[SettingsPage, ...] = (
    SettingsPage(
        _("Business units"),
        _("The units data is scoped by: create them, rename them, set their time zone."),
        "accounts:unit_list",
        "accounts.manage",
        "units",
    ),
    SettingsPage(
        _("Stores"),
        _("Add a shop on any channel with its currency and time zone, connect its webhooks, rotate secrets."),
        "commerce:store_list",
        "commerce.add",
        "stores",
    ),
    SettingsPage(
        _("Tags"),
        _("The tags and tag groups every unit labels customers with."),
        "customers:tag_list",
        "customers.configure",
        "tags",
    ),
    SettingsPage(
        _("Custom fields"),
        _("Typed profile fields of your own, shown on the customer page and usable in segments."),
        "customers:custom_field_list",
        "customers.configure",
        "fields",
    ),
    SettingsPage(
        _("Users"),
        _("Who signs in, their role, their units and whether they may see personal data or export."),
        "accounts:user_list",
        "accounts.manage",
        "users",
    ),
)
# Whoever holds one of these sees Settings in the sidebar.
SETTINGS_PERMISSIONS = tuple(sorted({page.permission for page in SETTINGS_PAGES}))


def pages_for(user) -> list[SettingsPage]:
    return [page for page in SETTINGS_PAGES if user.has_permission(page.permission)]
