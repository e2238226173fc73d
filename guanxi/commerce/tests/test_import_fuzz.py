"""Property: whatever the file holds, an import ends cleanly and the database matches its report."""

import csv
import io

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.commerce.importers import run_import
from guanxi.commerce.models import ImportRun, Order, OrderLine, Return

HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
NASTY = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "",
    " ",
    "\x00",
    "\u202e",
    "138****5678",
    "白色挂心灯",
]

cell = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
row = st.fixed_dictionaries(
    {
        "InvoiceNo": st.one_of(st.sampled_from(["536365", "536366", "C536367", "A1", ""]), cell),
        "StockCode": st.one_of(st.sampled_from(["85123A", "POST", "D", "M"]), cell),
        "Description": st.one_of(cell, st.integers(300, 20_000).map(lambda size: "长" * size)),
        "Quantity": st.one_of(st.integers(-50, 50).map(str), cell),
        "InvoiceDate": st.one_of(
            st.sampled_from(["2010-12-01 08:26:00", "2011-03-27 01:30:00", "12/1/2010 8:26"]), cell
        ),
        "UnitPrice": st.one_of(st.decimals(-10, 1000, places=2, allow_nan=False).map(str), cell),
        "CustomerID": st.one_of(st.sampled_from(["17850", "13047", ""]), cell),
        "Country": cell,
    }
)
file_spec = st.tuples(
    st.lists(row, max_size=15),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    st.lists(st.sampled_from(HEADER), min_size=0, max_size=8, unique=True),  # columns dropped
    st.binary(max_size=40),  # raw bytes spliced into the file
)


class RollbackError(Exception):
    """Undo one example's writes so every example starts from an empty database."""


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=file_spec)
def test_any_file_imports_consistently_or_fails_cleanly(tmp_path_factory, unit_a, spec):
    rows, encoding, dropped, noise = spec
    header = [name for name in HEADER if name not in dropped[:2]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[values[name] for name in header] for values in rows])
    data = buffer.getvalue().encode(encoding, errors="replace")
    middle = len(data) // 2
    path = tmp_path_factory.mktemp("fuzz") / "hostile.csv"
    path.write_bytes(data[:middle] + noise + data[middle:])

    try:
        with transaction.atomic():
            run = run_import("online_retail", path, unit=unit_a, chunk_size=7)

            assert run.state in (ImportRun.State.SUCCEEDED, ImportRun.State.FAILED)
            if run.state == ImportRun.State.FAILED:
                assert run.message
                assert (Order.objects.count(), Return.objects.count()) == (0, 0)
            else:
                counts = run.counts
                assert counts["imported"] + counts["skipped"] + counts["rejected"] == counts["rows"]
                assert run.row_errors.count() == counts["skipped"] + counts["rejected"]
                assert Order.objects.count() == counts["orders_created"]
                assert OrderLine.objects.count() == counts["order_lines"]
                assert Return.objects.count() == counts["returns_created"]
            raise RollbackError
    except RollbackError:
        pass
