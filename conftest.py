"""Fixtures shared by every app's tests: an organisation with two business units and users per role."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseOperations as SQLiteOperations
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from guanxi.accounts import actions as account_actions
from guanxi.accounts.models import ApiToken
from guanxi.accounts.roles import Role

# CI replays the same examples on every run, so a red build is reproducible; local runs explore.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PASSWORD = "correct horse battery staple"

# The real public data in ../shared/data (see its README), by file, with where anyone can get it.
SHARED_DATA_SOURCES = {
    "online_retail.csv.gz": "UCI Machine Learning Repository, dataset 352 'Online Retail'",
    "cdnow_sample.csv.gz": "the CDNOW sample of Fader & Hardie, shipped in the PyPI package Lifetimes 0.11.3",
    "samples/shopify_order_fixture.json": "Shopify's REST Admin API documentation (Order resource)",
    "samples/shopify_orders_fixture.json": "Shopify's REST Admin API documentation (Order resource)",
    "samples/shopify_customer_fixture.json": "Shopify's REST Admin API documentation (Customer resource)",
    "samples/woocommerce_order_v3_example.json": "WooCommerce REST API v3 documentation (orders)",
    "samples/woocommerce_orders_list_v3_example.json": "WooCommerce REST API v3 documentation (orders)",
}


@pytest.fixture(scope="session")
def shared_data():
    """`shared_data(name)` is the path of a file of the real public data: GUANXI_SHARED_DATA, else
    shared/data beside the clone (as CI lays it out). Where it is absent the test skips, naming the
    public source, except under GUANXI_REQUIRE_SHARED_DATA (CI), where a missing file fails."""
    folder = Path(
        os.environ.get("GUANXI_SHARED_DATA") or Path(__file__).resolve().parent.parent / "shared" / "data"
    )

    def locate(name: str) -> Path:
        path = folder / name
        if path.is_file():
            return path
        message = (
            f"{path} is missing: it is {SHARED_DATA_SOURCES[name]}; "
            "set GUANXI_SHARED_DATA to the folder that holds it"
        )
        if os.environ.get("GUANXI_REQUIRE_SHARED_DATA"):
            pytest.fail(message)
        pytest.skip(message)

    return locate


@pytest.fixture(autouse=True)
def _default_language():
    """A request as a user who reads Chinese switches the test's thread to Chinese (LocaleMiddleware);
    the next test on the same worker starts in the settings' language again."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle and rate-limit counters live in the cache; no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _flush_may_empty_the_audit_log():
    """Transactional tests end with Django's flush: TRUNCATE on PostgreSQL, which the audit trigger
    does not see, but one DELETE per table on SQLite, which core.0004's trigger refuses. There the
    flush opens the purge horizon past every entry for its own transaction, as `purge_before` does
    for its cutoff (ADR 0041); outside the test suite a flush of the embedded database is refused."""
    original = SQLiteOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not any("core_auditentry" in statement for statement in statements):
            return statements
        return [
            "INSERT OR REPLACE INTO guanxi_audit_purge (id, before) VALUES (1, '9999-12-31 23:59:59');",
            *statements,
            "DELETE FROM guanxi_audit_purge;",
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture
def organisation(db):
    return account_actions.ensure_organisation("Guanxi Test Group")


@pytest.fixture
def unit_a(organisation):
    return account_actions.create_business_unit(code="home", name="Home textiles")


@pytest.fixture
def unit_b(organisation):
    return account_actions.create_business_unit(code="beauty", name="Beauty")


@pytest.fixture
def make_user(organisation):
    def make(username: str, role: str = Role.ANALYST, units=(), **kwargs):
        return account_actions.create_user(
            username=username, password=PASSWORD, role=role, units=list(units), **kwargs
        )

    return make


@pytest.fixture
def bearer(db):
    """`bearer(user, scope)`: the Authorization header of a new API token of `user` (read-only
    unless `scope` says otherwise); `bearer("gx_…")`: the header for a secret the test holds."""

    def header(who, scope: str = ApiToken.Scope.READ) -> dict[str, str]:
        secret = (
            who
            if isinstance(who, str)
            else account_actions.create_api_token(user=who, name="t", scope=scope).secret
        )
        return {"Authorization": f"Bearer {secret}"}

    return header


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", Role.SYSTEM_ADMIN)


@pytest.fixture
def manager(make_user):
    return make_user("manager", Role.GROUP_MANAGER)


@pytest.fixture
def unit_a_head(make_user, unit_a):
    return make_user("head_a", Role.UNIT_HEAD, [unit_a])


@pytest.fixture
def unit_b_head(make_user, unit_b):
    return make_user("head_b", Role.UNIT_HEAD, [unit_b])


# --- crash drills: real `guanxi` processes on a database of their own ------------------------------


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory):
    """A migrated SQLite file, made once per module of drills (each drill works on a copy)."""
    home = tmp_path_factory.mktemp("drill-template")
    env = {
        "GUANXI_HOME": str(home),
        "DATABASE_URL": f"sqlite:///{home / 'template.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "guanxi", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return home / "template.sqlite3"


@pytest.fixture
def drill_database(tmp_path, request):
    """The URL the drill's processes use: the test database itself on PostgreSQL (its processes see
    what the test commits), a fresh copy of the migrated SQLite file otherwise."""
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
        return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"
    shutil.copy(request.getfixturevalue("migrated_sqlite"), tmp_path / "drill.sqlite3")
    return f"sqlite:///{tmp_path / 'drill.sqlite3'}"
