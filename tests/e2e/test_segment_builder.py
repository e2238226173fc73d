"""A marketer builds "women aged 25–49" in the segment builder without reading a code: fields are
picked by name, a changed field starts afresh (no stale value, no `root.all[0].value` message), a
list of values is ticked, the rule JSON behind "Advanced" follows every edit, and the saved segment
reads its rule aloud. Screenshots of the builder and the saved segment go to test-results/."""

import json

import pytest
from django.contrib.auth.hashers import make_password

from guanxi.accounts.models import User
from guanxi.segments.models import Segment
from tests.i18n.crawl import load_small_demo

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def test_a_marketer_builds_a_segment_by_names(live_server, page, transactional_db, screenshots, sign_in):
    load_small_demo()
    User.objects.filter(username="marketer").update(password=make_password(PASSWORD))
    sign_in("marketer")
    page.goto(f"{live_server.url}/segments/add/")
    preview = page.locator("#preview")

    # The first condition is "gender is …": its field is offered by name, not as profile.gender.
    field = page.locator("select[name='r.0:field']")
    assert field.locator("option:checked").inner_text() == "性别"
    field.select_option(label="年龄")
    page.wait_for_selector("select[name='r.0:op'] option[value='between']", state="attached")
    assert page.input_value("input[name='r.0:value']") == ""
    page.wait_for_selector("#preview li[data-path]")
    assert preview.inner_text().strip() == "年龄：请填写取值"

    page.select_option("select[name='r.0:op']", "between")
    page.wait_for_selector("input[name='r.0:value2']")
    page.fill("input[name='r.0:value']", "25")
    page.fill("input[name='r.0:value2']", "49")
    page.wait_for_function("document.querySelector('#preview [data-sentence]')?.innerText.includes('25')")

    # A second condition: gender is one of… ticked in a list, not typed as codes.
    page.click("button[value='add:r']")
    page.wait_for_selector("select[name='r.1:field']")
    page.select_option("select[name='r.1:op']", "in")
    page.wait_for_selector("input[type=checkbox][name='r.1:value']")
    page.check("input[type=checkbox][name='r.1:value'][value='female']")
    page.wait_for_function("document.querySelector('#preview [data-sentence]')?.innerText.includes('女')")
    sentence = page.inner_text("#preview [data-sentence]")
    count = int(page.inner_text("#preview [data-count]").replace(",", ""))
    assert "25" in sentence and "49" in sentence and "女" in sentence
    assert "root." not in preview.inner_text() and "profile." not in page.inner_text("#builder")

    # The JSON behind "Advanced" is the rule the builder shows, after every edit.
    page.click("#rule-json-box summary")
    shown = json.loads(page.input_value("#rule-json"))
    assert shown["root"]["all"] == [
        {"type": "profile", "field": "age", "op": "between", "value": [25, 49]},
        {"type": "profile", "field": "gender", "op": "in", "value": ["female"]},
    ]
    page.screenshot(path=str(screenshots / "segment-builder-zh.png"), full_page=True)

    page.fill("#segment-name", "25–49 岁女性")
    page.click("button[value='save']")
    page.wait_for_url(f"{live_server.url}/segments/*/")
    saved = Segment.objects.get(name="25–49 岁女性")
    assert saved.rule["root"] == shown["root"]
    assert saved.member_count == count
    assert "25" in page.inner_text("main")
    page.screenshot(path=str(screenshots / "segment-saved-zh.png"), full_page=True)
