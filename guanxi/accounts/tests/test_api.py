"""GET /api/v1/me and /api/v1/units (guanxi.accounts.api)."""

from guanxi.accounts import actions
from guanxi.accounts.roles import ROLE_PERMISSIONS, Role


def get(client, path, user):
    secret = actions.create_api_token(user=user, name="t").secret
    return client.get(path, headers={"Authorization": f"Bearer {secret}"})


def test_me_describes_the_token_user(client, analyst, unit_a):
    response = get(client, "/api/v1/me", analyst)

    assert response.status_code == 200
    assert response.json() == {
        "id": analyst.pk,
        "username": "analyst_a",
        "display_name": "analyst_a",
        "role": "analyst",
        "units": [
            {
                "id": unit_a.pk,
                "code": "home",
                "name": "Home textiles",
                "time_zone": "Asia/Shanghai",
                "is_active": True,
            }
        ],
        "sees_all_units": False,
        "can_view_pii": False,
        "can_export": False,
        "permissions": sorted(ROLE_PERMISSIONS[Role.ANALYST]),
        "auth": "token",
        "token_scope": "read",
    }


def test_me_for_group_manager(client, manager):
    body = get(client, "/api/v1/me", manager).json()

    assert (body["units"], body["sees_all_units"], body["can_view_pii"], body["can_export"]) == (
        [],
        True,
        True,
        True,
    )


def test_units_of_a_unit_member_are_their_own(client, analyst, unit_a, unit_b):
    response = get(client, "/api/v1/units", analyst)

    assert [unit["code"] for unit in response.json()] == ["home"]


def test_group_manager_sees_every_unit(client, manager, unit_a, unit_b):
    response = get(client, "/api/v1/units", manager)

    assert [unit["code"] for unit in response.json()] == ["beauty", "home"]
