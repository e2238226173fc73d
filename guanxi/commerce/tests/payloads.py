"""Store-platform payloads the tests write themselves, in the shape the platforms document.

Tests of our own behaviour (signatures, replays, ordering, dry runs) use these, so they run in any
clone; the platforms' published sample payloads in ../shared/data/samples are read only by the tests
that check we understand the real thing (`test_presets_shopify.py`).
"""

from typing import Any


def shopify_customer(**overrides: Any) -> dict[str, Any]:
    """A Shopify REST Admin `customer` object."""
    return {
        "id": 6001,
        "email": "li.na@hzmail.cn",
        "first_name": "Na",
        "last_name": "Li",
        "phone": None,
        "created_at": "2026-03-01T10:00:00+08:00",
        "updated_at": "2026-03-01T10:00:00+08:00",
        "default_address": {"country_code": "CN", "city": "Hangzhou", "province": "Zhejiang"},
    } | overrides


def shopify_order(**overrides: Any) -> dict[str, Any]:
    """A Shopify REST Admin `order` object: two lines, paid, not yet fulfilled."""
    return {
        "id": 820001,
        "name": "#2001",
        "email": "li.na@hzmail.cn",
        "created_at": "2026-03-02T09:30:00+08:00",
        "processed_at": "2026-03-02T09:30:00+08:00",
        "updated_at": "2026-03-02T09:31:00+08:00",
        "cancelled_at": None,
        "closed_at": None,
        "currency": "CNY",
        "financial_status": "paid",
        "fulfillment_status": None,
        "total_price": "256.00",
        "total_refunded": "0.00",
        "discount_codes": [],
        "source_name": "web",
        "note": "",
        "customer": shopify_customer(),
        "line_items": [
            {"id": 1, "sku": "TEA-01", "title": "Longjing tea", "quantity": 2, "price": "88.00"},
            {"id": 2, "sku": "CUP-01", "title": "Celadon cup", "quantity": 1, "price": "80.00"},
        ],
        "refunds": [],
    } | overrides


def woocommerce_order(**overrides: Any) -> dict[str, Any]:
    """A WooCommerce REST API v3 order."""
    return {
        "id": 950,
        "number": "950",
        "status": "processing",
        "currency": "CNY",
        "date_created_gmt": "2026-03-05T02:00:00",
        "date_modified_gmt": "2026-03-05T02:05:00",
        "date_paid_gmt": "2026-03-05T02:01:00",
        "total": "120.00",
        "customer_id": 31,
        "customer_user_agent": "",
        "billing": {
            "first_name": "Wei",
            "last_name": "Zhang",
            "email": "zhang.wei@szmail.cn",
            "phone": "",
            "country": "CN",
            "city": "Suzhou",
        },
        "line_items": [
            {"id": 5, "sku": "SILK-01", "name": "Silk scarf", "quantity": 1, "price": 120, "total": "120.00"}
        ],
        "refunds": [],
    } | overrides
