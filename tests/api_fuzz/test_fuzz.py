"""The short fuzz run of `make test` (reliability.md AC-3); `guanxi bench fuzz` runs the long one.

GUANXI_FUZZ_EXAMPLES raises the examples per operation (and scenarios of the stateful phase);
GUANXI_FUZZ_REPORT names a file the figures are written to; GUANXI_FUZZ_SHARD="i/n" runs the i-th of n
shares of the operations and callers (the long run starts one process per core).
"""

import os
from pathlib import Path

from tests.access.test_cross_unit import MARKER, world  # noqa: F401 - the two-unit world fixture
from tests.api_fuzz import harness

# Open findings, listed so the run stays green while they are fixed and fails the day the list is
# wrong either way. None are open: the enums that shared one component name and the segment rule
# errors in their own shape were fixed.
KNOWN_VIOLATIONS: set[str] = set()
EXAMPLES = int(os.environ.get("GUANXI_FUZZ_EXAMPLES", "3"))
SCENARIOS = int(os.environ.get("GUANXI_FUZZ_SCENARIOS", "20"))


def test_every_operation_answers_as_documented_and_within_its_unit(world, unit_a, make_user):  # noqa: F811
    schema = harness.load_schema()
    people = harness.callers(unit_a, make_user)
    report = harness.Report()
    with harness.connection_kept():
        harness.run_stateless(schema, people, MARKER, EXAMPLES, report)
        harness.run_stateful(schema, people, MARKER, SCENARIOS, report)
    if os.environ.get("GUANXI_FUZZ_REPORT"):
        harness.dump(report, Path(os.environ["GUANXI_FUZZ_REPORT"]))
    figures = harness.summary(report)
    if harness.shard()[1] == 1:  # a shard of the long run fuzzes its share of them
        assert report.operations == harness.documented_operations()  # every operation was fuzzed
    assert report.requests >= len(report.operations) * EXAMPLES
    assert (figures["server_errors"], figures["cross_unit_reads"]) == (0, {})
    new = {key: detail for key, detail in figures["failures"].items() if key not in KNOWN_VIOLATIONS}
    assert new == {}
    if EXAMPLES == 3:  # the default run sees each of them; a longer run may find more, never fewer
        assert set(figures["failures"]) == KNOWN_VIOLATIONS
