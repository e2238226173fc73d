"""Time zones: business units and stores keep an IANA name (Asia/Shanghai), chosen from a list."""

from functools import cache
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_TIME_ZONE = "Asia/Shanghai"


@cache
def time_zone_names() -> tuple[str, ...]:
    # Region/City names only: the legacy aliases (PRC, Etc/GMT-8, US/Pacific) only confuse a picker.
    return tuple(
        sorted(name for name in available_timezones() if "/" in name and not name.startswith("Etc/"))
    )


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in time_zone_names()]


class TimeZoneSelect(forms.Select):
    """The IANA names, shown as the identifiers they are."""

    def __init__(self, attrs=None):
        super().__init__({"class": "mono", **(attrs or {})})


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            _("“%(value)s” is not a time zone; use a name such as Asia/Shanghai."),
            code="invalid",
            params={"value": value[:64]},
        )
