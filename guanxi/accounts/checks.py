"""`guanxi check --deploy`: two-factor sign-in by role (ADR 0041) must protect someone, and every
entry of `GUANXI_MFA_REQUIRED_FOR` must name a role or permission that exists — a misspelt entry
would silently leave its holders signing in with a password alone."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.translation import gettext as _

from guanxi.accounts.roles import ROLE_PERMISSIONS, Role

# Granted per user rather than by role (User.has_permission), so in no role's set.
PER_USER_PERMISSIONS = frozenset({"pii.view", "data.export"})


def known_mfa_entries() -> frozenset[str]:
    """What `GUANXI_MFA_REQUIRED_FOR` may name: a role, or a permission some user can hold."""
    permissions = frozenset().union(*ROLE_PERMISSIONS.values())
    return frozenset(Role.values) | permissions | PER_USER_PERMISSIONS


@register("accounts", deploy=True)
def mfa_required_for(app_configs, **kwargs):
    required = settings.GUANXI_MFA_REQUIRED_FOR
    problems: list[Warning | Error] = []
    if not required and getattr(settings, "PRODUCTION", False):
        problems.append(
            Warning(
                _(
                    "GUANXI_MFA_REQUIRED_FOR is empty: no role or permission has to sign in with a "
                    "one-time code, administrators included."
                ),
                hint=_(
                    "Unset it for the default (system_admin, accounts.manage, data.export, "
                    "privacy.approve) or list the roles and permissions that must use two-factor sign-in."
                ),
                id="guanxi.accounts.W001",
            )
        )
    for entry in sorted(set(required) - known_mfa_entries()):
        message = (
            _("GUANXI_MFA_REQUIRED_FOR names the permission %(entry)r, which does not exist.")
            if "." in entry
            else _("GUANXI_MFA_REQUIRED_FOR names the role %(entry)r, which does not exist.")
        )
        problems.append(
            Error(
                message % {"entry": entry},
                hint=_(
                    "Its holders would sign in without a one-time code. Roles are %(roles)s; permissions "
                    "look like accounts.manage, data.export or privacy.approve."
                )
                % {"roles": ", ".join(Role.values)},
                id="guanxi.accounts.E001",
            )
        )
    return problems
