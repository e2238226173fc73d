import pytest
from django.core.cache import cache

from guanxi.accounts.roles import Role


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttle counters live in the (process-wide) memory cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def unit_a_admin(make_user, unit_a):
    return make_user("uadmin_a", Role.UNIT_ADMIN, [unit_a])


@pytest.fixture
def analyst(make_user, unit_a):
    return make_user("analyst_a", Role.ANALYST, [unit_a])
