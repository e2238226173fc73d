import hashlib
from base64 import b32encode

from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from guanxi.accounts import actions
from guanxi.accounts.models import ApiToken
from guanxi.accounts.tests.totp import code_for
from guanxi.core.models import AuditEntry


def test_token_secret_is_shown_once_and_only_its_digest_is_stored(client, make_user):
    user = make_user("wang")
    client.force_login(user)

    created = client.post(reverse("accounts:token_add"), {"name": "ERP sync", "scope": "read_write"})
    listing = client.get(reverse("accounts:token_list"))

    secret = created.context["secret"]
    token = ApiToken.objects.get(user=user)
    assert created.status_code == 200
    assert created["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert secret.startswith("gx_") and secret in created.content.decode()
    assert (token.name, token.scope, token.prefix) == ("ERP sync", "read_write", secret[:10])
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in listing.content.decode()
    assert f"{token.prefix}…" in listing.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TOKEN_CREATE)
    assert (entry.actor, entry.object_label, entry.details) == (
        user,
        f"{token.prefix}…",
        "Scope: Read and write",
    )


def test_token_list_shows_only_own_tokens(client, make_user):
    wang, li = make_user("wang"), make_user("li")
    actions.create_api_token(user=wang, name="mine")
    actions.create_api_token(user=li, name="theirs")
    client.force_login(wang)

    response = client.get(reverse("accounts:token_list"))

    assert [token.name for token in response.context["tokens"]] == ["mine"]


def test_token_revoke(client, make_user):
    user = make_user("wang")
    token = actions.create_api_token(user=user, name="ERP sync").token
    client.force_login(user)

    refused = client.get(reverse("accounts:token_revoke", args=[token.pk]))
    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))

    token.refresh_from_db()
    assert refused.status_code == 405
    assert response.status_code == 302
    assert response.url == reverse("accounts:token_list")
    assert token.revoked_at is not None and not token.is_usable
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TOKEN_REVOKE)
    assert (entry.actor, entry.object_id) == (user, str(token.pk))


def test_nobody_revokes_another_users_token(client, make_user, admin_user):
    token = actions.create_api_token(user=make_user("wang"), name="ERP sync").token
    client.force_login(admin_user)

    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))

    token.refresh_from_db()
    assert response.status_code == 404
    assert token.revoked_at is None


def test_token_pages_need_sign_in(client, organisation):
    response = client.get(reverse("accounts:token_list"))

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={reverse('accounts:token_list')}"


def test_two_factor_setup_shows_qr_and_key_of_an_unconfirmed_device(client, make_user):
    user = make_user("wang")
    client.force_login(user)

    first = client.get(reverse("accounts:otp_setup"))
    second = client.get(reverse("accounts:otp_setup"))

    device = TOTPDevice.objects.get(user=user)
    body = first.content.decode()
    assert device.confirmed is False
    assert "<svg" in body
    assert b32encode(device.bin_key).decode() in body
    assert second.context["secret"] == first.context["secret"]  # reloading keeps the same key


def test_two_factor_setup_confirms_with_a_valid_code(client, make_user):
    user = make_user("wang")
    client.force_login(user)
    client.get(reverse("accounts:otp_setup"))
    device = TOTPDevice.objects.get(user=user)

    response = client.post(reverse("accounts:otp_setup"), {"token": code_for(device)})
    after = client.get(reverse("accounts:otp_setup"))

    device.refresh_from_db()
    assert response.status_code == 302
    assert device.confirmed is True
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert after.context["enabled"] is True
    entry = AuditEntry.objects.get(action=AuditEntry.Action.OTP_ENABLED)
    assert (entry.actor, entry.object_id) == (user, str(user.pk))


def test_two_factor_setup_refuses_a_wrong_code(client, make_user):
    user = make_user("wang")
    client.force_login(user)
    client.get(reverse("accounts:otp_setup"))
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"

    response = client.post(reverse("accounts:otp_setup"), {"token": wrong})

    device.refresh_from_db()
    assert response.status_code == 200
    assert response.context["form"].errors["token"] == [
        "That code is not valid. Use the current code from your app."
    ]
    assert device.confirmed is False
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.OTP_ENABLED).exists()
