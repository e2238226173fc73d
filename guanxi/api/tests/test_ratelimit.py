"""Per-token (and per-user for sessions) request limits (guanxi.api.ratelimit)."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from conftest import PASSWORD
from guanxi.accounts import actions
from guanxi.api import ratelimit

WINDOW_START = 1_800_000_000.0  # a multiple of 60: the start of a one-minute window


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    cache.clear()
    now = {"value": WINDOW_START + 45}
    monkeypatch.setattr(ratelimit, "clock", lambda: now["value"])
    return now


@pytest.fixture
def analyst(make_user, unit_a):
    return make_user("ana", "analyst", [unit_a])


def call(client, secret):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_call_over_the_limit_gets_429_with_retry_after(client, analyst):
    secret = actions.create_api_token(user=analyst, name="t").secret

    allowed = [call(client, secret) for _ in range(3)]
    refused = call(client, secret)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r["RateLimit-Remaining"] for r in allowed] == ["2", "1", "0"]
    assert allowed[0]["RateLimit-Limit"] == "3"
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "15"
    assert refused.json() == {
        "type": "urn:guanxi:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "Too many requests; try again in 15 seconds.",
        "instance": "/api/v1/me",
    }


@override_settings(API_RATE_LIMIT_PER_MINUTE=2)
def test_each_token_has_its_own_budget(client, analyst):
    first = actions.create_api_token(user=analyst, name="first").secret
    second = actions.create_api_token(user=analyst, name="second").secret

    statuses = [call(client, first).status_code for _ in range(3)] + [call(client, second).status_code]

    assert statuses == [200, 200, 429, 200]


@override_settings(API_RATE_LIMIT_PER_MINUTE=1)
def test_next_window_starts_afresh(client, analyst, pinned_clock):
    secret = actions.create_api_token(user=analyst, name="t").secret
    assert [call(client, secret).status_code for _ in range(2)] == [200, 429]

    pinned_clock["value"] = WINDOW_START + 60

    assert call(client, secret).status_code == 200


@override_settings(API_RATE_LIMIT_PER_MINUTE=2)
def test_session_calls_are_limited_per_user(client, analyst):
    client.login(username="ana", password=PASSWORD)

    statuses = [client.get("/api/v1/me").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


@override_settings(API_RATE_LIMIT_PER_MINUTE=1)
def test_rejected_credentials_do_not_use_the_budget(client, analyst):
    secret = actions.create_api_token(user=analyst, name="t").secret

    assert call(client, "gx_wrong").status_code == 401
    assert call(client, secret).status_code == 200
