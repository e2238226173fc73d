"""Each role signs in through the form, in Chinese, and opens every page its sidebar shows (and the
first pages those lead to, as tests/i18n/crawl.py does): none answers 403, none shows a raw code or
untranslated English once its scripts have run. A full-page screenshot of each page goes to
test-results/roles/<role>/ to be looked at."""

import re

import pytest
from django.contrib.auth.hashers import make_password

from guanxi.accounts.models import User
from tests.i18n.crawl import known_words, load_small_demo, problems, with_followed

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]

# The demo's users of the five roles the issue names.
ROLES = {
    "marketer": "marketer",
    "service_agent": "service",
    "sales_rep": "sales",
    "unit_head": "head_beauty",
    "admin": "admin",
}


def test_every_page_of_each_role_reads_in_chinese(live_server, page, transactional_db, screenshots, sign_in):
    load_small_demo()
    User.objects.filter(username__in=ROLES.values()).update(password=make_password(PASSWORD))
    known = known_words()

    found: dict[str, list[str]] = {}
    visited: dict[str, int] = {}
    for role, username in ROLES.items():
        page.context.clear_cookies()
        sign_in(username)
        folder = screenshots / "roles" / role
        folder.mkdir(parents=True, exist_ok=True)
        sidebar = page.locator("nav a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        pages = with_followed(sidebar, lambda path: _html(page, live_server.url + path))
        for path in pages:
            response = page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            status = response.status if response else 0
            issues = [f"answered {status}"] if status != 200 else problems(page.content(), known)
            if issues:
                found[f"{role} {path}"] = issues
            page.screenshot(path=str(folder / f"{_slug(path)}.png"), full_page=True)
        visited[role] = len(pages)

    assert found == {}
    # The sidebar of each role and where it leads: enough pages to mean something.
    assert all(count >= 6 for count in visited.values()), visited


def _html(page, url: str) -> str:
    page.goto(url)
    return page.content()


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "dashboard"
