import pytest

from guanxi.accounts.roles import Role


@pytest.fixture
def unit_a_admin(make_user, unit_a):
    return make_user("uadmin_a", Role.UNIT_ADMIN, [unit_a])


@pytest.fixture
def analyst(make_user, unit_a):
    return make_user("analyst_a", Role.ANALYST, [unit_a])
