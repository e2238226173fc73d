"""Password rules are explained in the reader's language (Django 5.2's own zh-Hans catalogue lacks
its reworded minimum-length message)."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", ["密码太短：至少需要 10 个字符。", "这个密码太常见了。", "密码只包含数字。"]),
        (
            "en",
            [
                "This password is too short: use at least 10 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
    ],
)
def test_password_errors_are_in_the_readers_language(language, expected):
    with translation.override(language), pytest.raises(ValidationError) as refused:
        validate_password("123")

    assert refused.value.messages == expected
