"""`guanxi check --deploy` on GUANXI_MFA_REQUIRED_FOR: nobody required to use two-factor sign-in in
production, or an entry that names no role or permission."""

from io import StringIO

import pytest
from django.core.checks import Error, Warning, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

DEFAULT = frozenset({"system_admin", "accounts.manage", "data.export", "privacy.approve"})
ROLES = (
    "system_admin, group_manager, unit_head, unit_admin, marketer, service_agent, sales_rep, "
    "sales_manager, analyst"
)
UNKNOWN_HINT = (
    f"Its holders would sign in without a one-time code. Roles are {ROLES}; permissions look like "
    "accounts.manage, data.export or privacy.approve."
)


def account_issues() -> list:
    """The deployment checks' findings about accounts, as `guanxi check --deploy` runs them."""
    return [
        issue
        for issue in run_checks(include_deployment_checks=True)
        if issue.id.startswith("guanxi.accounts.")
    ]


def test_production_with_nobody_required_to_use_mfa_is_warned(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset()
    assert account_issues() == [
        Warning(
            "GUANXI_MFA_REQUIRED_FOR is empty: no role or permission has to sign in with a one-time code, "
            "administrators included.",
            hint="Unset it for the default (system_admin, accounts.manage, data.export, privacy.approve) or "
            "list the roles and permissions that must use two-factor sign-in.",
            obj=None,
            id="guanxi.accounts.W001",
        )
    ]


@pytest.mark.parametrize("production", [True, False])
def test_the_default_lists_pass(settings, production):
    settings.PRODUCTION = production
    settings.GUANXI_MFA_REQUIRED_FOR = DEFAULT if production else frozenset()
    assert account_issues() == []


def test_every_role_and_permission_may_be_named(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset(
        {"analyst", "sales_rep", "pii.view", "core.audit", "service.manage", "privacy.request"}
    )
    assert account_issues() == []


def test_an_unknown_role_or_permission_is_an_error_naming_it(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = DEFAULT | {"sysadmin", "data.exports"}
    assert account_issues() == [
        Error(
            "GUANXI_MFA_REQUIRED_FOR names the permission 'data.exports', which does not exist.",
            hint=UNKNOWN_HINT,
            id="guanxi.accounts.E001",
        ),
        Error(
            "GUANXI_MFA_REQUIRED_FOR names the role 'sysadmin', which does not exist.",
            hint=UNKNOWN_HINT,
            id="guanxi.accounts.E001",
        ),
    ]


def test_an_unknown_entry_is_reported_outside_production_too(settings):
    settings.PRODUCTION = False
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset({"admin"})
    assert [issue.id for issue in account_issues()] == ["guanxi.accounts.E001"]


def test_the_checks_run_only_with_deploy(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset({"sysadmin"})
    assert not [issue for issue in run_checks() if issue.id.startswith("guanxi.accounts.")]


def test_check_deploy_fails_on_an_unknown_entry_and_names_it(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = DEFAULT | {"sysadmin"}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--deploy", "--tag", "accounts")
    assert (
        "?: (guanxi.accounts.E001) GUANXI_MFA_REQUIRED_FOR names the role 'sysadmin', which does not exist."
        in str(raised.value)
    )


def test_check_deploy_prints_the_warning_for_an_empty_list(settings):
    settings.PRODUCTION = True
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset()
    err = StringIO()
    call_command("check", "--deploy", "--tag", "accounts", stderr=err)
    assert "?: (guanxi.accounts.W001) GUANXI_MFA_REQUIRED_FOR is empty" in err.getvalue()
    assert "System check identified 1 issue (0 silenced)." in err.getvalue()
