"""The segment pages over HTTP: the htmx builder, the live preview, saving, the detail page and lists."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.commerce.tests.factories import make_customer
from guanxi.segments import actions
from guanxi.segments.models import Segment

MOTHERS_DAY_FORM = {
    "r:node": "all",
    "r:n": "2",
    "r.0:node": "condition",
    "r.0:field": "profile.gender",
    "r.0:op": "eq",
    "r.0:value": "female",
    "r.1:node": "condition",
    "r.1:field": "orders.lines.count",
    "r.1:op": "gte",
    "r.1:value": "1",
    "r.1:categories": "home_textiles",
    "r.1:window": "last:365:days",
}


@pytest.fixture
def people(unit_a, unit_b):
    return {
        "anna": make_customer("Anna", [unit_a], gender="female"),
        "bea": make_customer("Bea", [unit_b], gender="female"),
    }


def test_list_shows_visible_segments(client, unit_a_head, unit_b, people):
    actions.create_segment(actor=None, name="Org-wide", rule={"version": 1, "root": {"all": []}})
    actions.create_segment(
        actor=None, name="Beauty only", unit=unit_b, rule={"version": 1, "root": {"all": []}}
    )
    client.force_login(unit_a_head)
    body = client.get("/segments/").content.decode()
    assert "Org-wide" in body
    assert "Beauty only" not in body


def test_preview_counts_and_reads_the_rule_aloud(client, unit_a_head, people):
    client.force_login(unit_a_head)
    response = client.post("/segments/preview/", MOTHERS_DAY_FORM, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert '<p class="kpi-value" data-count>0</p>' in body
    assert "gender is Female and bought in category home_textiles in the last 365 days" in body


def test_preview_reports_the_path_of_a_bad_value(client, manager, people):
    client.force_login(manager)
    form = {**MOTHERS_DAY_FORM, "r.1:value": "many"}
    body = client.post("/segments/preview/", form).content.decode()
    assert "<code>root.all[1].value</code>: expected a whole number in range" in body


def test_builder_adds_and_removes_conditions(client, manager):
    client.force_login(manager)
    added = client.post("/segments/builder/", {**MOTHERS_DAY_FORM, "action": "group:r"}).content.decode()
    assert 'name="r.2:node" value="all"' in added
    assert 'name="r.2.0:field" value="profile.gender"' in added
    removed = client.post("/segments/builder/", {**MOTHERS_DAY_FORM, "action": "remove:r.0"}).content.decode()
    assert 'name="r:n" value="1"' in removed
    assert 'name="r.0:field" value="orders.lines.count"' in removed


def test_saving_creates_the_segment_and_its_members(client, manager, people):
    client.force_login(manager)
    form = {
        "name": "Women",
        "kind": "dynamic",
        "unit": "",
        "r:node": "condition",
        "r:field": "profile.gender",
        "r:op": "eq",
        "r:value": "female",
        "action": "save",
    }
    response = client.post("/segments/add/", form)
    segment = Segment.objects.get(name="Women")
    assert response.status_code == 302
    assert segment.rule == {
        "version": 1,
        "root": {"type": "profile", "field": "gender", "op": "eq", "value": "female"},
    }
    assert segment.member_count == 2
    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert "gender is Female" in page


def test_unit_user_sees_only_members_of_their_unit(client, manager, unit_a_head, people):
    segment = actions.create_segment(actor=manager, name="Women", rule={"version": 1, "root": {"all": []}})
    actions.refresh_segment(segment)
    client.force_login(unit_a_head)
    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert "Anna" in page
    assert "Bea" not in page


def test_uploading_a_list_shows_unmatched_rows(client, unit_a_head, people):
    segment = actions.create_segment(actor=unit_a_head, name="List", kind=Segment.Kind.STATIC)
    client.force_login(unit_a_head)
    upload = SimpleUploadedFile("list.csv", b"email\nnobody@qq.com\n", content_type="text/csv")
    body = client.post(f"/segments/{segment.pk}/list/", {"file": upload}).content.decode()
    assert "n***@qq.com" in body
    assert "no customer with this identity" in body


def test_tagging_every_member_runs_as_a_job_with_its_progress_page(
    client, manager, people, django_capture_on_commit_callbacks
):
    from guanxi.customers import profile
    from guanxi.customers.models import CustomerTag

    tag = profile.create_tag("母亲节")
    women = {"type": "profile", "field": "gender", "op": "eq", "value": "female"}
    segment = actions.create_segment(actor=manager, name="Women", rule={"version": 1, "root": women})
    actions.refresh_segment(segment)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/segments/{segment.pk}/tag/", {"tag": tag.pk})
    assert response.status_code == 302 and response.url.startswith("/jobs/")
    page = client.get(response.url).content.decode()
    assert "Tag every member of a segment" in page
    assert CustomerTag.objects.filter(tag=tag).count() == 2
