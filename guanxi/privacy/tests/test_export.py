"""The subject access export: every table about the person, in JSON and CSV, built as a job,
downloaded only by those allowed, each download audited."""

import io
import json
import zipfile

from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry, Job
from guanxi.customers.references import Blank, DeleteRows, pii_fields
from guanxi.privacy import actions
from guanxi.privacy.models import PrivacyRequest
from guanxi.privacy.tests.seed import EMAIL, NAME, NATIONAL, seed_person


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_export_from_the_360_page_holds_every_declared_field(
    client, home, unit_a, unit_b, make_user, django_capture_on_commit_callbacks
):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    seeded = seed_person(unit_a, unit_b, home / "media", events=25)
    client.force_login(head)
    page = client.get(f"/customers/{seeded.customer.pk}/")
    assert b'id="privacy-export-form"' in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/privacy/customers/{seeded.customer.pk}/export/", {"note": "letter"})
    item = PrivacyRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/privacy/{item.pk}/"
    assert (item.kind, item.state, item.requested_by) == ("export", "done", head)
    job = Job.objects.get(pk=item.job_id)
    assert (job.state, job.progress_done, job.progress_total) == (
        "succeeded",
        job.progress_total,
        job.progress_total,
    )
    assert job.counts["rows"] == sum(item.counts.values())

    download = client.get(f"/privacy/{item.pk}/download/")
    assert download.status_code == 200
    archive = _zip(download)
    data = json.loads(archive.read("data.json"))
    tables = data["tables"]
    assert data["customers"] == sorted(
        [seeded.customer.pk, *seeded.customer.absorbed.values_list("pk", flat=True)]
    )
    assert [row["name"] for row in tables["customers.Customer"]] == [NAME, NAME]
    assert sorted(row["value"] for row in tables["customers.Identity"]) == sorted(
        ["+8613912345678", EMAIL, "oUnion-ouyang-2024"]
    )
    assert len(tables["commerce.Event"]) == 25
    assert tables["commerce.Order"][0]["attributes"]["shipping"]["phone"] == NATIONAL
    assert [row["body"] for row in tables["service.TicketEvent"]] == [f"回电 {NATIONAL}"]
    assert item.counts == {label: len(rows) for label, rows in tables.items()}
    # PR-3: every personal field declared for the person's rows is in the export.
    for declared in pii_fields():
        if isinstance(declared.how, DeleteRows | Blank) and declared.model._meta.label in tables:
            row = tables[declared.model._meta.label][0]
            assert set(declared.fields) <= set(row), declared.model._meta.label
    csv_text = archive.read("customers.Customer.csv").decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("id,name,gender,birthday")
    assert sorted(name for name in archive.namelist() if name.endswith(".csv")) == sorted(
        f"{label}.csv" for label in tables
    )
    downloads = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, object_id=str(item.pk))
    assert downloads.values_list("actor", "message_code").get() == (head.pk, "privacy.downloaded")


def test_export_and_download_are_permission_gated(client, home, unit_a, unit_b, make_user):
    analyst = make_user("analyst", Role.ANALYST, [unit_a])
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    seeded = seed_person(unit_a, unit_b, home / "media")
    item = actions.request_export(seeded.customer, actor=head)
    actions.perform_export(item)
    client.force_login(analyst)
    assert b'id="privacy-export-form"' not in client.get(f"/customers/{seeded.customer.pk}/").content
    assert client.post(f"/privacy/customers/{seeded.customer.pk}/export/").status_code == 403
    assert client.get(f"/privacy/{item.pk}/download/").status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_an_expired_export_is_not_downloadable(client, home, unit_a, unit_b, make_user):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    seeded = seed_person(unit_a, unit_b, home / "media")
    item = actions.request_export(seeded.customer, actor=head)
    actions.perform_export(item)
    PrivacyRequest.objects.filter(pk=item.pk).update(expires_at="2020-01-01T00:00:00Z")
    client.force_login(head)
    response = client.get(f"/privacy/{item.pk}/download/")
    assert response.status_code == 302 and response["Location"] == f"/privacy/{item.pk}/"
