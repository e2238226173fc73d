"""Password validators whose messages our catalogues translate.

Django 5.2 reworded the minimum-length error ("%d character") and its zh-Hans catalogue still only
has the old wording, so Chinese users were told in English; this one says it in words we translate.
"""

from django.contrib.auth import password_validation
from django.utils.translation import ngettext


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self) -> str:
        return ngettext(
            "This password is too short: use at least %(count)d character.",
            "This password is too short: use at least %(count)d characters.",
            self.min_length,
        ) % {"count": self.min_length}
