"""Importing leads from a file: good rows kept, bad rows reported by row, column and reason, resent
rows updating their lead, duplicates counted; the job runs with the uploader's language."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from guanxi.core.models import Job
from guanxi.sales.importing import import_leads
from guanxi.sales.models import Lead

pytestmark = pytest.mark.django_db

CSV = """姓名,公司,手机,邮箱,编号,预计金额,备注
周杰,杰成贸易,13711112222,,A-1,"12,000",要样品
,无名公司,,,A-2,,
李雷,雷霆酒店,138****0000,,A-3,,
韩梅,梅园会所,,han@meiyuan.cn,A-4,abc,
周杰,杰成贸易,137 1111 2222,,A-5,,又问了一次
"""


def test_good_rows_are_kept_and_bad_ones_reported(tmp_path, team_a):
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8-sig")

    report = import_leads(path, unit=team_a.unit, actor=team_a.rep)

    assert (report.rows, dict(report.counts)) == (5, {"created": 1, "rejected": 3, "duplicate": 1})
    assert report.errors == [
        {
            "row": 3,
            "column": "phone",
            "reason": "Give a phone number or an e-mail address, so the lead can be reached.",
        },
        {"row": 4, "column": "phone", "reason": "“138****0000” is not a usable phone number."},
        {"row": 5, "column": "estimated_amount", "reason": "“abc” is not an amount."},
    ]
    lead = Lead.objects.get()
    assert (lead.name, lead.company, lead.external_id, lead.estimated_amount, lead.source, lead.owner) == (
        "周杰",
        "杰成贸易",
        "A-1",
        12000,
        "import",
        team_a.rep,
    )


def test_importing_the_same_file_again_adds_nothing(tmp_path, team_a):
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    import_leads(path, unit=team_a.unit, actor=team_a.rep)

    again = import_leads(path, unit=team_a.unit, actor=team_a.rep)

    assert again.counts["unchanged"] == 1 and again.counts["created"] == 0
    assert Lead.objects.count() == 1


def test_the_import_page_runs_a_job_that_reports_in_the_uploaders_language(
    client, team_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(team_a.rep)
    client.cookies["django_language"] = "zh-hans"
    upload = SimpleUploadedFile("leads.csv", CSV.encode("utf-8-sig"), content_type="text/csv")

    # The request switches this thread to Chinese; override() puts the test's language back after it.
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sales:lead_import"), {"file": upload})

    job = Job.objects.get()
    assert response["Location"] == reverse("web:job", args=[job.pk])
    assert (job.state, job.counts["created"], job.counts["rejected"]) == ("succeeded", 1, 3)
    assert job.errors[0] == {
        "row": 3,
        "column": "phone",
        "reason": "请填写手机号码或电子邮箱，以便联系到此线索。",
    }


def test_a_file_without_a_contact_column_is_refused_at_once(client, team_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(team_a.rep)
    upload = SimpleUploadedFile("leads.csv", "姓名,公司\n周杰,杰成\n".encode(), content_type="text/csv")

    response = client.post(reverse("sales:lead_import"), {"file": upload})

    assert response.status_code == 200 and "The file needs a phone" in response.content.decode()
    assert not Job.objects.exists()
