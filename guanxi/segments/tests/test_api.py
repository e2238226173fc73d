"""The segments API: preview, sample, CRUD, members with history, refresh, static lists, bulk tags, export."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core.models import AuditEntry
from guanxi.customers import profile
from guanxi.customers.models import CustomerTag, TimelineEvent
from guanxi.segments import actions
from guanxi.segments.audience import QueryTimeoutError, with_deadline
from guanxi.segments.models import Segment

WOMEN = {"version": 1, "root": {"type": "profile", "field": "gender", "op": "eq", "value": "female"}}


@pytest.fixture
def post(client, bearer):
    """`post(url, user, body)`: a JSON POST with a read-write token of `user`."""

    def send(url, user, body):
        return client.post(
            url,
            data=json.dumps(body),
            content_type="application/json",
            headers=bearer(user, scope="read_write"),
        )

    return send


@pytest.fixture
def people(unit_a, unit_b):
    return {
        "anna": make_customer("Anna", [unit_a], phone="+8613812345678", gender="female"),
        "bea": make_customer("Bea", [unit_b], gender="female"),
        "both": make_customer("Cleo", [unit_a, unit_b], gender="female"),
        "dan": make_customer("Dan", [unit_a], gender="male"),
    }


def test_preview_counts_only_customers_of_the_callers_unit(client, manager, unit_a_head, people, post):
    assert post("/api/v1/segments/preview", manager, {"rule": WOMEN}).json()["count"] == 3
    response = post("/api/v1/segments/preview", unit_a_head, {"rule": WOMEN})
    assert response.json() == {"count": 2, "sentence": "gender is Female"}


def test_unit_users_count_only_their_units_orders(client, unit_a, unit_b, unit_a_head, manager, people, post):
    make_order(make_store(unit_b, "B"), people["both"], "B-1", "10.00", (2026, 1, 1))
    rule = {"version": 1, "root": {"type": "orders", "op": "gte", "value": 1}}
    assert post("/api/v1/segments/preview", manager, {"rule": rule}).json()["count"] == 1
    assert post("/api/v1/segments/preview", unit_a_head, {"rule": rule}).json()["count"] == 0


def test_bad_rule_names_the_offending_node(client, manager, people, post):
    rule = {
        "version": 1,
        "root": {
            "all": [
                WOMEN["root"],
                {"any": [{"type": "profile", "field": "age", "op": "gte", "value": "old"}]},
            ]
        },
    }
    response = post("/api/v1/segments/preview", manager, {"rule": rule})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "loc": ["body", "rule", "root.all[1].any[0].value"],
            "msg": "expected a whole number in range",
            "type": "rule",
            "path": "root.all[1].any[0].value",
            "message": "expected a whole number in range",
        }
    ]


def test_sample_masks_names_without_pii_permission(client, make_user, unit_a, people, post):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    response = post("/api/v1/segments/sample", analyst, {"rule": WOMEN})
    assert [row["name"] for row in response.json()] == ["C***", "A***"]


def test_slow_count_is_cancelled_with_a_clear_message(db):
    def slow():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_sleep(2)")
            else:
                cursor.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT count(*) FROM n"
                )
            return cursor.fetchone()

    with pytest.raises(QueryTimeoutError) as caught:
        with_deadline(slow, milliseconds=50)
    assert str(caught.value).startswith("Counting took longer than 0.05 seconds and was stopped.")
    with connection.cursor() as cursor:  # the connection is usable again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_create_refresh_and_member_history(client, manager, people, bearer, post):
    created = post("/api/v1/segments", manager, {"name": "Women", "rule": WOMEN})
    assert created.status_code == 201
    segment_id = created.json()["id"]
    refreshed = post(f"/api/v1/segments/{segment_id}/refresh", manager, {})
    assert refreshed.json() == {"members": 3, "entered": 3, "exited": 0}
    profile.update_profile(people["anna"], gender="male")
    actions.refresh_for_customers([people["anna"].pk])
    members = client.get(
        f"/api/v1/segments/{segment_id}/members", headers=bearer(manager, scope="read_write")
    ).json()
    assert {row["customer_id"] for row in members["items"]} == {people["bea"].pk, people["both"].pk}
    history = client.get(
        f"/api/v1/segments/{segment_id}/members?history=true", headers=bearer(manager, scope="read_write")
    ).json()
    left = [row for row in history["items"] if row["exited_at"]]
    assert [row["customer_id"] for row in left] == [people["anna"].pk]


def test_members_are_cursor_paginated(client, manager, people, bearer):
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    actions.refresh_segment(segment)
    first = client.get(
        f"/api/v1/segments/{segment.pk}/members?limit=2", headers=bearer(manager, scope="read_write")
    ).json()
    second = client.get(
        f"/api/v1/segments/{segment.pk}/members?limit=2&cursor={first['next_cursor']}",
        headers=bearer(manager, scope="read_write"),
    ).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


def test_cycles_are_rejected(client, manager, people, bearer):
    first = actions.create_segment(actor=manager, name="First", rule=WOMEN)
    second = actions.create_segment(
        actor=manager, name="Second", rule={"version": 1, "root": {"type": "segment", "segment": first.pk}}
    )
    response = client.patch(
        f"/api/v1/segments/{first.pk}",
        data=json.dumps(
            {"rule": {"version": 1, "root": {"all": [{"type": "segment", "segment": second.pk}]}}}
        ),
        content_type="application/json",
        headers=bearer(manager, scope="read_write"),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "loc": ["body", "rule", "root.segment"],
            "msg": "segments refer to each other in a cycle",
            "type": "rule",
            "path": "root.segment",
            "message": "segments refer to each other in a cycle",
        }
    ]


def test_unit_user_cannot_change_an_organisation_wide_segment(client, manager, unit_a_head, people, bearer):
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    response = client.patch(
        f"/api/v1/segments/{segment.pk}",
        data=json.dumps({"name": "Mine"}),
        content_type="application/json",
        headers=bearer(unit_a_head, scope="read_write"),
    )
    assert response.status_code == 403
    assert Segment.objects.get(pk=segment.pk).name == "Women"


def test_static_list_from_csv_reports_unmatched_rows(client, unit_a_head, people, bearer):
    segment = actions.create_segment(actor=unit_a_head, name="VIP list", kind=Segment.Kind.STATIC)
    content = "phone\n138 1234 5678\n13900000000\nnot-a-phone\n"
    response = client.post(
        f"/api/v1/segments/{segment.pk}/list",
        data={"file": SimpleUploadedFile("list.csv", content.encode(), content_type="text/csv")},
        headers=bearer(unit_a_head, scope="read_write"),
    )
    assert response.json() == {
        "rows": 3,
        "matched": 1,
        "added": 1,
        "unmatched": [
            {"row": 3, "value": "139****0000", "reason": "no customer with this identity"},
            {"row": 4, "value": "n***", "reason": "not a valid phone, email or id"},
        ],
    }


def test_bulk_tag_tags_every_member(client, manager, people, post):
    tag = profile.create_tag("母亲节")
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    actions.refresh_segment(segment)
    response = post(f"/api/v1/segments/{segment.pk}/tag", manager, {"tag": tag.pk})
    assert response.json() == {"changed": 3}
    again = post(f"/api/v1/segments/{segment.pk}/tag", manager, {"tag": tag.pk})
    assert again.json() == {"changed": 0}
    assert actions.refresh_changed_customers() == 3  # the tagged customers wait in the change outbox
    assert set(CustomerTag.objects.filter(tag=tag).values_list("customer__name", flat=True)) == {
        "Anna",
        "Bea",
        "Cleo",
    }


def test_bulk_tag_in_the_background(
    client, manager, people, django_capture_on_commit_callbacks, bearer, post
):
    tag = profile.create_tag("母亲节")
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    actions.refresh_segment(segment)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(f"/api/v1/segments/{segment.pk}/tag", manager, {"tag": tag.pk, "background": True})
    assert response.status_code == 202
    job = client.get(
        f"/api/v1/jobs/{response.json()['id']}", headers=bearer(manager, scope="read_write")
    ).json()
    assert (job["kind"], job["state"], job["counts"], job["progress_done"]) == (
        "segments.tag",
        "succeeded",
        {"changed": 3},
        3,
    )
    tagged = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.TAG_ADDED, data={"tag": "母亲节"})
    assert tagged.count() == 3
    assert AuditEntry.objects.filter(message_code="customers.tag_added", actor=manager).count() == 3
    assert set(CustomerTag.objects.filter(tag=tag).values_list("customer__name", flat=True)) == {
        "Anna",
        "Bea",
        "Cleo",
    }


def test_export_needs_the_export_permission_and_is_formula_safe(
    client, make_user, manager, unit_a, people, bearer
):
    people["anna"].name = "=HYPERLINK(1)"
    people["anna"].save()
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    actions.refresh_segment(segment)
    analyst = make_user("ana", Role.ANALYST, [unit_a], can_export=False)
    assert (
        client.get(
            f"/api/v1/segments/{segment.pk}/export", headers=bearer(analyst, scope="read_write")
        ).status_code
        == 403
    )
    response = client.get(
        f"/api/v1/segments/{segment.pk}/export", headers=bearer(manager, scope="read_write")
    )
    assert response.status_code == 200
    assert "'=HYPERLINK(1)" in response.content.decode("utf-8-sig")


def test_a_marketer_exports_a_contact_list_masked_with_consent_and_figures(
    client, make_user, manager, unit_a, people, bearer
):
    from datetime import datetime
    from io import BytesIO
    from zoneinfo import ZoneInfo

    from openpyxl import load_workbook

    from guanxi.analytics.refresh import refresh_metrics

    shanghai = ZoneInfo("Asia/Shanghai")
    make_order(make_store(unit_a, "A"), people["anna"], "A-1", "120.00", (2026, 5, 1))
    refresh_metrics(full=True, as_of=datetime(2026, 5, 10, tzinfo=shanghai))
    profile.record_consent(people["anna"], "sms", "granted", "written", actor=manager)
    profile.record_consent(people["anna"], "sms", "withdrawn", "reply", actor=manager)
    profile.record_consent(people["anna"], "email", "granted", "checkbox", actor=manager)
    segment = actions.create_segment(actor=manager, name="Women of A", rule=WOMEN, unit=unit_a)
    actions.refresh_segment(segment)
    marketer = make_user("mia", Role.MARKETER, [unit_a], can_export=True, can_view_pii=False)

    response = client.get(
        f"/api/v1/segments/{segment.pk}/export", headers=bearer(marketer, scope="read_write")
    )
    workbook = client.get(
        f"/api/v1/segments/{segment.pk}/export?format=xlsx", headers=bearer(marketer, scope="read_write")
    )

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Customer,Name,Phone,Email,WeChat unionid,Gender,Province,City,Consent: SMS,Consent: Email,"
        "Consent: WeChat,Orders (Home textiles),Total spend (Home textiles),Last order (Home textiles),"
        "RFM segment (Home textiles),Lifecycle stage (Home textiles),Predicted CLV (Home textiles),Entered"
    )
    anna, cleo = (line.split(",") for line in lines[1:])
    assert anna[:15] == [
        str(people["anna"].pk),
        "A***",
        "138****5678",
        "",
        "",
        "Female",
        "",
        "",
        "Withdrawn",
        "Granted",
        "Not recorded",
        "1",
        "120.00",
        "2026-05-01T12:00:00+08:00",
        "New",
    ]
    assert anna[15] == "Exploration"
    assert cleo[:12] == [
        str(people["both"].pk),
        "C***",
        "",
        "",
        "",
        "Female",
        "",
        "",
        "Not recorded",
        "Not recorded",
        "Not recorded",
        "0",
    ]
    sheet = load_workbook(BytesIO(workbook.content)).active
    assert [cell.value for cell in sheet[2]][:3] == [people["anna"].pk, "A***", "138****5678"]
    assert AuditEntry.objects.filter(actor=marketer, action=AuditEntry.Action.EXPORT).count() == 2


def test_membership_history_survives_a_second_refresh(manager, people):
    segment = actions.create_segment(actor=manager, name="Women", rule=WOMEN)
    now = timezone.now()
    actions.refresh_segment(segment, now=now)
    again = actions.refresh_segment(segment, now=now + timedelta(hours=1))
    assert (again.entered, again.exited, again.members) == (0, 0, 3)
