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
    "r.1:categories": "毛巾浴巾",
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
    assert "gender is Female and bought in category 毛巾浴巾 in the last 365 days" in body


def test_preview_names_the_condition_of_a_bad_value(client, manager, people):
    client.force_login(manager)
    form = {**MOTHERS_DAY_FORM, "r.1:value": "many"}
    response = client.post("/segments/preview/", form)
    assert [(p.where, p.message, p.path) for p in response.context["problems"]] == [
        ("number of order lines", "expected a whole number in range", "root.all[1].value")
    ]
    assert (
        "<strong>number of order lines</strong>：expected a whole number in range"
        in response.content.decode()
    )


def field_of(body: str, path: str) -> str:
    """The field selected in condition `path` of a rendered builder."""
    select = body.split(f'name="{path}:field"', 1)[1].split("</select>", 1)[0]
    return select.split(" selected>", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


def test_builder_adds_and_removes_conditions(client, manager):
    client.force_login(manager)
    added = client.post("/segments/builder/", {**MOTHERS_DAY_FORM, "action": "group:r"}).content.decode()
    assert 'name="r.2:node" value="all"' in added
    assert field_of(added, "r.2.0") == "profile.gender"
    removed = client.post("/segments/builder/", {**MOTHERS_DAY_FORM, "action": "remove:r.0"}).content.decode()
    assert 'name="r:n" value="1"' in removed
    assert field_of(removed, "r.0") == "orders.lines.count"


def test_a_new_field_starts_with_its_own_operator_and_no_value(client, manager):
    """Changing gender to age once kept "female" as the age and said `root.all[0].value: 应为范围内的整数`."""
    client.force_login(manager)
    form = {**MOTHERS_DAY_FORM, "r.0:was": "profile.gender", "r.0:field": "profile.age"}

    redrawn = client.post("/segments/builder/", form)
    preview = client.post("/segments/preview/", form)

    condition = redrawn.context["tree"]["children"][0]["condition"]
    assert (condition["field"], condition["op"], condition["value"]) == ("profile.age", "eq", "")
    assert [(p.where, p.message) for p in preview.context["problems"]] == [("age", "fill in a value")]


def test_fields_are_offered_by_name_and_choices_as_lists(client, manager, people):
    client.force_login(manager)
    form = {**MOTHERS_DAY_FORM, "r.0:op": "in", "r.0:value": ["female", "male"]}

    response = client.post("/segments/builder/", form)
    preview = client.post("/segments/preview/", form)

    body = response.content.decode()
    assert '<option value="profile.gender" selected>gender</option>' in body
    assert 'type="checkbox" name="r.0:value" value="female" checked' in body
    assert 'type="checkbox" name="r.0:value" value="male" checked' in body
    assert "multiple" not in body
    assert '"value": [\n' not in body
    assert preview.context["rule_json"].count('"female"') == 1
    assert '"op": "in"' in preview.context["rule_json"]
    assert 'hx-swap-oob="true"' in preview.content.decode()


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
