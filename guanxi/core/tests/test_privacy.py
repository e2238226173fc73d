import pytest

from guanxi.core.privacy import mask_value


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        ("+8613812345678", "phone", "138****5678"),
        ("13812345678", "", "138****5678"),
        ("zhang.wei@example.com", "email", "z***@example.com"),
        ("zhang@example.com", "", "z***@example.com"),
        ("张伟", "", "张*"),
        ("o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "wechat_unionid", "o***"),
        ("", "phone", ""),
        ("12345", "phone", "*****"),
    ],
)
def test_masking(value, kind, masked):
    assert mask_value(value, kind) == masked
