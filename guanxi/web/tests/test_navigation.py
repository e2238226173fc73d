"""The sidebar shows a role only what it may open: every link answers 200, for every role."""

import pytest

from guanxi.accounts.roles import Role


def sidebar_links(client) -> list[str]:
    response = client.get("/")
    assert response.status_code == 200
    return [link.url for section in response.context["nav_sections"] for link in section["links"]]


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_link_in_a_roles_sidebar_opens(client, make_user, unit_a, role):
    client.force_login(make_user(f"user_{role}", role, [unit_a]))

    links = sidebar_links(client)

    assert "/" in links
    assert {url: client.get(url).status_code for url in links} == dict.fromkeys(links, 200)


def test_users_is_shown_to_those_who_manage_users_only(client, make_user, unit_a):
    client.force_login(make_user("boss", Role.GROUP_MANAGER))
    manager_links = sidebar_links(client)
    client.force_login(make_user("keeper", Role.UNIT_ADMIN, [unit_a]))

    assert "/accounts/users/" not in manager_links
    assert "/accounts/users/" in sidebar_links(client)
