import time

import pytest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD
from guanxi.accounts import actions
from guanxi.accounts.tests.totp import code_for
from guanxi.core.models import AuditEntry

LOGIN = "/accounts/login/"


@pytest.fixture
def otp_user(make_user):
    """A user who turned on two-factor sign-in (the code that confirmed it is spent)."""
    user = make_user("li")
    device = actions.start_totp_setup(user=user)
    assert actions.confirm_totp_device(device=device, token=code_for(device), actor=user)
    return user


def device_of(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def test_login_page_has_the_form(client, organisation):
    response = client.get(reverse("accounts:login"))

    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("accounts:login") == LOGIN
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert '<button type="submit" class="button primary">' in body


def test_login_success_signs_in_and_audits(client, make_user):
    user = make_user("wang")

    response = client.post(LOGIN, {"username": "wang", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 302
    assert response.url == reverse("web:dashboard")
    assert client.session["_auth_user_id"] == str(user.pk)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert (entry.actor, entry.object_id, entry.ip_address) == (user, str(user.pk), "203.0.113.7")


def test_login_follows_a_local_next_only(client, make_user):
    make_user("wang")
    local = client.post(LOGIN, {"username": "wang", "password": PASSWORD, "next": "/customers/"})
    client.post(reverse("accounts:logout"))
    foreign = client.post(LOGIN, {"username": "wang", "password": PASSWORD, "next": "https://evil.example/"})

    assert local.url == "/customers/"
    assert foreign.url == reverse("web:dashboard")


@pytest.mark.parametrize(("username", "password"), [("wang", "wrong password"), ("nobody", PASSWORD)])
def test_login_failure_is_refused_and_audited_without_the_username(client, make_user, username, password):
    make_user("wang")

    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_FAILED)
    assert (entry.actor, entry.ip_address) == (None, "203.0.113.7")
    assert entry.details == f"Username {username[0]}***"


def test_inactive_user_cannot_sign_in(client, make_user):
    actions.set_user_active(user=make_user("wang"), is_active=False, actor=None)

    response = client.post(LOGIN, {"username": "wang", "password": PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only_and_audited(client, make_user):
    user = make_user("wang")
    client.force_login(user)

    refused = client.get(reverse("accounts:logout"))
    response = client.post(reverse("accounts:logout"))

    assert refused.status_code == 405
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGOUT, actor=user).count() == 1


def test_password_alone_does_not_sign_in_a_user_with_an_authenticator(client, otp_user):
    response = client.post(LOGIN, {"username": "li", "password": PASSWORD, "next": "/customers/"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:otp_verify") + "?next=%2Fcustomers%2F"
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("web:dashboard")).status_code == 302  # sent back to sign in
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN).exists()


def test_valid_code_completes_sign_in(client, otp_user):
    client.post(LOGIN, {"username": "li", "password": PASSWORD})

    response = client.post(
        reverse("accounts:otp_verify"), {"token": code_for(device_of(otp_user), steps_ahead=1), "next": "/x/"}
    )

    assert response.status_code == 302
    assert response.url == "/x/"
    assert client.session["_auth_user_id"] == str(otp_user.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device_of(otp_user).persistent_id
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN, actor=otp_user).count() == 1


def test_wrong_code_is_refused_and_audited(client, otp_user):
    client.post(LOGIN, {"username": "li", "password": PASSWORD})
    wrong = f"{(int(code_for(device_of(otp_user), steps_ahead=1)) + 1) % 1_000_000:06d}"

    response = client.post(reverse("accounts:otp_verify"), {"token": wrong})

    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_FAILED)
    assert (entry.object_id, entry.details) == (str(otp_user.pk), "Wrong one-time code")


def test_spent_code_cannot_be_replayed(client, otp_user):
    client.post(LOGIN, {"username": "li", "password": PASSWORD})

    response = client.post(reverse("accounts:otp_verify"), {"token": code_for(device_of(otp_user), -1)})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_code_attempts_are_throttled(client, otp_user, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only our window-based limit, not the device's back-off
    client.post(LOGIN, {"username": "li", "password": PASSWORD})
    for _ in range(5):
        client.post(reverse("accounts:otp_verify"), {"token": "000000"})

    response = client.post(
        reverse("accounts:otp_verify"), {"token": code_for(device_of(otp_user), steps_ahead=1)}
    )

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_THROTTLED)
    assert (entry.object_id, entry.details) == (str(otp_user.pk), "Too many one-time codes tried")


def test_code_page_without_a_password_step_goes_back_to_login(client, organisation):
    response = client.post(reverse("accounts:otp_verify"), {"token": "123456"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")


def test_pending_code_step_expires(client, otp_user, monkeypatch):
    client.post(LOGIN, {"username": "li", "password": PASSWORD})
    later = time.time() + 6 * 60
    token = code_for(device_of(otp_user), steps_ahead=1)
    monkeypatch.setattr("time.time", lambda: later)

    response = client.post(reverse("accounts:otp_verify"), {"token": token})

    assert response.url == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
