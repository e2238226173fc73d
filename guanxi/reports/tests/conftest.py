"""The service desks of guanxi.service's tests, for the service report."""

from guanxi.service.tests.conftest import desk_a, desk_b  # noqa: F401 (fixtures)
