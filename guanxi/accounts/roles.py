"""Roles and the permissions they carry, enumerated in one place.

A permission is "<app>.<action>"; `Model.objects.restrict(user, action)` asks for
"<model's app>.<action>". PII visibility and export are not part of a role: they are
granted per user (User.can_view_pii, User.can_export), with a default per role.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    GROUP_MANAGER = "group_manager", _("Group manager")
    UNIT_HEAD = "unit_head", _("Business unit head")
    UNIT_ADMIN = "unit_admin", _("Business unit administrator")
    MARKETER = "marketer", _("Marketer")
    SERVICE_AGENT = "service_agent", _("Service agent")
    SALES_REP = "sales_rep", _("Sales representative")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    ANALYST = "analyst", _("Analyst")


DOMAIN_APPS = (
    "customers",
    "commerce",
    "analytics",
    "segments",
    "loyalty",
    "marketing",
    "messaging",
    "service",
    "sales",
    "reports",
)
# accounts.view: the business units a user belongs to (all of them for group-wide roles); every
# role needs them to pick a unit, so every role holds it.
READ_ALL = {f"{app}.view" for app in DOMAIN_APPS} | {"core.view", "accounts.view"}
WRITE_ALL = {f"{app}.{action}" for app in DOMAIN_APPS for action in ("add", "change", "delete")}
# Configuring pipelines, the rulebook's thresholds, quotas and assigning sales records to others
# (版块负责人: 进行本版块的业务分配); transferring a lead across units is the group's own
# (跨版块的分配 by the group marketing department).
MANAGE_SALES = "sales.manage"
TRANSFER_SALES = "sales.transfer"

# Setting up messaging channels handles provider credentials: administrators and unit heads only.
CHANNELS = "messaging.channels"

# Running a unit's service desk: SLA policies, the holiday calendar, the queue's assignment rule,
# reassigning tickets and agreeing to cross-unit transfers (跨版块) on the unit's side.
MANAGE_SERVICE = "service.manage"

# Sending a campaign without approval (marketers submit theirs for a unit head's approval).
PUBLISH_MARKETING = "marketing.publish"

# Defining the organisation's tags, tag groups and custom fields, which every unit shares.
CONFIGURE_CUSTOMERS = "customers.configure"

# Privacy requests (docs/guide/privacy.md): recording a person's request for a copy of their data or
# its erasure, and downloading the copy; approving and running an erasure and setting retention is
# the group's (a unit head records, the group approves: the two-person rule).
PRIVACY_REQUEST = "privacy.request"
PRIVACY_APPROVE = "privacy.approve"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.SYSTEM_ADMIN: frozenset(
        READ_ALL
        | WRITE_ALL
        | {
            "core.change",
            "core.audit",
            "accounts.manage",
            CONFIGURE_CUSTOMERS,
            CHANNELS,
            MANAGE_SALES,
            TRANSFER_SALES,
            MANAGE_SERVICE,
            PUBLISH_MARKETING,
            PRIVACY_REQUEST,
            PRIVACY_APPROVE,
        }
    ),
    Role.GROUP_MANAGER: frozenset(
        READ_ALL
        | WRITE_ALL
        | {
            "core.audit",
            CONFIGURE_CUSTOMERS,
            CHANNELS,
            MANAGE_SALES,
            TRANSFER_SALES,
            MANAGE_SERVICE,
            PUBLISH_MARKETING,
            PRIVACY_REQUEST,
            PRIVACY_APPROVE,
        }
    ),
    Role.UNIT_HEAD: frozenset(
        READ_ALL
        | WRITE_ALL
        | {
            "core.audit",
            CONFIGURE_CUSTOMERS,
            CHANNELS,
            MANAGE_SALES,
            MANAGE_SERVICE,
            PUBLISH_MARKETING,
            PRIVACY_REQUEST,
        }
    ),
    Role.UNIT_ADMIN: frozenset(
        READ_ALL
        | WRITE_ALL
        | {
            "core.audit",
            "accounts.manage",
            CONFIGURE_CUSTOMERS,
            CHANNELS,
            MANAGE_SALES,
            MANAGE_SERVICE,
            PUBLISH_MARKETING,
            PRIVACY_REQUEST,
        }
    ),
    Role.MARKETER: frozenset(
        READ_ALL
        | {
            f"{app}.{action}"
            for app in ("segments", "loyalty", "marketing", "messaging")
            for action in ("add", "change", "delete")
        }
        | {"customers.change", CONFIGURE_CUSTOMERS}
    ),
    Role.SERVICE_AGENT: frozenset(
        {
            "customers.view",
            "commerce.view",
            "loyalty.view",
            "service.view",
            "messaging.view",
            "core.view",
            "accounts.view",
            "customers.change",
            "service.add",
            "service.change",
        }
    ),
    Role.SALES_REP: frozenset(
        {
            "customers.view",
            "commerce.view",
            "sales.view",
            "core.view",
            "accounts.view",
            "customers.add",
            "customers.change",
            "sales.add",
            "sales.change",
        }
    ),
    # A sales lead (销售主管): the reps' work in their units, without the unit head's other areas.
    Role.SALES_MANAGER: frozenset(
        {
            "customers.view",
            "commerce.view",
            "sales.view",
            "core.view",
            "accounts.view",
            "customers.add",
            "customers.change",
            "sales.add",
            "sales.change",
            "sales.delete",
            MANAGE_SALES,
            "reports.view",  # the sales lead's dashboard: their units' sales figures
        }
    ),
    Role.ANALYST: frozenset(READ_ALL),
}

# The role a new user starts with wherever a role is not chosen (and preselected on the Users page):
# read-only, without personal data or export. Granting more is a deliberate, audited choice.
LEAST_PRIVILEGED_ROLE = Role.ANALYST

# Roles that see every business unit; the others see the units they are members of.
ALL_UNIT_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.GROUP_MANAGER})
# Roles that see only records they own (where a model has an owner): 业务人员只能看到自己录入的营销信息.
OWN_RECORD_ROLES = frozenset({Role.SALES_REP})
# Roles that see their team's records (the own-record users of their units) and the unassigned ones.
TEAM_RECORD_ROLES = frozenset({Role.SALES_MANAGER})
# Defaults for the separately granted permissions when a user is created with a role.
PII_BY_DEFAULT = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.GROUP_MANAGER,
        Role.UNIT_HEAD,
        Role.SERVICE_AGENT,
        Role.SALES_REP,
        Role.SALES_MANAGER,
    }
)
EXPORT_BY_DEFAULT = frozenset({Role.SYSTEM_ADMIN, Role.GROUP_MANAGER, Role.UNIT_HEAD, Role.SALES_MANAGER})
