from datetime import UTC, datetime

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import SHANGHAI
from guanxi.core import audit
from guanxi.core.background import Progress, create_job, job_kind, run_job
from guanxi.core.models import AuditEntry, Job
from guanxi.web.navigation import AREAS


@job_kind("web_tests.count")
def count_job(job, progress: Progress):
    progress.set_total(4)
    progress.advance(4, rows=4)
    progress.error({"row": 3, "reason": "bad date"})
    return None


@job_kind("web_tests.labelled", counts={"created": "Customers created", "run": None})
def labelled_job(job, progress: Progress):
    return {"run": 77, "created": 12, "other": 3}


# ---------- Areas not built yet ----------


def test_every_announced_area_answers_with_its_own_page(client, manager):
    """Every area announced in the navigation is built now: /<slug>/ is the app's page, never the placeholder."""
    client.force_login(manager)

    for slug in AREAS:
        response = client.get(f"/{slug}/")
        assert response.status_code == 200, slug
        assert "This area is not built yet." not in response.content.decode(), slug


def test_area_outside_the_role_is_refused_and_logged(client, make_user):
    agent = make_user("agent", Role.SERVICE_AGENT)
    client.force_login(agent)

    response = client.get("/analytics/")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_id, entry.details) == (
        agent,
        "analytics.view",
        "Refused: GET /analytics/",
    )


def test_navigation_lists_only_permitted_areas(client, make_user, manager):
    client.force_login(make_user("agent", Role.SERVICE_AGENT))
    agent_page = client.get("/").content.decode()
    client.force_login(manager)
    manager_page = client.get("/").content.decode()

    assert 'href="/service/"' in agent_page
    assert 'href="/analytics/"' not in agent_page
    assert 'href="/audit/"' not in agent_page
    assert 'href="/analytics/"' in manager_page
    assert 'href="/audit/"' in manager_page
    assert '<a class="nav-link" href="/" aria-current="page">' in manager_page


# ---------- Jobs ----------


def test_job_list_shows_state_progress_and_starter(client, manager):
    job = create_job("web_tests.count", started_by=manager)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, progress_done=2, progress_total=5)
    client.force_login(manager)

    page = client.get("/jobs/").content.decode()

    assert "web_tests.count" in page
    assert '<span class="badge badge-running">Running</span>' in page
    assert '<progress max="100" value="40">40%</progress>' in page
    assert f'href="/jobs/{job.pk}/"' in page


def test_running_job_page_polls_its_progress(client, manager):
    job = create_job("web_tests.count", started_by=manager)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, progress_done=1, progress_total=4)
    client.force_login(manager)

    page = client.get(f"/jobs/{job.pk}/").content.decode()
    fragment = client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"}).content.decode()

    assert "<html" in page
    assert f'hx-get="/jobs/{job.pk}/progress/" hx-trigger="every 1s"' in page
    assert "<html" not in fragment
    assert 'hx-trigger="every 1s"' in fragment
    assert '<progress max="100" value="25">25%</progress>' in fragment


def test_finished_job_stops_polling_and_shows_errors(client, manager):
    job = run_job(create_job("web_tests.count", started_by=manager))
    client.force_login(manager)

    fragment = client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"}).content.decode()

    assert "hx-trigger" not in fragment
    assert '<span class="badge badge-succeeded">Succeeded</span>' in fragment
    assert "<strong>reason</strong>: bad date" in fragment
    assert "rows <strong>4</strong>" in fragment


def test_job_counts_show_under_their_kinds_labels_without_record_ids(client, manager):
    job = run_job(create_job("web_tests.labelled", started_by=manager))
    client.force_login(manager)

    fragment = client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"}).content.decode()

    chips = [chip.split("</span>")[0] for chip in fragment.split('<span class="chip">')[1:]]
    assert chips == ["Customers created <strong>12</strong>", "other <strong>3</strong>"]


def test_job_of_another_unit_is_not_found(client, unit_b, unit_a_head, manager):
    job = create_job("web_tests.count", started_by=manager, unit=unit_b)
    client.force_login(unit_a_head)

    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/progress/").status_code == 404
    assert "web_tests.count" not in client.get("/jobs/").content.decode()


# ---------- Audit log ----------


def _entry(action, actor_name, object_type="", unit=None, day=(2025, 6, 1)):
    year, month, day_of_month = day
    return AuditEntry.objects.create(
        action=action,
        actor_name=actor_name,
        object_type=object_type,
        unit=unit,
        created_at=datetime(year, month, day_of_month, 12, 0, tzinfo=SHANGHAI),
    )


def _rows(page: str) -> int:
    return page.count('<td><span class="badge badge-')


def test_analyst_is_refused_and_the_refusal_is_logged(client, make_user):
    analyst = make_user("analyst", Role.ANALYST)
    client.force_login(analyst)

    response = client.get("/audit/")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.actor_name, entry.object_id) == (analyst, "analyst", "core.audit")
    assert entry.details == "Refused: GET /audit/"
    assert entry.ip_address == "127.0.0.1"


def test_refusal_of_a_unit_member_is_logged_for_their_unit(client, unit_a, make_user, unit_a_head):
    client.force_login(make_user("analyst_a", Role.ANALYST, [unit_a]))
    client.get("/audit/")
    client.force_login(unit_a_head)

    page = client.get("/audit/", {"action": "permission_denied"}).content.decode()

    assert _rows(page) == 1
    assert "analyst_a" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"alice", "bob", "carol"}),
        ({"actor": "ALI"}, {"alice"}),
        ({"action": "export"}, {"bob"}),
        ({"object_type": "customers"}, {"alice", "carol"}),
        ({"date_from": "2025-06-02"}, {"bob", "carol"}),
        ({"date_to": "2025-06-02"}, {"alice", "bob"}),
        ({"date_from": "2025-06-02", "date_to": "2025-06-02", "object_type": "commerce"}, {"bob"}),
    ],
)
def test_audit_search(client, manager, query, expected):
    _entry(AuditEntry.Action.UPDATE, "alice", "customers.customer", day=(2025, 6, 1))
    _entry(AuditEntry.Action.EXPORT, "bob", "commerce.order", day=(2025, 6, 2))
    _entry(AuditEntry.Action.MERGE, "carol", "customers.customer", day=(2025, 6, 3))
    client.force_login(manager)

    page = client.get("/audit/", query).content.decode()

    shown = {name for name in ("alice", "bob", "carol") if f"<td>{name}</td>" in page}
    assert shown == expected


def test_unit_head_sees_only_their_units_entries(client, unit_a, unit_b, unit_a_head, manager):
    _entry(AuditEntry.Action.UPDATE, "in_a", unit=unit_a)
    _entry(AuditEntry.Action.UPDATE, "in_b", unit=unit_b)
    _entry(AuditEntry.Action.UPDATE, "no_unit")
    client.force_login(unit_a_head)
    head_page = client.get("/audit/", {"action": "update"}).content.decode()
    client.force_login(manager)
    manager_page = client.get("/audit/", {"action": "update"}).content.decode()

    assert "<td>in_a</td>" in head_page
    assert "<td>in_b</td>" not in head_page
    assert "<td>no_unit</td>" not in head_page
    assert _rows(manager_page) == 3


def test_audit_is_paginated_newest_first(client, manager):
    for day in range(1, 29):
        _entry(AuditEntry.Action.EXPORT, f"d{day:02}", day=(2025, 5, day))
        _entry(AuditEntry.Action.EXPORT, f"e{day:02}", day=(2025, 6, day))
    client.force_login(manager)

    first = client.get("/audit/", {"action": "export"}).content.decode()
    second = client.get("/audit/", {"action": "export", "page": 2}).content.decode()

    assert (_rows(first), _rows(second)) == (50, 6)
    assert first.index("<td>e28</td>") < first.index("<td>e27</td>")
    assert "<td>d01</td>" in second
    assert 'href="?action=export&amp;page=2"' in first


def test_ip_addresses_are_masked_without_pii_permission(client, unit_a, make_user):
    audit.record(AuditEntry.Action.LOGIN, unit=unit_a, ip_address="203.0.113.9")
    client.force_login(make_user("unit_admin", Role.UNIT_ADMIN, [unit_a]))

    page = client.get("/audit/", {"action": "login"}).content.decode()

    assert "203.0.113.9" not in page
    assert "2***" in page


# ---------- Language ----------


def test_language_switch_changes_the_page_language(client, manager):
    client.force_login(manager)

    chinese = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/jobs/"}, follow=True)
    english = client.post("/i18n/setlang/", {"language": "en", "next": "/jobs/"}, follow=True)

    assert chinese.redirect_chain == [("/jobs/", 302)]
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert '<html lang="en">' in english.content.decode()


def test_pages_carry_the_csrf_header_for_htmx(client, manager):
    client.force_login(manager)

    page = client.get("/jobs/").content.decode()

    assert '<body hx-headers=\'{"X-CSRFToken": "' in page
    assert "vendor/htmx/htmx.min.js" in page


def test_timestamps_are_shown_in_the_business_time_zone(client, manager):
    _entry(AuditEntry.Action.EXPORT, "late", day=(2025, 6, 1))
    AuditEntry.objects.create(
        action=AuditEntry.Action.EXPORT,
        actor_name="utc_evening",
        created_at=datetime(2025, 6, 1, 20, 0, tzinfo=UTC),
    )
    client.force_login(manager)

    page = client.get("/audit/", {"date_from": "2025-06-02"}).content.decode()

    assert "2025-06-02 04:00:00" in page
    assert "<td>late</td>" not in page
