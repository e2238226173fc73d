"""Fixtures shared by every app's tests: an organisation with two business units and users per role."""

import os

import pytest
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role

# CI replays the same examples on every run, so a red build is reproducible; local runs explore.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle and rate-limit counters live in the cache; no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


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
