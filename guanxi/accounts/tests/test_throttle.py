import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import override_settings
from django.urls import reverse

from conftest import PASSWORD
from guanxi.accounts import throttle
from guanxi.core.models import AuditEntry

WRONG_PASSWORD = "wrong password"
COUNTING_HASHER = "guanxi.accounts.tests.test_throttle.CountingHasher"


class CountingHasher(MD5PasswordHasher):
    """MD5 that counts how often a password reaches it: checks, and the dummy hash for unknown users.

    make_password() asks for a salt before hashing; verify() does not, so counting `salt` and
    `verify` counts each hashing exactly once.
    """

    calls = 0

    def verify(self, password, encoded):
        CountingHasher.calls += 1
        return super().verify(password, encoded)

    def salt(self):
        CountingHasher.calls += 1
        return super().salt()


@pytest.fixture
def hasher_calls():
    with override_settings(PASSWORD_HASHERS=[COUNTING_HASHER]):
        CountingHasher.calls = 0
        yield lambda: CountingHasher.calls


def post_login(client, username, password=WRONG_PASSWORD, address="203.0.113.7"):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_thousand_guesses_for_one_username_reach_the_hasher_five_times(client, make_user, hasher_calls):
    make_user("wang")
    before = hasher_calls()  # creating the user hashed its password once
    statuses = [post_login(client, "wang").status_code for _ in range(1000)]

    assert hasher_calls() - before == 5
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}
    throttled = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_THROTTLED)
    assert throttled.count() == 995
    assert {(entry.details, entry.ip_address) for entry in throttled} == {("Username w***", "203.0.113.7")}
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED).count() == 5


def test_thousand_guesses_across_fifty_usernames_reach_the_hasher_twenty_times(
    client, make_user, hasher_calls
):
    for number in range(25):
        make_user(f"user{number}")
    before = hasher_calls()
    for attempt in range(1000):
        post_login(client, f"user{attempt % 50}")  # half exist, half do not

    assert hasher_calls() - before == 20


def test_throttled_username_refuses_even_the_right_password(client, make_user, hasher_calls):
    make_user("wang")
    for _ in range(5):
        post_login(client, "wang")
    before = hasher_calls()

    response = post_login(client, "wang", PASSWORD, address="198.51.100.1")

    assert response.status_code == 429
    assert hasher_calls() == before
    assert "_auth_user_id" not in client.session
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()


def test_username_counter_is_case_insensitive(client, make_user):
    make_user("wang")
    for username in ("wang", "Wang", "WANG", "wAng", "waNG"):
        post_login(client, username)

    assert post_login(client, "wang", PASSWORD).status_code == 429


def test_success_resets_the_username_counter(client, make_user):
    make_user("wang")
    for _ in range(4):
        post_login(client, "wang")
    assert post_login(client, "wang", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))

    statuses = [post_login(client, "wang").status_code for _ in range(6)]

    assert statuses == [200, 200, 200, 200, 200, 429]


def test_blocked_address_does_not_block_other_addresses(client, make_user):
    make_user("wang")
    for attempt in range(20):
        post_login(client, f"guess{attempt}", address="203.0.113.7")

    assert post_login(client, "wang", PASSWORD, address="203.0.113.7").status_code == 429
    assert post_login(client, "wang", PASSWORD, address="198.51.100.1").status_code == 302


@override_settings(LOGIN_FAILURES_PER_USERNAME=2, LOGIN_THROTTLE_WINDOW_SECONDS=60)
def test_limits_come_from_settings_and_reopen_after_the_window(client, make_user, monkeypatch):
    make_user("wang")
    clock = [1_000_000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    assert [post_login(client, "wang").status_code for _ in range(3)] == [200, 200, 429]

    clock[0] += 61

    assert post_login(client, "wang", PASSWORD).status_code == 302


def test_reserve_counts_only_attempts_that_go_ahead():
    username_limit = throttle.Limit("test-user", "a", limit=2, window=60)
    address_limit = throttle.Limit("test-address", "b", limit=3, window=60)
    limits = [username_limit, address_limit]

    results = [throttle.reserve(limits) > 0 for _ in range(4)]
    throttle.release([username_limit])

    assert results == [False, False, True, True]
    assert throttle.reserve([address_limit]) == 0
    assert throttle.reserve([address_limit]) > 0


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_address_subject(address, subject):
    assert throttle.address_subject(address) == subject


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "filebased.FileBasedCache"])
def test_window_outlives_the_cache_default_timeout(backend, tmp_path, monkeypatch):
    # The file cache's incr() re-sets the default 300 s timeout; the counter must still last the window.
    caches = {"default": {"BACKEND": f"django.core.cache.backends.{backend}", "LOCATION": str(tmp_path)}}
    clock = [1_000_000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    limit = throttle.Limit("test-user", "a", limit=2, window=1000)
    with override_settings(CACHES=caches):
        first, second, third = (throttle.reserve([limit]) for _ in range(3))
        clock[0] += 400
        later = throttle.reserve([limit])
        clock[0] += 601
        reopened = throttle.reserve([limit])

    assert (first, second, third, later, reopened) == (0, 0, 1000, 600, 0)
