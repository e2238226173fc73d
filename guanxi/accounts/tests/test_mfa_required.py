"""Two-factor sign-in compulsory for the roles and permissions in GUANXI_MFA_REQUIRED_FOR, proven
with real TOTP codes through the sign-in, enrolment and verification pages."""

from base64 import b32decode

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD
from guanxi.accounts.roles import Role
from guanxi.accounts.tests.totp import code_for

LOGIN = "/accounts/login/"
SETUP = "/accounts/two-factor/"
VERIFY = "/accounts/login/code/"


@pytest.fixture(autouse=True)
def required(settings):
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset({"system_admin", "data.export"})


def _code_from_secret(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows after scanning the secret the enrolment page printed."""
    totp = TOTP(b32decode(secret), step=30, t0=0, digits=6)
    totp.time = totp.time + steps_ahead * 30  # type: ignore[attr-defined]
    return f"{totp.token():06d}"


def test_an_administrator_without_an_authenticator_must_enrol_before_anything_else(client, make_user):
    make_user("boss", role=Role.SYSTEM_ADMIN)
    assert client.post(LOGIN, {"username": "boss", "password": PASSWORD}).status_code == 302

    assert client.get("/customers/").url == SETUP
    assert client.get("/accounts/users/").url == SETUP
    api = client.get("/api/v1/customers")
    assert (api.status_code, api["Content-Type"]) == (403, "application/problem+json")
    assert api.json()["detail"] == "Two-factor sign-in is required for this account."

    page = client.get(SETUP)
    assert page.status_code == 200
    secret = page.context["secret"]
    assert "<svg" in page.content.decode()  # the QR code to scan
    response = client.post(SETUP, {"token": _code_from_secret(secret)})
    assert response.url == SETUP
    assert client.get("/customers/").status_code == 200
    assert client.get("/api/v1/customers").status_code == 200


def test_an_enrolled_administrator_signs_in_with_a_code(client, make_user):
    user = make_user("boss", role=Role.SYSTEM_ADMIN)
    from guanxi.accounts import actions

    device = actions.start_totp_setup(user=user)
    assert actions.confirm_totp_device(device=device, token=code_for(device), actor=user)
    assert client.post(LOGIN, {"username": "boss", "password": PASSWORD}).url.startswith(VERIFY)
    # Past the password alone: not signed in, every page leads back to sign-in.
    assert client.get("/customers/").url.startswith(LOGIN)
    device = TOTPDevice.objects.get(user=user)
    assert client.post(VERIFY, {"token": code_for(device, steps_ahead=1)}).status_code == 302
    assert client.get("/customers/").status_code == 200


def test_a_session_from_before_the_rule_must_sign_in_again_with_its_code(client, make_user, settings):
    user = make_user("boss", role=Role.SYSTEM_ADMIN)
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset()
    client.force_login(user)
    from guanxi.accounts import actions

    device = actions.start_totp_setup(user=user)
    assert actions.confirm_totp_device(device=device, token=code_for(device), actor=user)
    settings.GUANXI_MFA_REQUIRED_FOR = frozenset({"system_admin"})

    assert client.get("/customers/").url == LOGIN
    assert "_auth_user_id" not in client.session


def test_export_permission_requires_it_and_a_plain_analyst_does_not(client, make_user):
    make_user("exporter", role=Role.ANALYST, can_export=True)
    make_user("reader", role=Role.ANALYST)
    client.post(LOGIN, {"username": "exporter", "password": PASSWORD})
    assert client.get("/customers/").url == SETUP
    client.post(reverse("accounts:logout"))
    client.post(LOGIN, {"username": "reader", "password": PASSWORD})
    assert client.get("/customers/").status_code == 200


def test_a_wrong_enrolment_code_leaves_the_account_blocked(client, make_user):
    make_user("boss", role=Role.SYSTEM_ADMIN)
    client.post(LOGIN, {"username": "boss", "password": PASSWORD})
    secret = client.get(SETUP).context["secret"]
    wrong = f"{(int(_code_from_secret(secret)) + 500_000) % 1_000_000:06d}"
    assert client.post(SETUP, {"token": wrong}).status_code == 200
    assert client.get("/customers/").url == SETUP
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
