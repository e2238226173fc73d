"""Template helpers: masked personal data, money, and the interface's line icons."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from guanxi.commerce.models import Channel
from guanxi.core.display import label_of
from guanxi.core.money import round_money
from guanxi.core.privacy import mask_value

register = template.Library()

CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"}


def _shown(value, user, kind: str = "") -> str:
    text = "" if value is None else str(value)
    if user is not None and getattr(user, "is_authenticated", False) and user.has_permission("pii.view"):
        return text
    return mask_value(text, kind)


@register.filter
def pii(value, user):
    """`{{ phone|pii:request.user }}`: the value itself for users allowed to see personal data."""
    return _shown(value, user)


@register.simple_tag(takes_context=True, name="pii")
def pii_tag(context, value, kind: str = ""):
    """`{% pii customer.phone "phone" %}`: like the filter, with the user taken from the request."""
    request = context.get("request")
    return _shown(value, getattr(request, "user", None), kind)


@register.filter
def channel_label(value) -> str:
    """`{{ customer.source_channel|channel_label }}`: 天猫 for "tmall"; other values as they are."""
    return label_of(Channel, value)


@register.filter
def money(value, currency: str = "CNY") -> str:
    """`{{ amount|money }}` → ¥1,234.50; `{{ amount|money:"USD" }}` → $1,234.50."""
    amount = _amount(value)
    if amount is None:
        return ""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{round_money(abs(amount)):,.2f}"


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


# Large amounts in a key figure: in Chinese by 万 (10⁴) and 亿 (10⁸), otherwise by thousands and millions.
SHORT_UNITS = {"zh": ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万")), "": ((Decimal(10) ** 6, "M"),)}
SHORT_FROM = Decimal(1_000_000)


@register.filter
def money_short(value, currency: str = "CNY") -> str:
    """`{{ amount|money_short }}`: as `money` below a million, else ¥1,573.42万 (zh) or ¥15.73M, so a key
    figure stays on one line; the exact amount goes beside it (a title)."""
    amount = _amount(value)
    if amount is None:
        return ""
    if abs(amount) < SHORT_FROM:
        return money(amount, currency)
    units = SHORT_UNITS["zh" if (get_language() or "").startswith("zh") else ""]
    size, unit = next((size, unit) for size, unit in units if abs(amount) >= size)
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{round_money(abs(amount) / size):,.2f}{unit}"


# Line icons drawn for Guanxi on a 24×24 grid, stroked with the current text colour.
ICONS = {
    "dashboard": '<rect x="3" y="3" width="7" height="9" rx="1.5"/><rect x="14" y="3" width="7" height="5" '
    'rx="1.5"/><rect x="14" y="12" width="7" height="9" rx="1.5"/><rect x="3" y="16" width="7" height="5" rx="1.5"/>',
    "customers": '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7"/>',
    "orders": '<path d="M6 3h12l2 4v13a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7z"/><path d="M4 7h16"/>'
    '<path d="M9 11a3 3 0 0 0 6 0"/>',
    "analytics": '<path d="M3 21h18"/><rect x="5" y="11" width="3" height="7"/><rect x="10.5" y="5" width="3" '
    'height="13"/><rect x="16" y="14" width="3" height="4"/>',
    "segments": '<path d="M11 4a8 8 0 1 0 9 9h-9z"/><path d="M14 3.2A8 8 0 0 1 20.8 10H14z"/>',
    "reports": '<path d="M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8z"/><path d="M14 3v5h5"/>'
    '<path d="M9 13h6M9 17h6"/>',
    "loyalty": '<path d="M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"/>',
    "marketing": '<path d="M3 10v4a1 1 0 0 0 1 1h3l7 4V5L7 9H4a1 1 0 0 0-1 1z"/><path d="M18 8.5a5 5 0 0 1 0 7"/>',
    "messaging": '<path d="M5 4h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H10l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>'
    '<path d="M8 9h8M8 12.5h5"/>',
    "service": '<path d="M4 15v-3a8 8 0 0 1 16 0v3"/><rect x="3" y="14" width="4" height="6" rx="1.2"/>'
    '<rect x="17" y="14" width="4" height="6" rx="1.2"/>',
    "sales": '<path d="M3 17l6-6 4 4 8-8"/><path d="M15 7h6v6"/>',
    "stores": '<path d="M4 9l1.5-5h13L20 9"/><path d="M4 9h16v1.5a3 3 0 0 1-5.3 2 3 3 0 0 1-5.4 0 3 3 0 0 1-5.3-2z"/>'
    '<path d="M5 13v7h14v-7"/><path d="M10 20v-4h4v4"/>',
    "imports": '<path d="M12 3v11"/><path d="M7.5 9.5L12 14l4.5-4.5"/><path d="M4 14v5a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-5"/>',
    "jobs": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 3"/>',
    "audit": '<path d="M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z"/><path d="M9 12l2 2 4-4"/>',
    "users": '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6"/>'
    '<path d="M16 4.5a3.5 3.5 0 0 1 0 7"/><path d="M18 14.2c2.1.7 3.5 2.8 3.5 5.8"/>',
    "tokens": '<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9"/><path d="M16.5 6.5l3 3"/>',
    "menu": '<path d="M4 6h16M4 12h16M4 18h16"/>',
    "settings": '<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1'
    'M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>',
    "units": '<path d="M4 21V6l7-3v18"/><path d="M11 9l9 3v9"/><path d="M2 21h20"/><path d="M7 9v.5M7 13v.5M7 17v.5"/>',
    "tags": '<path d="M3 12V4a1 1 0 0 1 1-1h8l9 9-9 9z"/><circle cx="7.5" cy="7.5" r="1.5"/>',
    "fields": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 9h10M7 13h10M7 17h6"/>',
    "logout": '<path d="M15 4h4a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-4"/><path d="M10 17l-5-5 5-5"/><path d="M5 12h11"/>',
    "language": '<circle cx="12" cy="12" r="9"/><path d="M3 12h18"/>'
    '<path d="M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z"/>',
    "revenue": '<circle cx="12" cy="12" r="9"/><path d="M8.5 7.5l3.5 4.5 3.5-4.5M8.5 12.5h7M8.5 15.5h7M12 12v5"/>',
    "basket": '<path d="M3 9h18l-2 10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1z"/><path d="M8 9l4-6 4 6"/>',
    "repeat": '<path d="M4 11a8 8 0 0 1 14-4.5L20 8.5"/><path d="M20 4v4.5h-4.5"/>'
    '<path d="M20 13a8 8 0 0 1-14 4.5L4 15.5"/><path d="M4 20v-4.5h4.5"/>',
    "info": '<circle cx="12" cy="12" r="9"/><path d="M12 11v6"/><path d="M12 7.5v.5"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>',
    "build": '<path d="M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18v3h3l6.3-6.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.8-.7-.7-2.8z"/>',
}


@register.simple_tag
def icon(name: str, size: int = 18):
    paths = ICONS.get(name, ICONS["info"])
    return format_html(
        '<svg class="icon" width="{}" height="{}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{}</svg>',
        size,
        size,
        mark_safe(paths),  # constant markup defined above
    )
