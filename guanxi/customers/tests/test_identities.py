import pytest

from guanxi.customers.identities import (
    IdentityKey,
    identity_key,
    is_masked,
    normalise_email,
    normalise_identity,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "+8613812345678"),
        (" 138 1234 5678 ", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("008613812345678", "+8613812345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_is_normalised_to_e164_with_cn_default(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "138****5678",  # masked by the platform
        "138＊＊＊＊5678",  # full-width stars
        "138xxxx5678",
        "00000000000",
        "11111111111",
        "12345678901",
        "98765432109",
        "13800138000",  # the carrier hotline people type when asked for a number
        "1381234",  # too short for a mobile
        "not a phone",
        "",
    ],
)
def test_masked_fake_or_invalid_phones_are_not_identities(raw):
    assert normalise_phone(raw) is None


def test_email_is_trimmed_and_lower_cased():
    assert normalise_email("  Zhang.Wei@QQ.com ") == "zhang.wei@qq.com"


@pytest.mark.parametrize(
    "raw",
    [
        "test@test.com",
        "someone@example.com",
        "a@example.org",
        "z***@qq.com",
        "user@shop.test",
        "no-at-sign",
        "12345678@qq.com",
        "",
    ],
)
def test_placeholder_masked_or_invalid_emails_are_not_identities(raw):
    assert normalise_email(raw) is None


def test_other_kinds_are_trimmed_and_masked_values_refused():
    assert normalise_identity("wechat_unionid", " oUnion123 ") == "oUnion123"
    assert normalise_identity("taobao_nick", "t**3") is None
    assert normalise_identity("external_id", "0000") is None
    assert normalise_identity("external_id", "17850") == "17850"


def test_identity_key_carries_kind_namespace_and_normalised_value():
    assert identity_key("phone", "138 1234 5678") == IdentityKey("phone", "", "+8613812345678")
    assert identity_key("external_id", "17850", namespace="online_retail") == IdentityKey(
        "external_id", "online_retail", "17850"
    )
    assert identity_key("email", "test@test.com") is None


def test_mask_detection():
    assert is_masked("138****5678") is True
    assert is_masked("13812345678") is False
