"""Business units set up from the UI and the API: a system administrator creates them, an
administrator renames them and sets their time zone, within reach (restrict(user, "manage")), and
every change leaves an audit row."""

import pytest

from guanxi.accounts.models import BusinessUnit
from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry


@pytest.fixture
def unit_admin(make_user, unit_a):
    return make_user("keeper", Role.UNIT_ADMIN, [unit_a])


def test_a_system_administrator_creates_a_unit_from_the_page(client, admin_user, unit_a):
    client.force_login(admin_user)

    response = client.post(
        "/accounts/units/", {"code": "sports", "name": "运动 Sports", "time_zone": "Asia/Hong_Kong"}
    )

    unit = BusinessUnit.objects.get(code="sports")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/units/{unit.pk}/"
    assert (unit.name, unit.time_zone, unit.is_active) == ("运动 Sports", "Asia/Hong_Kong", True)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREATE, actor=admin_user)
    assert (entry.actor, entry.unit, entry.object_label, entry.details) == (
        admin_user,
        unit,
        "运动 Sports",
        "Business unit sports, time zone Asia/Hong_Kong",
    )
    listed = client.get("/accounts/units/")
    assert [u.code for u in listed.context["units"]] == ["home", "sports"]


def test_a_taken_code_and_an_unknown_time_zone_are_refused(client, admin_user, unit_a):
    client.force_login(admin_user)

    response = client.post("/accounts/units/", {"code": "home", "name": "Again", "time_zone": "Mars/Base"})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "code": ["A business unit with this code already exists."],
        "time_zone": ["Select a valid choice. Mars/Base is not one of the available choices."],
    }
    assert BusinessUnit.objects.count() == 1


def test_renaming_and_a_new_time_zone_are_audited_with_the_changes(client, admin_user, unit_a):
    client.force_login(admin_user)

    response = client.post(
        f"/accounts/units/{unit_a.pk}/", {"name": "家纺 Home", "time_zone": "Asia/Urumqi", "is_active": "on"}
    )

    unit_a.refresh_from_db()
    assert response.status_code == 302
    assert (unit_a.name, unit_a.time_zone, unit_a.is_active) == ("家纺 Home", "Asia/Urumqi", True)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.UPDATE, object_type="accounts.businessunit")
    assert entry.changes == {
        "name": {"from": "[redacted]", "to": "[redacted]"},
        "time_zone": {"from": "Asia/Shanghai", "to": "Asia/Urumqi"},
    }
    assert entry.changed_field_labels == ["Name", "Time zone"]


def test_a_unit_administrator_edits_their_own_unit_but_creates_none(client, unit_admin, unit_a, unit_b):
    client.force_login(unit_admin)

    listed = client.get("/accounts/units/")
    refused = client.post("/accounts/units/", {"code": "x", "name": "X", "time_zone": "Asia/Shanghai"})
    other = client.get(f"/accounts/units/{unit_b.pk}/")
    own = client.post(
        f"/accounts/units/{unit_a.pk}/", {"name": "Home", "time_zone": "Asia/Taipei", "is_active": "on"}
    )

    assert [u.code for u in listed.context["units"]] == ["home"]
    assert listed.context["form"] is None
    assert (refused.status_code, other.status_code, own.status_code) == (403, 404, 302)
    assert BusinessUnit.objects.filter(code="x").exists() is False
    unit_a.refresh_from_db()
    assert unit_a.time_zone == "Asia/Taipei"
    denial = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (denial.actor, denial.object_id, denial.details) == (
        unit_admin,
        "accounts.manage",
        "Refused: POST /accounts/units/",
    )


@pytest.mark.parametrize("role", [Role.GROUP_MANAGER, Role.UNIT_HEAD, Role.MARKETER, Role.ANALYST])
def test_roles_that_manage_no_users_do_not_open_units(client, make_user, unit_a, role):
    client.force_login(make_user("someone", role, [unit_a]))

    assert client.get("/accounts/units/").status_code == 403
    assert client.get(f"/accounts/units/{unit_a.pk}/").status_code == 403


def test_the_api_creates_and_changes_units(client, admin_user, unit_admin, unit_a, unit_b, bearer):
    admin = bearer(admin_user, scope="read_write")
    keeper = bearer(unit_admin, scope="read_write")

    created = client.post(
        "/api/v1/units",
        {"code": "sports", "name": "Sports", "time_zone": "Asia/Shanghai"},
        content_type="application/json",
        headers=admin,
    )
    by_keeper = client.post(
        "/api/v1/units", {"code": "kids", "name": "Kids"}, content_type="application/json", headers=keeper
    )
    renamed = client.patch(
        f"/api/v1/units/{unit_a.pk}",
        {"name": "Home & Living"},
        content_type="application/json",
        headers=keeper,
    )
    elsewhere = client.patch(
        f"/api/v1/units/{unit_b.pk}", {"name": "Mine"}, content_type="application/json", headers=keeper
    )
    bad_zone = client.patch(
        f"/api/v1/units/{unit_a.pk}",
        {"time_zone": "Mars/Base"},
        content_type="application/json",
        headers=keeper,
    )

    assert created.status_code == 201
    assert {key: created.json()[key] for key in ("code", "name", "time_zone", "is_active")} == {
        "code": "sports",
        "name": "Sports",
        "time_zone": "Asia/Shanghai",
        "is_active": True,
    }
    assert (by_keeper.status_code, elsewhere.status_code, bad_zone.status_code) == (403, 404, 422)
    assert bad_zone.json()["errors"] == [
        {
            "loc": ["body", "time_zone"],
            "msg": "“Mars/Base” is not a time zone; use a name such as Asia/Shanghai.",
            "type": "invalid",
        }
    ]
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Home & Living")
    unit_b.refresh_from_db()
    assert unit_b.name == "Beauty"
    assert list(
        AuditEntry.objects.filter(object_type="accounts.businessunit", actor__isnull=False)
        .order_by("id")
        .values_list("action", "actor__username")
    ) == [("create", "admin"), ("update", "keeper")]
