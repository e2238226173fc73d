"""Token and session authentication of /api/v1/ (guanxi.accounts.api_auth)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD
from guanxi.accounts import actions
from guanxi.accounts.models import ApiToken

PROBLEM = "application/problem+json"


@pytest.fixture
def analyst(make_user, unit_a):
    return make_user("ana", "analyst", [unit_a])


@pytest.fixture
def read_token(analyst):
    return actions.create_api_token(user=analyst, name="reporting", scope=ApiToken.Scope.READ)


@pytest.fixture
def write_token(analyst):
    return actions.create_api_token(user=analyst, name="sync", scope=ApiToken.Scope.READ_WRITE)


def test_valid_token_authenticates_as_its_user(client, read_token, bearer):
    response = client.get("/api/v1/me", headers=bearer(read_token.secret))

    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["auth"], body["token_scope"]) == ("ana", "token", "read")


def _expire(issued):
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _revoke(issued):
    actions.revoke_api_token(token=issued.token, actor=issued.token.user)


@pytest.mark.parametrize(
    ("headers", "spoil", "detail"),
    [
        ({}, None, "Send an API token (Authorization: Bearer gx_…) or sign in."),
        ({"Authorization": "Bearer gx_not-a-real-token"}, None, "Invalid API token."),
        ({"Authorization": "Bearer abc"}, None, "Invalid API token."),
        (None, _revoke, "This API token has been revoked."),
        (None, _expire, "This API token has expired."),
    ],
    ids=["missing", "wrong", "not-gx", "revoked", "expired"],
)
def test_unusable_credentials_get_401_problem(client, read_token, headers, spoil, detail, bearer):
    if spoil:
        spoil(read_token)
    response = client.get(
        "/api/v1/customers", headers=bearer(read_token.secret) if headers is None else headers
    )

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "type": "urn:guanxi:problem:unauthenticated",
        "title": "Authentication required",
        "status": 401,
        "detail": detail,
        "instance": "/api/v1/customers",
    }


def test_unauthenticated_api_call_is_never_redirected_to_login(client):
    response = client.post("/api/v1/tokens", data={}, content_type="application/json")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_read_token_cannot_delete(client, analyst, read_token, bearer):
    other = actions.create_api_token(user=analyst, name="old")

    response = client.delete(f"/api/v1/tokens/{other.token.pk}", headers=bearer(read_token.secret))

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "This API token is read-only."
    other.token.refresh_from_db()
    assert other.token.revoked_at is None


def test_read_write_token_may_revoke_own_token(client, analyst, write_token, bearer):
    other = actions.create_api_token(user=analyst, name="old")

    response = client.delete(f"/api/v1/tokens/{other.token.pk}", headers=bearer(write_token.secret))

    assert response.status_code == 204
    assert response.content == b""
    other.token.refresh_from_db()
    assert other.token.revoked_at is not None


def test_token_cannot_revoke_another_users_token(client, make_user, write_token, bearer):
    stranger_token = actions.create_api_token(user=make_user("stranger"), name="theirs")

    response = client.delete(f"/api/v1/tokens/{stranger_token.token.pk}", headers=bearer(write_token.secret))

    assert response.status_code == 404
    stranger_token.token.refresh_from_db()
    assert stranger_token.token.revoked_at is None


@pytest.mark.parametrize("scope", [ApiToken.Scope.READ, ApiToken.Scope.READ_WRITE])
def test_token_cannot_mint_tokens(client, analyst, scope, bearer):
    issued = actions.create_api_token(user=analyst, name="script", scope=scope)

    response = client.post(
        "/api/v1/tokens", {"name": "more"}, content_type="application/json", headers=bearer(issued.secret)
    )

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "API tokens cannot do this; sign in to the web application instead."
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["script"]


def test_first_use_sets_last_used_at(client, read_token, bearer):
    assert read_token.token.last_used_at is None

    client.get("/api/v1/me", headers=bearer(read_token.secret))

    read_token.token.refresh_from_db()
    assert read_token.token.last_used_at is not None


def test_last_used_at_is_written_at_most_once_a_minute(client, read_token, bearer):
    recent = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.filter(pk=read_token.token.pk).update(last_used_at=recent)

    client.get("/api/v1/me", headers=bearer(read_token.secret))
    read_token.token.refresh_from_db()
    assert read_token.token.last_used_at == recent

    older = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=read_token.token.pk).update(last_used_at=older)
    client.get("/api/v1/me", headers=bearer(read_token.secret))
    read_token.token.refresh_from_db()
    assert read_token.token.last_used_at > older


def test_inactive_users_token_is_rejected(client, analyst, read_token, bearer):
    analyst.is_active = False
    analyst.save(update_fields=["is_active"])

    response = client.get("/api/v1/me", headers=bearer(read_token.secret))

    assert response.status_code == 401


def test_session_authenticates(client, analyst):
    client.login(username="ana", password=PASSWORD)

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert (response.json()["auth"], response.json()["token_scope"]) == ("session", None)


def test_session_write_needs_csrf_token(analyst):
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="ana", password=PASSWORD)

    response = browser.post("/api/v1/tokens", {"name": "laptop"}, content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert not ApiToken.objects.exists()


def test_session_creates_token_and_secret_is_shown_once(analyst, bearer):
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="ana", password=PASSWORD)
    csrf = "A" * 32
    browser.cookies[settings.CSRF_COOKIE_NAME] = csrf

    response = browser.post(
        "/api/v1/tokens",
        {"name": "laptop", "scope": "read_write"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )

    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get()
    assert (body["id"], body["name"], body["scope"], body["prefix"]) == (
        token.pk,
        "laptop",
        "read_write",
        token.prefix,
    )
    assert body["secret"].startswith("gx_")
    assert token.digest == ApiToken.digest_of(body["secret"])
    listed = Client().get("/api/v1/tokens", headers=bearer(body["secret"])).json()
    assert [set(item) for item in listed] == [
        {"id", "name", "prefix", "scope", "created_at", "last_used_at", "expires_at", "revoked_at"}
    ]


def test_token_list_shows_only_own_tokens(client, make_user, analyst, read_token, bearer):
    actions.create_api_token(user=make_user("stranger"), name="theirs")
    actions.create_api_token(user=analyst, name="second")

    response = client.get("/api/v1/tokens", headers=bearer(read_token.secret))

    assert [item["name"] for item in response.json()] == ["second", "reporting"]
