"""The import pages: upload → dry run → import for real, the summary, the error report, limits and scoping."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.accounts.roles import Role
from guanxi.commerce.actions import save_import_mapping
from guanxi.commerce.models import ImportMapping, ImportRun, Order, Return, Store
from guanxi.commerce.tests.factories import make_store
from guanxi.core.background import run_job
from guanxi.core.models import AuditEntry, Job
from guanxi.customers.models import Customer

# Online Retail layout: two invoices and a postage row for 17850, one for 13047, a guest invoice,
# a credit note for 14527, and an invoice of 12583 whose price is a formula and whose other row
# has quantity 0 (the invoice exists, with no line).
RETAIL_CSV = (
    b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    b"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    b"536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
    b"536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850,United Kingdom\n"
    b"536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n"
    b"536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047,United Kingdom\n"
    b"536368,22960,JAM MAKING SET WITH JARS,6,2010-12-01 08:34:00,4.25,,United Kingdom\n"
    b"C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
    b"536370,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:45:00,=cmd|' /C calc'!A0,12583,France\n"
    b"536370,22727,ALARM CLOCK BAKELIKE RED,0,2010-12-01 08:45:00,3.75,12583,France\n"
)
COUNTS = {
    "rows": 9,
    "imported": 6,
    "skipped": 2,
    "rejected": 1,
    "warnings": 0,
    "issues_stored": 3,
    "customers_created": 4,
    "orders_created": 5,
    "orders_existing": 0,
    "returns_created": 1,
    "returns_existing": 0,
    "order_lines": 5,
    "reasons": {"adjustment_postage": 1, "bad_price": 1, "non_positive_quantity": 1},
}
BOM = "\ufeff"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(name="retail.csv", content=RETAIL_CSV):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def post_upload(client, unit, capture, **fields):
    data = {"file": upload(), "kind": "online_retail", "unit": unit.pk, "store_source": "", "mapping": ""}
    data.update(fields)
    with capture(execute=True):
        return client.post("/imports/add/", data)


def follow_to_run(client, response) -> ImportRun:
    """From the upload's redirect, through the waiting page, to the run's page."""
    assert response.status_code == 302
    waiting = client.get(response.url)
    assert waiting.status_code == 302
    assert waiting.url.startswith("/imports/")
    return ImportRun.objects.get(pk=int(waiting.url.strip("/").split("/")[-1]))


def orders_by_customer() -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for order in Order.objects.select_related("customer").order_by("number"):
        key = order.customer.identities.get().value if order.customer else None
        found.setdefault(key, []).append(order.number)
    return found


def test_upload_is_dry_run_first_then_imported_for_real(
    client, unit_a_head, unit_a, media, django_capture_on_commit_callbacks
):
    client.force_login(unit_a_head)

    dry = follow_to_run(client, post_upload(client, unit_a, django_capture_on_commit_callbacks))

    assert (dry.dry_run, dry.state, dry.unit, dry.started_by) == (True, "succeeded", unit_a, unit_a_head)
    assert dry.counts == COUNTS
    assert dry.file_name == "retail.csv"
    stored = Path(dry.path)
    assert stored.parent.parent == (media / "imports").resolve()
    assert len(stored.parent.name) == 32
    assert stored.read_bytes() == RETAIL_CSV
    assert (Order.objects.count(), Customer.objects.count(), Store.objects.count()) == (0, 0, 0)
    page = client.get(f"/imports/{dry.pk}/")
    assert page.context["main_counts"] == [
        ("rows", 9),
        ("imported", 6),
        ("skipped", 2),
        ("rejected", 1),
        ("warnings", 0),
    ]
    assert page.context["reasons"] == [
        ("adjustment_postage", "Adjustment row (postage), not goods", 1),
        ("bad_price", "UnitPrice is not a number", 1),
        ("non_positive_quantity", "Quantity is zero or negative on a sales invoice", 1),
    ]
    assert [(issue.row, issue.column, issue.reason_text) for issue in page.context["issues"]] == [
        (4, "StockCode", "Adjustment row (postage), not goods"),
        (9, "UnitPrice", "UnitPrice is not a number"),
        (10, "Quantity", "Quantity is zero or negative on a sales invoice"),
    ]
    assert page.context["can_confirm"] is True
    assert "Import for real" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(f"/imports/{dry.pk}/confirm/")
    real = follow_to_run(client, confirmed)

    assert (real.dry_run, real.state, real.path, real.unit) == (False, "succeeded", dry.path, unit_a)
    assert real.counts == COUNTS
    assert orders_by_customer() == {
        "17850": ["536365", "536366"],
        "13047": ["536367"],
        "12583": ["536370"],
        None: ["536368"],
    }
    assert list(Return.objects.values_list("number", "customer__identities__value")) == [("C536379", "14527")]
    assert AuditEntry.objects.filter(action="import", object_id=str(real.pk), actor=unit_a_head).count() == 1
    final = client.get(f"/imports/{real.pk}/")
    assert final.context["can_confirm"] is False
    assert f"/imports/{real.pk}/errors.csv" in final.content.decode()
    listed = client.get("/imports/")
    assert [run.pk for run, _label in listed.context["rows"]] == [real.pk, dry.pk]


def test_the_waiting_page_polls_until_the_worker_opens_the_run(client, unit_a_head, unit_a):
    client.force_login(unit_a_head)
    response = client.post(
        "/imports/add/", {"file": upload(), "kind": "online_retail", "unit": unit_a.pk}
    )  # on_commit callbacks are not run here: the job stays queued
    job = Job.objects.get()

    waiting = client.get(response.url)
    polled = client.get(response.url, headers={"HX-Request": "true"})
    run_job(job)
    arrived = client.get(response.url, headers={"HX-Request": "true"})

    assert (job.kind, job.params["dry_run"], job.unit, job.started_by) == (
        "commerce.import",
        True,
        unit_a,
        unit_a_head,
    )
    assert waiting.status_code == 200
    assert f'hx-get="/imports/started/{job.pk}/"' in waiting.content.decode()
    assert polled.content.decode().lstrip().startswith('<section class="card" id="import-waiting"')
    run = ImportRun.objects.get(job=job)
    assert arrived["HX-Redirect"] == f"/imports/{run.pk}/"


def test_a_running_import_polls_its_summary(client, unit_a_head, unit_a):
    run = ImportRun.objects.create(
        kind="online_retail", file_name="big.csv", sha256="0" * 64, unit=unit_a, position=250, total_rows=1000
    )
    client.force_login(unit_a_head)

    page = client.get(f"/imports/{run.pk}/")
    fragment = client.get(f"/imports/{run.pk}/", headers={"HX-Request": "true"})

    assert page.context["percent"] == 25
    assert f'hx-get="/imports/{run.pk}/" hx-trigger="every 1s"' in page.content.decode()
    assert (
        fragment.content.decode().lstrip().startswith(f'<div id="import-summary" hx-get="/imports/{run.pk}/"')
    )


def test_a_file_that_fails_shows_the_reason(client, unit_a_head, unit_a, django_capture_on_commit_callbacks):
    client.force_login(unit_a_head)
    broken = upload("orders.csv", b"Nothing\n1\n")

    run = follow_to_run(client, post_upload(client, unit_a, django_capture_on_commit_callbacks, file=broken))

    assert run.state == "failed"
    page = client.get(f"/imports/{run.pk}/")
    assert page.context["can_confirm"] is False
    assert "Required columns missing: InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice" in (
        page.content.decode()
    )


def test_an_oversized_file_is_refused_with_a_clear_error(client, unit_a_head, unit_a, settings, media):
    settings.GUANXI_MAX_IMPORT_BYTES = 100
    client.force_login(unit_a_head)

    response = client.post("/imports/add/", {"file": upload(), "kind": "online_retail", "unit": unit_a.pk})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": [
            f"The file is {len(RETAIL_CSV)}\xa0bytes; the largest file accepted is 100\xa0bytes. "
            "Split it into several files."
        ]
    }
    assert Job.objects.count() == 0
    assert not (media / "imports").exists()


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (
            "orders.pdf",
            b"%PDF-1.7",
            "orders.pdf is not a file Guanxi can import: use .csv, .csv.gz, .xlsx or .json.",
        ),
        (
            "orders.xls",
            b"\xd0\xcf\x11\xe0",
            "orders.xls is not a file Guanxi can import: use .csv, .csv.gz, .xlsx or .json.",
        ),
        ("orders.xlsx", b"a,b\n1,2\n", "orders.xlsx is not what its name says (not a real .xlsx file)."),
        ("orders.csv.gz", b"a,b\n1,2\n", "orders.csv.gz is not what its name says (not a real .gz file)."),
        (
            "orders.csv",
            b"PK\x03\x04rest",
            "orders.csv looks like a binary file, not text: export it as CSV or JSON first.",
        ),
        ("orders.csv", b"", "The submitted file is empty."),
    ],
)
def test_a_wrong_file_type_is_a_form_error(client, unit_a_head, unit_a, name, content, error):
    client.force_login(unit_a_head)

    response = client.post(
        "/imports/add/", {"file": upload(name, content), "kind": "online_retail", "unit": unit_a.pk}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [error]}
    assert Job.objects.count() == 0


def test_the_error_report_lists_every_issue_with_formulas_neutralised(
    client, unit_a_head, unit_a, django_capture_on_commit_callbacks
):
    client.force_login(unit_a_head)
    run = follow_to_run(client, post_upload(client, unit_a, django_capture_on_commit_callbacks))

    response = client.get(f"/imports/{run.pk}/errors.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="guanxi-import-{run.pk}-report.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith(BOM)
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["row", "column", "value", "outcome", "code", "reason"],
        ["4", "StockCode", "POST", "Skipped", "adjustment_postage", "Adjustment row (postage), not goods"],
        ["9", "UnitPrice", "'=cmd|' /C calc'!A0", "Rejected", "bad_price", "UnitPrice is not a number"],
        [
            "10",
            "Quantity",
            "0",
            "Skipped",
            "non_positive_quantity",
            "Quantity is zero or negative on a sales invoice",
        ],
    ]
    entry = AuditEntry.objects.get(action="export")
    assert (entry.actor, entry.object_id, entry.unit, entry.details) == (
        unit_a_head,
        str(run.pk),
        unit_a,
        "Import report of 3 rows",
    )


def test_cell_values_are_for_the_uploader_and_people_who_may_see_pii(
    client, unit_a_head, unit_a, make_user, django_capture_on_commit_callbacks
):
    client.force_login(unit_a_head)
    run = follow_to_run(client, post_upload(client, unit_a, django_capture_on_commit_callbacks))
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    trusted = make_user("analyst_pii", Role.ANALYST, [unit_a], can_view_pii=True)

    client.force_login(analyst)
    page = client.get(f"/imports/{run.pk}/")
    refused = client.get(f"/imports/{run.pk}/errors.csv")
    client.force_login(trusted)
    allowed = client.get(f"/imports/{run.pk}/errors.csv")

    assert page.context["show_values"] is False
    assert "=cmd" not in page.content.decode()
    assert refused.status_code == 403
    denial = AuditEntry.objects.get(action="permission_denied")
    assert (denial.actor, denial.object_id, denial.details) == (
        analyst,
        "pii.view",
        f"Refused: GET /imports/{run.pk}/errors.csv",
    )
    assert allowed.status_code == 200


def test_uploading_needs_the_add_permission(client, unit_a, unit_a_head, make_user):
    run = ImportRun.objects.create(
        kind="online_retail", file_name="a.csv", sha256="0" * 64, unit=unit_a, dry_run=True, state="succeeded"
    )
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    form = client.get("/imports/add/")
    posted = client.post("/imports/add/", {"file": upload(), "kind": "online_retail", "unit": unit_a.pk})
    confirm = client.post(f"/imports/{run.pk}/confirm/")
    listed = client.get("/imports/")

    assert (form.status_code, posted.status_code, confirm.status_code) == (403, 403, 403)
    assert [
        (entry.object_id, entry.details) for entry in AuditEntry.objects.filter(action="permission_denied")
    ] == [
        ("commerce.add", f"Refused: POST /imports/{run.pk}/confirm/"),
        ("commerce.add", "Refused: POST /imports/add/"),
        ("commerce.add", "Refused: GET /imports/add/"),
    ]
    assert Job.objects.count() == 0
    assert listed.status_code == 200
    assert listed.context["can_add"] is False
    assert "Upload a file" not in listed.content.decode()


def test_a_unit_sees_only_its_own_import_runs(client, unit_a, unit_b, unit_a_head, unit_b_head, manager):
    run_a = ImportRun.objects.create(kind="online_retail", file_name="a.csv", sha256="0" * 64, unit=unit_a)
    run_b = ImportRun.objects.create(
        kind="online_retail", file_name="b.csv", sha256="1" * 64, unit=unit_b, dry_run=True, state="succeeded"
    )

    client.force_login(unit_a_head)
    listed = [run.pk for run, _label in client.get("/imports/").context["rows"]]
    statuses = [
        client.get(f"/imports/{run_b.pk}/").status_code,
        client.get(f"/imports/{run_b.pk}/errors.csv").status_code,
        client.post(f"/imports/{run_b.pk}/confirm/").status_code,
    ]
    client.force_login(manager)
    everything = [run.pk for run, _label in client.get("/imports/").context["rows"]]

    assert listed == [run_a.pk]
    assert statuses == [404, 404, 404]
    assert everything == [run_b.pk, run_a.pk]
    assert Job.objects.count() == 0


def test_the_unit_must_be_one_of_the_users(client, unit_a_head, unit_b):
    client.force_login(unit_a_head)

    response = client.post("/imports/add/", {"file": upload(), "kind": "online_retail", "unit": unit_b.pk})

    assert response.context["form"].errors == {
        "unit": [f"Select a valid choice. {unit_b.pk} is not one of the available choices."]
    }
    assert Job.objects.count() == 0


def test_a_store_of_another_unit_is_refused(client, manager, unit_a, unit_b):
    store = make_store(unit_b, "beauty-shop")
    client.force_login(manager)

    response = client.post(
        "/imports/add/",
        {"file": upload(), "kind": "online_retail", "unit": unit_a.pk, "store_source": store.source},
    )

    assert response.context["form"].errors == {
        "store_source": ["The store tmall:beauty-shop belongs to another business unit."]
    }


def test_a_saved_mapping_is_used_for_generic_files(
    client, unit_a_head, unit_a, django_capture_on_commit_callbacks
):
    mapping = save_import_mapping(
        kind="generic_customers", name="CRM export", mapping={"手机": "identity:phone", "名字": "name"}
    )
    save_import_mapping(kind="generic_orders", name="Orders sheet", mapping={"单号": "external_id"})
    client.force_login(unit_a_head)
    people = upload("people.csv", "名字,手机\n张伟,13812345678\n李娜,13987654321\n".encode())

    run = follow_to_run(
        client,
        post_upload(
            client,
            unit_a,
            django_capture_on_commit_callbacks,
            file=people,
            kind="generic_customers",
            mapping=mapping.pk,
        ),
    )

    assert (run.state, run.params["mapping_name"], run.counts["rows"], run.counts["imported"]) == (
        "succeeded",
        "CRM export",
        2,
        2,
    )
    other = ImportMapping.objects.get(name="Orders sheet")
    wrong = client.post(
        "/imports/add/",
        {
            "file": upload("people.csv", b"a\n1\n"),
            "kind": "generic_customers",
            "unit": unit_a.pk,
            "mapping": other.pk,
        },
    )
    assert wrong.context["form"].errors == {"mapping": ["This mapping is for another kind of file."]}


def test_old_uploads_are_removed_unless_an_import_still_reads_them(media, unit_a, settings):
    import os
    import time

    from guanxi.commerce.uploads import remove_old_uploads, uploads_dir
    from guanxi.core.background import create_job

    settings.GUANXI_IMPORT_UPLOAD_DAYS = 7
    folders = {}
    for name in ("old", "busy", "fresh"):
        folder = uploads_dir() / name
        folder.mkdir(parents=True)
        (folder / "orders.csv").write_text("a,b\n")
        folders[name] = folder
    eight_days_ago = time.time() - 8 * 86400
    for name in ("old", "busy"):
        os.utime(folders[name], (eight_days_ago, eight_days_ago))
    create_job("commerce.import", params={"path": str(folders["busy"] / "orders.csv")}, unit=unit_a)

    assert remove_old_uploads() == 1
    assert sorted(path.name for path in uploads_dir().iterdir()) == ["busy", "fresh"]
