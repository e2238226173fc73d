"""The reports' test shop, the service desks of guanxi.service's tests for the service report and the
sales teams of guanxi.sales' tests for the pipeline reports."""

import pytest

from guanxi.reports.tests.data import make_shop
from guanxi.sales.tests.conftest import team_a, team_b  # noqa: F401 (fixtures)
from guanxi.service.tests.conftest import desk_a, desk_b  # noqa: F401 (fixtures)


@pytest.fixture
def shop(unit_a, unit_b):
    return make_shop(unit_a, unit_b)
