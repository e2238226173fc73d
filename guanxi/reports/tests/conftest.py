"""The reports' test shop, and the service desks of guanxi.service's tests for the service report."""

import pytest

from guanxi.reports.tests.data import make_shop
from guanxi.service.tests.conftest import desk_a, desk_b  # noqa: F401 (fixtures)


@pytest.fixture
def shop(unit_a, unit_b):
    return make_shop(unit_a, unit_b)
