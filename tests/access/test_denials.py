"""Every refusal is audited exactly once and logged as one line, whether the view, an action below
it or the API refuses (issue 10 item 3; issue 11 item 10)."""

import logging

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry
from guanxi.segments import actions as segment_actions

EVERYONE = {"version": 1, "root": {"all": []}}


@pytest.fixture
def marketer(make_user, unit_a):
    return make_user("marketer_a", Role.MARKETER, [unit_a])


@pytest.fixture
def shared_segment():
    """Organisation-wide: a unit marketer sees it but may not change it (a group-wide role's)."""
    return segment_actions.create_segment(actor=None, name="Everyone", rule=EVERYONE)


def denials():
    return [
        (entry.actor.username, entry.object_type, entry.object_id, entry.unit.code, entry.details)
        for entry in AuditEntry.objects.filter(action=AuditEntry.Action.PERMISSION_DENIED)
    ]


def test_denied_api_patch_writes_one_audit_row(client, marketer, shared_segment):
    client.force_login(marketer)

    response = client.patch(
        f"/api/v1/segments/{shared_segment.pk}", {"name": "Mine now"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert denials() == [
        (
            "marketer_a",
            "segments.segment",
            str(shared_segment.pk),
            "home",
            f"Refused: PATCH /api/v1/segments/{shared_segment.pk} (needs segments.change)",
        )
    ]
    shared_segment.refresh_from_db()
    assert shared_segment.name == "Everyone"


def test_denied_web_edit_writes_one_audit_row(client, marketer, shared_segment):
    client.force_login(marketer)

    response = client.post(
        f"/segments/{shared_segment.pk}/edit/",
        {"name": "Mine now", "description": "", "rule_json": '{"version": 1, "root": {"all": []}}'},
    )

    assert response.status_code == 403
    assert denials() == [
        (
            "marketer_a",
            "segments.segment",
            str(shared_segment.pk),
            "home",
            f"Refused: POST /segments/{shared_segment.pk}/edit/ (needs segments.change)",
        )
    ]
    shared_segment.refresh_from_db()
    assert shared_segment.name == "Everyone"


def test_denied_view_writes_one_audit_row(client, make_user, unit_a):
    client.force_login(make_user("agent_a", Role.SERVICE_AGENT, [unit_a]))

    response = client.get("/segments/")

    assert response.status_code == 403
    assert denials() == [("agent_a", "permission", "segments.view", "home", "Refused: GET /segments/")]


def test_read_only_token_refused_a_write_is_audited_as_its_owner(client, make_user, unit_a):
    user = make_user("marketer_a", Role.MARKETER, [unit_a])
    secret = account_actions.create_api_token(user=user, name="ro", scope="read").secret

    response = client.post(
        "/api/v1/segments",
        {"name": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code == 403
    assert denials() == [
        ("marketer_a", "permission", "token.write", "home", "Refused: POST /api/v1/segments")
    ]


@pytest.mark.parametrize("api", [False, True])
def test_a_403_is_one_log_line_without_traceback(client, marketer, shared_segment, caplog, api):
    client.force_login(marketer)
    caplog.set_level(logging.INFO)

    if api:
        client.patch(f"/api/v1/segments/{shared_segment.pk}", {"name": "x"}, content_type="application/json")
        path = f"/api/v1/segments/{shared_segment.pk}"
        method = "PATCH"
    else:
        client.post(f"/segments/{shared_segment.pk}/edit/", {"name": "x", "rule_json": "{}"})
        path = f"/segments/{shared_segment.pk}/edit/"
        method = "POST"

    forbidden = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage(), r.exc_info) for r in forbidden] == [
        (
            "guanxi.access",
            f"Permission denied: user=marketer_a method={method} path={path} permission=segments.change",
            None,
        )
    ]
