"""Every page a demo role's navigation shows, read in Chinese on a small demo shop: none answers
403 (the navigation hides what a role may not open), none shows a raw code (wechat_mp,
profile.gender) or English that was not translated (tests/i18n/crawl.py says how that is read).

Besides the sidebar's pages, the crawl opens what they lead to first: the Settings pages, and the
first customer, order, store, segment and job listed, so the 360 page, the segment page and the
store page are read as well. The demo is loaded in Chinese, the install's language, as `guanxi demo`
does (ready-made segment names are stored in it), with its metrics and segments computed.
"""

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from guanxi.accounts.models import User
from guanxi.demo.reference import USERS

from .crawl import known_words, load_small_demo, problems, with_followed

# A database test, so pytest-django sets the test database up (the demo is loaded before each test's
# own transaction opens, and that transaction is a savepoint inside the module's).
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_shop(django_db_setup, django_db_blocker):
    """The demo at 150 customers with its metrics and segments, inside a transaction that is rolled
    back after the module, so the tests of other modules never see it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            load_small_demo()
            yield known_words()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def reader(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def pages_of(client: Client) -> list[str]:
    """The sidebar's pages, then the pages they lead to first."""
    home = client.get("/")
    assert home.status_code == 200
    pages = [link.url for section in home.context["nav_sections"] for link in section["links"]]
    return with_followed(pages, lambda page: client.get(page).content.decode())


@pytest.mark.parametrize("username", [user[0] for user in USERS])
def test_every_page_of_a_role_is_chinese_without_codes(demo_shop, username):
    client = reader(username)

    found = {}
    for page in pages_of(client):
        response = client.get(page)
        if response.status_code != 200:
            found[page] = [f"answered {response.status_code}"]
            continue
        issues = problems(response.content.decode(), demo_shop)
        if issues:
            found[page] = issues
    assert found == {}, f"{username} reads untranslated or raw text: {found}"


def test_the_reading_catches_codes_and_english_but_not_identifiers_or_data():
    html = """
      <h1>客户 Customers</h1><p>渠道：wechat_mp，字段 profile.gender</p>
      <td class="mono">tmall:guanxi-home</td><code>baby_birthday</code><p>家纺 Home textiles · CSV · Shopify</p>
      <input placeholder="Search"><a href="/customers/1/">zhang@example.com</a>
      <script id="c" type="application/json">{"kind": "pie", "series_label": "Orders"}</script>
    """

    assert problems(html, known={"home", "textiles"}) == [
        "raw code 'profile.gender'",
        "raw code 'wechat_mp'",
        "English 'Customers'",
        "English 'Orders'",
        "English 'Search'",
    ]
