"""The Settings area: each role sees the set-up pages it may use, and the sidebar shows Settings
only to roles with at least one."""

import pytest

from guanxi.accounts.roles import Role

PAGES = {
    Role.SYSTEM_ADMIN: [
        "/accounts/units/",
        "/stores/",
        "/customers/tags/",
        "/customers/fields/",
        "/accounts/users/",
    ],
    Role.GROUP_MANAGER: ["/stores/", "/customers/tags/", "/customers/fields/"],
    Role.UNIT_HEAD: ["/stores/", "/customers/tags/", "/customers/fields/"],
    Role.UNIT_ADMIN: [
        "/accounts/units/",
        "/stores/",
        "/customers/tags/",
        "/customers/fields/",
        "/accounts/users/",
    ],
    Role.MARKETER: ["/customers/tags/", "/customers/fields/"],
}


@pytest.mark.parametrize("role", list(Role))
def test_settings_lists_the_pages_a_role_may_open(client, make_user, unit_a, role):
    client.force_login(make_user(f"user_{role}", role, [unit_a]))

    sidebar = [link.url for section in client.get("/").context["nav_sections"] for link in section["links"]]
    response = client.get("/settings/")

    expected = PAGES.get(role, [])
    if not expected:
        assert "/settings/" not in sidebar
        assert response.status_code == 403
        return
    assert "/settings/" in sidebar
    links = [page.url_name for page in response.context["pages"]]
    assert [client.get(url).status_code for url in expected] == [200] * len(expected)
    assert len(links) == len(expected)
