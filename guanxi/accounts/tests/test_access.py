import re

import pytest
from django.http import Http404
from django.urls import reverse

from conftest import PASSWORD
from guanxi.accounts import access, actions
from guanxi.accounts.models import User
from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry


@pytest.fixture
def people(make_user, unit_a, unit_b, admin_user, manager, unit_a_admin, analyst, unit_b_head):
    both = make_user("both_units", Role.MARKETER, [unit_a, unit_b])
    return {
        "admin": admin_user,
        "manager": manager,
        "uadmin_a": unit_a_admin,
        "analyst_a": analyst,
        "head_b": unit_b_head,
        "both_units": both,
    }


def usernames(response) -> set[str]:
    return {user.username for user in response.context["users"]}


def test_system_admin_lists_everyone(client, people):
    client.force_login(people["admin"])

    response = client.get(reverse("accounts:user_list"))

    assert response.status_code == 200
    assert usernames(response) == {"admin", "manager", "uadmin_a", "analyst_a", "head_b", "both_units"}


def test_unit_admin_lists_only_users_wholly_in_their_units(client, people):
    client.force_login(people["uadmin_a"])

    response = client.get(reverse("accounts:user_list"))

    assert response.status_code == 200
    assert usernames(response) == {"uadmin_a", "analyst_a"}


@pytest.mark.parametrize("who", ["analyst_a", "head_b", "manager"])
@pytest.mark.parametrize("page", ["accounts:user_list", "accounts:user_add"])
def test_users_without_manage_permission_are_refused_and_audited(client, people, who, page):
    client.force_login(people[who])

    response = client.get(reverse(page), REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_id, entry.ip_address) == (people[who], "accounts.manage", "203.0.113.7")


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ("admin", "analyst_a", 200),
        ("admin", "head_b", 200),
        ("admin", "manager", 200),
        ("uadmin_a", "analyst_a", 200),
        ("uadmin_a", "head_b", 404),
        ("uadmin_a", "both_units", 404),
        ("uadmin_a", "admin", 404),
        ("uadmin_a", "manager", 404),
        ("analyst_a", "analyst_a", 403),
    ],
)
def test_who_may_open_whose_page(client, people, actor, target, status):
    client.force_login(people[actor])

    response = client.get(reverse("accounts:user", args=[people[target].pk]))

    assert response.status_code == status
    denials = AuditEntry.objects.filter(action=AuditEntry.Action.PERMISSION_DENIED, actor=people[actor])
    assert denials.count() == (0 if status == 200 else 1)


def test_refused_edit_changes_nothing(client, people):
    client.force_login(people["uadmin_a"])
    target = people["head_b"]

    response = client.post(
        reverse("accounts:user", args=[target.pk]), {"role": Role.ANALYST, "units": [], "is_active": "on"}
    )

    target.refresh_from_db()
    assert response.status_code == 404
    assert target.role == Role.UNIT_HEAD
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ROLE_CHANGE).exists()


def test_access_user_by_id_for_unit_admin(rf, people):
    request = rf.get("/accounts/users/")
    request.user = people["uadmin_a"]

    assert access.access_user_by_id(request, people["analyst_a"].pk) == people["analyst_a"]
    with pytest.raises(Http404):
        access.access_user_by_id(request, people["head_b"].pk)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_type, entry.object_id, entry.details) == (
        people["uadmin_a"],
        "accounts.user",
        str(people["head_b"].pk),
        "Refused: GET /accounts/users/ (needs accounts.manage)",
    )


def test_unit_admin_cannot_grant_organisation_wide_roles(client, people):
    client.force_login(people["uadmin_a"])
    target = people["analyst_a"]

    responses = [
        client.post(
            reverse("accounts:user", args=[target.pk]),
            {"role": role, "units": [unit.pk for unit in target.units.all()], "is_active": "on"},
        )
        for role in (Role.SYSTEM_ADMIN, Role.GROUP_MANAGER)
    ]

    target.refresh_from_db()
    assert [response.status_code for response in responses] == [200, 200]
    assert all(response.context["form"].errors["role"] for response in responses)
    assert target.role == Role.ANALYST


def test_unit_admin_cannot_give_units_that_are_not_theirs(client, people, unit_b):
    client.force_login(people["uadmin_a"])
    target = people["analyst_a"]

    response = client.post(
        reverse("accounts:user", args=[target.pk]),
        {"role": Role.ANALYST, "units": [unit_b.pk], "is_active": "on"},
    )

    assert response.status_code == 200
    assert "units" in response.context["form"].errors
    assert list(target.units.values_list("code", flat=True)) == ["home"]


def test_unit_admin_passes_on_only_data_permissions_they_hold(client, people):
    client.force_login(people["uadmin_a"])  # unit admins do not see personal data by default
    target = people["analyst_a"]

    response = client.post(
        reverse("accounts:user", args=[target.pk]),
        {
            "role": Role.ANALYST,
            "units": [unit.pk for unit in target.units.all()],
            "is_active": "on",
            "can_view_pii": "on",
            "can_export": "on",
        },
    )

    target.refresh_from_db()
    assert response.status_code == 302
    assert (target.can_view_pii, target.can_export) == (False, False)


def test_role_change_is_audited_with_before_and_after(client, people, unit_a):
    client.force_login(people["uadmin_a"])
    target = people["analyst_a"]

    response = client.post(
        reverse("accounts:user", args=[target.pk]),
        {"role": Role.MARKETER, "units": [unit_a.pk], "is_active": "on"},
    )

    target.refresh_from_db()
    assert response.status_code == 302
    assert target.role == Role.MARKETER
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ROLE_CHANGE)
    assert entry.actor == people["uadmin_a"]
    assert entry.object_id == str(target.pk)
    assert entry.changes == {
        "role": {"from": "analyst", "to": "marketer"},
        "units": {"from": "home", "to": "home"},
    }


def test_system_admin_sets_data_permissions_and_deactivates(client, people):
    client.force_login(people["admin"])
    target = people["head_b"]

    client.post(
        reverse("accounts:user", args=[target.pk]),
        {"role": Role.UNIT_HEAD, "units": [unit.pk for unit in target.units.all()], "can_export": "on"},
    )

    target.refresh_from_db()
    assert (target.can_view_pii, target.can_export, target.is_active) == (False, True, False)
    permissions = AuditEntry.objects.get(action=AuditEntry.Action.ROLE_CHANGE)
    assert permissions.changes == {
        "can_view_pii": {"from": True, "to": False},
        "can_export": {"from": True, "to": True},
    }
    deactivated = AuditEntry.objects.get(action=AuditEntry.Action.UPDATE)
    assert deactivated.changes == {"is_active": {"from": True, "to": False}}


def test_nobody_changes_their_own_role(client, people):
    admin = people["admin"]
    client.force_login(admin)

    response = client.post(
        reverse("accounts:user", args=[admin.pk]),
        {"role": Role.ANALYST, "units": [], "can_view_pii": "on", "can_export": "on", "is_active": "on"},
    )

    admin.refresh_from_db()
    assert response.context["form"].errors["role"] == ["You cannot change your own role."]
    assert admin.role == Role.SYSTEM_ADMIN


def test_unit_admin_adds_a_user_to_their_unit(client, people, unit_a):
    client.force_login(people["uadmin_a"])

    response = client.post(
        reverse("accounts:user_add"),
        {
            "username": "zhao",
            "display_name": "Zhao",
            "email": "zhao@example.com",
            "role": Role.SALES_REP,
            "units": [unit_a.pk],
            "password": PASSWORD,
        },
    )

    user = User.objects.get(username="zhao")
    assert response.status_code == 302
    assert response.url == reverse("accounts:user", args=[user.pk])
    assert (user.role, list(user.units.values_list("code", flat=True))) == (Role.SALES_REP, ["home"])
    assert (user.can_view_pii, user.can_export, user.check_password(PASSWORD)) == (False, False, True)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREATE, object_id=str(user.pk))
    assert (entry.actor, entry.object_type, entry.details) == (
        people["uadmin_a"],
        "accounts.user",
        "Role: Sales representative",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "analyst_A"}, "username"),
        ({"password": "12345678"}, "password"),
        ({"units": []}, "units"),
        ({"role": Role.SYSTEM_ADMIN}, "role"),
    ],
)
def test_add_user_rejects_bad_input(client, people, unit_a, changes, field):
    client.force_login(people["uadmin_a"])
    data = {"username": "zhao", "role": Role.ANALYST, "units": [unit_a.pk], "password": PASSWORD} | changes

    response = client.post(reverse("accounts:user_add"), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not User.objects.filter(username__in=["zhao", "analyst_A"]).exists()


def test_system_admin_adds_a_group_manager_without_units(client, people):
    client.force_login(people["admin"])

    client.post(
        reverse("accounts:user_add"),
        {
            "username": "chen",
            "role": Role.GROUP_MANAGER,
            "password": PASSWORD,
            "can_view_pii": "on",
        },
    )

    user = User.objects.get(username="chen")
    assert (user.role, user.can_view_pii, user.can_export) == (Role.GROUP_MANAGER, True, False)


@pytest.mark.parametrize("actor", ["admin", "uadmin_a"])
def test_add_user_page_preselects_the_least_privileged_role(client, people, actor):
    client.force_login(people[actor])

    page = client.get(reverse("accounts:user_add")).content.decode()

    selected = re.findall(r'<option value="(\w+)"[^>]*\bselected\b', page)
    assert selected == [Role.ANALYST]


def test_a_user_created_without_a_role_is_a_read_only_analyst(organisation, unit_a):
    user = actions.create_user(username="newbie", password=PASSWORD, units=[unit_a])

    assert (user.role, user.can_view_pii, user.can_export, user.is_staff) == (
        Role.ANALYST,
        False,
        False,
        False,
    )
    assert User(username="unsaved").role == Role.ANALYST
