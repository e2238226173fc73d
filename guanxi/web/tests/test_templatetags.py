from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from guanxi.accounts.roles import Role


def _render(source: str, user, **values) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load guanxi %}" + source).render(
        Context({"request": request, "user": user, **values})
    )


@pytest.fixture
def analyst(make_user):
    return make_user("analyst", Role.ANALYST)


@pytest.mark.parametrize(
    ("value", "masked"),
    [("+86 138 1234 5678", "138****5678"), ("zhang@example.com", "z***@example.com"), ("张三丰", "张**")],
)
def test_filter_masks_personal_data(analyst, value, masked):
    assert _render("{{ value|pii:request.user }}", analyst, value=value) == masked


def test_tag_masks_by_kind(analyst):
    assert _render('{% pii value "phone" %}', analyst, value="13812345678") == "138****5678"
    assert _render('{% pii value "email" %}', analyst, value="zhang@example.com") == "z***@example.com"


def test_users_with_pii_permission_see_the_value(manager):
    assert _render("{{ value|pii:request.user }}", manager, value="13812345678") == "13812345678"
    assert _render('{% pii value "email" %}', manager, value="zhang@example.com") == "zhang@example.com"


def test_pii_permission_is_per_user_not_per_role(make_user):
    manager_without_pii = make_user("quiet", Role.GROUP_MANAGER, can_view_pii=False)

    assert _render("{{ value|pii:request.user }}", manager_without_pii, value="13812345678") == "138****5678"


def test_masked_output_is_escaped(analyst, manager):
    assert _render("{{ value|pii:request.user }}", manager, value="<b>") == "&lt;b&gt;"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234.5"), "CNY", "¥1,234.50"),
        (Decimal("0"), "CNY", "¥0.00"),
        (Decimal("-12.345"), "CNY", "-¥12.35"),
        (Decimal("1234567.891"), "USD", "$1,234,567.89"),
        (Decimal("5"), "SGD", "SGD 5.00"),
        (None, "CNY", ""),
    ],
)
def test_money(analyst, value, currency, shown):
    assert _render("{{ value|money:currency }}", analyst, value=value, currency=currency) == shown


def test_money_defaults_to_yuan(analyst):
    assert _render("{{ value|money }}", analyst, value=Decimal("1234.50")) == "¥1,234.50"


@pytest.mark.parametrize(
    ("language", "value", "shown"),
    [
        ("zh-hans", Decimal("999999.99"), "¥999,999.99"),
        ("zh-hans", Decimal("15734227.89"), "¥1,573.42万"),
        ("zh-hans", Decimal("-123456789"), "-¥1.23亿"),
        ("en", Decimal("15734227.89"), "¥15.73M"),
    ],
)
def test_money_short_keeps_a_key_figure_on_one_line(analyst, language, value, shown):
    with translation.override(language):
        assert _render("{{ value|money_short }}", analyst, value=value) == shown
